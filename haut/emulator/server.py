"""Run the emulator: in a background thread for tests and the pipeline, or in the foreground.

``EmulatorServer`` binds its socket before starting uvicorn, so port 0 gives a free port with
no race, and ``url`` is known as soon as ``start()`` returns.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from haut.emulator.app import create_app
from haut.emulator.config import EmulatorConfig
from haut.emulator.state import EmulatorState

__all__ = ["EmulatorServer", "create_app", "serve"]

START_TIMEOUT_SECONDS = 15.0


class EmulatorServer:
    """The emulator under uvicorn in a daemon thread, on loopback."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ):
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self.url = ""
        self.app: FastAPI | None = None
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def state(self) -> EmulatorState:
        if self.app is None:
            raise RuntimeError("the emulator is not running")
        state: EmulatorState = self.app.state.emulator
        return state

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self.app = create_app(self.config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        settings = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            loop="asyncio",
            lifespan="on",
            timeout_graceful_shutdown=3,
            access_log=False,
        )
        self._server = uvicorn.Server(settings)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"haut-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_serving()
        return self

    def _wait_until_serving(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Shut down cleanly: open connections, the ticker and webhook sends all end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        if self.app is not None:
            self.state.store.close()
        self._server = self._thread = self._socket = None
        self.app = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(config: EmulatorConfig, *, host: str, port: int) -> None:
    """Run the emulator in the foreground until interrupted (``hautflow emulator --port N``)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
