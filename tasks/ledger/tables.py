"""The ledger's tables, the states their rows go through, and the schema's version.

Every create at the API (dataset, application attach, subject, batch, image) has a row here,
written *before* the call with its reconcile key (state ``creating``) and updated *after* it
with the API's id (``created``, or ``uploaded`` for an image). Primary keys and unique
constraints make a second record of the same thing impossible, even with several workers
sharing one PostgreSQL ledger.

A fresh database gets the current tables and is stamped with :data:`SCHEMA_VERSION`; an older
one is brought forward by the steps in :data:`MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.engine import Connection


class CreateState(StrEnum):
    """A dataset, application attach or subject: the call is under way, or it is done."""

    CREATING = "creating"
    CREATED = "created"


class CaptureState(StrEnum):
    """A capture: its batch is being created, exists, all its images are up, or the API
    refused one of its images."""

    CREATING = "creating"
    CREATED = "created"
    UPLOADED = "uploaded"
    REJECTED = "rejected"


class ImageState(StrEnum):
    """An image: being uploaded, uploaded, its results in the lake, still waiting for results
    after a run's timeout, or refused by the API."""

    CREATING = "creating"
    UPLOADED = "uploaded"
    WRITTEN = "written"
    PENDING = "pending"
    REJECTED = "rejected"


ON_THE_API = (ImageState.UPLOADED, ImageState.WRITTEN, ImageState.PENDING)
"""Image states that mean the image exists at the API (it has an image id)."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamps() -> list[Column[Any]]:
    return [
        Column("created_at", UtcDateTime, nullable=False, default=utc_now),
        Column("updated_at", UtcDateTime, nullable=False, default=utc_now, onupdate=utc_now),
    ]


metadata = MetaData()

schema_versions = Table(
    "ledger_schema_versions",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", UtcDateTime, nullable=False, default=utc_now),
)

runs = Table(
    "ledger_runs",
    metadata,
    # A run holding the run lock is recorded here until it ends; a row left behind is a run
    # that was killed or crashed, which the next run to take the lock reports as such.
    Column("run_id", String(64), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False, default=utc_now),
)

claims = Table(
    "ledger_claims",
    metadata,
    # Which run works on which subject, on a ledger that several runs share (PostgreSQL):
    # held until expires_at, renewed while the run lives, taken over once it lapsed
    # (tasks.ledger.claims).
    Column("dataset_name", String(255), primary_key=True),
    Column("subject_key", String(255), primary_key=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

datasets = Table(
    "ledger_datasets",
    metadata,
    Column("name", String(255), primary_key=True),  # the reconcile key (find_dataset)
    Column("image_type_id", Integer, nullable=False),
    Column("dataset_id", String(64), unique=True),
    Column("state", String(16), nullable=False),
    *_stamps(),
)

applications = Table(
    "ledger_applications",
    metadata,
    Column("dataset_name", String(255), primary_key=True),
    Column("application_id", String(64), primary_key=True),
    Column("requested_algorithms", Text),  # JSON list; NULL = every algorithm of the app
    Column("enabled_algorithms", Text),  # JSON list, as the API answered
    Column("run_id", String(64)),
    Column("state", String(16), nullable=False),
    *_stamps(),
    ForeignKeyConstraint(["dataset_name"], ["ledger_datasets.name"]),
)

subjects = Table(
    "ledger_subjects",
    metadata,
    Column("dataset_name", String(255), primary_key=True),
    Column("subject_key", String(255), primary_key=True),  # = the subject's name at the API
    Column("subject_id", String(64), unique=True),
    Column("state", String(16), nullable=False),
    *_stamps(),
    ForeignKeyConstraint(["dataset_name"], ["ledger_datasets.name"]),
)

captures = Table(
    "ledger_captures",
    metadata,
    Column("capture_id", String(32), primary_key=True),
    Column("capture_key", String(512), nullable=False, index=True),
    Column("subject_key", String(255), nullable=False),
    Column("session_key", String(255), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("image_kind", String(16), nullable=False),
    Column("dataset_name", String(255), nullable=False),
    Column("dataset_id", String(64), nullable=False),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("captured_at", UtcDateTime, nullable=False),  # the batch's creation_time
    # One capture per batch: an adopted batch can never be claimed by a second capture.
    Column("batch_id", String(64), unique=True),
    Column("state", String(16), nullable=False),
    Column("detail", Text),
    *_stamps(),
    ForeignKeyConstraint(
        ["dataset_name", "subject_key"],
        ["ledger_subjects.dataset_name", "ledger_subjects.subject_key"],
    ),
)

images = Table(
    "ledger_images",
    metadata,
    Column("capture_id", String(32), primary_key=True),
    Column("side", String(8), primary_key=True),
    Column("upload_name", String(128), nullable=False),  # the reconcile key (find_images)
    Column("sha256", String(64), nullable=False),
    Column("uri", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("image_format", String(8), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("captured_at_source", String(16), nullable=False),
    Column("light_id", Integer, nullable=False),
    Column("image_id", String(64), unique=True),
    Column("state", String(16), nullable=False),
    Column("detail", Text),  # why rejected, or why still pending
    Column("uploaded_at", UtcDateTime),
    *_stamps(),
    UniqueConstraint("capture_id", "upload_name"),
    ForeignKeyConstraint(["capture_id"], ["ledger_captures.capture_id"]),
    Index("ix_ledger_images_state", "state"),
    Index("ix_ledger_images_sha256", "sha256"),
)


@dataclass(frozen=True)
class Migration:
    """One step from ``version - 1`` to ``version``; runs inside one transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _index_images_by_content(connection: Connection) -> None:
    sha256_index = next(i for i in images.indexes if i.name == "ix_ledger_images_sha256")
    sha256_index.create(connection, checkfirst=True)


def _record_runs(connection: Connection) -> None:
    runs.create(connection, checkfirst=True)


def _record_claims(connection: Connection) -> None:
    claims.create(connection, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2, "index images by sha256: a photo met again is found at once", _index_images_by_content
    ),
    Migration(3, "runs holding the run lock: a killed run is known as such", _record_runs),
    Migration(4, "claims: which run works on which subject, on a shared ledger", _record_claims),
)
"""Steps after version 1, oldest first (e.g. ``conn.execute(text("ALTER TABLE ..."))``)."""

SCHEMA_VERSION = 1 + len(MIGRATIONS)


def migrate(connection: Connection) -> int:
    """Create missing tables or bring an older ledger forward; returns the schema version."""
    schema_versions.create(connection, checkfirst=True)
    found = connection.execute(select(func.max(schema_versions.c.version))).scalar()
    if found is None:
        # A fresh ledger: the current tables, stamped as current (nothing to replay).
        metadata.create_all(connection, checkfirst=True)
        connection.execute(schema_versions.insert().values(version=SCHEMA_VERSION))
        return SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"the ledger's schema is version {found}, newer than this hautflow knows "
            f"({SCHEMA_VERSION}): upgrade hautflow, or point it at another ledger"
        )
    for step in MIGRATIONS:
        if step.version > found:
            step.apply(connection)
            connection.execute(schema_versions.insert().values(version=step.version))
    return SCHEMA_VERSION
