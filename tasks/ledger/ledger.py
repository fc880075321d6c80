"""The ledger: what hautflow created at the API, recorded before and after every call.

A SQL database through SQLAlchemy Core: a SQLite file by default (kept with the lake's state),
any SQLAlchemy URL the same way (``postgresql+psycopg://...`` when several workers share a
run). Each create is recorded ``creating`` with its reconcile key *before* the call and
``created`` (or ``uploaded``) with the API's id *after* it, each in its own committed
transaction, so a process killed at any moment leaves a row saying exactly what may be in
doubt. The tables and states are in :mod:`tasks.ledger.tables`; the reconciling is done by
:mod:`tasks.uploading.capture_upload` (subjects, batches, images) and
:mod:`tasks.uploading.dataset` (the dataset and its application).

Calls are synchronous and short (one small transaction each); the uploader makes them between
HTTP requests on its event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    RowMapping,
    Table,
    select,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import IntegrityError

import tasks.ledger.tables as t
from haut.paths import FSM2_APPLICATION_ID
from schemas.captures import Capture, Side, SourceImage, UploadedImage
from tasks.ledger.engine import (
    insert_statement,
    key_params,
    make_engine,
    select_statement,
    update_statement,
)
from tasks.ledger.lock import LedgerBusyError, advisory_lock, file_lock, process_lock
from tasks.ledger.records import (
    AnalysedPhoto,
    ApplicationRecord,
    CaptureRecord,
    DatasetRecord,
    ImageRecord,
    SubjectRecord,
    capture_record,
    images_by_capture,
    uploaded_image,
)
from tasks.ledger.tables import CaptureState, CreateState, ImageState
from tasks.ledger.takeover import take_over

__all__ = [
    "AnalysedPhoto",
    "ApplicationRecord",
    "CaptureRecord",
    "DatasetRecord",
    "ImageRecord",
    "Ledger",
    "LedgerBusyError",
    "SubjectRecord",
]

_IN_CHUNK = 500  # keys per IN (...) query: well under every database's parameter limit


class Ledger:
    """Records of every create at the API; safe to share between processes."""

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        self.engine = make_engine(self.url)
        self._memory_lock = threading.Lock()
        self.unfinished_runs: list[str] = []
        """Runs that held the run lock before the current holder and never ended."""
        with self._transaction() as connection:
            self.schema_version = t.migrate(connection)

    @classmethod
    def sqlite(cls, path: Path) -> Ledger:
        """A ledger in a SQLite file (created with its folder if missing)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(URL.create("sqlite", database=str(path)))

    def __repr__(self) -> str:
        return f"Ledger({self.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def run_lock(self, owner: str) -> Iterator[None]:
        """Hold the ledger for one run (``owner``: the run id, shown to a refused run).

        Raises LedgerBusyError at once if another run, in any process, holds it. While held,
        the run is recorded in the ledger; runs recorded by earlier holders that never ended
        (killed, crashed) are then in :attr:`unfinished_runs`, for the run to report.
        """
        with self._lock(owner):
            self.unfinished_runs = self._begin_run(owner)
            try:
                yield
            finally:
                self._end_run(owner)

    def _begin_run(self, run_id: str) -> list[str]:
        """Record ``run_id`` as holding the lock; the earlier holders that never ended."""
        with self._transaction() as connection:
            earlier = (
                connection.execute(
                    select(t.runs.c.run_id)
                    .where(t.runs.c.run_id != run_id)
                    .order_by(t.runs.c.started_at)
                )
                .scalars()
                .all()
            )
            connection.execute(t.runs.delete().where(t.runs.c.run_id == run_id))
            connection.execute(t.runs.insert().values(run_id=run_id))
        return list(earlier)

    def _end_run(self, run_id: str) -> None:
        self.forget_runs([run_id])

    def forget_runs(self, run_ids: Sequence[str]) -> None:
        """Drop these runs' records: ended, or reported as unfinished (a dry run reports
        nothing, so the unfinished ones wait for a run that does)."""
        with self._transaction() as connection:
            connection.execute(t.runs.delete().where(t.runs.c.run_id.in_(list(run_ids))))

    def _lock(self, owner: str) -> AbstractContextManager[None]:
        ledger = repr(self)
        backend = self.url.get_backend_name()
        if backend == "postgresql":
            return advisory_lock(self.engine, owner, ledger)
        if backend != "sqlite":
            raise NotImplementedError(
                f"{ledger}: run locks exist for SQLite and PostgreSQL ledgers only"
            )
        database = self.url.database
        if not database or database == ":memory:":
            return process_lock(self._memory_lock, ledger)
        path = Path(database)
        return file_lock(path.with_name(path.name + ".lock"), owner, ledger)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def _insert_once(self, table: Table, values: Mapping[str, Any]) -> bool:
        """Insert a row unless its key is already recorded; True when this call inserted it."""
        try:
            with self._transaction() as connection:
                connection.execute(insert_statement(table), dict(values))
        except IntegrityError:
            return False
        return True

    def _update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        statement = update_statement(table, tuple(key), tuple(values))
        with self._transaction() as connection:
            connection.execute(statement, {**key_params(key), **values})

    def _one(self, table: Table, **key: Any) -> RowMapping | None:
        with self.engine.connect() as connection:
            found = connection.execute(select_statement(table, tuple(key)), key_params(key))
            return found.mappings().first()

    # --- dataset and application ---------------------------------------------------------

    def dataset(self, name: str) -> DatasetRecord | None:
        row = self._one(t.datasets, name=name)
        if row is None:
            return None
        return DatasetRecord(
            row["name"], row["image_type_id"], row["dataset_id"], CreateState(row["state"])
        )

    def dataset_creating(self, name: str, image_type_id: int) -> bool:
        """Record a dataset create; False when it was already recorded (then in doubt)."""
        return self._insert_once(
            t.datasets,
            {"name": name, "image_type_id": image_type_id, "state": CreateState.CREATING},
        )

    def dataset_created(self, name: str, dataset_id: str) -> None:
        self._update(
            t.datasets, {"name": name}, {"dataset_id": dataset_id, "state": CreateState.CREATED}
        )

    def application(self, dataset_name: str, application_id: str) -> ApplicationRecord | None:
        row = self._one(t.applications, dataset_name=dataset_name, application_id=application_id)
        if row is None:
            return None
        requested = row["requested_algorithms"]
        return ApplicationRecord(
            dataset_name,
            application_id,
            None if requested is None else tuple(json.loads(requested)),
            tuple(json.loads(row["enabled_algorithms"] or "[]")),
            row["run_id"],
            CreateState(row["state"]),
        )

    def application_creating(
        self, dataset_name: str, application_id: str, requested: Sequence[int] | None
    ) -> None:
        key = {"dataset_name": dataset_name, "application_id": application_id}
        values = {
            "requested_algorithms": None if requested is None else json.dumps(sorted(requested)),
            "state": CreateState.CREATING,
        }
        if not self._insert_once(t.applications, {**key, **values}):
            self._update(t.applications, key, values)  # attaching again replaces the list

    def application_created(
        self, dataset_name: str, application_id: str, run_id: str, enabled: Sequence[int]
    ) -> None:
        self._update(
            t.applications,
            {"dataset_name": dataset_name, "application_id": application_id},
            {
                "run_id": run_id,
                "enabled_algorithms": json.dumps(sorted(enabled)),
                "state": CreateState.CREATED,
            },
        )

    # --- subjects ------------------------------------------------------------------------

    def subject(self, dataset_name: str, subject_key: str) -> SubjectRecord | None:
        row = self._one(t.subjects, dataset_name=dataset_name, subject_key=subject_key)
        if row is None:
            return None
        return SubjectRecord(
            dataset_name, subject_key, row["subject_id"], CreateState(row["state"])
        )

    def subject_creating(self, dataset_name: str, subject_key: str) -> bool:
        """Record a subject create; False when it was already recorded (then in doubt)."""
        return self._insert_once(
            t.subjects,
            {
                "dataset_name": dataset_name,
                "subject_key": subject_key,
                "state": CreateState.CREATING,
            },
        )

    def subject_created(self, dataset_name: str, subject_key: str, subject_id: str) -> None:
        self._update(
            t.subjects,
            {"dataset_name": dataset_name, "subject_key": subject_key},
            {"subject_id": subject_id, "state": CreateState.CREATED},
        )

    # --- captures and their batches ------------------------------------------------------

    def capture(self, capture_id: str) -> CaptureRecord | None:
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(t.captures).where(t.captures.c.capture_id == capture_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            return capture_record(row, images_by_capture(connection, [capture_id]))

    def captures_by_key(self, capture_keys: Iterable[str]) -> dict[str, list[CaptureRecord]]:
        """Every recorded capture with one of these keys (subject/session), by key."""
        found: dict[str, list[CaptureRecord]] = {}
        keys = sorted(set(capture_keys))
        with self.engine.connect() as connection:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                rows = (
                    connection.execute(
                        select(t.captures).where(t.captures.c.capture_key.in_(chunk))
                    )
                    .mappings()
                    .all()
                )
                by_capture = images_by_capture(connection, [r["capture_id"] for r in rows])
                for row in rows:
                    found.setdefault(row["capture_key"], []).append(capture_record(row, by_capture))
        return found

    def batch_creating(
        self, capture: Capture, *, dataset_name: str, dataset_id: str, subject_id: str
    ) -> bool:
        """Record a capture before its batch is created; False when it was already recorded
        (by an earlier run or another process): its batch then exists or is in doubt."""
        return self._insert_once(
            t.captures,
            {
                "capture_id": capture.capture_id,
                "capture_key": capture.key,
                "subject_key": capture.subject_key,
                "session_key": capture.session_key,
                "content_hash": capture.content_hash,
                "image_kind": capture.image_kind.value,
                "dataset_name": dataset_name,
                "dataset_id": dataset_id,
                "subject_id": subject_id,
                "captured_at": capture.captured_at,
                "state": CaptureState.CREATING,
            },
        )

    def batch_created(self, capture_id: str, batch_id: str) -> str:
        """Record the batch's id unless the capture already has one; returns the recorded id.

        Raises IntegrityError if another capture owns that batch.
        """
        statement = (
            t.captures.update()
            .where(t.captures.c.capture_id == capture_id, t.captures.c.batch_id.is_(None))
            .values(batch_id=batch_id, state=CaptureState.CREATED)
        )
        with self._transaction() as connection:
            connection.execute(statement)
            recorded = connection.execute(
                select(t.captures.c.batch_id).where(t.captures.c.capture_id == capture_id)
            ).scalar_one()
        return str(recorded)

    def take_over(self, refused: CaptureRecord, capture: Capture) -> CaptureRecord | None:
        """``capture`` takes the refused version's batch and same-bytes uploaded images
        (see :mod:`tasks.ledger.takeover`); its record after, or None if it could not."""
        with self._transaction() as connection:
            if not take_over(connection, refused, capture):
                return None
        return self.capture(capture.capture_id)

    def owned_batch_ids(self, subject_id: str) -> set[str]:
        """Ids of the subject's batches that some capture in the ledger owns."""
        query = select(t.captures.c.batch_id).where(
            t.captures.c.subject_id == subject_id, t.captures.c.batch_id.is_not(None)
        )
        with self.engine.connect() as connection:
            return {batch_id for (batch_id,) in connection.execute(query)}

    def capture_finished(self, capture_id: str, state: CaptureState, detail: str | None) -> None:
        """All images uploaded (``uploaded``), or one refused by the API (``rejected``)."""
        self._update(t.captures, {"capture_id": capture_id}, {"state": state, "detail": detail})

    # --- images --------------------------------------------------------------------------

    def image_creating(self, capture_id: str, source: SourceImage) -> bool:
        """Record an image before its upload; False when it was already recorded.

        An image the API refused is marked in flight again (its retry); any other recorded
        image is left as it is: it is at the API, or its upload is in doubt.
        """
        inserted = self._insert_once(
            t.images,
            {
                "capture_id": capture_id,
                "side": source.side.value,
                "upload_name": source.upload_name,
                "sha256": source.sha256,
                "uri": source.uri,
                "size": source.size,
                "image_format": source.image_format,
                "captured_at": source.captured_at,
                "captured_at_source": source.captured_at_source,
                "light_id": source.light_id,
                "state": ImageState.CREATING,
            },
        )
        if not inserted:
            with self._transaction() as connection:
                connection.execute(
                    t.images.update()
                    .where(
                        t.images.c.capture_id == capture_id,
                        t.images.c.side == source.side.value,
                        t.images.c.state == ImageState.REJECTED,
                    )
                    .values(state=ImageState.CREATING, detail=None)
                )
        return inserted

    def image_uploaded(self, capture_id: str, side: Side, image_id: str, at: datetime) -> None:
        self._update(
            t.images,
            {"capture_id": capture_id, "side": side.value},
            {"image_id": image_id, "uploaded_at": at, "state": ImageState.UPLOADED, "detail": None},
        )

    def image_rejected(self, capture_id: str, side: Side, detail: str) -> None:
        self._update(
            t.images,
            {"capture_id": capture_id, "side": side.value},
            {"state": ImageState.REJECTED, "detail": detail},
        )

    def set_image_state(
        self, image_ids: Sequence[str], state: ImageState, detail: str | None = None
    ) -> None:
        """Move uploaded images on (``written`` once in the lake, ``pending`` at a timeout)."""
        ids = list(dict.fromkeys(image_ids))
        with self._transaction() as connection:
            for start in range(0, len(ids), _IN_CHUNK):
                connection.execute(
                    t.images.update()
                    .where(t.images.c.image_id.in_(ids[start : start + _IN_CHUNK]))
                    .values(state=state, detail=detail)
                )

    def uploaded_images(
        self,
        *,
        capture_ids: Sequence[str] | None = None,
        states: Sequence[ImageState] = (ImageState.UPLOADED, ImageState.PENDING),
    ) -> list[UploadedImage]:
        """Images at the API in these states (of these captures, if given), oldest first."""
        query = (
            select(t.images, t.captures.c.subject_key, t.captures.c.session_key)
            .add_columns(t.captures.c.dataset_id, t.captures.c.subject_id, t.captures.c.batch_id)
            .join(t.captures, t.captures.c.capture_id == t.images.c.capture_id)
            .where(t.images.c.state.in_([s.value for s in states]))
            .order_by(t.images.c.uploaded_at, t.images.c.capture_id, t.images.c.side)
        )
        if capture_ids is not None:
            query = query.where(t.images.c.capture_id.in_(list(capture_ids)))
        with self.engine.connect() as connection:
            return [uploaded_image(row) for row in connection.execute(query).mappings()]

    def holds_captures(self) -> bool:
        """Whether any capture was ever recorded here (False: a new or emptied ledger)."""
        with self.engine.connect() as connection:
            found = connection.execute(select(t.captures.c.capture_id).limit(1)).first()
        return found is not None

    def photos_by_content(self, sha256s: Iterable[str]) -> dict[str, list[AnalysedPhoto]]:
        """Where photos with these contents were recorded for the API, by sha256, oldest
        first: every image recorded but those the API refused."""
        found: dict[str, list[AnalysedPhoto]] = {}
        wanted = sorted(set(sha256s))
        query = (
            select(t.images.c.sha256, t.images.c.uri, t.images.c.capture_id)
            .add_columns(t.captures.c.subject_key, t.captures.c.session_key)
            .join(t.captures, t.captures.c.capture_id == t.images.c.capture_id)
            .where(t.images.c.state != ImageState.REJECTED.value)
            .order_by(t.images.c.created_at, t.images.c.capture_id, t.images.c.side)
        )
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                for row in connection.execute(query.where(t.images.c.sha256.in_(chunk))):
                    photo = AnalysedPhoto(row.uri, row.capture_id, row.subject_key, row.session_key)
                    found.setdefault(row.sha256, []).append(photo)
        return found

    # --- backfill ------------------------------------------------------------------------

    def images_on_the_api(
        self,
        *,
        dataset_name: str,
        subject_keys: Sequence[str] | None = None,
        captured_from: datetime | None = None,
        captured_before: datetime | None = None,
    ) -> list[tuple[UploadedImage, ImageState]]:
        """Every image of a dataset that exists at the API, with its state, oldest capture first.

        A backfill re-reads these: written ones too, unlike :meth:`uploaded_images`, which
        lists only what is still to be written. ``subject_keys`` and the capture-time bounds
        (``captured_from`` included, ``captured_before`` excluded) narrow the list.
        """
        query = (
            select(t.images, t.captures.c.subject_key, t.captures.c.session_key)
            .add_columns(t.captures.c.dataset_id, t.captures.c.subject_id, t.captures.c.batch_id)
            .join(t.captures, t.captures.c.capture_id == t.images.c.capture_id)
            .where(
                t.captures.c.dataset_name == dataset_name,
                t.images.c.state.in_([s.value for s in t.ON_THE_API]),
                t.images.c.image_id.is_not(None),
            )
            .order_by(t.images.c.captured_at, t.images.c.capture_id, t.images.c.side)
        )
        if subject_keys is not None:
            query = query.where(t.captures.c.subject_key.in_(sorted(set(subject_keys))))
        if captured_from is not None:
            query = query.where(t.images.c.captured_at >= captured_from)
        if captured_before is not None:
            query = query.where(t.images.c.captured_at < captured_before)
        with self.engine.connect() as connection:
            return [
                (uploaded_image(row), ImageState(row["state"]))
                for row in connection.execute(query).mappings()
            ]

    def enabled_algorithms(
        self, dataset_name: str, application_id: str = FSM2_APPLICATION_ID
    ) -> tuple[int, ...] | None:
        """The algorithms ``application_id`` (by default the one the ingest attaches) runs on
        the dataset, as the API answered the attach: what makes an image complete. None when no
        attach of it is recorded as done.

        Only that application's: another one attached to the same dataset (by hand, or a test)
        would otherwise add algorithms the ingest never waited for, and no image would ever
        count as complete.
        """
        record = self.application(dataset_name, application_id)
        if record is None or record.state is not CreateState.CREATED:
            return None
        return tuple(sorted({int(algorithm) for algorithm in record.enabled_algorithms}))
