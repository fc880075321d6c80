"""The emulator as an ASGI app: routes, error shape, path normalising, faults, background ticker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haut.emulator import (
    notify,
    processing,
    routes_auth,
    routes_catalog,
    routes_datasets,
    routes_emulator,
    routes_images,
    routes_results,
    routes_subjects,
)
from haut.emulator.config import EmulatorConfig
from haut.emulator.errors import install_error_handlers
from haut.emulator.faults import FaultMiddleware, hide_injected_drops_from_server_log
from haut.emulator.state import EmulatorState
from haut.paths import EMULATOR_HEADER

log = logging.getLogger(__name__)

_SLASHED_PREFIXES = ("/api/", "/service/", "/notifications")


class TrailingSlashMiddleware:
    """Every documented path ends with "/"; the same path without it means the same thing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] in ("http", "websocket"):
            if path.startswith(_SLASHED_PREFIXES) and not path.endswith("/"):
                scope = {**scope, "path": path + "/", "raw_path": (path + "/").encode()}
            elif path.startswith("/_emulator/") and path.endswith("/"):
                scope = {**scope, "path": path[:-1], "raw_path": path[:-1].encode()}
        await self.app(scope, receive, send)


class SettleMiddleware:
    """Due algorithm rows appear before any request is answered (lazy processing).

    A processing failure is logged, never answered: the request that happened to trigger
    settling has nothing to do with it.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            processing.settle_logged(self.state)
        await self.app(scope, receive, send)


class EmulatorHeaderMiddleware:
    """Every HTTP answer says it comes from an emulator (:data:`haut.paths.EMULATOR_HEADER`),
    so a client pointed here by URL still knows it is not talking to the real service; and each
    answer to the API (not ``/_emulator/``) is counted by status, for ``/_emulator/requests``."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = not scope["path"].startswith("/_emulator/")

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (_EMULATOR_HEADER, b"hautflow")]
                message = {**message, "headers": headers}
                if counted:
                    self.state.answers_by_status[int(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, send_marked)


_EMULATOR_HEADER = EMULATOR_HEADER.encode()


async def _ticker(state: EmulatorState) -> None:
    """Settles due work and sends due webhooks even when nobody is asking."""
    while True:
        try:
            processing.settle(state)
            state.webhooks.dispatch_due()
        except Exception:
            log.exception("emulator background processing failed")
        await asyncio.sleep(state.config.ticker_interval_seconds)


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    """A complete emulated Haut.AI service (also usable in-process with httpx.ASGITransport)."""
    state = EmulatorState.open(config or EmulatorConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_ticker(state))
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await state.webhooks.aclose()

    app = FastAPI(
        title="Haut.AI emulator",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.emulator = state
    install_error_handlers(app)
    for module in (
        routes_auth,
        routes_catalog,
        routes_datasets,
        routes_subjects,
        routes_images,
        routes_results,
        routes_emulator,
        notify,
    ):
        app.include_router(module.router)
    # Added last = outermost: faults see the raw request, before the path is normalised.
    app.add_middleware(SettleMiddleware, state=state)
    app.add_middleware(TrailingSlashMiddleware)
    app.add_middleware(FaultMiddleware, injector=state.faults)
    app.add_middleware(EmulatorHeaderMiddleware, state=state)
    hide_injected_drops_from_server_log()
    return app
