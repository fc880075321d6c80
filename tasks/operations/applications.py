"""The application's enabled algorithms on a dataset: read them, change them safely.

The face detector (40), when the application has it, is always kept: the quick-start guide says
the other algorithms fail without it. Changing the list re-attaches the application (attaching
again replaces the list). What an ingest counts as "complete" is every *enabled* algorithm
answered, and the API runs on an image the list enabled at its upload, so:

- any change (adding or removing) is refused while the ledger has images of the dataset still
  awaiting results (``force`` accepts that: removed algorithms' results are then never written
  for them, added ones never come);
- the check, the attach and the ledger's application record happen under the ledger's run
  lock, so no ingest uploads or collects in between, and the next ingest expects the new list.

What the dataset runs comes from the API's ``connected_applications``; when that has no usable
list, from the ledger's record of the last attach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal

from haut.client import HautClient
from haut.paths import FSM2_APPLICATION_ID
from schemas.api import Application, Dataset
from tasks.ledger import CreateState, Ledger
from tasks.operations.datasets import dataset_named
from tasks.operations.errors import OperationError
from tasks.uploading.dataset import (
    FACE_DETECTOR_ALGORITHM_ID,
    connected_algorithms,
    waiting_images,
)

Source = Literal["api", "ledger", "unknown"]


@dataclass(frozen=True)
class EnabledAlgorithms:
    """The algorithms an application runs on a dataset, with their names."""

    dataset: Dataset
    application: Application
    enabled: tuple[int, ...]
    names: Mapping[int, str]
    source: Source = "api"
    """Where ``enabled`` comes from: the API's dataset, the ledger's record (the API listed
    none), or nowhere (not attached, or attached by another tool and not listed)."""

    def lines(self) -> list[str]:
        title = self.application.name or self.application.id
        head = f"Dataset {self.dataset.name!r}, application {title}: {len(self.enabled)} enabled"
        if self.source == "ledger":
            head += " (as the ledger recorded them: the API does not list them)"
        elif self.source == "unknown":
            head += " (not attached, or the API does not list them)"
        return [head, *(f"{a:>6}  {self.names.get(a, '?')}" for a in self.enabled)]


def parse_algorithm_ids(text: str) -> list[int]:
    """``"30, 40"`` -> ``[30, 40]``; refused with an example when not a list of integers."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OperationError(
            f"--set {text!r}: expected comma-separated ids such as 30,40"
        ) from None
    if not ids:
        raise OperationError(f"--set {text!r}: no ids given; e.g. --set 30,40")
    return ids


async def application_named(client: HautClient, application_id: str) -> Application:
    for application in await client.list_applications():
        if application.id == application_id:
            return application
    raise OperationError(
        f"no application {application_id} at this service: `hautflow applications list` "
        "shows the ids"
    )


async def algorithm_names(client: HautClient) -> dict[int, str]:
    """Algorithm id -> family name, from ``/dicts/algorithms/``."""
    return {
        info.id: (info.algorithm_family.name if info.algorithm_family else None)
        or info.tech_name
        or str(info.id)
        for info in await client.algorithms()
    }


def check_choice(ids: Sequence[int], application: Application, names: Mapping[int, str]) -> None:
    """Refuse ids the application lacks, and a list without the face detector when the
    application has one."""
    available = {a.id for a in application.algorithms_versions}
    unknown = sorted(set(ids) - available)
    if unknown:
        raise OperationError(
            f"algorithms {unknown} are not in application {application.name or application.id} "
            f"(its ids: {sorted(available)}): `hautflow applications algorithms DATASET` "
            "shows the enabled ones, `hautflow applications list` every one"
        )
    if FACE_DETECTOR_ALGORITHM_ID in available and FACE_DETECTOR_ALGORITHM_ID not in ids:
        detector = names.get(FACE_DETECTOR_ALGORITHM_ID, "face detector")
        raise OperationError(
            f"the face detector ({FACE_DETECTOR_ALGORITHM_ID}, {detector}) cannot be dropped: "
            "the other algorithms fail without it; keep it in the list, e.g. "
            f"--set {','.join(str(i) for i in [*ids, FACE_DETECTOR_ALGORITHM_ID])}"
        )


async def enabled_algorithms(
    client: HautClient,
    dataset_name: str,
    *,
    application_id: str = FSM2_APPLICATION_ID,
    ledger: Ledger | None = None,
) -> EnabledAlgorithms:
    """What the application runs on the dataset now: the API's list, else the ledger's record
    of the last attach (when the ledger knows this dataset), else nothing."""
    dataset = await dataset_named(client, dataset_name)
    application = await application_named(client, application_id)
    names = await algorithm_names(client)
    enabled = connected_algorithms(dataset, application_id)
    if enabled is not None:
        return EnabledAlgorithms(dataset, application, enabled, names)
    record = ledger.application(dataset.name, application_id) if ledger is not None else None
    if (
        ledger is not None
        and _knows(ledger, dataset)
        and record is not None
        and record.state is CreateState.CREATED
    ):
        return EnabledAlgorithms(dataset, application, record.enabled_algorithms, names, "ledger")
    return EnabledAlgorithms(dataset, application, (), names, "unknown")


async def set_algorithms(
    client: HautClient,
    dataset_name: str,
    ids: Sequence[int],
    *,
    ledger: Ledger | None = None,
    application_id: str = FSM2_APPLICATION_ID,
    force: bool = False,
    owner: str = "hautflow applications algorithms --set",
) -> EnabledAlgorithms:
    """Enable exactly ``ids`` on the dataset, keeping the ledger's application record in step
    so the next ingest expects the new list.

    Refused (OperationError) while the ledger has images of the dataset awaiting results,
    unless ``force``; LedgerBusyError while an ingest holds the ledger (``owner`` is what a
    refused ingest is told holds it). Without a ledger nothing can be checked or recorded:
    the caller warns.
    """
    lock: AbstractContextManager[None] = (
        ledger.run_lock(owner) if ledger is not None else nullcontext()
    )
    with lock:
        before = await enabled_algorithms(
            client, dataset_name, application_id=application_id, ledger=ledger
        )
        check_choice(ids, before.application, before.names)
        requested = tuple(sorted(set(ids)))
        dataset = before.dataset
        if ledger is not None and requested != before.enabled and not force:
            _refuse_while_waiting(ledger, before, requested)
        tracked = ledger if ledger is not None and _knows(ledger, dataset) else None
        if tracked is not None:
            tracked.application_creating(dataset.name, application_id, requested)
        run = await client.attach_application(
            dataset.id, application_id=application_id, enabled_algorithms=requested
        )
        enabled = tuple(sorted(run.enabled_algorithms or requested))
        if tracked is not None:
            tracked.application_created(dataset.name, application_id, run.id, enabled)
    return EnabledAlgorithms(dataset, before.application, enabled, before.names)


def _refuse_while_waiting(
    ledger: Ledger, before: EnabledAlgorithms, requested: tuple[int, ...]
) -> None:
    waiting = waiting_images(ledger, before.dataset.id)
    if not waiting:
        return
    now = list(before.enabled) if before.enabled else "a list the API does not show"
    raise OperationError(
        f"{len(waiting)} images of dataset {before.dataset.name!r} still await results under "
        f"its current algorithms ({now}); changing them to {list(requested)} now would write "
        "those images without the removed algorithms or leave them waiting for added ones for "
        "ever. Run `hautflow ingest` (with the same --state or --ledger-url) to finish them "
        "first, then change the list; or pass --force to change it anyway"
    )


def _knows(ledger: Ledger, dataset: Dataset) -> bool:
    """The ledger created (or adopted) this very dataset."""
    record = ledger.dataset(dataset.name)
    return (
        record is not None
        and record.state is CreateState.CREATED
        and record.dataset_id == dataset.id
    )
