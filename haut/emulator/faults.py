"""Fault injection: throttling, server errors, dropped connections and latency on API traffic.

Only /api/ and /service/ requests are affected; the /_emulator/ inspection endpoints, the
websockets and the image files are never faulted. The random draws come from one RNG, seeded
when ``FaultConfig.seed`` is set, so a faulty run can be replayed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import threading
from enum import StrEnum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haut.emulator.config import FaultConfig

FAULTED_PREFIXES = ("/api/", "/service/")


class Fault(StrEnum):
    THROTTLE = "throttle"
    SERVER_ERROR = "server_error"
    DROP = "drop"


class ConnectionDropped(ConnectionError):
    """Raised inside the server after the response headers so the connection is aborted."""


class _HideInjectedDrops(logging.Filter):
    """The server logs an aborted response as an error; an injected drop is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_DROP_FILTER = _HideInjectedDrops()


def hide_injected_drops_from_server_log() -> None:
    logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)  # a no-op when already added


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject."""

    def __init__(self, config: FaultConfig):
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def request_fault(self) -> Fault | None:
        c = self.config
        if c.rate_429 + c.rate_5xx + c.rate_drop <= 0:
            return None
        draw = self._draw()
        if draw < c.rate_429:
            return Fault.THROTTLE
        if draw < c.rate_429 + c.rate_5xx:
            return Fault.SERVER_ERROR
        if draw < c.rate_429 + c.rate_5xx + c.rate_drop:
            return Fault.DROP
        return None

    def websocket_drop(self) -> bool:
        return self.config.websocket_drop > 0 and self._draw() < self.config.websocket_drop

    def webhook_failure(self) -> bool:
        return self.config.webhook_failure > 0 and self._draw() < self.config.webhook_failure


class FaultMiddleware:
    """Pure ASGI middleware applying the injector's decisions to HTTP requests."""

    def __init__(self, app: ASGIApp, injector: FaultInjector):
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(FAULTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        latency = self.injector.config.latency_seconds
        if latency > 0:
            await asyncio.sleep(latency)
        fault = self.injector.request_fault()
        if fault is Fault.THROTTLE:
            await _send_error(send, 429, _throttled_body(), self._retry_after())
        elif fault is Fault.SERVER_ERROR:
            await _send_error(send, 503, _unavailable_body(), None)
        elif fault is Fault.DROP:
            await self.app(scope, receive, _dropping(send))
        else:
            await self.app(scope, receive, send)

    def _retry_after(self) -> str:
        return str(max(1, math.ceil(self.injector.config.retry_after_seconds)))


def _dropping(send: Send) -> Send:
    """A ``send`` that lets the request do its work, sends the headers, then aborts.

    The server has already acted on the request, as when a real connection breaks on the way
    back: the client cannot tell whether its call took effect.
    """

    async def send_then_drop(message: Message) -> None:
        if message["type"] == "http.response.start":
            await send(message)
            return
        raise ConnectionDropped("connection dropped by fault injection")

    return send_then_drop


def _throttled_body() -> dict[str, object]:
    detail = "Request was throttled."
    return {
        "type": "client_error",
        "errors": [{"code": "throttled", "detail": detail, "attr": None}],
    }


def _unavailable_body() -> dict[str, object]:
    detail = "Service temporarily unavailable, try again later."
    error = {"code": "service_unavailable", "detail": detail, "attr": None}
    return {"type": "server_error", "errors": [error]}


async def _send_error(
    send: Send, status: int, body: dict[str, object], retry_after: str | None
) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
