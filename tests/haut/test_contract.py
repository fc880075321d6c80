"""The client against the emulator over real loopback HTTP: every call, both websockets, the
webhook, and riding through injected faults (429 storms, 5xx, drops, an expired token)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from haut.auth import PasswordCredentials, TokenCredentials
from haut.client import HautClient
from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face
from haut.emulator.server import EmulatorServer
from haut.errors import AuthError, CreateInDoubtError, NotFoundError
from haut.paths import FSM2_APPLICATION_ID
from haut.retry import RetryPolicy
from schemas.api import Subject
from schemas.api_results import AlgorithmResult, AlgorithmResultMessage, PhotoCalculated
from schemas.refs import BatchRef, SubjectRef
from tests.haut.conftest import SleepRecorder
from tests.support import control, wait_until

pytestmark = [pytest.mark.server, pytest.mark.anyio]

PASSWORD = "emulator-pass-77"
PROCESSING_DONE = 60.0  # seconds of emulator time after which every algorithm has finished


class YieldingSleep(SleepRecorder):
    """Records retry waits and only yields: the emulator's faults are random, not timed."""

    async def __call__(self, seconds: float) -> None:
        await super().__call__(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(rate_limit_per_second=1000, login_limit_per_minute=50)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def sleeps() -> YieldingSleep:
    return YieldingSleep()


@pytest.fixture
async def client(emulator: EmulatorServer, sleeps: YieldingSleep) -> AsyncIterator[HautClient]:
    async with HautClient(
        emulator.url,
        PasswordCredentials("lab@example.com", PASSWORD),
        sleep=sleeps,
        # cap 0.2 s: Retry-After hints up to 2 s (cap * 10) are obeyed, longer ones are absurd
        retry=RetryPolicy(attempts=8, base=0.01, cap=0.2),
        requests_per_second=None,
        max_concurrency=8,
    ) as haut:
        yield haut


async def finish_processing(emulator: EmulatorServer) -> None:
    await control(emulator, "POST", "clock", {"advance_seconds": PROCESSING_DONE})


async def new_capture(client: HautClient, subject_name: str = "alice") -> tuple[str, BatchRef]:
    dataset = await client.create_dataset(f"contract {subject_name}", image_type_id=1)
    await client.attach_application(dataset.id)
    subject = await client.create_subject(dataset.id, subject_name)
    batch = await client.create_batch(SubjectRef(dataset.id, subject.id))
    return dataset.id, BatchRef(dataset.id, subject.id, batch.id)


async def test_identity_dictionaries_and_datasets(client: HautClient) -> None:
    profile = await client.profile()
    assert await client.company_id() == profile.resolved_company_id()
    assert await client.user_id() == profile.user_id()
    algorithms = {a.id: a for a in await client.algorithms()}
    assert algorithms[30].algorithm_family is not None
    assert algorithms[30].algorithm_family.name == "Redness"
    assert 40 in algorithms
    selfie = next(t for t in await client.image_types() if t.id == 1)
    assert [s.id for s in selfie.sides] == [1, 2, 3]

    created = [
        await client.create_dataset(f"ds {n}", expire_images_after_days=30) for n in range(3)
    ]
    assert (await client.get_dataset(created[0].id)).expire_images_after_days == 30
    paged = [d.id async for d in client.iter_datasets(page_size=2)]
    assert set(paged) >= {d.id for d in created}
    assert len(paged) == len(set(paged))
    assert [d.id for d in await client.list_datasets(q="ds 1")] == [created[1].id]
    found = await client.find_dataset("ds 2")
    assert found is not None
    assert found.id == created[2].id
    updated = await client.update_dataset(
        created[0].id, expire_images_after_days=None, clean_images_as_soon_as_ready=True
    )
    assert updated.expire_images_after_days is None
    assert updated.clean_images_as_soon_as_ready
    with pytest.raises(NotFoundError):
        await client.get_dataset("00000000-0000-0000-0000-000000000000")

    assert FSM2_APPLICATION_ID in {a.id for a in await client.list_applications()}
    run = await client.attach_application(created[0].id, enabled_algorithms=[30, 40])
    again = await client.attach_application(created[0].id, enabled_algorithms=[30, 31, 40])
    assert sorted(again.enabled_algorithms) == [30, 31, 40]
    assert run.dataset_id == created[0].id


async def test_subjects_batches_and_deletes(client: HautClient) -> None:
    dataset = await client.create_dataset("people")
    subjects = [await client.create_subject(dataset.id, name) for name in ("ann", "bob", "ann")]
    assert {s.id for s in await client.find_subjects(dataset.id, "ann")} == {
        subjects[0].id,
        subjects[2].id,
    }
    assert len([s async for s in client.iter_subjects(dataset.id, page_size=1)]) == 3
    bob = SubjectRef(dataset.id, subjects[1].id)
    assert (await client.get_subject(bob)).name == "bob"
    assert (await client.update_subject(bob, name="robert")).name == "robert"

    taken = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    batch = await client.create_batch(bob, creation_time=taken)
    assert [b.id for b in await client.list_batches(bob)] == [batch.id]
    await client.delete_batch(bob.batch(batch.id))
    assert await client.list_batches(bob) == []

    await client.delete_subject(bob)
    await client.delete_subjects(dataset.id, [subjects[0].id, subjects[2].id])
    assert await client.list_subjects(dataset.id) == []


async def test_upload_results_aux_history_smoothing_and_pdf(
    client: HautClient, emulator: EmulatorServer
) -> None:
    _dataset_id, batch = await new_capture(client)
    taken = datetime.now(UTC) - timedelta(days=2)
    image = await client.upload_image(
        batch, render_face(7), side_id=1, name="front.jpg", creation_time=taken
    )
    ref = batch.image(image.id)
    assert [i.id for i in await client.find_images(batch, "front.jpg")] == [image.id]
    assert (await client.get_image(ref)).id == image.id
    await finish_processing(emulator)

    rows = await client.results(ref)
    assert rows
    assert all(row.is_ok for row in rows)
    redness = next(r for r in rows if r.algorithm_family_tech_name == "selfie_v2.redness")
    assert isinstance(redness.result, AlgorithmResult)
    assert isinstance(redness.face_value(), int)

    aux = await client.aux_images(ref)
    assert aux
    assert all("token" not in url for a in aux for url in a.urls.values())
    assert (await client.aux_image_jpeg(aux[0].id))[:2] == b"\xff\xd8"

    history = await client.all_results(
        batch.subject,
        date_from=taken - timedelta(days=1),
        date_to=datetime.now(UTC) + timedelta(days=1),
    )
    assert {row.image_id for row in history} == {image.id}
    assert await client.all_results(batch.subject, date_to=taken - timedelta(days=1)) == []

    smoothed = await client.smoothed_results(ref, method="mean_without_outliers")
    assert {s.algorithm_tech_name: s.value for s in smoothed}["selfie_v2.redness"] == (
        redness.face_value()
    )
    assert (await client.pdf_report(ref)).startswith(b"%PDF")


async def test_private_token_round_trip(client: HautClient, emulator: EmulatorServer) -> None:
    token = await client.create_private_token("etl", datetime.now(UTC) + timedelta(days=30))
    assert token.data is not None
    assert token.id in {t.id for t in await client.list_private_tokens()}

    async with HautClient(emulator.url, TokenCredentials(token.data)) as by_token:
        assert await by_token.company_id() == await client.company_id()
        assert await by_token.list_datasets() == await client.list_datasets()

    await client.delete_private_token(token.id)
    assert token.id not in {t.id for t in await client.list_private_tokens()}


async def next_message(stream: Any, kind: type, within: float = 10.0) -> Any:
    async def wanted() -> Any:
        async for message in stream:
            if isinstance(message, kind):
                return message
        raise AssertionError("stream ended")

    return await asyncio.wait_for(wanted(), within)


async def test_both_websockets_deliver_after_an_upload(
    client: HautClient, emulator: EmulatorServer
) -> None:
    _, batch = await new_capture(client)
    async with client.user_notifications() as users, client.result_notifications() as results:
        image = await client.upload_image(batch, render_face(3), name="front.jpg")
        await finish_processing(emulator)
        row = await next_message(results, AlgorithmResultMessage)
        done = await next_message(users, PhotoCalculated)

    assert row.result.image_id == image.id
    assert row.batch_id == batch.batch_id
    assert done.image_id == image.id
    assert done.subject_id == batch.subject_id


def websocket_listeners(emulator: EmulatorServer) -> int:
    """How many notification websockets the emulator is serving (read from another thread)."""
    stats = httpx.get(f"{emulator.url}/_emulator/stats").raise_for_status().json()
    return int(stats["websocket_listeners"])


async def test_user_stream_reconnects_after_the_server_drops_it(
    client: HautClient, emulator: EmulatorServer
) -> None:
    _, batch = await new_capture(client)
    await control(emulator, "PUT", "faults", {"websocket_drop": 1.0})
    async with client.user_notifications() as users:
        first = await client.upload_image(batch, render_face(1), name="front.jpg")
        await finish_processing(emulator)
        assert (await next_message(users, PhotoCalculated)).image_id == first.id
        # The stream reconnects only when read again: until then the dropped listener is gone
        # and nothing new can take its place, so 0 then 1 listeners means the new connection.
        await asyncio.to_thread(
            wait_until, lambda: websocket_listeners(emulator) == 0, "the dropped listener to go"
        )
        following = asyncio.create_task(next_message(users, PhotoCalculated))
        await asyncio.to_thread(
            wait_until,
            lambda: users.reconnects == 1 and websocket_listeners(emulator) == 1,
            "the reconnected listener",
        )
        second_batch = await client.create_batch(batch.subject)
        second = await client.upload_image(
            batch.subject.batch(second_batch.id), render_face(2), name="front.jpg"
        )
        await finish_processing(emulator)
        assert (await following).image_id == second.id


async def test_a_stream_refused_for_another_company_fails_without_renewing_the_token(
    emulator: EmulatorServer,
) -> None:
    async with HautClient(
        emulator.url,
        PasswordCredentials("lab@example.com", PASSWORD),
        company_id="00000000-0000-0000-0000-000000000000",
        requests_per_second=None,
    ) as stranger:
        with pytest.raises(AuthError, match="not allowed to listen"):
            async with stranger.result_notifications():
                pass
        assert (stranger.session.tokens.logins, stranger.session.tokens.refreshes) == (1, 0)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    arrived: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"{}")}
        )
        self.arrived.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "arrived": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


async def test_webhook_is_delivered_with_its_authorization(
    client: HautClient, emulator: EmulatorServer, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    dataset_id, batch = await new_capture(client)
    hook = await client.set_webhook(
        dataset_id, url, authorization="bearer", authorization_value="hook-secret-42"
    )
    assert [w.url for w in await client.list_webhooks(dataset_id)] == [url]
    image = await client.upload_image(batch, render_face(5), name="front.jpg")
    await finish_processing(emulator)
    assert await asyncio.to_thread(handler.arrived.wait, 10.0)

    delivery = handler.received[0]
    assert delivery["headers"]["authorization"] == "Bearer hook-secret-42"
    assert delivery["body"]["event"] == "photo_calculated_by_app"
    assert delivery["body"]["image_id"] == image.id
    assert hook.id is not None
    await client.delete_webhook(dataset_id, hook.id)
    assert await client.list_webhooks(dataset_id) == []


async def test_rides_through_a_429_storm_honouring_retry_after(
    client: HautClient, emulator: EmulatorServer, sleeps: YieldingSleep
) -> None:
    dataset = await client.create_dataset("storm")
    await control(
        emulator, "PUT", "faults", {"rate_429": 0.5, "retry_after_seconds": 0.2, "seed": 11}
    )
    names = [f"s{n}" for n in range(12)]
    created = await asyncio.gather(*(client.create_subject(dataset.id, n) for n in names))
    await control(emulator, "PUT", "faults", {"rate_429": 0.0})

    assert sorted(s.name for s in created) == sorted(names)
    assert sleeps.waits
    assert all(wait == 1.0 for wait in sleeps.waits)
    assert (await control(emulator, "GET", "stats"))["subjects"] == len(names)


async def ensure_subject(
    client: HautClient, dataset_id: str, name: str, doubts: list[CreateInDoubtError]
) -> Subject:
    """Create once: after an in-doubt create, look the subject up before trying again."""
    for _ in range(10):
        try:
            return await client.create_subject(dataset_id, name)
        except CreateInDoubtError as doubt:
            doubts.append(doubt)
            found = await client.find_subjects(dataset_id, name)
            if found:
                return found[0]
    raise AssertionError(f"could not create {name}")


async def test_rides_through_5xx_and_dropped_connections_without_duplicates(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await client.create_dataset("flaky")
    # One create made ambiguous on purpose: the server acts, then the connection drops.
    await control(emulator, "PUT", "faults", {"rate_drop": 1.0})
    with pytest.raises(CreateInDoubtError) as forced:
        await client.create_subject(dataset.id, "p0")
    await control(emulator, "PUT", "faults", {"rate_drop": 0.0})
    assert forced.value.reconcile_by == {"dataset_id": dataset.id, "name": "p0"}
    assert [s.name for s in await client.find_subjects(dataset.id, "p0")] == ["p0"]

    await control(emulator, "PUT", "faults", {"rate_5xx": 0.2, "rate_drop": 0.2, "seed": 5})
    names = [f"p{n}" for n in range(1, 15)]
    doubts: list[CreateInDoubtError] = []
    subjects = [await ensure_subject(client, dataset.id, name, doubts) for name in names]
    listed = await client.list_subjects(dataset.id)
    await control(emulator, "PUT", "faults", {"rate_5xx": 0.0, "rate_drop": 0.0})

    assert all(doubt.reconcile_by["dataset_id"] == dataset.id for doubt in doubts)
    assert sorted(s.name for s in subjects) == sorted(names)
    assert sorted(s.name for s in listed) == sorted(["p0", *names])  # each exactly once


async def test_expired_token_causes_exactly_one_refresh(
    client: HautClient, emulator: EmulatorServer
) -> None:
    dataset = await client.create_dataset("clock")
    tokens = client.session.tokens
    assert (tokens.logins, tokens.refreshes) == (1, 0)
    await control(emulator, "POST", "clock", {"advance_seconds": 3700})

    fetched = await asyncio.gather(*(client.get_dataset(dataset.id) for _ in range(12)))

    assert {d.id for d in fetched} == {dataset.id}
    assert (tokens.logins, tokens.refreshes) == (1, 1)


async def test_same_client_runs_in_process_on_asgi_transport() -> None:
    from haut.emulator.server import create_app

    transport = httpx.ASGITransport(app=create_app(EmulatorConfig()))
    async with HautClient(
        "http://emulator.invalid", PasswordCredentials("a@b.c", PASSWORD), transport=transport
    ) as in_process:
        dataset = await in_process.create_dataset("in process")
        assert (await in_process.get_dataset(dataset.id)).name == "in process"
