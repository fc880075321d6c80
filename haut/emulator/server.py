"""Run the emulator: in a background thread for tests and the pipeline, or in the foreground.

``EmulatorServer`` binds its socket before starting uvicorn, so port 0 gives a free port with
no race, and ``url`` is known as soon as ``start()`` returns. Both ways run without uvicorn's
access log: it prints every request line with its query string, and aux image URLs carry the
caller's token (``/images/{id}.jpg?token=...``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import FastAPI

from haut.emulator.app import create_app
from haut.emulator.config import EmulatorConfig
from haut.emulator.state import EmulatorState

__all__ = ["EmulatorServer", "create_app", "serve"]

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 15.0


def _uvicorn_config(app: FastAPI, *, log_level: str, **network: Any) -> uvicorn.Config:
    """uvicorn settings shared by the background and foreground emulator."""
    return uvicorn.Config(
        app,
        log_level=log_level,
        loop="asyncio",
        lifespan="on",
        timeout_graceful_shutdown=3,
        access_log=False,  # request lines carry query strings, and aux URLs carry tokens
        **network,
    )


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
        self._server = uvicorn.Server(_uvicorn_config(self.app, log_level=self._log_level))
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
        """Shut down cleanly: open connections, the ticker and webhook sends all end.

        The state is closed only once the server thread has ended; a thread that does not end
        in time keeps it open (and is logged), since it may still be writing.
        """
        if self._server is not None:
            self._server.should_exit = True
        stopped = True
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            stopped = not self._thread.is_alive()
        if self._socket is not None:
            self._socket.close()
        if self.app is not None:
            if stopped:
                self.state.store.close()
            else:
                log.warning(
                    "the emulator at %s did not stop within %g s; its state is left open",
                    self.url,
                    STOP_TIMEOUT_SECONDS,
                )
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
    settings = _uvicorn_config(create_app(config), log_level="info", host=host, port=port)
    uvicorn.Server(settings).run()
