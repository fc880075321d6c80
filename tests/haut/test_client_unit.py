"""HautClient against a scripted fake API: one shared login, refresh, retries, single creates."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.errors import (
    AuthError,
    CreateInDoubtError,
    NotFoundError,
    RateLimitedError,
    RequestRefusedError,
    TransientError,
)
from schemas.refs import BatchRef
from tests.haut.conftest import (
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
BATCH = BatchRef("ds-1", "subj-1", "batch-1")


async def test_twenty_concurrent_requests_share_one_login(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.hold_seconds = 0.001
    async with make_client(max_concurrency=20) as client:
        datasets = await asyncio.gather(*(client.get_dataset("ds-1") for _ in range(20)))

    assert (fake.logins, fake.refreshes) == (1, 0)
    assert {d.id for d in datasets} == {"ds-1"}


async def test_login_falls_back_to_auth_login_on_404(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.on("/api/v1/login/", answer(404, json=error_body("not_found", "Not found.")))
    async with make_client() as client:
        await client.get_dataset("ds-1")

    assert ("POST", "/api/v1/auth/login/") in fake.calls
    assert await client.company_id() == "comp-0001"


async def test_token_is_refreshed_before_its_hour_runs_out(
    fake: FakeHaut, clock: FakeClock, make_client: ClientFactory
) -> None:
    async with make_client(refresh_margin=300) as client:
        await client.get_dataset("ds-1")
        clock.now += 3200  # still valid, outside the margin
        await client.get_dataset("ds-1")
        assert (fake.logins, fake.refreshes) == (1, 0)
        clock.now += 150  # inside the last 300 s of the hour
        await asyncio.gather(*(client.get_dataset("ds-1") for _ in range(10)))

    assert (fake.logins, fake.refreshes) == (1, 1)


async def test_jwt_expiry_claim_sets_the_refresh_time(
    fake: FakeHaut, clock: FakeClock, make_client: ClientFactory
) -> None:
    fake.jwt_lifetime = 600  # shorter than the default hour: the exp claim must win
    async with make_client(refresh_margin=60) as client:
        await client.get_dataset("ds-1")
        clock.now += 500
        await client.get_dataset("ds-1")
        assert fake.refreshes == 0
        clock.now += 60
        await client.get_dataset("ds-1")

    assert fake.refreshes == 1


async def test_expired_token_causes_one_refresh_not_a_storm(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.hold_seconds = 0.001
    async with make_client(max_concurrency=20) as client:
        await client.login()
        fake.expire_all_tokens()
        datasets = await asyncio.gather(*(client.get_dataset("ds-1") for _ in range(20)))

    assert len(datasets) == 20
    assert (fake.logins, fake.refreshes) == (1, 1)


async def test_refresh_failure_falls_back_to_login(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.on("/api/v1/auth/refresh/", answer(401, json=error_body("token_not_valid", "bad")))
    async with make_client() as client:
        await client.login()
        fake.expire_all_tokens()
        await client.get_dataset("ds-1")

    assert fake.logins == 2


async def test_second_401_after_renewal_is_an_auth_error(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    refused = answer(401, json=error_body("token_expired", "Token expired"))
    fake.on("/datasets/ds-1/", refused, refused, refused)
    async with make_client() as client:
        with pytest.raises(AuthError, match="token_expired"):
            await client.get_dataset("ds-1")

    assert fake.calls.count(("GET", "/api/v1/companies/comp-0001/datasets/ds-1/")) == 2


async def test_wrong_password_is_an_auth_error_without_retries(
    fake: FakeHaut, sleeps: SleepRecorder
) -> None:
    client = HautClient(
        "https://haut.test",
        PasswordCredentials(USERNAME, "not-it-123"),
        transport=httpx.MockTransport(fake),
        sleep=sleeps,
    )
    async with client:
        with pytest.raises(AuthError):
            await client.get_dataset("ds-1")

    assert fake.logins == 1
    assert sleeps.waits == []


async def test_retry_after_is_honoured(
    fake: FakeHaut, sleeps: SleepRecorder, make_client: ClientFactory
) -> None:
    throttled = answer(429, headers={"Retry-After": "2.5"}, json=error_body("throttled", "slow"))
    fake.on("/datasets/ds-1/", throttled, throttled)
    async with make_client() as client:
        dataset = await client.get_dataset("ds-1")

    assert dataset.id == "ds-1"
    assert sleeps.waits == [2.5, 2.5]


@pytest.mark.parametrize("hint", [None, "0", "-3", "soon", "99999"])
async def test_useless_retry_after_falls_back_to_backoff(
    fake: FakeHaut, sleeps: SleepRecorder, make_client: ClientFactory, hint: str | None
) -> None:
    headers = {"Retry-After": hint} if hint is not None else {}
    throttled = answer(429, headers=headers, json=error_body("throttled", "slow"))
    fake.on("/datasets/ds-1/", throttled, throttled, throttled)
    async with make_client() as client:
        await client.get_dataset("ds-1")

    assert sleeps.waits == [0.5, 1.0, 2.0]  # base 0.5, doubling, no jitter


async def test_backoff_with_jitter_stays_under_the_cap(
    fake: FakeHaut, sleeps: SleepRecorder, make_client: ClientFactory
) -> None:
    from haut.retry import RetryPolicy

    fake.on("/datasets/ds-1/", *[answer(503) for _ in range(7)])
    async with make_client(retry=RetryPolicy(attempts=8, base=0.5, cap=3.0)) as client:
        await client.get_dataset("ds-1")

    assert len(sleeps.waits) == 7
    assert all(0 <= wait <= min(3.0, 0.5 * 2**n) for n, wait in enumerate(sleeps.waits))


async def test_rate_limit_exhausted_raises_with_the_hint(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.on("/datasets/ds-1/", *[answer(429, headers={"Retry-After": "1"}) for _ in range(4)])
    async with make_client() as client:
        with pytest.raises(RateLimitedError) as raised:
            await client.get_dataset("ds-1")

    assert raised.value.retry_after == 1.0


@pytest.mark.parametrize(
    "failure",
    [
        answer(502),
        answer(503),
        fail_with(httpx.ConnectError),
        fail_with(httpx.ReadTimeout),
        fail_with(httpx.RemoteProtocolError),
    ],
)
async def test_transient_failures_are_retried_then_raised(
    fake: FakeHaut,
    sleeps: SleepRecorder,
    make_client: ClientFactory,
    failure: Callable[[httpx.Request], httpx.Response],
) -> None:
    fake.on("/datasets/ds-1/", *[failure for _ in range(4)])
    async with make_client() as client:
        with pytest.raises(TransientError):
            await client.get_dataset("ds-1")

    assert fake.calls.count(("GET", "/api/v1/companies/comp-0001/datasets/ds-1/")) == 4
    assert len(sleeps.waits) == 3


async def test_transient_failure_then_success(fake: FakeHaut, make_client: ClientFactory) -> None:
    fake.on("/datasets/ds-1/", answer(500), fail_with(httpx.ReadError))
    async with make_client() as client:
        assert (await client.get_dataset("ds-1")).name == "Dataset one"


async def test_refused_request_is_not_retried_and_carries_errors(
    fake: FakeHaut, sleeps: SleepRecorder, make_client: ClientFactory
) -> None:
    body = error_body("invalid_image", "Not a JPEG or PNG.", attr="b64data")
    body["errors"][0]["extra"] = {"size": 3}
    fake.on("/batch-1/images/", answer(400, json=body))
    async with make_client() as client:
        with pytest.raises(RequestRefusedError) as raised:
            await client.upload_image(BATCH, b"not an image", name="front.jpg")

    error = raised.value
    assert error.status == 400
    assert error.codes == ["invalid_image"]
    assert error.errors[0].attr == "b64data"
    assert error.errors[0].extra == {"size": 3}
    assert "invalid_image" in str(error)
    assert "POST" in str(error)
    assert sleeps.waits == []


async def test_not_found_is_not_retried(
    fake: FakeHaut, sleeps: SleepRecorder, make_client: ClientFactory
) -> None:
    fake.on("/datasets/nope/", answer(404, json=error_body("not_found", "Not found.")))
    async with make_client() as client:
        with pytest.raises(NotFoundError):
            await client.get_dataset("nope")

    assert sleeps.waits == []


@pytest.mark.parametrize(
    "ambiguous",
    [
        fail_with(httpx.ReadTimeout),
        fail_with(httpx.RemoteProtocolError),
        fail_with(httpx.WriteError),
        answer(500),
        answer(503),
    ],
)
async def test_create_is_not_retried_after_an_ambiguous_failure(
    fake: FakeHaut,
    make_client: ClientFactory,
    ambiguous: Callable[[httpx.Request], httpx.Response],
) -> None:
    fake.on("/batch-1/images/", ambiguous)
    async with make_client() as client:
        with pytest.raises(CreateInDoubtError) as raised:
            await client.upload_image(BATCH, b"jpeg bytes", side_id=2, name="right.jpg")

    assert [c for c in fake.calls if c[0] == "POST" and c[1].endswith("/images/")] == [
        (
            "POST",
            "/api/v1/companies/comp-0001/datasets/ds-1/subjects/subj-1/batches/batch-1/images/",
        )
    ]
    assert raised.value.reconcile_by == {"batch_id": "batch-1", "name": "right.jpg", "side_id": 2}
    assert isinstance(raised.value, TransientError)


@pytest.mark.parametrize(
    "refused_before_acting",
    [
        fail_with(httpx.ConnectError),
        fail_with(httpx.ConnectTimeout),
        fail_with(httpx.PoolTimeout),
        answer(429, headers={"Retry-After": "1"}),
    ],
)
async def test_create_is_retried_when_the_server_never_acted(
    fake: FakeHaut,
    make_client: ClientFactory,
    refused_before_acting: Callable[[httpx.Request], httpx.Response],
) -> None:
    fake.on("/subjects/", refused_before_acting)
    async with make_client() as client:
        subject = await client.create_subject("ds-1", "alice")

    assert subject.id.startswith("new-")
    assert fake.calls.count(("POST", "/api/v1/companies/comp-0001/datasets/ds-1/subjects/")) == 2


async def test_create_after_a_connect_error_then_ambiguity_is_in_doubt(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    fake.on("/subjects/", fail_with(httpx.ConnectError), answer(502))
    async with make_client() as client:
        with pytest.raises(CreateInDoubtError) as raised:
            await client.create_subject("ds-1", "alice")

    assert raised.value.reconcile_by == {"dataset_id": "ds-1", "name": "alice"}


async def test_the_client_knows_whether_an_emulator_answers(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    """A service that sends no emulator header is named by its host; the emulator (tested over
    loopback in tests/flows/test_ingest_findings.py) says what it is in every answer."""
    async with make_client() as client:
        assert client.answered_by is None  # nothing has answered yet
        await client.get_dataset("ds-1")
        assert client.answered_by == "haut.test"

    emulated = {"id": "ds-1", "name": "Dataset one"}
    fake.on("/datasets/ds-1/", answer(200, json=emulated, headers={"x-haut-emulator": "x"}))
    async with make_client() as client:
        await client.get_dataset("ds-1")
        assert client.answered_by == "emulator"
