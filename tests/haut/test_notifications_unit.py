"""NotificationStream without a server: reconnect bookkeeping and what a refused handshake does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Response

from haut.errors import AuthError, TransientError
from haut.notifications import NotificationStream, cookie_headers
from haut.retry import RetryPolicy
from schemas.api_results import PhotoCalculated
from tests.haut.conftest import SleepRecorder

pytestmark = pytest.mark.anyio

MESSAGE = json.dumps({"event": "photo_calculated_by_app", "image_id": "img-1"})


class DroppingConnection:
    """Delivers its messages, then behaves like a connection the server closed."""

    def __init__(self, *messages: str) -> None:
        self.messages = list(messages)

    async def recv(self) -> str:
        if self.messages:
            return self.messages.pop(0)
        raise ConnectionClosedError(None, None)

    async def close(self) -> None:
        pass


class ScriptedStream(NotificationStream):
    """A stream whose handshakes follow a script: a connection to hand out, or an error."""

    def __init__(self, script: list[Any], renewed: str | None = None) -> None:
        super().__init__(
            lambda query: f"ws://ws.test/notifications/?{query}",
            cookie_headers,
            query=self._user_query,
            token=self._current_token,
            renewed_if_refused=self._renewed,
            policy=RetryPolicy(attempts=2, jitter=False),
            sleep=SleepRecorder(),
        )
        self.script = script
        self.renewed = renewed
        self.probed: list[str] = []
        self.tokens_used: list[str] = []

    async def _user_query(self) -> str:
        return "user_id=42"

    async def _current_token(self) -> str:
        return "tok-1"

    async def _renewed(self, token: str) -> str | None:
        self.probed.append(token)
        return self.renewed

    async def _connect(self, token: str) -> Any:
        self.tokens_used.append(token)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def refused(status: int) -> InvalidStatus:
    return InvalidStatus(Response(status, "Refused", Headers()))


async def test_reconnects_count_only_connections_that_reopened() -> None:
    unreachable = TransientError("connect failed", reached_server=False)
    stream = ScriptedStream([DroppingConnection(MESSAGE), unreachable, unreachable])
    async with stream:
        assert isinstance(await anext(stream), PhotoCalculated)
        with pytest.raises(TransientError):
            await anext(stream)
        assert stream.reconnects == 0


async def test_a_reopened_connection_is_counted_once() -> None:
    stream = ScriptedStream([DroppingConnection(MESSAGE), DroppingConnection(MESSAGE)])
    async with stream:
        await anext(stream)
        await anext(stream)
        assert stream.reconnects == 1


async def test_refused_for_the_ids_is_an_auth_error_without_a_new_token() -> None:
    stream = ScriptedStream([refused(403)], renewed=None)  # the API still accepts tok-1
    with pytest.raises(AuthError, match="not allowed to listen"):
        await stream.__aenter__()

    assert (stream.probed, stream.tokens_used) == (["tok-1"], ["tok-1"])


async def test_refused_for_the_token_retries_once_with_the_renewed_one() -> None:
    stream = ScriptedStream([refused(401), DroppingConnection(MESSAGE)], renewed="tok-2")
    async with stream:
        assert isinstance(await anext(stream), PhotoCalculated)

    assert stream.tokens_used == ["tok-1", "tok-2"]
