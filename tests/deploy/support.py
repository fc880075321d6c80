"""Helpers of the deployment tests: the project's `prefect` commands run as a user runs them,
each in its own process group with its output in a file, and all of it killed on teardown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
"""The .venv's `prefect`, as the README calls it (`.venv/bin/prefect`)."""

SERVER_START_TIMEOUT = 150.0  # a fresh database is migrated first: 20-40 s on a busy 2-core box
COMMAND_TIMEOUT = 120.0  # one CLI call: ~5 s of imports, more under load


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prefect_env(home: Path, api_url: str) -> dict[str, str]:
    """The test's environment without any Prefect or Haut.AI settings of the machine's, on
    ``api_url``, with a Prefect home of its own (the server's database lives there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAUT_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        COLUMNS="200",  # rich wraps its output at 80 columns otherwise
    )
    return env


class Process:
    """A long-running command (server, worker) in its own process group, output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.log = args, log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                args,
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        if self.process.poll() is None:
            return True
        raise AssertionError(
            f"{' '.join(self.args[1:3])} exited ({self.process.returncode}):\n{self.output()}"
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, to the group and to every descendant (a worker starts its
        flow runs in process groups of their own)."""
        if self.process.poll() is not None:
            return
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for member in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    member.send_signal(sig)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                continue
            family = psutil.wait_procs(family, timeout=5)[1]
            if not family:
                return


def run(args: list[str], env: dict[str, str]) -> str:
    """One short command from the project root; its output, or a failure showing it."""
    done = subprocess.run(
        args,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{output}"
    return output


def wait_for_health(server: Process, api_url: str) -> None:
    def healthy() -> bool:
        server.alive()
        try:
            return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, "the Prefect server's /api/health", SERVER_START_TIMEOUT, interval=0.2)
