"""The backfill flow: re-pull what the API computed for images already uploaded, into the lake.

For the images the ledger knows in a capture-day range (and of some subjects, if asked), it
reads each subject's history once per chunk (``all_results``), the aux images and the smoothed
results per image and method, and writes them with the ingest's own flattening: the same
stable ids, so rows are replaced, never doubled, and running it twice gives the same lake. It
restores what was lost from the lake and adds tables the ingest does not fill (smoothed results).

It uploads nothing and creates nothing at the API. It holds the ledger's run lock all the same:
it moves images to ``written`` or ``pending``, which an ingest running at the same time would
also do for its carried-over images, and the two would write the same rows.

Orchestration as in :mod:`flows.ingest`: a Prefect task per chunk of images (``quote``d
parameters, asyncio concurrency inside), one shared client, one buffered lake writer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field, Secret, SecretStr, model_validator

from flows.options import DEFAULT_LAKE, DEFAULT_STATE
from haut.client import HautClient
from haut.errors import HautError
from haut.paths import SubjectRef
from haut.redaction import redact
from hautflow.service import connect
from schemas.api_results import ResultRow, SmoothedValue
from schemas.captures import UploadedImage
from tasks.lake import BufferedLakeWriter, Lake, LakeRows, RunRecord, create_views, run_rows
from tasks.ledger import ImageState, Ledger
from tasks.smoothing.rows import smoothed_rows
from tasks.smoothing.settings import DEFAULT_MAX_SIZE, DEFAULT_WINDOW_DAYS, SmoothingMethod
from tasks.uploading import mark_pending, mark_written
from tasks.waiting import ImageResults

ENVELOPE_EXTRAS = ("batch_id", "subject_id")
"""Keys ``all_results`` adds to the ``/results/`` row envelope (reference §13.3): dropped, so
a backfilled row's raw JSON is the one the ingest wrote and the views do not change."""

CHUNKS_IN_FLIGHT = 4
"""Chunks read at once: enough to overlap one chunk's writing with the next ones' reading,
few enough that memory holds only their results."""

SMOOTHED_FLUSH_ROWS = 50_000
"""Smoothed rows buffered before they are written (a few dozen per image)."""


class BackfillError(RuntimeError):
    """A backfill that cannot start; the message says how to fix it."""


class BackfillOptions(BaseModel):
    """Options of one backfill run (see ``hautflow backfill --help`` for each)."""

    date_from: date | None = Field(None, description="First capture day (UTC), inclusive")
    date_to: date | None = Field(None, description="Last capture day (UTC), inclusive")
    subjects: list[str] | None = Field(None, description="Subject keys (folder names); None: all")
    dataset: str = Field("hautflow", description="Haut.AI dataset the ingest uploaded to")
    lake: str = Field(DEFAULT_LAKE, description="Where the Parquet lake is written")
    state_dir: str = Field(
        DEFAULT_STATE, description="The ledger, the embedded emulator's state and the views file"
    )
    api_url: str | None = Field(None, description="A Haut.AI-compatible service to use")
    # Secret for the same reason as in IngestOptions: Prefect records flow parameters.
    ledger_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the ledger (PostgreSQL)"
    )
    storage_options: Secret[dict[str, Any]] | None = Field(
        None, description="fsspec options (e.g. endpoint, key, secret) for buckets"
    )
    methods: list[SmoothingMethod] = Field(
        default_factory=lambda: list(SmoothingMethod),
        description="Smoothing methods to pull (none: no smoothed results)",
    )
    window_days: int = Field(DEFAULT_WINDOW_DAYS, ge=1, description="Smoothing window, days")
    max_size: int = Field(
        DEFAULT_MAX_SIZE, ge=1, description="Most images a smoothed value is taken over"
    )
    chunk_size: int = Field(50, ge=1, description="Images per task")
    concurrency: int = Field(8, ge=1, description="Images read at once per chunk")

    @model_validator(mode="after")
    def _range_in_order(self) -> BackfillOptions:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}: swap them"
            )
        return self

    @property
    def views_path(self) -> Path:
        """The DuckDB file holding the lake's views, for the plain ``duckdb`` shell."""
        return Path(self.state_dir) / "lake.duckdb"

    def fs_options(self) -> dict[str, Any] | None:
        """The fsspec storage options, revealed for the filesystem that needs them."""
        return None if self.storage_options is None else self.storage_options.get_secret_value()

    def ledger_address(self) -> str | None:
        """The ledger's SQLAlchemy URL, revealed for the engine that needs it."""
        return None if self.ledger_url is None else self.ledger_url.get_secret_value()

    def public(self) -> dict[str, Any]:
        """The options as recorded in the run manifest: nothing that may hold a secret."""
        return self.model_dump(exclude={"storage_options", "ledger_url"}, mode="json")

    def describe(self) -> str:
        """The run's ``source`` in the manifest, e.g. ``backfill 2026-01-01..2026-02-01
        subjects=amy,ben dataset=hautflow``."""
        days = f"{self.date_from or ''}..{self.date_to or ''}"
        subjects = ",".join(self.subjects) if self.subjects is not None else "all"
        return f"backfill {days} subjects={subjects} dataset={self.dataset}"

    def capture_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The day range as UTC instants: [start of date_from, start of the day after date_to)."""
        start = datetime.combine(self.date_from, time(), UTC) if self.date_from else None
        end = (
            datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
            if self.date_to
            else None
        )
        return start, end


# --- what to read ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An image to re-read, and its state in the ledger before the backfill."""

    image: UploadedImage
    state: ImageState


@dataclass(frozen=True)
class SubjectSlice:
    """Some of one subject's images, consecutive in time: read with one ``all_results`` call
    over their capture days."""

    targets: tuple[Target, ...]

    @property
    def subject(self) -> SubjectRef:
        image = self.targets[0].image
        return SubjectRef(image.dataset_id, image.subject_id)

    @property
    def days(self) -> tuple[date, date]:
        """First and last capture day (UTC) of the slice's images."""
        moments = [t.image.source.captured_at.astimezone(UTC).date() for t in self.targets]
        return min(moments), max(moments)


def plan_chunks(targets: Sequence[Target], size: int) -> list[list[SubjectSlice]]:
    """Chunks of at most ``size`` images, each a list of subject slices.

    A subject's images stay together in time order, split only when there are more than
    ``size``; small subjects share a chunk, so a thousand people with five photos each are
    twenty tasks, not a thousand.
    """
    by_subject: dict[str, list[Target]] = {}
    for target in sorted(targets, key=lambda t: t.image.source.captured_at):
        by_subject.setdefault(target.image.subject_id, []).append(target)
    chunks: list[list[SubjectSlice]] = []
    current: list[SubjectSlice] = []
    filled = 0
    for subject_targets in by_subject.values():
        for start in range(0, len(subject_targets), size):
            piece = SubjectSlice(tuple(subject_targets[start : start + size]))
            if filled + len(piece.targets) > size and current:
                chunks.append(current)
                current, filled = [], 0
            current.append(piece)
            filled += len(piece.targets)
    if current:
        chunks.append(current)
    return chunks


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What the API holds for one image now."""

    target: Target
    results: ImageResults
    smoothed: dict[SmoothingMethod, list[SmoothedValue]] = field(default_factory=dict)
    error: str | None = None


def results_by_image(rows: Sequence[ResultRow]) -> dict[str, list[ResultRow]]:
    """``all_results`` rows grouped by image, each in the ``/results/`` envelope."""
    grouped: dict[str, list[ResultRow]] = {}
    for row in rows:
        if row.image_id is None:
            continue  # not attributable to an image: nothing to write it under
        # Only the raw JSON keeps the extras (flattening takes ids from the image): a copy
        # with a trimmed raw, not a second validation of the whole payload.
        plain = {k: v for k, v in row.raw.items() if k not in ENVELOPE_EXTRAS}
        grouped.setdefault(row.image_id, []).append(row.model_copy(update={"raw": plain}))
    return grouped


def is_complete(rows: Sequence[ResultRow], expected: Collection[int]) -> bool:
    """Every expected algorithm has a row (the ingest's rule)."""
    finished = {row.algorithm_version_id for row in rows if row.algorithm_version_id is not None}
    return set(expected) <= finished


class _ChunkReader:
    """Reads one chunk: a history call per subject slice, then per image aux and smoothing."""

    def __init__(
        self, client: HautClient, expected: Collection[int], options: BackfillOptions
    ) -> None:
        self.client, self.expected, self.options = client, expected, options
        self._slots = asyncio.Semaphore(options.concurrency)

    async def chunk(self, slices: Sequence[SubjectSlice]) -> list[Reading]:
        per_slice = await asyncio.gather(*(self._slice(piece) for piece in slices))
        return [reading for readings in per_slice for reading in readings]

    async def _slice(self, piece: SubjectSlice) -> list[Reading]:
        first, last = piece.days
        try:
            async with self._slots:
                history = await self.client.all_results(
                    piece.subject, date_from=first, date_to=last
                )
        except HautError:
            # A service without the history call (the vendor's record of it is thin, reference
            # §13.3) or a failed one: each image is read on its own, and its error, if any, is
            # the image's.
            history = []
        grouped = results_by_image(history)
        return list(
            await asyncio.gather(
                *(self._image(t, grouped.get(t.image.image_id)) for t in piece.targets)
            )
        )

    async def _image(self, target: Target, rows: list[ResultRow] | None) -> Reading:
        ref = target.image.ref
        try:
            async with self._slots:
                if rows is None:
                    # Not in the subject's history (a capture time on a day boundary the API
                    # reads otherwise): the image's own results say the same.
                    rows = await self.client.results(ref)
                if not is_complete(rows, self.expected):
                    return Reading(target, ImageResults(target.image, rows, [], complete=False))
                aux = await self.client.aux_images(ref)
                smoothed = {
                    method: await self.client.smoothed_results(
                        ref,
                        method=method.value,
                        window_days=self.options.window_days,
                        max_size=self.options.max_size,
                    )
                    for method in self.options.methods
                }
        except HautError as exc:
            return _failed(target, exc)
        return Reading(target, ImageResults(target.image, rows, aux, complete=True), smoothed)


def _failed(target: Target, exc: HautError) -> Reading:
    return Reading(
        target, ImageResults(target.image, [], [], complete=False), error=redact(str(exc))
    )


# --- writing -------------------------------------------------------------------------------


class _Outcome:
    """Counts and the writers of one run, shared by its chunks."""

    def __init__(self, lake: Lake, ledger: Ledger, run_id: str, options: BackfillOptions) -> None:
        self.lake, self.ledger, self.run_id, self.options = lake, ledger, run_id, options
        self.writer = BufferedLakeWriter(
            lake, run_id=run_id, on_written=lambda ids: mark_written(ledger, ids)
        )
        self._smoothed = LakeRows()
        self._lock = asyncio.Lock()
        self.complete = 0
        self.pending: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.smoothed_rows = 0

    async def add(self, readings: Sequence[Reading]) -> None:
        to_write: list[ImageResults] = []
        for reading in readings:
            image_id = reading.target.image.image_id
            if reading.error is not None:
                self.failed.append((image_id, reading.error))
            elif reading.results.complete:
                self.complete += 1
                to_write.append(reading.results)
                await self._add_smoothed(reading)
            elif reading.target.state is ImageState.WRITTEN:
                # Complete once and in the lake; a pending row now would hide those results.
                self.failed.append(
                    (image_id, "results no longer complete at the API; the lake keeps its rows")
                )
            else:
                self.pending.append(image_id)
                to_write.append(reading.results)
        unfinished = [r.image.image_id for r in to_write if not r.complete]
        if unfinished:
            mark_pending(self.ledger, unfinished, "results not complete at the backfill")
        await self.writer.add(to_write)

    async def _add_smoothed(self, reading: Reading) -> None:
        rows = LakeRows()
        for method, values in reading.smoothed.items():
            rows.extend(
                smoothed_rows(
                    reading.target.image,
                    values,
                    method=method.value,
                    window_days=self.options.window_days,
                    max_size=self.options.max_size,
                    run_id=self.run_id,
                )
            )
        async with self._lock:
            self._smoothed.extend(rows)
            full = len(self._smoothed) >= SMOOTHED_FLUSH_ROWS
        if full:
            await self._flush_smoothed()

    async def _flush_smoothed(self) -> None:
        async with self._lock:
            rows, self._smoothed = self._smoothed, LakeRows()
            if len(rows) == 0:
                return
            await asyncio.to_thread(self.lake.write, rows, run_id=self.run_id)
            self.smoothed_rows += len(rows)

    async def flush(self) -> None:
        await self.writer.flush()
        await self._flush_smoothed()

    def tally(self, record: RunRecord) -> RunRecord:
        return replace(
            record,
            images_complete=self.complete,
            images_pending=len(self.pending),
            images_failed=len(self.failed),
            rows_written=self.writer.rows_written + self.smoothed_rows,
        )


# --- the flow ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillSummary:
    """What one backfill run did."""

    record: RunRecord
    images: int
    """Images the ledger knows in the range."""
    smoothed_rows: int = 0
    pending: Sequence[str] = ()
    """Images still unfinished at the API, written as pending."""
    failed: Sequence[tuple[str, str]] = ()
    """Images not rewritten, with why."""

    @property
    def ok(self) -> bool:
        return not (self.pending or self.failed)

    def count_rows(self) -> list[tuple[str, int]]:
        """(what, count) lines for the terminal."""
        r = self.record
        return [
            ("images in range", self.images),
            ("images rewritten complete", r.images_complete),
            ("images pending at the API", r.images_pending),
            ("images not rewritten", r.images_failed),
            ("rows written", r.rows_written),
            ("smoothed rows written", self.smoothed_rows),
        ]


@task(name="select-images", cache_policy=NO_CACHE)
def select_task(ledger: Ledger, options: BackfillOptions) -> list[Target]:
    start, end = options.capture_bounds()
    found = ledger.images_on_the_api(
        dataset_name=options.dataset,
        subject_keys=options.subjects,
        captured_from=start,
        captured_before=end,
    )
    return [Target(image, state) for image, state in found]


@task(name="read-chunk", cache_policy=NO_CACHE)
async def read_chunk(
    client: HautClient,
    slices: Sequence[SubjectSlice],
    expected: Collection[int],
    options: BackfillOptions,
) -> list[Reading]:
    return await _ChunkReader(client, expected, options).chunk(slices)


@task(name="write-chunk", cache_policy=NO_CACHE)
async def write_chunk(outcome: _Outcome, readings: Sequence[Reading]) -> None:
    await outcome.add(readings)


def _open_ledger(options: BackfillOptions) -> Ledger:
    address = options.ledger_address()
    if address:
        return Ledger(address)
    return Ledger.sqlite(Path(options.state_dir) / "ledger.sqlite")


@flow(name="backfill", log_prints=False)
async def backfill(options: BackfillOptions) -> BackfillSummary:
    """Re-pull history, aux and smoothed results of the images in range into the lake."""
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    lake = Lake(options.lake, options.fs_options())
    ledger = _open_ledger(options)
    try:
        with ledger.run_lock(run_id):
            return await _run(options, lake, ledger, run_id, started)
    finally:
        ledger.close()


async def _run(
    options: BackfillOptions, lake: Lake, ledger: Ledger, run_id: str, started: datetime
) -> BackfillSummary:
    targets = select_task(ledger, options)
    expected = ledger.enabled_algorithms(options.dataset)
    if targets and not expected:
        raise BackfillError(
            f"the ledger {ledger!r} has images of dataset {options.dataset!r} but no attached "
            "application, so it cannot tell complete results: run `hautflow ingest` once "
            "for this dataset, which attaches it"
        )
    record = RunRecord(
        run_id=run_id,
        started_at=started,
        source=options.describe(),
        status="running",
        options=options.public(),
    )
    # In the manifest from its start: a run that dies leaves its "running" row.
    lake.write(run_rows(record), run_id=run_id)
    outcome = _Outcome(lake, ledger, run_id, options)
    try:
        if targets:
            await _read_and_write(options, targets, expected or (), outcome)
    except BaseException as exc:
        failure = replace(
            outcome.tally(record),
            finished_at=datetime.now(UTC),
            status="failed",
            error=redact(repr(exc)),
        )
        lake.write(run_rows(failure), run_id=run_id)
        raise
    record = outcome.tally(record)
    status = "incomplete" if record.images_pending or record.images_failed else "completed"
    record = replace(record, finished_at=datetime.now(UTC), status=status)
    lake.write(run_rows(record), run_id=run_id)
    create_views(options.lake, options.views_path, storage_options=options.fs_options())
    return BackfillSummary(
        record=record,
        images=len(targets),
        smoothed_rows=outcome.smoothed_rows,
        pending=outcome.pending,
        failed=outcome.failed,
    )


async def _read_and_write(
    options: BackfillOptions,
    targets: Sequence[Target],
    expected: Collection[int],
    outcome: _Outcome,
) -> None:
    emulator_state = Path(options.state_dir) / "emulator.sqlite"
    async with connect(api_url=options.api_url, emulator_state=emulator_state) as connection:
        if connection.embedded_emulator:
            get_run_logger().info(
                "No Haut.AI credentials: using the embedded emulator (%s)", connection.url
            )

        in_flight = asyncio.Semaphore(CHUNKS_IN_FLIGHT)

        async def one(slices: list[SubjectSlice]) -> None:
            async with in_flight:
                readings = await read_chunk(connection.client, quote(slices), expected, options)
                await write_chunk(outcome, quote(readings))

        try:
            # A TaskGroup cancels the other chunks when one fails, so a failed run stops whole.
            async with asyncio.TaskGroup() as group:
                for slices in plan_chunks(targets, options.chunk_size):
                    group.create_task(one(slices))
        finally:
            # What was read before a failure is kept: written now.
            await outcome.flush()
