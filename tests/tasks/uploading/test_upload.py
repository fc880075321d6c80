"""Uploading against a real emulator over loopback: every image once, whatever happens.

The emulator's own counts (``/_emulator/stats``: subjects, batches, images and uploads per
photo hash) are the proof: reruns, new and changed sessions, injected drops and 5xx, a crash
between a create and its record, answers lost after the server acted, and refused photos.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from haut.client import HautClient
from haut.emulator.server import EmulatorServer
from haut.errors import CreateInDoubtError, TransientError
from schemas.api import Batch, Image, Subject
from schemas.captures import Capture, Discovery, ImageKind, QuarantineReason, Side
from schemas.refs import SubjectRef
from tasks.ledger import CaptureRecord, Ledger, LedgerBusyError
from tasks.uploading import (
    DatasetConflictError,
    DatasetContext,
    Plan,
    UploadOutcome,
    ensure_dataset,
    mark_written,
    plan,
    upload_captures,
)
from tests.tasks.upload_support import (
    DATASET,
    any_ledger,
    client,
    emulator,
    face,
    make_client,
    postgres,
    set_faults,
    stats,
    write_capture,
)

__all__ = ["any_ledger", "client", "emulator", "postgres"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.server, pytest.mark.anyio]

T = TypeVar("T")


class DoubtCounter(HautClient):
    """The test client, counting the creates whose outcome the client could not know."""

    def __init__(self, url: str) -> None:
        template = make_client(url)
        super().__init__(
            url,
            template._credentials,
            retry=template._session.retry,
            requests_per_second=None,
        )
        self.doubts = 0

    async def _counted(self, create: Awaitable[T]) -> T:
        try:
            return await create
        except CreateInDoubtError:
            self.doubts += 1
            raise

    async def create_subject(self, *args: Any, **kwargs: Any) -> Subject:
        return await self._counted(super().create_subject(*args, **kwargs))

    async def create_batch(self, *args: Any, **kwargs: Any) -> Batch:
        return await self._counted(super().create_batch(*args, **kwargs))

    async def upload_image(self, *args: Any, **kwargs: Any) -> Image:
        return await self._counted(super().upload_image(*args, **kwargs))


class AnswerLost(DoubtCounter):
    """The server makes the first subject, batch and image, but their answers are lost."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.lost: set[str] = set()

    async def _lose_first(self, kind: str, made: Any) -> Any:
        if kind not in self.lost:
            self.lost.add(kind)
            self.doubts += 1
            raise CreateInDoubtError(f"{kind} answer lost", reconcile_by={})
        return made

    async def create_subject(self, *args: Any, **kwargs: Any) -> Subject:
        made = await super().create_subject(*args, **kwargs)
        return await self._lose_first("subject", made)

    async def create_batch(self, *args: Any, **kwargs: Any) -> Batch:
        made = await super().create_batch(*args, **kwargs)
        return await self._lose_first("batch", made)

    async def upload_image(self, *args: Any, **kwargs: Any) -> Image:
        made = await super().upload_image(*args, **kwargs)
        return await self._lose_first("image", made)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.sqlite(tmp_path / "state" / "ledger.sqlite")


def sessions(root: Path) -> list[Capture]:
    """Three subjects: one with three sessions (triples and a single front), two others."""
    return [
        write_capture(root, "alice", "2026-01-05", seed=1),
        write_capture(root, "alice", "2026-01-12", seed=2, sides=(Side.FRONT,)),
        write_capture(root, "alice", "2026-01-19", seed=3),
        write_capture(root, "bob", "2026-01-06", seed=4),
        write_capture(root, "carol", "2026-01-07", seed=5, sides=(Side.FRONT,)),
    ]


async def ingest(
    client: Any, ledger: Ledger, captures: Sequence[Capture], *, concurrency: int = 4
) -> tuple[Plan, UploadOutcome]:
    """Plan against the ledger and upload what the plan says, as one run of the flow."""
    planned = plan(Discovery("/photos", tuple(captures), (), 0), ledger)
    dataset = await ensure_dataset(
        client, ledger, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=None
    )
    outcome = await upload_captures(
        client, ledger, dataset, planned.to_upload, concurrency=concurrency
    )
    return planned, outcome


def assert_each_image_once(emulator: EmulatorServer, captures: Sequence[Capture]) -> None:
    counts = stats(emulator)
    hashes = {image.sha256 for capture in captures for image in capture.images}
    assert counts["uploads_by_sha256"] == dict.fromkeys(hashes, 1)
    assert counts["images"] == len(hashes)
    assert counts["subjects"] == len({capture.subject_key for capture in captures})
    assert counts["batches"] == len(captures)
    assert counts["datasets"] == 1


async def test_upload_then_rerun_uploads_nothing(
    client: Any, emulator: EmulatorServer, any_ledger: Ledger, tmp_path: Path
) -> None:
    captures = sessions(tmp_path)
    first, outcome = await ingest(client, any_ledger, captures)
    assert first.new == tuple(captures)
    assert (outcome.failed, outcome.quarantined) == ([], [])
    assert {i.source.sha256 for i in outcome.uploaded} == {
        i.sha256 for c in captures for i in c.images
    }
    assert_each_image_once(emulator, captures)
    before = stats(emulator)

    again, rerun = await ingest(client, any_ledger, captures)
    assert again.done == tuple(captures)
    assert (again.new, again.resume, rerun.uploaded) == ((), (), [])
    assert stats(emulator) == before


async def test_images_carry_side_light_name_and_capture_time(
    client: Any, ledger: Ledger, tmp_path: Path
) -> None:
    triple = write_capture(tmp_path, "alice", "2026-01-05", seed=1)
    _, outcome = await ingest(client, ledger, [triple])
    image = outcome.uploaded[0]
    subject = SubjectRef(image.dataset_id, image.subject_id)
    [batch] = await client.list_batches(subject)
    assert batch.creation_time == triple.captured_at
    at_api = {i.name: i for i in await client.list_images(subject.batch(batch.id))}
    for source in triple.images:
        uploaded = at_api[source.upload_name]
        assert uploaded.side_id == source.side.side_id
        assert uploaded.light_id == source.light_id
        assert uploaded.creation_time == source.captured_at
    assert [s.name for s in await client.list_subjects(image.dataset_id)] == ["alice"]


async def test_a_new_session_uploads_only_it(
    client: Any, emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    first = write_capture(tmp_path, "alice", "2026-01-05", seed=1)
    await ingest(client, ledger, [first])
    second = write_capture(tmp_path, "alice", "2026-02-05", seed=2)
    planned, outcome = await ingest(client, ledger, [first, second])
    assert (planned.new, planned.done) == ((second,), (first,))
    assert {i.capture_id for i in outcome.uploaded} == {second.capture_id}
    assert_each_image_once(emulator, [first, second])


async def test_a_changed_photo_is_reported_and_not_uploaded(
    client: Any, emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    original = write_capture(tmp_path, "alice", "2026-01-05", seed=1)
    await ingest(client, ledger, [original])
    before = stats(emulator)
    edited = write_capture(
        tmp_path, "alice", "2026-01-05", seed=1, data={Side.FRONT: face(77, "front")}
    )
    planned, outcome = await ingest(client, ledger, [edited])
    assert [q.uri for q in planned.changed] == [edited.images[0].uri]
    assert planned.changed[0].reason is QuarantineReason.CHANGED_AFTER_UPLOAD
    assert outcome.uploaded == []
    assert stats(emulator) == before


async def test_faults_still_upload_every_image_exactly_once(
    client: Any, emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    captures = [
        write_capture(tmp_path, f"subject-{n % 4}", f"2026-01-{n + 10}", seed=n, sides=sides)
        for n, sides in enumerate([(Side.FRONT, Side.RIGHT, Side.LEFT), (Side.FRONT,)] * 4)
    ]
    set_faults(emulator, rate_drop=0.3, rate_5xx=0.2, seed=1)
    faulty = DoubtCounter(emulator.url)
    async with faulty:
        for _ in range(6):
            try:
                planned, _ = await ingest(faulty, ledger, captures)
            except TransientError:
                continue  # the run died on the dataset itself: the next one resumes
            if not planned.to_upload:
                break
    set_faults(emulator, rate_drop=0.0, rate_5xx=0.0)
    assert faulty.doubts > 0  # creates really were in doubt, and were reconciled
    final, _ = await ingest(client, ledger, captures)
    assert final.done == tuple(captures)
    assert_each_image_once(emulator, captures)


async def test_a_crash_between_creating_and_created_is_reconciled_on_the_next_run(
    client: Any, emulator: EmulatorServer, any_ledger: Ledger, tmp_path: Path
) -> None:
    ledger = any_ledger
    alice = write_capture(tmp_path, "alice", "2026-01-05", seed=1)
    bob = write_capture(tmp_path, "bob", "2026-01-06", seed=2)
    carol = write_capture(tmp_path, "carol", "2026-01-07", seed=3, sides=(Side.FRONT,))
    # Each create below reached the API, then the run died before recording "created".
    ledger.dataset_creating(DATASET, 1)
    dataset = await client.create_dataset(DATASET, image_type_id=1)
    ledger.subject_creating(DATASET, "carol")
    await client.create_subject(dataset.id, "carol")

    alice_ref = await recorded_subject(client, ledger, dataset.id, "alice")
    decoy = await client.create_batch(alice_ref)  # another tool's batch, at another time
    ledger.batch_creating(
        alice, dataset_name=DATASET, dataset_id=dataset.id, subject_id=alice_ref.subject_id
    )
    orphan = await client.create_batch(alice_ref, creation_time=alice.captured_at)

    bob_ref = await recorded_subject(client, ledger, dataset.id, "bob")
    ledger.batch_creating(
        bob, dataset_name=DATASET, dataset_id=dataset.id, subject_id=bob_ref.subject_id
    )
    bob_batch = bob_ref.batch((await client.create_batch(bob_ref)).id)
    ledger.batch_created(bob.capture_id, bob_batch.batch_id)
    front = bob.images[0]
    ledger.image_creating(bob.capture_id, front)
    await client.upload_image(bob_batch, face(2, "front"), side_id=1, name=front.upload_name)

    planned, outcome = await ingest(client, ledger, [alice, bob, carol])
    assert (outcome.failed, outcome.quarantined) == ([], [])
    assert planned.resume == (alice, bob)
    recorded = ledger.capture(alice.capture_id)
    assert recorded is not None
    assert recorded.batch_id == orphan.id  # adopted, not created again
    assert await client.list_images(alice_ref.batch(decoy.id)) == []
    counts = stats(emulator)
    assert (counts["datasets"], counts["subjects"], counts["batches"]) == (1, 3, 4)
    assert counts["uploads_by_sha256"] == dict.fromkeys(
        {i.sha256 for c in (alice, bob, carol) for i in c.images}, 1
    )
    assert plan(Discovery("/photos", (alice, bob, carol), (), 0), ledger).done == (
        alice,
        bob,
        carol,
    )


async def recorded_subject(client: Any, ledger: Ledger, dataset_id: str, name: str) -> SubjectRef:
    """A subject created and recorded as the uploader does."""
    ledger.subject_creating(DATASET, name)
    subject = await client.create_subject(dataset_id, name)
    ledger.subject_created(DATASET, name, subject.id)
    return SubjectRef(dataset_id, subject.id)


async def test_answers_lost_after_the_server_acted_are_reconciled_in_the_same_run(
    emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    captures = [
        write_capture(tmp_path, "alice", "2026-01-05", seed=1),
        write_capture(tmp_path, "alice", "2026-01-12", seed=2),
    ]
    lossy = AnswerLost(emulator.url)
    async with lossy:
        _, outcome = await ingest(lossy, ledger, captures)
    assert lossy.lost == {"subject", "batch", "image"}
    assert (outcome.failed, len(outcome.uploaded)) == ([], 6)
    assert_each_image_once(emulator, captures)


async def test_a_photo_the_api_refuses_quarantines_its_session_and_the_run_goes_on(
    client: Any, emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    broken = write_capture(
        tmp_path, "alice", "2026-01-05", seed=1, data={Side.RIGHT: b"not a photo at all" * 50}
    )
    fine = write_capture(tmp_path, "bob", "2026-01-06", seed=2)
    _, outcome = await ingest(client, ledger, [broken, fine])
    [refused] = outcome.quarantined
    assert refused.reason is QuarantineReason.REJECTED_BY_API
    assert refused.uri == broken.images[1].uri
    assert "Upload a valid image" in refused.detail  # the server's own words
    assert refused.uri in refused.fix
    assert outcome.failed == []
    assert {i.capture_id for i in outcome.uploaded} == {broken.capture_id, fine.capture_id}
    counts = stats(emulator)
    assert counts["images"] == 4  # bob's three and alice's front; nothing after the refusal

    planned, again = await ingest(client, ledger, [broken, fine])
    assert (planned.resume, planned.done) == ((broken,), (fine,))
    assert [q.uri for q in again.quarantined] == [refused.uri]
    assert stats(emulator)["images"] == 4


async def test_a_service_that_keeps_failing_leaves_captures_to_resume(
    client: Any, emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    captures = [
        write_capture(tmp_path, "alice", "2026-01-05", seed=1),
        write_capture(tmp_path, "bob", "2026-01-06", seed=2, sides=(Side.FRONT,)),
    ]
    dataset = await ensure_dataset(
        client, ledger, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=None
    )
    set_faults(emulator, rate_5xx=1.0)
    outcome = await upload_captures(client, ledger, dataset, captures, concurrency=2)
    set_faults(emulator, rate_5xx=0.0)
    assert {capture for capture, _ in outcome.failed} == set(captures)
    assert all("status 503" in error for _, error in outcome.failed)
    assert outcome.uploaded == []

    planned, resumed = await ingest(client, ledger, captures)
    assert set(planned.to_upload) == set(captures)
    assert resumed.failed == []
    assert_each_image_once(emulator, captures)


class AttachCounter(DoubtCounter):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.attached: list[Sequence[int] | None] = []

    async def attach_application(self, dataset_id: str, **kwargs: Any) -> Any:
        self.attached.append(kwargs.get("enabled_algorithms"))
        return await super().attach_application(dataset_id, **kwargs)


async def test_the_dataset_is_made_and_attached_once_keeping_the_face_detector(
    emulator: EmulatorServer, ledger: Ledger
) -> None:
    async def ensure(algorithms: Sequence[int] | None) -> DatasetContext:
        return await ensure_dataset(
            counter,
            ledger,
            name=DATASET,
            image_kind=ImageKind.SELFIE,
            enabled_algorithms=algorithms,
        )

    counter = AttachCounter(emulator.url)
    async with counter:
        first = await ensure([30])
        again = await ensure([30])
        wider = await ensure([31, 30])
    assert first == again
    assert first.enabled_algorithms == (30, 40)
    assert wider.enabled_algorithms == (30, 31, 40)
    assert wider.dataset_id == first.dataset_id
    assert counter.attached == [(30, 40), (30, 31, 40)]
    assert stats(emulator)["datasets"] == 1


async def test_a_ledger_naming_a_dataset_the_service_lacks_is_refused(
    emulator: EmulatorServer, ledger: Ledger
) -> None:
    ledger.dataset_creating(DATASET, 1)
    ledger.dataset_created(DATASET, "00000000-0000-0000-0000-000000000000")
    async with make_client(emulator.url) as haut:
        with pytest.raises(DatasetConflictError, match="no such dataset"):
            await ensure_dataset(
                haut, ledger, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=None
            )


async def test_two_overlapping_runs_on_one_ledger_upload_each_image_once(
    emulator: EmulatorServer, any_ledger: Ledger, tmp_path: Path
) -> None:
    """A cron run starting while the previous one still uploads: two processes, one ledger
    (on PostgreSQL too, the ledger several workers share)."""
    captures = sessions(tmp_path / "photos")

    async def run(owner: str) -> UploadOutcome:
        ledger = Ledger(any_ledger.url)  # each "process" opens the ledger itself
        try:
            with ledger.run_lock(owner):
                async with make_client(emulator.url) as haut:
                    return (await ingest(haut, ledger, captures))[1]
        finally:
            ledger.close()

    first, second = await asyncio.gather(run("run-1"), run("run-2"), return_exceptions=True)
    assert isinstance(second, LedgerBusyError)
    assert isinstance(first, UploadOutcome)
    assert first.failed == []
    assert_each_image_once(emulator, captures)
    after = await run("run-2")  # once the first run is over, the next one has nothing to do
    assert after.uploaded == []
    assert_each_image_once(emulator, captures)


class StaleLedger(Ledger):
    """A second process's view: it read each capture before the first process recorded it."""

    def __init__(self, path: Path) -> None:
        super().__init__(Ledger.sqlite(path).url)
        self.stale: set[str] = set()

    def capture(self, capture_id: str) -> CaptureRecord | None:
        if capture_id not in self.stale:
            self.stale.add(capture_id)
            return None
        return super().capture(capture_id)


async def test_a_capture_recorded_by_another_process_is_reconciled_not_uploaded_again(
    client: Any, emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "ledger.sqlite"
    captures = sessions(tmp_path / "photos")
    first = Ledger.sqlite(path)
    await ingest(client, first, captures)
    before = stats(emulator)

    late = StaleLedger(path)
    dataset = await ensure_dataset(
        client, late, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=None
    )
    outcome = await upload_captures(client, late, dataset, captures, concurrency=2)
    assert (outcome.failed, outcome.quarantined) == ([], [])
    assert late.stale == {capture.capture_id for capture in captures}
    assert stats(emulator) == before  # no second batch, no image sent twice
    assert_each_image_once(emulator, captures)


async def test_replacing_a_refused_photo_finishes_the_session_in_its_batch(
    client: Any, emulator: EmulatorServer, ledger: Ledger, tmp_path: Path
) -> None:
    broken = write_capture(
        tmp_path, "alice", "2026-01-05", seed=1, data={Side.RIGHT: b"not a photo at all" * 50}
    )
    _, refused = await ingest(client, ledger, [broken])
    [quarantined] = refused.quarantined
    assert "only the new one is sent" in quarantined.fix
    mark_written(ledger, [image.image_id for image in refused.uploaded])  # the front's results

    fixed = write_capture(tmp_path, "alice", "2026-01-05", seed=1)  # the user did what it said
    assert fixed.capture_id != broken.capture_id
    planned, outcome = await ingest(client, ledger, [fixed])
    assert (planned.resume, planned.changed) == ((fixed,), ())
    assert (outcome.failed, outcome.quarantined) == ([], [])
    assert_each_image_once(emulator, [fixed])  # one batch; the front was not sent again
    recorded = ledger.capture(fixed.capture_id)
    before = ledger.capture(broken.capture_id)
    assert recorded is not None
    assert before is not None
    assert recorded.batch_id == refused.uploaded[0].batch_id
    assert before.batch_id is None
    # Every image, the front included, now belongs to the fixed capture (and goes to the lake
    # under it).
    assert {(i.capture_id, i.side) for i in outcome.uploaded} == {
        (fixed.capture_id, side) for side in Side
    }
    assert plan(Discovery("/photos", (fixed,), (), 0), ledger).done == (fixed,)
