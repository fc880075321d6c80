"""The three result waiters against a real emulator over loopback: every image comes back
complete with all its rows, unfinished images at the timeout come back incomplete and complete
on the next wait, dropped sockets and failed webhook deliveries lose nothing, and the webhook
receiver refuses deliveries without its authorization.

Processing is driven by the emulator's clock (algorithms are due 1000 s after upload), never by
sleeping; "notifications were used" is shown by a wait ending long before its timeout with the
periodic safety reads turned off.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from haut import paths
from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face, render_no_face
from haut.emulator.server import EmulatorServer
from haut.retry import RetryPolicy
from schemas.captures import Side, SourceImage, UploadedImage
from tasks.waiting import (
    ImageResults,
    PollBackoff,
    ResultWaiter,
    WebhookAuth,
    WebhookWaiter,
    WebsocketWaiter,
    make_waiter,
)
from tests.support import control

pytestmark = [pytest.mark.server, pytest.mark.anyio]

DELAY = 1000.0  # seconds of emulator time before the slowest algorithm finishes
ALL_DONE = DELAY * 1.5
QUICK = 20.0  # a wait budget that notifications must beat by far
FAST_POLL = PollBackoff(initial=0.05, cap=0.2)
WAITERS = ("poll", "websocket", "webhook")
FEW = [30, 40]  # redness and the face detector: enough where the row count is not the point


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """One emulator per module (photo analysis is cached by content); tests use own datasets."""
    config = EmulatorConfig(
        algorithm_delay_seconds=DELAY,
        rate_limit_per_second=10_000,
        login_limit_per_minute=1000,
        webhook_backoff_seconds=0.01,
        webhook_max_attempts=12,
        ticker_interval_seconds=0.01,
    )
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture(autouse=True)
def no_faults_after(emulator: EmulatorServer) -> Iterator[None]:
    yield
    reset = {"websocket_drop": 0.0, "webhook_failure": 0.0, "seed": None}
    httpx.put(f"{emulator.url}/_emulator/faults", json=reset).raise_for_status()


@pytest.fixture
async def client(emulator: EmulatorServer) -> AsyncIterator[HautClient]:
    async with HautClient(
        emulator.url,
        PasswordCredentials("lab@example.com", "lab-password-1"),
        retry=RetryPolicy(attempts=8, base=0.01, cap=0.2),
        requests_per_second=None,
    ) as haut:
        yield haut


async def finish_processing(emulator: EmulatorServer) -> None:
    await control(emulator, "POST", "clock", {"advance_seconds": ALL_DONE})


@dataclass
class Dataset:
    id: str
    expected: list[int]


async def make_dataset(client: HautClient, enabled: Sequence[int] | None = None) -> Dataset:
    dataset = await client.create_dataset(f"wait-{datetime.now(UTC).timestamp()}")
    run = await client.attach_application(dataset.id, enabled_algorithms=enabled)
    return Dataset(dataset.id, run.enabled_algorithms)


async def upload_session(
    client: HautClient, dataset: Dataset, key: str, photos: dict[Side, bytes]
) -> list[UploadedImage]:
    """One subject ``key`` with one batch holding these photos."""
    subject = await client.create_subject(dataset.id, key)
    ref = paths.SubjectRef(dataset.id, subject.id)
    batch = await client.create_batch(ref)
    uploaded = []
    for side, data in photos.items():
        source = source_image(data, side)
        image = await client.upload_image(
            ref.batch(batch.id), data, side_id=side.side_id, name=source.upload_name
        )
        uploaded.append(
            UploadedImage(
                capture_id=f"capture-{key}",
                subject_key=key,
                session_key="2026-01-05",
                dataset_id=dataset.id,
                subject_id=subject.id,
                batch_id=batch.id,
                image_id=image.id,
                source=source,
                uploaded_at=datetime.now(UTC),
            )
        )
    return uploaded


async def upload(
    client: HautClient, dataset: Dataset, *, sessions: int = 2, seed: int = 0
) -> list[UploadedImage]:
    """A triple for the first session and single fronts after it, one subject per session."""
    uploaded = []
    for session in range(sessions):
        sides = list(Side) if session == 0 else [Side.FRONT]
        photos = {side: face(seed * 100 + session, side.value) for side in sides}
        uploaded += await upload_session(client, dataset, f"subject-{seed}-{session}", photos)
    return uploaded


@functools.cache
def face(seed: int, side: str) -> bytes:
    """A small portrait (still a face to the emulator: 128 px is its minimum)."""
    return render_face(seed, side=side, size=(192, 256))


def source_image(data: bytes, side: Side) -> SourceImage:
    digest = hashlib.sha256(data).hexdigest()
    return SourceImage(
        uri=f"memory://photos/{digest[:8]}/{side.value}.jpg",
        side=side,
        sha256=digest,
        size=len(data),
        image_format="JPEG",
        captured_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        captured_at_source="exif",
    )


def waiter_named(name: str, **options: Any) -> ResultWaiter:
    if name == "poll":
        options.pop("reconcile_interval", None)
    return make_waiter(name, backoff=FAST_POLL, **options)


def assert_complete(
    results: list[ImageResults], images: list[UploadedImage], expected: list[int]
) -> None:
    assert [r.image.image_id for r in results] == [i.image_id for i in images]
    for result in results:
        assert result.complete, result.image.image_id
        assert sorted(row.algorithm_version_id or 0 for row in result.rows) == sorted(expected)
        assert {row.image_id for row in result.rows} == {result.image.image_id}
        assert result.aux, "complete images carry their face-area crops"


async def timed(awaitable: Any) -> tuple[Any, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    value = await awaitable
    return value, loop.time() - started


# --- every waiter ----------------------------------------------------------------------


@pytest.mark.parametrize("name", WAITERS)
async def test_every_image_comes_back_complete_with_all_rows(
    name: str, client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client)
    waiter = waiter_named(name, reconcile_interval=None)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload(client, dataset)
        await finish_processing(emulator)
        results, elapsed = await timed(
            waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
        )
    assert len(dataset.expected) == 18
    assert_complete(results, images, dataset.expected)
    assert elapsed < QUICK / 2, "the wait ended when the images were done, not at the timeout"


@pytest.mark.parametrize("name", WAITERS)
async def test_unfinished_at_the_timeout_then_complete_on_the_next_wait(
    name: str, client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client, enabled=FEW)
    images = await upload(client, dataset, sessions=1)
    waiter = waiter_named(name, reconcile_interval=None)

    first = await waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=0.3)
    assert [r.complete for r in first] == [False, False, False]
    assert all(r.rows == [] and r.aux == [] for r in first)
    assert [r.image for r in first] == images, "an unfinished image is still reported"

    await finish_processing(emulator)
    second = await waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
    assert_complete(second, images, dataset.expected)


@pytest.mark.parametrize("name", WAITERS)
async def test_an_algorithm_subset_counts_as_complete_with_its_rows(
    name: str, client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client, enabled=[30, 40])
    waiter = waiter_named(name, reconcile_interval=None)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload(client, dataset, sessions=1)
        await finish_processing(emulator)
        results = await waiter.wait(client, images, expected_algorithms=[30, 40], timeout=QUICK)
    assert_complete(results, images, [30, 40])
    assert all(len(r.rows) == 2 for r in results)


async def test_a_partly_finished_image_is_not_complete(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client)
    images = await upload(client, dataset, sessions=1)
    # The detector (factor 0.2) and landmarks (0.3) are due; translucency (1.0) is not.
    await control(emulator, "POST", "clock", {"advance_seconds": DELAY * 0.32})
    results = await waiter_named("poll").wait(
        client, images, expected_algorithms=dataset.expected, timeout=0.2
    )
    for result in results:
        assert not result.complete
        assert {row.algorithm_version_id for row in result.rows} == {40, 52}
        assert result.aux == []


async def test_an_image_that_cannot_be_read_is_reported_unfinished_not_dropped(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client, enabled=FEW)
    images = await upload(client, dataset, sessions=2)
    gone = images[-1]
    await client.delete_batch(gone.ref.batch)
    await finish_processing(emulator)
    results, elapsed = await timed(
        waiter_named("poll").wait(client, images, expected_algorithms=FEW, timeout=QUICK)
    )
    assert [r.image for r in results] == images
    assert [r.complete for r in results] == [True, True, True, False]
    assert elapsed < QUICK / 2, "a deleted image is not waited for until the timeout"


# --- websocket -------------------------------------------------------------------------


async def test_messages_before_the_wait_starts_are_not_missed(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client)
    waiter = WebsocketWaiter(reconcile_interval=None)
    async with waiter.listening(client):
        images = await upload(client, dataset)
        await finish_processing(emulator)
        listener = waiter.listener
        assert listener is not None
        # Every row and image message has arrived before anyone waits for these images.
        await wait_for(lambda: listener.messages >= len(images) * (len(dataset.expected) + 1))
        results, elapsed = await timed(
            waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
        )
    assert_complete(results, images, dataset.expected)
    assert elapsed < QUICK / 2


async def test_dropped_sockets_are_reopened_and_nothing_is_lost(
    client: HautClient, emulator: EmulatorServer
) -> None:
    await control(emulator, "PUT", "faults", {"websocket_drop": 0.5, "seed": 1})
    dataset = await make_dataset(client, enabled=[30, 40, 43, 52])
    waiter = WebsocketWaiter(reconcile_interval=None)
    async with waiter.listening(client):
        images = await upload(client, dataset, sessions=2)
        await finish_processing(emulator)
        results, elapsed = await timed(
            waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
        )
        assert waiter.listener is not None
        reconnects = waiter.listener.reconnects
    assert reconnects >= 1
    assert_complete(results, images, dataset.expected)
    assert elapsed < QUICK / 2


async def test_without_a_results_stream_the_websocket_waiter_polls(
    client: HautClient, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "RESULT_NOTIFICATIONS_PATH", "/notifications/nowhere/")
    dataset = await make_dataset(client, enabled=FEW)
    images = await upload(client, dataset, sessions=1)
    await finish_processing(emulator)
    waiter = WebsocketWaiter(reconcile_interval=None, backoff=FAST_POLL)
    results, elapsed = await timed(
        waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
    )
    assert_complete(results, images, dataset.expected)
    assert elapsed < QUICK / 2


# --- webhook ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        WebhookAuth.query("auth_key", "q-secret-123"),
        WebhookAuth.basic("hautflow", "b-secret-456"),
        WebhookAuth.bearer("t-secret-789"),
    ],
    ids=["query", "basic", "bearer"],
)
async def test_webhook_deliveries_with_each_authorization_complete_the_images(
    auth: WebhookAuth, client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client, enabled=FEW)
    waiter = WebhookWaiter(authorization=auth, reconcile_interval=None)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload(client, dataset, sessions=1)
        await finish_processing(emulator)
        results, elapsed = await timed(
            waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
        )
        assert waiter.receiver is not None
        accepted, refused = waiter.receiver.accepted, waiter.receiver.refused
    assert_complete(results, images, dataset.expected)
    assert elapsed < QUICK / 2
    assert (accepted, refused) == (len(images), 0)


async def test_failed_webhook_deliveries_are_retried_and_nothing_is_lost(
    client: HautClient, emulator: EmulatorServer
) -> None:
    await control(emulator, "PUT", "faults", {"webhook_failure": 0.5, "seed": 3})
    dataset = await make_dataset(client, enabled=FEW)
    waiter = WebhookWaiter(reconcile_interval=None)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload(client, dataset, sessions=3)
        await finish_processing(emulator)
        results, elapsed = await timed(
            waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
        )
    deliveries = await control(emulator, "GET", "webhook_deliveries")
    assert_complete(results, images, dataset.expected)
    assert elapsed < QUICK / 2
    assert any(d["attempts"] > 1 and d["state"] == "delivered" for d in deliveries)


async def test_deliveries_the_api_gave_up_on_are_caught_by_the_safety_reads(
    client: HautClient, emulator: EmulatorServer
) -> None:
    await control(emulator, "PUT", "faults", {"webhook_failure": 1.0})
    dataset = await make_dataset(client, enabled=FEW)
    waiter = WebhookWaiter(reconcile_interval=0.2)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload(client, dataset, sessions=1)
        await finish_processing(emulator)
        results, elapsed = await timed(
            waiter.wait(client, images, expected_algorithms=FEW, timeout=QUICK)
        )
        assert waiter.receiver is not None
        accepted = waiter.receiver.accepted
    assert accepted == 0
    assert_complete(results, images, FEW)
    assert elapsed < QUICK / 2


async def test_deliveries_without_the_authorization_are_refused(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client)
    waiter = WebhookWaiter(authorization=WebhookAuth.bearer("right-secret-1"))
    payload = {"event": "photo_calculated_by_app", "image_id": "not-yours"}
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        assert waiter.receiver is not None
        url = waiter.receiver.url
        async with httpx.AsyncClient() as http:
            nothing = await http.post(url, json=payload)
            wrong = await http.post(url, json=payload, headers=bearer("wrong-secret"))
            basic = await http.post(url, json=payload, headers=basic_auth("right-secret-1"))
            right = await http.post(url, json=payload, headers=bearer("right-secret-1"))
        counts = waiter.receiver.accepted, waiter.receiver.refused
    assert [r.status_code for r in (nothing, wrong, basic, right)] == [401, 401, 401, 204]
    assert counts == (1, 3)


async def test_the_previous_webhook_is_restored_and_ours_removed(
    client: HautClient, emulator: EmulatorServer
) -> None:
    with_previous, without = await make_dataset(client, FEW), await make_dataset(client, FEW)
    await client.set_webhook(
        with_previous.id, "http://127.0.0.1:9/theirs/", authorization_value="their-secret-1"
    )
    waiter = WebhookWaiter()
    async with waiter.listening(client, dataset_ids=[with_previous.id, without.id]):
        assert waiter.receiver is not None
        ours = waiter.receiver.url
        during = await client.list_webhooks(with_previous.id)
    after = await client.list_webhooks(with_previous.id)
    assert [hook.url for hook in during] == [ours]
    assert [hook.url for hook in after] == ["http://127.0.0.1:9/theirs/"]
    assert after[0].authorization_value is not None
    assert after[0].authorization_value.get_secret_value() == "their-secret-1"
    assert await client.list_webhooks(without.id) == []


async def test_the_webhook_secret_is_not_in_reprs_or_logs(
    client: HautClient, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dataset = await make_dataset(client, enabled=FEW)
    waiter = WebhookWaiter(authorization=WebhookAuth.query("auth_key"))
    secret = waiter.authorization.value.get_secret_value()
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload(client, dataset, sessions=1)
        await finish_processing(emulator)
        results = await waiter.wait(client, images, expected_algorithms=FEW, timeout=QUICK)
        shown = [repr(waiter), repr(waiter.authorization), repr(waiter.receiver)]
    assert all(r.complete for r in results)
    assert secret not in " ".join(shown)
    assert secret not in caplog.text


# --- factory and arguments -------------------------------------------------------------


def test_make_waiter_picks_by_name_and_names_the_choices() -> None:
    assert [make_waiter(name).name for name in WAITERS] == list(WAITERS)
    assert isinstance(make_waiter("webhook", port=0), WebhookWaiter)
    with pytest.raises(ValueError, match="poll, websocket, webhook"):
        make_waiter("carrier-pigeon")


async def test_no_expected_algorithms_is_refused(client: HautClient) -> None:
    with pytest.raises(ValueError, match="enabled_algorithms"):
        await make_waiter("poll").wait(client, [], expected_algorithms=[], timeout=1)


# --- helpers ---------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic_auth(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"hautflow:{password}".encode()).decode()}


async def wait_for(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Wait until ``condition()`` holds, checking every 10 ms, or fail after ``within`` s."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the condition is a counter on another task
            await asyncio.sleep(0.01)


# --- photos the service cannot analyse ----------------------------------------------------


async def upload_landscape(client: HautClient, dataset: Dataset) -> list[UploadedImage]:
    """One front photo with no face in it."""
    return await upload_session(
        client, dataset, "no-face", {Side.FRONT: render_no_face(5, size=(192, 256))}
    )


@pytest.mark.parametrize("name", WAITERS)
async def test_a_photo_without_a_face_is_awaited_whole_then_settled_with_its_finding(
    name: str, client: HautClient, emulator: EmulatorServer
) -> None:
    """The detector's "no face" row comes first; every waiter still waits for the other rows
    (all "No face detected" errors), so the lake gets the same 18 rows whoever waited."""
    dataset = await make_dataset(client)
    waiter = waiter_named(name, reconcile_interval=0.2)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        images = await upload_landscape(client, dataset)
        # Only the detector (0.2) and the landmarks (0.3) are due: the finding is known.
        await control(emulator, "POST", "clock", {"advance_seconds": DELAY * 0.32})
        waiting = asyncio.create_task(
            waiter.wait(client, images, expected_algorithms=dataset.expected, timeout=QUICK)
        )
        await asyncio.sleep(0.5)
        assert not waiting.done(), "settled on the first row, before the others came"
        await finish_processing(emulator)
        (result,) = await waiting
    assert result.complete
    assert (result.status, result.finding) == ("no_face", "No face detected")
    assert len(result.rows) == 18
    assert result.aux == []


async def test_a_finding_settles_the_image_when_the_wait_ends_before_its_rows(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await make_dataset(client)
    images = await upload_landscape(client, dataset)
    await control(emulator, "POST", "clock", {"advance_seconds": DELAY * 0.32})
    (result,) = await waiter_named("poll").wait(
        client, images, expected_algorithms=dataset.expected, timeout=0.3
    )
    assert (result.complete, result.status) == (True, "no_face")
    assert {row.algorithm_version_id for row in result.rows} == {40, 52}
    await finish_processing(emulator)
