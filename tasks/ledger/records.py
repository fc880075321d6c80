"""What the ledger's rows say, as plain records, and the reading of rows into them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.engine import Connection

import tasks.ledger.tables as t
from schemas.captures import Side, SourceImage, UploadedImage
from tasks.ledger.tables import CaptureState, CreateState, ImageState


@dataclass(frozen=True)
class DatasetRecord:
    name: str
    image_type_id: int
    dataset_id: str | None
    state: CreateState


@dataclass(frozen=True)
class ApplicationRecord:
    dataset_name: str
    application_id: str
    requested_algorithms: tuple[int, ...] | None  # None: every algorithm of the application
    enabled_algorithms: tuple[int, ...]
    run_id: str | None
    state: CreateState


@dataclass(frozen=True)
class SubjectRecord:
    dataset_name: str
    subject_key: str
    subject_id: str | None
    state: CreateState


@dataclass(frozen=True)
class ImageRecord:
    capture_id: str
    side: Side
    upload_name: str
    sha256: str
    image_id: str | None
    state: ImageState
    detail: str | None
    uploaded_at: datetime | None


@dataclass(frozen=True)
class AnalysedPhoto:
    """Where a photo's content was first recorded for the API."""

    uri: str
    capture_id: str
    subject_key: str
    session_key: str


@dataclass(frozen=True)
class CaptureRecord:
    capture_id: str
    capture_key: str
    content_hash: str
    dataset_name: str
    dataset_id: str
    subject_id: str
    captured_at: datetime
    batch_id: str | None
    state: CaptureState
    detail: str | None
    images: Mapping[Side, ImageRecord] = field(default_factory=dict)

    @property
    def images_on_the_api(self) -> dict[Side, ImageRecord]:
        """The images that exist at the API (they have an image id)."""
        return {side: i for side, i in self.images.items() if i.state in t.ON_THE_API}


def images_by_capture(
    connection: Connection, capture_ids: Sequence[str]
) -> dict[str, dict[Side, ImageRecord]]:
    found: dict[str, dict[Side, ImageRecord]] = {}
    if not capture_ids:
        return found
    rows = connection.execute(
        select(t.images).where(t.images.c.capture_id.in_(list(capture_ids)))
    ).mappings()
    for row in rows:
        record = ImageRecord(
            row["capture_id"],
            Side(row["side"]),
            row["upload_name"],
            row["sha256"],
            row["image_id"],
            ImageState(row["state"]),
            row["detail"],
            row["uploaded_at"],
        )
        found.setdefault(record.capture_id, {})[record.side] = record
    return found


def capture_record(row: RowMapping, images: Mapping[str, dict[Side, ImageRecord]]) -> CaptureRecord:
    return CaptureRecord(
        capture_id=row["capture_id"],
        capture_key=row["capture_key"],
        content_hash=row["content_hash"],
        dataset_name=row["dataset_name"],
        dataset_id=row["dataset_id"],
        subject_id=row["subject_id"],
        captured_at=row["captured_at"],
        batch_id=row["batch_id"],
        state=CaptureState(row["state"]),
        detail=row["detail"],
        images=images.get(row["capture_id"], {}),
    )


def uploaded_image(row: Mapping[Any, Any]) -> UploadedImage:
    """An uploaded image from a row of its columns (a ledger row, or the lake's, renamed)."""
    source = SourceImage(
        uri=row["uri"],
        side=Side(row["side"]),
        sha256=row["sha256"],
        size=row["size"],
        image_format=row["image_format"],
        captured_at=row["captured_at"],
        captured_at_source=row["captured_at_source"],
        light_id=row["light_id"],
    )
    return UploadedImage(
        capture_id=row["capture_id"],
        subject_key=row["subject_key"],
        session_key=row["session_key"],
        dataset_id=row["dataset_id"],
        subject_id=row["subject_id"],
        batch_id=row["batch_id"],
        image_id=row["image_id"],
        source=source,
        uploaded_at=row["uploaded_at"],
    )
