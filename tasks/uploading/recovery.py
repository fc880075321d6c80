"""A lost ledger rebuilt from the lake or the API, so a new ``--state`` never re-analyses.

The ledger is what makes each photo go up once. When it is lost or moved (a new machine, a
deleted folder, another ``--state``) while the lake is kept, every photo would look new and be
analysed and charged again, doubling the lake. But the lake holds each analysed image with its
API ids (dataset, subject, batch, image), its capture identity and its photo's sha256: enough
to record those captures in a new ledger as uploaded, before anything is planned. Images whose
results were still pending come back pending, so the next ingest collects them.

Only a ledger that has never recorded a capture is rebuilt (an existing one is the truth), and
only captures discovered again with the same identity (same keys, same photo contents) and
dataset: what the run is about to plan. The dataset of an image is named by the run that wrote
it (``runs.options_json``).

When the lake is gone too, the API still knows: :func:`recover_from_api` looks, for a new
ledger, for each capture about to go up, for a subject of its name in the dataset holding a
batch with exactly its images (the image names are content-derived). Those are recorded as
uploaded and awaiting results, so the run reads their results instead of analysing them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.dataset as ds

from haut.client import HautClient
from haut.redaction import get_logger
from schemas.captures import Capture, ImageKind, Side
from schemas.lake import table_spec
from schemas.refs import SubjectRef
from tasks.lake.store import Lake, newest_per_id
from tasks.ledger import CaptureState, ImageState, Ledger

log = get_logger(__name__)

_IMAGE_COLUMNS = (
    "image_id",
    "batch_id",
    "subject_id",
    "dataset_id",
    "capture_id",
    "side",
    "sha256",
    "uploaded_at",
    "status",
    "run_id",
    "written_at",
)


@dataclass(frozen=True)
class Recovery:
    """What a rebuild of the ledger took from the lake, and then from the API."""

    captures: int = 0
    images: int = 0
    pending: int = 0
    """Of ``images``: results not yet in the lake; the next ingest collects them."""
    ledger_was_new: bool = False
    """The ledger had recorded no capture before this run (so :func:`recover_from_api` looks)."""
    at_the_api: int = 0
    """Captures the lake did not hold but the API did (:func:`recover_from_api`): recorded
    as uploaded, their results read instead of analysed again."""

    def messages(self, lake_url: str, dataset: str) -> list[str]:
        """What the run's summary says of the rebuild (nothing when there was none)."""
        said = []
        if self.captures:
            said.append(
                f"the ledger was new, but the lake {lake_url} holds {self.captures} of the "
                f"discovered captures ({self.images} images) as analysed: they were recorded "
                "from it and are not uploaded again (a lost or moved --state). Point --state at "
                "the ledger that wrote the lake to keep one history of runs"
            )
        if self.at_the_api:
            said.append(
                f"the ledger was new, but dataset {dataset!r} at the service already holds "
                f"{self.at_the_api} of the discovered captures (a subject of their name with a "
                "batch of exactly their photos): they were recorded from it and their results "
                "read, not analysed again. Point --state at the ledger that uploaded them to "
                "keep one history of runs"
            )
        return said


def recover_from_lake(
    ledger: Ledger,
    lake: Lake,
    captures: Sequence[Capture],
    *,
    dataset: str,
    image_kind: ImageKind,
) -> Recovery:
    """Record in a new ``ledger`` the ``captures`` the lake holds as uploaded into ``dataset``.

    Does nothing when the ledger has recorded anything, or the lake has no images.
    """
    if not captures or ledger.holds_captures():
        return Recovery()
    images = _lake_images(lake, {c.capture_id for c in captures})
    if not images:
        return Recovery(ledger_was_new=True)
    datasets = _dataset_names(lake, {row["run_id"] for row in images})
    by_capture: dict[str, dict[Side, dict[str, Any]]] = {}
    for row in images:
        if datasets.get(row["run_id"]) == dataset:
            by_capture.setdefault(row["capture_id"], {})[Side(row["side"])] = row
    recovered = Recovery(ledger_was_new=True)
    for capture in captures:
        rows = by_capture.get(capture.capture_id, {})
        if _same_photos(capture, rows):
            pending = _record(ledger, capture, rows, dataset=dataset, image_kind=image_kind)
            recovered = Recovery(
                recovered.captures + 1,
                recovered.images + len(rows),
                recovered.pending + pending,
                ledger_was_new=True,
            )
    if recovered.captures:
        log.warning("%s", recovered.messages(lake.url, dataset)[0])
    return recovered


def _lake_images(lake: Lake, capture_ids: set[str]) -> list[dict[str, Any]]:
    """The newest row of every lake image of these captures."""
    files = lake.files("images")
    if not files:
        return []
    table = ds.dataset(
        files, filesystem=lake.fs, format="parquet", schema=table_spec("images").schema
    ).to_table(columns=list(_IMAGE_COLUMNS))
    rows: list[dict[str, Any]] = newest_per_id(table, "image_id").to_pylist()
    return [r for r in rows if r["capture_id"] in capture_ids and r["image_id"]]


def _dataset_names(lake: Lake, run_ids: Iterable[str]) -> dict[str, str]:
    """The dataset each of these runs wrote into, as its options say."""
    files = lake.files("runs")
    if not files:
        return {}
    table = ds.dataset(
        files, filesystem=lake.fs, format="parquet", schema=table_spec("runs").schema
    ).to_table(columns=["run_id", "options_json"])
    wanted = set(run_ids)
    names = {}
    for run_id, options in zip(
        *(table.column(c).to_pylist() for c in table.column_names), strict=True
    ):
        if run_id in wanted and options:
            name = json.loads(options).get("dataset")
            if isinstance(name, str):
                names[run_id] = name
    return names


def _same_photos(capture: Capture, rows: dict[Side, dict[str, Any]]) -> bool:
    """Every side of the capture is in the lake with the same photo, and nothing else is."""
    wanted = {image.side: image.sha256 for image in capture.images}
    return bool(rows) and wanted == {side: row["sha256"] for side, row in rows.items()}


def _record(
    ledger: Ledger,
    capture: Capture,
    rows: dict[Side, dict[str, Any]],
    *,
    dataset: str,
    image_kind: ImageKind,
) -> int:
    """Record one capture as the uploader would have; returns how many images are pending."""
    front = rows.get(Side.FRONT) or next(iter(rows.values()))
    dataset_id, subject_id, batch_id = front["dataset_id"], front["subject_id"], front["batch_id"]
    if ledger.dataset(dataset) is None:
        ledger.dataset_creating(dataset, image_kind.image_type_id)
        ledger.dataset_created(dataset, dataset_id)
    if ledger.subject(dataset, capture.subject_key) is None:
        ledger.subject_creating(dataset, capture.subject_key)
        ledger.subject_created(dataset, capture.subject_key, subject_id)
    ledger.batch_creating(
        capture, dataset_name=dataset, dataset_id=dataset_id, subject_id=subject_id
    )
    ledger.batch_created(capture.capture_id, batch_id)
    written: list[str] = []
    pending: list[str] = []
    for image in capture.images:
        row = rows[image.side]
        ledger.image_creating(capture.capture_id, image)
        uploaded_at = row["uploaded_at"] or datetime.now(UTC)
        ledger.image_uploaded(capture.capture_id, image.side, row["image_id"], uploaded_at)
        (pending if row["status"] == "pending" else written).append(row["image_id"])
    ledger.capture_finished(capture.capture_id, CaptureState.UPLOADED, None)
    ledger.set_image_state(written, ImageState.WRITTEN)
    if pending:
        ledger.set_image_state(pending, ImageState.PENDING, "recovered from the lake: pending")
    return len(pending)


async def recover_from_api(
    client: HautClient,
    ledger: Ledger,
    captures: Sequence[Capture],
    *,
    dataset: str,
    dataset_id: str,
    image_kind: ImageKind,
) -> list[Capture]:
    """Record the ``captures`` the API already holds in ``dataset`` (see the module); returns
    them. The caller uploads the others and awaits these as carried over.

    One call lists the dataset's subjects; then only subjects named like a capture's are read
    (their batches and images), so a new ledger on a dataset of other people costs one call.
    """
    wanted = {capture.subject_key for capture in captures}
    subjects = {s.name: s.id for s in await client.list_subjects(dataset_id) if s.name in wanted}
    if not subjects:
        return []
    at_the_api: dict[str, dict[frozenset[str], tuple[str, dict[str, str]]]] = {}
    for key, subject_id in subjects.items():
        ref = SubjectRef(dataset_id, subject_id)
        batches = at_the_api.setdefault(key, {})
        for batch in await client.list_batches(ref):
            images = await client.list_images(ref.batch(batch.id))
            names = {image.name: image.id for image in images if image.name}
            batches[frozenset(names)] = (batch.id, names)
    recovered = []
    for capture in captures:
        found = at_the_api.get(capture.subject_key, {})
        match = found.get(frozenset(image.upload_name for image in capture.images))
        if match is None:
            continue
        batch_id, ids = match
        rows = {
            image.side: {
                "dataset_id": dataset_id,
                "subject_id": subjects[capture.subject_key],
                "batch_id": batch_id,
                "image_id": ids[image.upload_name],
                "uploaded_at": None,
                "status": "pending",
            }
            for image in capture.images
        }
        _record(ledger, capture, rows, dataset=dataset, image_kind=image_kind)
        recovered.append(capture)
    if recovered:
        log.warning("%s", Recovery(at_the_api=len(recovered)).messages("", dataset)[0])
    return recovered
