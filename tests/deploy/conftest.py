"""One real `prefect server start` on loopback for the deployment tests, with a Prefect home
(and so a database) of its own, stopped at the end even when a test failed. (The session's
``prefect_server`` is Prefect's test harness: a bare API server, not the CLI's.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.support import PREFECT, Process, free_port, prefect_env, wait_for_health


@dataclass(frozen=True)
class PrefectServer:
    api_url: str
    home: Path

    def env(self) -> dict[str, str]:
        """The environment of every command that talks to this server."""
        return prefect_env(self.home, self.api_url)


@pytest.fixture(scope="module")
def real_prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """Stopped once its module is done: its scheduler and other services would otherwise take
    CPU from every later test of the session."""
    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    server = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=root / "home")
    process = Process(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        server.env(),
        root / "server.log",
    )
    try:
        wait_for_health(process, server.api_url)
        yield server
    finally:
        process.stop()
