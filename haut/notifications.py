"""The two websocket streams of Haut.AI, as async context managers that iterate messages.

* user notifications: ``ws(s)://HOST/notifications/?user_id=<id>`` with cookie
  ``authorization=<token>``: one ``photo_calculated_by_app`` message per processed image;
* results stream: ``ws(s)://HOST/notifications/results/?company_id=<id>`` with header
  ``Authorization: <token>``: one ``algorithm_result`` message per finished algorithm row.

A dropped connection is re-opened (with backoff and a fresh token) when ``reconnect`` is on;
messages sent while it was down are lost, so callers that must not miss an image also poll.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from haut.errors import AuthError, HautError, TransientError
from haut.redaction import get_logger
from haut.retry import RetryPolicy, Sleep, call_with_retries
from schemas.api_results import Notification, parse_notification
from schemas.url_secrets import strip_url_secrets

log = get_logger(__name__)

HeadersFor = Callable[[str], dict[str, str]]
"""Builds the handshake headers from a token."""


def websocket_url(base_url: str, path: str, query: str) -> str:
    """``http://`` -> ``ws://`` and ``https://`` -> ``wss://`` on the same host."""
    scheme, rest = base_url.rstrip("/").split("://", 1)
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return f"{ws_scheme}://{rest}{path}?{query}"


def cookie_headers(token: str) -> dict[str, str]:
    return {"Cookie": f"authorization={token}"}


def authorization_headers(token: str) -> dict[str, str]:
    return {"Authorization": token}


class NotificationStream:
    """``async with stream: async for message in stream`` over one notification websocket."""

    def __init__(
        self,
        url_for: Callable[[str], str],
        headers_for: HeadersFor,
        *,
        query: Callable[[], Awaitable[str]],
        token: Callable[[], Awaitable[str]],
        renewed_if_refused: Callable[[str], Awaitable[str | None]],
        policy: RetryPolicy,
        sleep: Sleep,
        reconnect: bool = True,
        open_timeout: float = 10.0,
    ) -> None:
        self._url_for = url_for
        self._query = query
        self.url = url_for("")
        self._headers_for = headers_for
        self._token = token
        self._renewed_if_refused = renewed_if_refused
        self._policy = policy
        self._sleep = sleep
        self._reconnect = reconnect
        self._open_timeout = open_timeout
        self._rng = random.Random()
        self._connection: ClientConnection | None = None
        self._closed = False
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"NotificationStream({strip_url_secrets(self.url)!r})"

    async def __aenter__(self) -> NotificationStream:
        self.url = self._url_for(await self._query())
        self._connection = await self._open_with_retries()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        if self._connection is not None:
            await self._connection.close()

    def __aiter__(self) -> NotificationStream:
        return self

    async def __anext__(self) -> Notification:
        while not self._closed:
            if self._connection is None:
                raise HautError("the notification stream is not open; use `async with`")
            try:
                text = await self._connection.recv()
            except ConnectionClosed as closed:
                if not self._reconnect:
                    raise StopAsyncIteration from closed
                log.info("notification websocket closed (%s), reconnecting", closed.rcvd)
                self._connection = await self._open_with_retries()
                self.reconnects += 1  # counted once the new connection is really open
                continue
            return parse_notification(_decode(text))
        raise StopAsyncIteration

    async def _open_with_retries(self) -> ClientConnection:
        return await call_with_retries(
            self._open, policy=self._policy, sleep=self._sleep, rng=self._rng
        )

    async def _open(self) -> ClientConnection:
        token = await self._token()
        try:
            return await self._connect(token)
        except InvalidStatus as refused:
            if refused.response.status_code not in (401, 403):
                raise TransientError(
                    f"websocket refused with {refused.response.status_code}", path=self.url
                ) from None
        # 401/403 is either the token or a user/company id the token may not listen to; only
        # a token the API refuses too is worth renewing (once for everybody) and retrying.
        renewed = await self._renewed_if_refused(token)
        if renewed is None:
            raise AuthError("websocket refused: not allowed to listen here", path=self.url)
        token = renewed
        try:
            return await self._connect(token)
        except InvalidStatus as refused:
            raise AuthError(
                "websocket refused the token", path=self.url, status=refused.response.status_code
            ) from None

    async def _connect(self, token: str) -> ClientConnection:
        try:
            return await connect(
                self.url,
                additional_headers=self._headers_for(token),
                open_timeout=self._open_timeout,
                proxy=None,  # loopback and the API host are reached directly
            )
        except InvalidStatus:
            raise
        except (OSError, TimeoutError, InvalidHandshake) as error:
            raise TransientError(
                f"websocket connect failed: {type(error).__name__}",
                path=self.url,
                reached_server=False,
            ) from None


def _decode(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {"event": None, "text": text if isinstance(text, str) else text.decode()}
