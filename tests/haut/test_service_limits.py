"""The client's request rate and concurrency: ``tasks.service.connection.connect`` gives the
client the limits it is asked for, over the environment's, and the throttle holds requests to
them.

No clock is read to judge: the throttle is checked by what may enter it and what must wait.
"""

from __future__ import annotations

import asyncio

import pytest

from haut.ratelimit import Throttle
from tasks.service.connection import connect

pytestmark = pytest.mark.anyio

# Never reached: the client is built, not used.
SERVICE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def environment_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAUT_REQUESTS_PER_SECOND", "1000")
    monkeypatch.setenv("HAUT_MAX_CONCURRENCY", "16")
    for name in ("HAUT_USERNAME", "HAUT_PASSWORD", "HAUT_API_TOKEN", "HAUT_CREDENTIALS_BLOCK"):
        monkeypatch.delenv(name, raising=False)


async def test_the_options_override_the_environment() -> None:
    async with connect(api_url=SERVICE, max_concurrency=1, requests_per_second=4) as connection:
        throttle = connection.client.session.throttle
        assert (throttle.max_concurrency, throttle.requests_per_second) == (1, 4)


async def test_without_options_the_environment_sets_the_limits() -> None:
    async with connect(api_url=SERVICE) as connection:
        throttle = connection.client.session.throttle
        assert (throttle.max_concurrency, throttle.requests_per_second) == (16, 1000)


async def test_a_request_waits_for_a_free_slot() -> None:
    throttle = Throttle(max_concurrency=1, requests_per_second=None)
    first_inside, release_first = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with throttle:
            order.append("first in")
            first_inside.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        await first_inside.wait()
        async with throttle:
            order.append("second in")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_inside.wait()
    for _ in range(20):  # let the second run as far as it can
        await asyncio.sleep(0)
    assert order == ["first in"]
    release_first.set()
    await asyncio.gather(*tasks)
    assert order == ["first in", "first out", "second in"]


async def test_a_request_beyond_the_rate_waits_for_a_token() -> None:
    # One request per 100 s: the first enters at once, the second cannot for 100 s.
    throttle = Throttle(max_concurrency=8, requests_per_second=0.01)
    async with throttle:
        pass
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(throttle.__aenter__(), timeout=0.2)
