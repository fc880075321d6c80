"""Websocket notifications (reference §13.6, §13.7).

``/notifications/?user_id=`` (cookie ``authorization=<token>``): one ``photo_calculated_by_app``
message per processed image of the user's company. ``/notifications/results/?company_id=``
(header ``Authorization: <token>`` or ``Bearer <token>``): every algorithm row as it finishes,
then the image's ``photo_calculated_by_app`` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from haut.emulator.auth import Principal, principal_from_token
from haut.emulator.errors import ApiError

ALGORITHM_RESULT = "algorithm_result"
PHOTO_CALCULATED = "photo_calculated_by_app"

router = APIRouter()


@dataclass(eq=False)
class Subscription:
    company_id: str
    wants_rows: bool  # the results stream also carries every algorithm row
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


class NotificationHub:
    """Fans messages out to the open websockets of a company (all on the server's event loop)."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, company_id: str, *, wants_rows: bool) -> Subscription:
        subscription = Subscription(company_id, wants_rows)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, company_id: str, message: dict[str, Any]) -> None:
        is_row = message.get("event") == ALGORITHM_RESULT
        for subscription in list(self._subscriptions):
            if subscription.company_id == company_id and (subscription.wants_rows or not is_row):
                subscription.queue.put_nowait(message)

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)


def _authorize(websocket: WebSocket, token: str | None) -> Principal | None:
    if not token:
        return None
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    try:
        return principal_from_token(websocket.app.state.emulator, token)
    except ApiError:
        return None


@router.websocket("/notifications/")
async def user_notifications(websocket: WebSocket) -> None:
    principal = _authorize(websocket, websocket.cookies.get("authorization"))
    user_id = websocket.query_params.get("user_id")
    if principal is None or user_id != str(principal.user_id):
        await websocket.close(code=4401)  # before accept: the handshake is refused (HTTP 403)
        return
    await _stream(websocket, principal.company_id, wants_rows=False)


@router.websocket("/notifications/results/")
async def result_notifications(websocket: WebSocket) -> None:
    principal = _authorize(websocket, websocket.headers.get("authorization"))
    company_id = websocket.query_params.get("company_id")
    if principal is None or company_id != principal.company_id:
        await websocket.close(code=4401)
        return
    await _stream(websocket, principal.company_id, wants_rows=True)


async def _stream(websocket: WebSocket, company_id: str, *, wants_rows: bool) -> None:
    state = websocket.app.state.emulator
    await websocket.accept()
    subscription = state.hub.subscribe(company_id, wants_rows=wants_rows)
    closed = asyncio.create_task(_until_closed(websocket))
    try:
        while True:
            next_message = asyncio.create_task(subscription.queue.get())
            done, _ = await asyncio.wait(
                {next_message, closed}, return_when=asyncio.FIRST_COMPLETED
            )
            if closed in done:
                next_message.cancel()
                return
            await websocket.send_text(json.dumps(next_message.result()))
            if state.faults.websocket_drop():
                await websocket.close(code=1011)
                return
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        state.hub.unsubscribe(subscription)
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await closed


async def _until_closed(websocket: WebSocket) -> None:
    """Reads (and ignores) client frames until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
