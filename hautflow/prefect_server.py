"""hautflow's local Prefect server: started once, reused by every later command, gone when idle.

With no ``PREFECT_API_URL``, Prefect starts a temporary server inside every process that runs a
flow (10-25 s on a busy 2-core machine) and stops it when the process ends. Instead, the first
flow-running command here starts one server in the background, on 127.0.0.1 and a free port,
detached from the terminal, and records it in ``$PREFECT_HOME/hautflow-server.json`` (pid,
port, URL, log file); later commands find it there and check its health. Each command holds a
lease on it while it runs (a file named by its pid); with no live lease for
``HAUTFLOW_PREFECT_SERVER_IDLE_SECONDS`` (default 900) the server stops itself.
``hautflow server status`` / ``stop`` show and stop it.

Who decides, first match wins:

1. ``PREFECT_API_URL`` set by the user (environment, or the active Prefect profile): used as is.
2. ``HAUTFLOW_PREFECT_SERVER=temporary``: Prefect's own per-process temporary server.
3. Otherwise (``HAUTFLOW_PREFECT_SERVER=background``, the default): this module's server.

The server is Prefect's own temporary server application (UI off, the ephemeral set of
services), served by :func:`serve` in a process of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.errors import HautflowError

MODE_VARIABLE = "HAUTFLOW_PREFECT_SERVER"
IDLE_VARIABLE = "HAUTFLOW_PREFECT_SERVER_IDLE_SECONDS"
BACKGROUND, TEMPORARY = "background", "temporary"
DEFAULT_IDLE_SECONDS = 900.0
START_TIMEOUT_SECONDS = 120.0
"""As long as the temporary server gets to start (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT...)."""
STATE_FILE = "hautflow-server.json"
HOST = "127.0.0.1"


class ServerError(HautflowError, RuntimeError):
    """The local Prefect server could not be started or reached (the message has the fix)."""


@dataclass(frozen=True)
class ServerRecord:
    """What ``hautflow-server.json`` says of the running server."""

    pid: int
    port: int
    started_at: float
    idle_seconds: float
    log: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/api"


def prefect_home() -> Path:
    """Prefect's home folder, as Prefect resolves it (without importing Prefect)."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def state_path(home: Path | None = None) -> Path:
    return (home or prefect_home()) / STATE_FILE


def leases_path(home: Path | None = None) -> Path:
    return (home or prefect_home()) / "hautflow-server-leases"


def configured_api_url() -> str | None:
    """The ``PREFECT_API_URL`` the user set: in the environment, else in the active profile of
    ``$PREFECT_HOME/profiles.toml`` (``PREFECT_PROFILE`` or the file's ``active``)."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        document = tomllib.loads(profiles.expanduser().read_text())
    except (OSError, ValueError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or document.get("active")
    settings = document.get("profiles", {}).get(active, {}) if active else {}
    url = settings.get("PREFECT_API_URL") if isinstance(settings, dict) else None
    return str(url) if url else None


def mode() -> str:
    """``background`` or ``temporary`` (:data:`MODE_VARIABLE`); anything else is refused."""
    chosen = os.environ.get(MODE_VARIABLE, BACKGROUND).strip().lower() or BACKGROUND
    if chosen not in (BACKGROUND, TEMPORARY):
        raise ServerError(
            f"{MODE_VARIABLE}={chosen!r}: expected {BACKGROUND} (one local server, reused) or "
            f"{TEMPORARY} (Prefect's temporary server in each command); or set PREFECT_API_URL"
        )
    return chosen


def idle_seconds() -> float:
    text = os.environ.get(IDLE_VARIABLE)
    try:
        return float(text) if text else DEFAULT_IDLE_SECONDS
    except ValueError:
        raise ServerError(f"{IDLE_VARIABLE}={text!r}: expected a number of seconds") from None


# --- the record and the process ---------------------------------------------------------------


def read_record(home: Path | None = None) -> ServerRecord | None:
    """The recorded server, if its process is still alive (a stale record is removed)."""
    path = state_path(home)
    try:
        record = ServerRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if not _alive(record.pid):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return record


def _alive(pid: int) -> bool:
    """``pid`` runs and is one of our servers (its command line says so, where /proc tells)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        return b"hautflow.prefect_server" in words
    return True


def healthy(record: ServerRecord, timeout: float = 2.0) -> bool:
    """The server answers its health check (loopback only; no proxy is asked)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{record.url}/health", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    """One command at a time decides whether to start the server (others then reuse it)."""
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with open(home / "hautflow-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_running(timeout: float = START_TIMEOUT_SECONDS) -> tuple[ServerRecord, bool]:
    """The running server, started if there is none; and whether it was started now."""
    home = prefect_home()
    with _start_lock(home):
        record = read_record(home)
        started = record is None
        if record is None:
            record = _spawn(home)
        _wait_healthy(record, home, timeout)
    return record, started


def _spawn(home: Path) -> ServerRecord:
    """Start :func:`serve` detached: its own session, no terminal, output to its log file."""
    log = home / "hautflow-server.log"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    with open(log, "ab") as out:
        process = subprocess.Popen(  # noqa: S603 (this Python, our module, our numbers)
            [sys.executable, "-m", "hautflow.prefect_server", str(idle_seconds())],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        record = read_record(home)
        if record is not None and record.pid == process.pid:
            return record
        if process.poll() is not None:
            break
        time.sleep(0.05)
    _stop_process(process.pid)
    raise ServerError(
        f"the local Prefect server did not start (see {log}): fix what the log says, or set "
        f"{MODE_VARIABLE}={TEMPORARY} to use Prefect's temporary server, or PREFECT_API_URL"
    )


def _wait_healthy(record: ServerRecord, home: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(record):
        if not _alive(record.pid):
            raise ServerError(
                f"the local Prefect server stopped while starting (see {record.log}); "
                f"or set {MODE_VARIABLE}={TEMPORARY}, or PREFECT_API_URL"
            )
        if time.monotonic() > deadline:
            raise ServerError(
                f"the local Prefect server on {record.url} did not answer within {timeout:.0f} s "
                f"(see {record.log}): `hautflow server stop` and run again, or set "
                f"{MODE_VARIABLE}={TEMPORARY}, or PREFECT_API_URL"
            )
        time.sleep(0.1)


def stop(home: Path | None = None, timeout: float = 15.0) -> ServerRecord | None:
    """Stop the recorded server (SIGTERM, then SIGKILL after ``timeout``); what was stopped."""
    record = read_record(home)
    if record is not None:
        _stop_process(record.pid, timeout)
        with contextlib.suppress(OSError):
            state_path(home).unlink()
    return record


def _stop_process(pid: int, timeout: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _exists(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _exists(pid: int) -> bool:
    """``pid`` still runs (a child of ours that exited is reaped, so it does not linger)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    with contextlib.suppress(OSError):
        if "\nState:\tZ" in status.read_text():
            return False
    return True


# --- leases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def lease(home: Path | None = None) -> Iterator[None]:
    """Hold the server while the block runs: the server never stops idle under a run."""
    folder = leases_path(home)
    folder.mkdir(parents=True, exist_ok=True)
    held = folder / str(os.getpid())
    held.touch()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            held.unlink()
        with contextlib.suppress(OSError):
            os.utime(state_path(home))  # the idle time counts from this run's end


def live_leases(home: Path | None = None) -> list[int]:
    """The pids holding the server now (leases of processes that died are removed)."""
    folder = leases_path(home)
    pids = []
    for entry in folder.glob("*") if folder.is_dir() else ():
        try:
            pid = int(entry.name)
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            with contextlib.suppress(OSError):
                entry.unlink()
            continue
        except PermissionError:
            pass
        pids.append(pid)
    return pids


@contextlib.contextmanager
def server_lease() -> Iterator[str | None]:
    """For a flow-running command: the API URL its flows use (set in ``PREFECT_API_URL`` for
    this process before Prefect is imported), held for the block; None when Prefect's
    temporary server is used."""
    if configured_api_url() is not None:
        yield configured_api_url()
        return
    if mode() == TEMPORARY:
        yield None
        return
    with lease():  # held from the start: a server just started never stops under the run
        record, _ = ensure_running()
        os.environ["PREFECT_API_URL"] = record.url
        try:
            yield record.url
        finally:
            os.environ.pop("PREFECT_API_URL", None)


# --- the server process ---------------------------------------------------------------------


def serve(idle: float) -> None:
    """The server process: Prefect's temporary-server app under uvicorn on a free port of
    127.0.0.1, recorded in the state file, stopped after ``idle`` seconds with no lease."""
    home = prefect_home()
    # As Prefect's own temporary server: no UI, the ephemeral set of background services.
    os.environ.update(
        {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    )
    import uvicorn

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((HOST, 0))
    record = ServerRecord(
        pid=os.getpid(),
        port=listening.getsockname()[1],
        started_at=time.time(),
        idle_seconds=idle,
        log=str(home / "hautflow-server.log"),
    )
    path = state_path(home)
    written = path.with_suffix(".tmp")
    written.write_text(json.dumps(asdict(record)))
    written.replace(path)
    server = uvicorn.Server(
        uvicorn.Config(
            "prefect.server.api.server:create_app",
            factory=True,
            log_level="error",
            lifespan="on",
        )
    )
    watchdog = threading.Thread(
        target=_stop_when_idle, args=(server, home, idle), name="idle", daemon=True
    )
    watchdog.start()
    try:
        server.run(sockets=[listening])
    finally:
        with contextlib.suppress(OSError, ValueError, TypeError):
            if json.loads(path.read_text())["pid"] == os.getpid():
                path.unlink()


def _stop_when_idle(server: object, home: Path, idle: float) -> None:
    """Ask ``server`` to exit once no lease was held for ``idle`` seconds since it started
    answering (a start may take longer than the idle time)."""
    period = max(0.2, min(5.0, idle / 4))
    while not getattr(server, "started", False):
        time.sleep(0.1)
    last_used = time.time()
    while True:
        time.sleep(period)
        if live_leases(home):
            last_used = time.time()
            continue
        with contextlib.suppress(OSError):
            last_used = max(last_used, state_path(home).stat().st_mtime)
        if time.time() - last_used >= idle:
            server.should_exit = True  # type: ignore[attr-defined]
            return


if __name__ == "__main__":
    serve(float(sys.argv[1]))
