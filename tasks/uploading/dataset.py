"""The dataset an ingest uploads to, found or created once, with its application attached.

``ensure_dataset`` finds or creates the dataset (by name, with the asked retention) and attaches
the application with the chosen algorithms (the face detector, 40, is always kept: the others
need it). Without a chosen list the dataset keeps the list it has (``hautflow applications
algorithms --set`` changes it); every algorithm is enabled on the first attach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haut.client import HautClient
from haut.errors import NotFoundError
from haut.paths import FSM2_APPLICATION_ID
from haut.redaction import get_logger
from schemas.api import Dataset
from schemas.api_results import FACE_DETECTOR_ID as FACE_DETECTOR_ALGORITHM_ID
from schemas.captures import ImageKind, UploadedImage
from schemas.errors import HautflowError
from tasks.ledger import CreateState, Ledger
from tasks.operations.retention import Retention, describe
from tasks.uploading.capture_upload import DatasetContext, create_once
from tasks.uploading.ledger_moves import pending_images

__all__ = [
    "FACE_DETECTOR_ALGORITHM_ID",
    "DatasetConflictError",
    "DatasetContext",
    "connected_algorithms",
    "ensure_dataset",
    "waiting_images",
]

log = get_logger(__name__)


class DatasetConflictError(HautflowError, RuntimeError):
    """The ledger and the API disagree about the dataset in a way only the user can settle."""


async def ensure_dataset(
    client: HautClient,
    ledger: Ledger,
    *,
    name: str,
    image_kind: ImageKind,
    enabled_algorithms: Sequence[int] | None,
    application_id: str = FSM2_APPLICATION_ID,
    retention: Retention | None = None,
) -> DatasetContext:
    """The dataset named ``name`` (found or created once) with the application attached.

    ``enabled_algorithms`` None keeps the dataset's current list (every algorithm of the
    application when it is first attached). ``retention`` is applied when the dataset is
    created; an existing dataset with other settings is left as it is, with a warning: a
    shorter expiry deletes photos and results, so it takes ``hautflow datasets retention``.
    """
    retention = retention or Retention()
    dataset = await _dataset(client, ledger, name, image_kind, retention)
    _check_kind(dataset, image_kind)
    if retention.asked:
        _check_retention(dataset, retention)
    enabled = await _attach(client, ledger, dataset, application_id, enabled_algorithms)
    return DatasetContext(name, dataset.id, image_kind, application_id, enabled)


async def _dataset(
    client: HautClient, ledger: Ledger, name: str, image_kind: ImageKind, retention: Retention
) -> Dataset:
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
        lambda: client.create_dataset(
            name, image_type_id=image_kind.image_type_id, **retention.wire()
        ),
        lambda: client.find_dataset(name),
        in_doubt=True,
    )
    ledger.dataset_created(name, dataset.id)
    if dataset.clean_images_as_soon_as_ready is None:
        # Found by name: the lookup answers only id and name, and the settings and attached
        # applications of an existing dataset matter below.
        dataset = await client.get_dataset(dataset.id)
    return dataset


def _check_retention(dataset: Dataset, retention: Retention) -> None:
    """Warn when an existing dataset keeps photos or results otherwise than asked."""
    differences = retention.differences(dataset)
    if differences:
        log.warning(
            "dataset %r exists with other retention settings (%s) than asked (%s); the ingest "
            "does not change them: run `hautflow datasets retention %s` with the options to "
            "apply them",
            dataset.name,
            describe(Retention.of(dataset)),
            describe(retention),
            dataset.name,
        )


def connected_algorithms(dataset: Dataset, application_id: str) -> tuple[int, ...] | None:
    """The algorithms ``application_id`` runs on ``dataset``, sorted, as the dataset's
    ``connected_applications`` says; None when it is not attached or the entry has no list."""
    for entry in dataset.connected_applications:
        if not isinstance(entry, dict) or str(entry.get("id")) != application_id:
            continue
        return _algorithm_ids(entry.get("enabled_algorithms"))
    return None


def _algorithm_ids(value: Any) -> tuple[int, ...] | None:
    """A list of algorithm ids as the API may write them (``30`` or ``"30"``), sorted; None
    when it is not such a list, so the caller falls back to the ledger's record."""
    if not isinstance(value, list):
        return None
    ids = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            ids.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            ids.append(int(item))
        else:
            return None
    return tuple(sorted(set(ids)))


def waiting_images(ledger: Ledger, dataset_id: str) -> list[UploadedImage]:
    """The dataset's images at the API whose results are not yet in the lake (uploaded or
    pending): what the API runs on them was fixed by the algorithm list at their upload."""
    return [image for image in pending_images(ledger) if image.dataset_id == dataset_id]


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
    """The application's enabled algorithms, attaching it only when the list must change.

    What the dataset runs now comes from the API's ``connected_applications`` when it says
    (the list may have been changed by ``hautflow applications algorithms`` or by hand), else
    from the ledger's record of the last attach. A change is refused while images of the
    dataset still await results (DatasetConflictError naming the fix).
    """
    requested = (
        None if algorithms is None else tuple(sorted({*algorithms, FACE_DETECTOR_ALGORITHM_ID}))
    )
    record = ledger.application(dataset.name, application_id)
    recorded = record if record is not None and record.state is CreateState.CREATED else None
    current = connected_algorithms(dataset, application_id)
    if (
        current is None
        and recorded is not None
        and requested in (None, recorded.requested_algorithms)
    ):
        return recorded.enabled_algorithms
    if current is not None and requested in (None, current):
        if recorded is None or recorded.enabled_algorithms != current:
            _record_current(ledger, dataset, application_id, requested, current)
        return current
    in_effect = current if current is not None else recorded.enabled_algorithms if recorded else ()
    if requested is not None and in_effect and requested != in_effect:
        _refuse_while_waiting(ledger, dataset, in_effect, requested)
    ledger.application_creating(dataset.name, application_id, requested)
    # Attaching replaces the algorithm list, so a retried or repeated attach is harmless.
    run = await client.attach_application(
        dataset.id, application_id=application_id, enabled_algorithms=requested
    )
    enabled = tuple(sorted(run.enabled_algorithms or requested or ()))
    ledger.application_created(dataset.name, application_id, run.id, enabled)
    return enabled


def _refuse_while_waiting(
    ledger: Ledger, dataset: Dataset, in_effect: tuple[int, ...], requested: tuple[int, ...]
) -> None:
    """Refuse to change the list while images of the dataset await results: complete means
    every enabled algorithm answered, and the API ran the old list on them, so a shorter list
    would write them incomplete and a longer one leave them waiting for ever."""
    waiting = waiting_images(ledger, dataset.id)
    if waiting:
        raise DatasetConflictError(
            f"{len(waiting)} images of dataset {dataset.name!r} still await results under its "
            f"algorithms {list(in_effect)}, so --algorithms {','.join(map(str, requested))} "
            "cannot change the list now: run `hautflow ingest` without --algorithms to finish "
            "them first, then change it (or `hautflow applications algorithms "
            f"{dataset.name!r} --set ... --force` to change it anyway)"
        )


def _record_current(
    ledger: Ledger,
    dataset: Dataset,
    application_id: str,
    requested: tuple[int, ...] | None,
    current: tuple[int, ...],
) -> None:
    """Bring the ledger's application record in step with what the API runs."""
    run_id = next(
        (
            str(entry.get("application_run_id"))
            for entry in dataset.connected_applications
            if isinstance(entry, dict) and str(entry.get("id")) == application_id
        ),
        "",
    )
    ledger.application_creating(dataset.name, application_id, requested or current)
    ledger.application_created(dataset.name, application_id, run_id, current)
