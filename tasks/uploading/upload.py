"""Upload planned captures exactly once: the dataset and its application, then every capture.

``ensure_dataset`` finds or creates the dataset (by name) and attaches the application with the
chosen algorithms (the face detector, 40, is always kept: the others need it).
``upload_captures`` runs captures with bounded concurrency on one event loop; the client's own
connection limit and request rate apply underneath. Per capture (see
:mod:`tasks.uploading.capture_upload`): the subject once per subject key, a batch with the
capture time, then its images named by content hash. An image the API refuses (4xx)
quarantines its capture and the run goes on; a capture that still fails after the client's
retries is reported failed and stays in the ledger, so the next run resumes it.

Afterwards, images whose results are not yet in the lake are :func:`pending_images`;
:func:`mark_written` and :func:`mark_pending` move them on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from haut.client import HautClient
from haut.errors import NotFoundError
from haut.paths import FSM2_APPLICATION_ID
from schemas.api import Dataset
from schemas.captures import Capture, ImageKind, QuarantinedFile, UploadedImage
from tasks.ledger import CreateState, ImageState, Ledger
from tasks.uploading.capture_upload import (
    CaptureOutcome,
    CaptureUploader,
    DatasetContext,
    create_once,
)

__all__ = [
    "FACE_DETECTOR_ALGORITHM_ID",
    "DatasetConflictError",
    "DatasetContext",
    "UploadOutcome",
    "ensure_dataset",
    "mark_pending",
    "mark_written",
    "pending_images",
    "upload_captures",
]

FACE_DETECTOR_ALGORITHM_ID = 40


class DatasetConflictError(RuntimeError):
    """The ledger and the API disagree about the dataset in a way only the user can settle."""


@dataclass
class UploadOutcome:
    uploaded: list[UploadedImage] = field(default_factory=list)
    """Images at the API for the given captures, uploaded by this call or resumed, whose
    results are not yet written to the lake."""
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    """REJECTED_BY_API: images the API refused, one per refused capture."""
    failed: list[tuple[Capture, str]] = field(default_factory=list)
    """Captures that failed after retries, with the error; the next run resumes them."""

    def add(self, outcome: CaptureOutcome) -> None:
        self.uploaded.extend(outcome.uploaded)
        if outcome.quarantined is not None:
            self.quarantined.append(outcome.quarantined)
        if outcome.failure is not None:
            self.failed.append((outcome.capture, outcome.failure))


async def ensure_dataset(
    client: HautClient,
    ledger: Ledger,
    *,
    name: str,
    image_kind: ImageKind,
    enabled_algorithms: Sequence[int] | None,
    application_id: str = FSM2_APPLICATION_ID,
) -> DatasetContext:
    """The dataset named ``name`` (found or created once) with the application attached.

    ``enabled_algorithms`` None enables every algorithm of the application.
    """
    dataset = await _dataset(client, ledger, name, image_kind)
    _check_kind(dataset, image_kind)
    enabled = await _attach(client, ledger, dataset, application_id, enabled_algorithms)
    return DatasetContext(name, dataset.id, image_kind, application_id, enabled)


async def _dataset(client: HautClient, ledger: Ledger, name: str, image_kind: ImageKind) -> Dataset:
    record = ledger.dataset(name)
    if record is not None and record.dataset_id is not None:
        try:
            return await client.get_dataset(record.dataset_id)
        except NotFoundError:
            raise DatasetConflictError(
                f"the ledger {ledger!r} says dataset {name!r} is {record.dataset_id}, but the "
                "API has no such dataset (deleted, or another service): use another ledger "
                "for this service, or delete this ledger to start over"
            ) from None
    ledger.dataset_creating(name, image_kind.image_type_id)
    # Looked up first whatever the ledger says: the dataset may come from an earlier ledger,
    # another tool, or a create whose answer was lost.
    dataset = await create_once(
        lambda: client.create_dataset(name, image_type_id=image_kind.image_type_id),
        lambda: client.find_dataset(name),
        in_doubt=True,
    )
    ledger.dataset_created(name, dataset.id)
    return dataset


def _check_kind(dataset: Dataset, image_kind: ImageKind) -> None:
    found = dataset.image_type_id or (dataset.image_type.id if dataset.image_type else None)
    if found is not None and int(found) != image_kind.image_type_id:
        raise DatasetConflictError(
            f"dataset {dataset.name!r} takes image type {found}, not {image_kind.value} "
            f"({image_kind.image_type_id}): choose another dataset name or image kind"
        )


async def _attach(
    client: HautClient,
    ledger: Ledger,
    dataset: Dataset,
    application_id: str,
    algorithms: Sequence[int] | None,
) -> tuple[int, ...]:
    """The application's enabled algorithms, attaching it unless the ledger has it as asked."""
    requested = (
        None if algorithms is None else tuple(sorted({*algorithms, FACE_DETECTOR_ALGORITHM_ID}))
    )
    record = ledger.application(dataset.name, application_id)
    if (
        record is not None
        and record.state is CreateState.CREATED
        and record.requested_algorithms == requested
    ):
        return record.enabled_algorithms
    ledger.application_creating(dataset.name, application_id, requested)
    # Attaching replaces the algorithm list, so a retried or repeated attach is harmless.
    run = await client.attach_application(
        dataset.id, application_id=application_id, enabled_algorithms=requested
    )
    enabled = tuple(sorted(run.enabled_algorithms or requested or ()))
    ledger.application_created(dataset.name, application_id, run.id, enabled)
    return enabled


async def upload_captures(
    client: HautClient,
    ledger: Ledger,
    dataset: DatasetContext,
    captures: Sequence[Capture],
    *,
    concurrency: int = 8,
    storage_options: Mapping[str, Any] | None = None,
    on_capture: Callable[[CaptureOutcome], None] | None = None,
) -> UploadOutcome:
    """Upload (or finish) these captures, ``concurrency`` at a time.

    ``on_capture`` is called after each capture (e.g. to advance a progress bar). An
    AuthError ends the call; every other failure is per capture.
    """
    uploader = CaptureUploader(client, ledger, dataset, storage_options=storage_options)
    outcome = UploadOutcome()
    queue = iter(captures)  # shared by the workers; next() never awaits, so no lock needed

    async def worker() -> None:
        for capture in queue:
            result = await uploader.upload(capture)
            outcome.add(result)
            if on_capture is not None:
                on_capture(result)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(captures)))):
            group.create_task(worker())
    return outcome


def pending_images(ledger: Ledger) -> list[UploadedImage]:
    """Every image at the API whose results are not yet written to the lake (uploaded by any
    run, this one included; pending after a timeout), oldest first."""
    return ledger.uploaded_images(states=(ImageState.UPLOADED, ImageState.PENDING))


def mark_written(ledger: Ledger, image_ids: Sequence[str]) -> None:
    """The results of these images are in the lake."""
    ledger.set_image_state(image_ids, ImageState.WRITTEN)


def mark_pending(ledger: Ledger, image_ids: Sequence[str], reason: str) -> None:
    """These images were still unfinished at the timeout: the next run picks them up."""
    ledger.set_image_state(image_ids, ImageState.PENDING, reason)
