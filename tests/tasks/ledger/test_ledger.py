"""The ledger on a SQLite file and on PostgreSQL: before/after records, one record per create,
the image states that carry results across runs, and the schema version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from schemas.captures import Side
from tasks.ledger import (
    SCHEMA_VERSION,
    CaptureState,
    CreateState,
    ImageState,
    Ledger,
    LedgerBusyError,
)
from tasks.ledger.tables import schema_versions
from tasks.uploading import mark_pending, mark_written, pending_images
from tests.tasks.upload_support import any_ledger, fake_capture, postgres

__all__ = ["any_ledger", "postgres"]  # fixtures, imported for pytest

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def record_uploaded_capture(ledger: Ledger, subject: str, session: str, batch_id: str) -> list[str]:
    """Record a capture as fully uploaded, the way the uploader does; returns its image ids."""
    capture = fake_capture(subject, session)
    ledger.dataset_creating("ds", 1)
    ledger.dataset_created("ds", "dataset-1")
    ledger.subject_creating("ds", subject)
    ledger.subject_created("ds", subject, f"subject-{subject}")
    ledger.batch_creating(
        capture, dataset_name="ds", dataset_id="dataset-1", subject_id=f"subject-{subject}"
    )
    ledger.batch_created(capture.capture_id, batch_id)
    ids = []
    for image in capture.images:
        ledger.image_creating(capture.capture_id, image)
        ids.append(f"{batch_id}-{image.side}")
        ledger.image_uploaded(capture.capture_id, image.side, ids[-1], NOW)
    ledger.capture_finished(capture.capture_id, CaptureState.UPLOADED, None)
    return ids


def test_every_create_is_recorded_before_and_after_once(any_ledger: Ledger) -> None:
    ledger = any_ledger
    ledger.dataset_creating("ds", 1)
    ledger.dataset_creating("ds", 1)  # a second "before" of the same create changes nothing
    record = ledger.dataset("ds")
    assert record is not None
    assert (record.state, record.dataset_id) == (CreateState.CREATING, None)
    ledger.dataset_created("ds", "dataset-1")
    record = ledger.dataset("ds")
    assert record is not None
    assert (record.state, record.dataset_id) == (CreateState.CREATED, "dataset-1")

    ledger.application_creating("ds", "app", [40, 30])
    ledger.application_created("ds", "app", "run-1", [40, 30])
    attached = ledger.application("ds", "app")
    assert attached is not None
    assert attached.requested_algorithms == (30, 40)
    assert attached.enabled_algorithms == (30, 40)

    ledger.subject_creating("ds", "alice")
    ledger.subject_creating("ds", "alice")
    subject = ledger.subject("ds", "alice")
    assert subject is not None
    assert subject.state is CreateState.CREATING
    ledger.subject_created("ds", "alice", "subject-alice")
    assert ledger.subject("ds", "alice") is not None
    assert ledger.subject("ds", "bob") is None


def test_capture_and_image_states(any_ledger: Ledger) -> None:
    ledger = any_ledger
    record_uploaded_capture(ledger, "alice", "s1", "batch-1")
    capture = fake_capture("alice", "s1")
    recorded = ledger.capture(capture.capture_id)
    assert recorded is not None
    assert recorded.state is CaptureState.UPLOADED
    assert recorded.batch_id == "batch-1"
    assert recorded.captured_at == capture.captured_at
    assert set(recorded.images_on_the_api) == {Side.FRONT, Side.RIGHT, Side.LEFT}
    assert ledger.owned_batch_ids("subject-alice") == {"batch-1"}
    assert list(ledger.captures_by_key(["alice/s1", "alice/s2"])) == ["alice/s1"]


def test_one_batch_can_never_belong_to_two_captures(any_ledger: Ledger) -> None:
    ledger = any_ledger
    record_uploaded_capture(ledger, "alice", "s1", "batch-1")
    other = fake_capture("alice", "s2")
    ledger.batch_creating(
        other, dataset_name="ds", dataset_id="dataset-1", subject_id="subject-alice"
    )
    with pytest.raises(IntegrityError):
        ledger.batch_created(other.capture_id, "batch-1")


def test_pending_images_until_written(any_ledger: Ledger) -> None:
    ledger = any_ledger
    first = record_uploaded_capture(ledger, "alice", "s1", "batch-1")
    second = record_uploaded_capture(ledger, "bob", "s1", "batch-2")
    waiting = pending_images(ledger)
    assert {image.image_id for image in waiting} == {*first, *second}
    image = next(i for i in waiting if i.image_id == first[0])
    assert (image.subject_key, image.session_key, image.batch_id) == ("alice", "s1", "batch-1")
    assert image.ref.dataset_id == "dataset-1"
    assert image.source == fake_capture("alice", "s1").images[0]
    assert image.uploaded_at == NOW

    mark_written(ledger, first)
    mark_pending(ledger, second[:1], "still processing at the 600 s timeout")
    assert {image.image_id for image in pending_images(ledger)} == set(second)
    mark_written(ledger, second)
    assert pending_images(ledger) == []
    recorded = ledger.capture(fake_capture("bob", "s1").capture_id)
    assert recorded is not None
    assert {i.state for i in recorded.images.values()} == {ImageState.WRITTEN}


def test_sqlite_file_keeps_records_across_processes_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    record_uploaded_capture(Ledger.sqlite(path), "alice", "s1", "batch-1")
    reopened = Ledger.sqlite(path)
    assert reopened.schema_version == SCHEMA_VERSION
    assert reopened.capture(fake_capture("alice", "s1").capture_id) is not None
    with reopened.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_a_ledger_from_a_newer_hautflow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger.sqlite(path)
    with ledger.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO ledger_schema_versions (version, applied_at) VALUES (99, :t)"),
            {"t": NOW},
        )
    with pytest.raises(RuntimeError, match="version 99"):
        Ledger.sqlite(path)


def test_repr_hides_the_database_password() -> None:
    ledger = Ledger.__new__(Ledger)  # no database behind it: only the repr is looked at
    ledger.url = make_url("postgresql+psycopg://hautflow:s3cret-pw@db.internal/ledger")
    assert "s3cret-pw" not in repr(ledger)


def test_a_second_run_is_refused_while_the_first_holds_the_ledger(any_ledger: Ledger) -> None:
    other_process = Ledger(any_ledger.url)  # its own engine and connections, like a 2nd process
    try:
        with any_ledger.run_lock("run-1"):
            with (
                pytest.raises(LedgerBusyError, match="another ingest run is in progress") as busy,
                other_process.run_lock("run-2"),
            ):
                pytest.fail("two runs held one ledger")
            assert "run run-1" in str(busy.value)  # who holds it
            assert "Wait for it to finish, or stop it" in str(busy.value)
        with (
            other_process.run_lock("run-2"),  # released with the first run
            pytest.raises(LedgerBusyError, match="run run-2"),
            any_ledger.run_lock("run-3"),
        ):
            pytest.fail("two runs held one ledger")
    finally:
        other_process.close()


def test_the_run_lock_is_per_ledger(tmp_path: Path) -> None:
    first = Ledger.sqlite(tmp_path / "a" / "ledger.sqlite")
    second = Ledger.sqlite(tmp_path / "b" / "ledger.sqlite")
    with first.run_lock("run-1"), second.run_lock("run-2"):
        assert (tmp_path / "a" / "ledger.sqlite.lock").read_text().startswith("run run-1, pid ")


def test_a_capture_recorded_twice_keeps_its_first_batch(any_ledger: Ledger) -> None:
    ledger = any_ledger
    record_uploaded_capture(ledger, "alice", "s1", "batch-1")
    capture = fake_capture("alice", "s1")
    recorded = {"dataset_name": "ds", "dataset_id": "dataset-1", "subject_id": "subject-alice"}
    assert not ledger.batch_creating(capture, **recorded)  # already there: the caller reconciles
    assert ledger.batch_created(capture.capture_id, "batch-2") == "batch-1"
    second = fake_capture("bob", "s1")
    ledger.subject_creating("ds", "bob")
    assert ledger.batch_creating(second, **{**recorded, "subject_id": "subject-bob"})
    assert ledger.batch_created(second.capture_id, "batch-3") == "batch-3"


def test_recording_an_image_again_never_undoes_its_upload(any_ledger: Ledger) -> None:
    ledger = any_ledger
    ids = record_uploaded_capture(ledger, "alice", "s1", "batch-1")
    capture = fake_capture("alice", "s1")
    assert not ledger.image_creating(capture.capture_id, capture.images[0])
    recorded = ledger.capture(capture.capture_id)
    assert recorded is not None
    front = recorded.images[Side.FRONT]
    assert (front.state, front.image_id) == (ImageState.UPLOADED, ids[0])


def test_a_version_1_ledger_is_brought_forward_with_its_records(any_ledger: Ledger) -> None:
    """A ledger made before photos were looked up by content: reopened, it gets the index, the
    runs and claims tables, keeps its records, and finds a photo by its sha256."""
    capture = fake_capture("alice", "s1")
    record_uploaded_capture(any_ledger, "alice", "s1", "batch-1")
    with any_ledger.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_ledger_images_sha256"))
        connection.execute(text("DROP TABLE ledger_runs"))
        connection.execute(text("DROP TABLE ledger_claims"))
        connection.execute(schema_versions.delete())
        connection.execute(schema_versions.insert().values(version=1))
    reopened = Ledger(any_ledger.url)
    assert reopened.schema_version == SCHEMA_VERSION == 4
    with reopened.engine.connect() as connection:
        versions = connection.execute(text("SELECT version FROM ledger_schema_versions"))
        assert sorted(v for (v,) in versions) == [1, 2, 3, 4]
    assert "ledger_claims" in inspect(reopened.engine).get_table_names()
    indexes = {i["name"] for i in inspect(reopened.engine).get_indexes("ledger_images")}
    assert "ix_ledger_images_sha256" in indexes
    with reopened.run_lock("after-the-upgrade"):
        assert reopened.unfinished_runs == []
    front = capture.images[0]
    found = reopened.photos_by_content([front.sha256, "0" * 64])
    assert list(found) == [front.sha256]
    assert [(p.uri, p.subject_key) for p in found[front.sha256]] == [(front.uri, "alice")]
    reopened.close()
