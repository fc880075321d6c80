"""HautClient when things go wrong around the request: failing logins, token lifetimes, retried
deletes and dropped in-process connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest

from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.errors import AuthError, CreateInDoubtError, NotFoundError, TransientError
from haut.paths import LOGIN_PATHS
from haut.retry import RetryPolicy
from schemas.refs import SubjectRef
from tests.haut.conftest import (
    PASSWORD,
    USERNAME,
    FakeClock,
    FakeHaut,
    SleepRecorder,
    answer,
    error_body,
    fail_with,
)

pytestmark = pytest.mark.anyio

ClientFactory = Callable[..., HautClient]
SUBJECT = SubjectRef("ds-1", "subj-1")


def login_posts(fake: FakeHaut) -> int:
    return sum(1 for method, path in fake.calls if method == "POST" and path in LOGIN_PATHS)


async def test_a_failing_login_is_tried_once_per_burst_not_once_per_request(
    fake: FakeHaut, clock: FakeClock, make_client: ClientFactory
) -> None:
    fake.hold_seconds = 0.001
    fake.on("/api/v1/login/", *[answer(503)] * 200)
    async with make_client(max_concurrency=20) as client:  # the login retries 4 times
        outcomes = await asyncio.gather(
            *(client.get_dataset("ds-1") for _ in range(20)), return_exceptions=True
        )
        assert login_posts(fake) == 4
        assert all(isinstance(outcome, TransientError) for outcome in outcomes)
        assert "/login/" in str(outcomes[0])

        # Right after, the failure is answered from memory; a few seconds later, tried again.
        with pytest.raises(TransientError):
            await client.get_dataset("ds-1")
        assert login_posts(fake) == 4
        fake.script.clear()
        clock.now += 10
        assert (await client.get_dataset("ds-1")).id == "ds-1"


async def test_a_refused_password_is_an_auth_error_after_one_login_post(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.on("/api/v1/login/", *[answer(401, json=error_body("authentication_failed", "No"))] * 9)
    async with make_client() as client:
        outcomes = await asyncio.gather(
            *(client.get_dataset("ds-1") for _ in range(5)), return_exceptions=True
        )

    assert login_posts(fake) == 1
    assert all(isinstance(outcome, AuthError) for outcome in outcomes)


async def test_a_short_lived_token_is_not_refreshed_on_every_request(
    fake: FakeHaut, clock: FakeClock, make_client: ClientFactory
) -> None:
    fake.jwt_lifetime = 120  # shorter than the default 300 s refresh margin
    async with make_client() as client:
        for _ in range(5):
            await client.get_dataset("ds-1")
            clock.now += 10
        assert (fake.logins, fake.refreshes) == (1, 0)
        clock.now += 60  # 110 s of 120 gone: inside the last fifth of its life
        await client.get_dataset("ds-1")

    assert (fake.logins, fake.refreshes) == (1, 1)


async def test_a_local_clock_ahead_of_the_server_does_not_cause_refreshes(
    fake: FakeHaut, clock: FakeClock, make_client: ClientFactory
) -> None:
    fake.jwt_lifetime = 3600
    fake.server_clock_skew = 3450  # the server's exp looks almost past to the local clock
    async with make_client() as client:
        for _ in range(5):
            await client.get_dataset("ds-1")
            clock.now += 60

    assert (fake.logins, fake.refreshes) == (1, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.delete_subject(SUBJECT),
        lambda client: client.delete_batch(SUBJECT.batch("batch-1")),
        lambda client: client.delete_private_token(7),
        lambda client: client.delete_webhook("ds-1", "hook-1"),
    ],
    ids=["subject", "batch", "private token", "webhook"],
)
@pytest.mark.parametrize(
    "dropped", [fail_with(httpx.ReadError), answer(502)], ids=["read error", "502"]
)
async def test_a_delete_retried_after_the_server_acted_succeeds(
    fake: FakeHaut,
    make_client: ClientFactory,
    call: Callable[[HautClient], Awaitable[None]],
    dropped: Callable[[httpx.Request], httpx.Response],
) -> None:
    gone = answer(404, json=error_body("not_found", "Not found."))
    async with make_client() as client:
        await client.login()
        fake.on("/", dropped, gone)
        await call(client)

    assert [method for method, _ in fake.calls[-2:]] == ["DELETE", "DELETE"]


@pytest.mark.parametrize(
    "before", [answer(429, headers={"Retry-After": "1"}), fail_with(httpx.ConnectError)]
)
async def test_a_delete_of_something_that_never_existed_is_not_found(
    fake: FakeHaut,
    make_client: ClientFactory,
    before: Callable[[httpx.Request], httpx.Response],
) -> None:
    gone = answer(404, json=error_body("not_found", "Not found."))
    async with make_client() as client:
        await client.login()
        fake.on("/subjects/subj-1/", gone)
        with pytest.raises(NotFoundError):
            await client.delete_subject(SUBJECT)
        # Refused before the server acted (429, connection refused): the 404 is the truth.
        fake.on("/subjects/subj-1/", before, gone)
        with pytest.raises(NotFoundError):
            await client.delete_subject(SUBJECT)


def dropping_app(calls: list[str]) -> Callable[..., Awaitable[None]]:
    """A tiny ASGI API: login works; everything else drops the connection after acting."""

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        calls.append(f"{scope['method']} {scope['path']}")
        if scope["path"] not in LOGIN_PATHS:
            raise ConnectionResetError("connection dropped")
        body = json.dumps({"id": 1, "company_id": "comp-1", "access_token": "tok-in-proc-9"})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    return app


async def test_in_process_connection_drops_map_onto_the_error_tree() -> None:
    calls: list[str] = []
    async with HautClient(
        "http://in-process.invalid",
        PasswordCredentials(USERNAME, PASSWORD),
        transport=httpx.ASGITransport(app=dropping_app(calls)),
        retry=RetryPolicy(attempts=3, jitter=False),
        sleep=SleepRecorder(),
    ) as client:
        with pytest.raises(TransientError):
            await client.get_dataset("ds-1")
        assert calls.count("GET /api/v1/companies/comp-1/datasets/ds-1/") == 3

        with pytest.raises(CreateInDoubtError) as doubt:
            await client.create_subject("ds-1", "alice")
        assert doubt.value.reconcile_by["name"] == "alice"
        assert calls.count("POST /api/v1/companies/comp-1/datasets/ds-1/subjects/") == 1
