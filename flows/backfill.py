"""The backfill flow: re-pull what the API computed for images already uploaded, into the lake.

For the images the ledger knows in a capture-day range (and of some subjects, if asked), it
reads each subject's history once per chunk (``all_results``), the aux images and the smoothed
results per image and method, and writes them with the ingest's own flattening: the same
stable ids, so rows are replaced, never doubled, and running it twice gives the same lake. It
restores what was lost from the lake and adds tables the ingest does not fill (smoothed results).

It uploads nothing and creates nothing at the API. It holds the ledger's run lock all the same:
it moves images to ``written`` or ``pending``, which an ingest running at the same time would
also do for its carried-over images, and the two would write the same rows.

This module keeps the summary, the Prefect tasks and the flow (the options are in
:mod:`flows.options`); planning, reading and writing are plain functions in
:mod:`tasks.backfill`. Orchestration as in :mod:`flows.ingest`: a Prefect task per chunk of
images (``quote``d parameters, asyncio concurrency inside), one shared client, one buffered lake
writer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.chunking import first_error, how_it_ended
from flows.options import BackfillOptions
from haut.redaction import redact
from schemas.errors import HautflowError
from tasks.backfill.plan import SubjectSlice, Target, plan_chunks
from tasks.backfill.read import ChunkReader, Reading, SmoothingRequest
from tasks.backfill.write import BackfillWriter
from tasks.lake import Lake, RunRecord, create_views, run_rows
from tasks.lake.provenance import check_one_kind_of_service
from tasks.lake.run_history import record_died_runs
from tasks.ledger import Ledger
from tasks.ledger.location import existing_ledger
from tasks.service.connection import connect, require_service

CHUNKS_IN_FLIGHT = 4
"""Chunks read at once: enough to overlap one chunk's writing with the next ones' reading,
few enough that memory holds only their results."""

LISTED_IMAGES = 20
"""Images named one by one in the log and on the terminal; the rest are counted."""


class BackfillError(HautflowError, RuntimeError):
    """A backfill that cannot start; the message says how to fix it."""


# --- the summary ---------------------------------------------------------------------------


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
    smoothing_failed: Sequence[tuple[str, str, str]] = ()
    """(image, method, why) of smoothings the API refused; those images' results were written."""

    @property
    def ok(self) -> bool:
        return not (self.pending or self.failed or self.smoothing_failed)

    def count_rows(self) -> list[tuple[str, int]]:
        """(what, count) lines for the terminal."""
        r = self.record
        return [
            ("images in range", self.images),
            ("images rewritten complete", r.images_complete),
            ("images rewritten, no face", r.images_no_face),
            ("images pending at the API", r.images_pending),
            ("images not rewritten", r.images_failed),
            ("smoothings refused", len(self.smoothing_failed)),
            ("rows written (all tables)", r.rows_written),
            ("smoothed rows written", self.smoothed_rows),
        ]

    def one_line(self) -> str:
        """The run in a line, for the log."""
        counts = ", ".join(f"{what} {count}" for what, count in self.count_rows())
        return f"Backfill {self.record.status} ({self.record.source}): {counts}"

    def problems(self, limit: int = LISTED_IMAGES) -> list[str]:
        """A line per image left pending, not rewritten or with a refused smoothing: the first
        ``limit``, then how many more (a run over thousands of images must not flood)."""
        lines = [
            f"pending {image_id}: not finished at the API (the next ingest picks it up)"
            for image_id in self.pending
        ]
        lines += [f"not rewritten {image_id}: {why}" for image_id, why in self.failed]
        lines += [
            f"smoothing {method} refused for {image_id}: {why}"
            for image_id, method, why in self.smoothing_failed
        ]
        if len(lines) > limit:
            return [*lines[:limit], f"... and {len(lines) - limit} more"]
        return lines


# --- the tasks and the flow ----------------------------------------------------------------


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
async def read_chunk(reader: ChunkReader, slices: Sequence[SubjectSlice]) -> list[Reading]:
    return await reader.chunk(slices)


@task(name="write-chunk", cache_policy=NO_CACHE)
async def write_chunk(writer: BackfillWriter, readings: Sequence[Reading]) -> None:
    await writer.add(readings)


@flow(name="backfill", log_prints=False)
async def backfill(options: BackfillOptions = BackfillOptions()) -> BackfillSummary:  # noqa: B008
    """Re-pull history, aux and smoothed results of the images in range into the lake."""
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    require_service(options.api_url, None, allow_emulator=options.emulator)
    lake = Lake(options.lake, options.fs_options())
    ledger = existing_ledger(options.state_dir, options.ledger_address())
    if ledger is None:
        raise BackfillError(
            f"no ledger in {options.state_dir}: the backfill re-reads what an ingest uploaded; "
            "point --state (state_dir) or --ledger-url at the ingest's, or run `hautflow ingest`"
        )
    try:
        with ledger.run_lock(run_id):
            record_died_runs(lake, ledger.unfinished_runs)
            ledger.forget_runs(ledger.unfinished_runs)
            summary = await _run(options, lake, ledger, run_id, started)
    finally:
        ledger.close()
    _log_summary(get_run_logger(), summary)
    return summary


def _log_summary(
    logger: logging.Logger | logging.LoggerAdapter[Any], summary: BackfillSummary
) -> None:
    """What a deployed run shows in the UI: a warning per image left behind (capped) and the
    counts in one line."""
    for line in summary.problems():
        logger.warning(line)
    logger.info(summary.one_line())


async def _run(
    options: BackfillOptions, lake: Lake, ledger: Ledger, run_id: str, started: datetime
) -> BackfillSummary:
    targets = select_task(ledger, options)
    expected = ledger.enabled_algorithms(options.dataset)
    if targets and not expected:
        raise BackfillError(
            f"the ledger {ledger!r} has images of dataset {options.dataset!r} but no attach of "
            "the ingest's application, so it cannot tell complete results: run "
            "`hautflow ingest` once for this dataset, which attaches it"
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
    writer = BackfillWriter(
        lake, ledger, run_id, window_days=options.window_days, max_size=options.max_size
    )
    try:
        if targets and expected:
            await _read_and_write(options, targets, expected, writer)
    except BaseException as exc:
        status, error = how_it_ended(exc)
        failure = replace(
            writer.tally(record), finished_at=datetime.now(UTC), status=status, error=redact(error)
        )
        lake.write(run_rows(failure), run_id=run_id)
        raise
    record = writer.tally(record)
    left_behind = record.images_pending or record.images_failed or writer.smoothing_failed
    record = replace(
        record, finished_at=datetime.now(UTC), status="incomplete" if left_behind else "completed"
    )
    lake.write(run_rows(record), run_id=run_id)
    create_views(options.lake, options.views_path, storage_options=options.fs_options())
    return BackfillSummary(
        record=record,
        images=len(targets),
        smoothed_rows=writer.smoothed_rows,
        pending=writer.pending,
        failed=writer.failed,
        smoothing_failed=writer.smoothing_failed,
    )


async def _read_and_write(
    options: BackfillOptions,
    targets: Sequence[Target],
    expected: Collection[int],
    writer: BackfillWriter,
) -> None:
    logger = get_run_logger()
    emulator_state = options.emulator_state
    async with connect(
        api_url=options.api_url, emulator_state=emulator_state, allow_emulator=options.emulator
    ) as connection:
        if connection.embedded_emulator:
            logger.info("No Haut.AI credentials: using the embedded emulator (%s)", connection.url)
        writer.service = await connection.identify()
        check_one_kind_of_service(
            writer.lake, writer.service, allow_mixed=options.allow_mixed_services
        )
        smoothing = SmoothingRequest(tuple(options.methods), options.window_days, options.max_size)
        reader = ChunkReader(
            connection.client, expected, smoothing, concurrency=options.concurrency
        )
        in_flight = asyncio.Semaphore(CHUNKS_IN_FLIGHT)

        async def one(slices: list[SubjectSlice]) -> None:
            async with in_flight:
                readings = await read_chunk(reader, quote(slices))
                await write_chunk(writer, quote(readings))

        try:
            # A TaskGroup cancels the other chunks when one fails (a refused login, a service
            # that is down), so a failed run stops whole.
            async with asyncio.TaskGroup() as group:
                for slices in plan_chunks(targets, options.chunk_size):
                    group.create_task(one(slices))
        except BaseExceptionGroup as errors:
            # The first chunk's error itself, so that callers (the CLI's AuthError handler)
            # see what happened rather than a group.
            raise first_error(errors) from errors
        finally:
            # What was read before a failure is kept: written now.
            await writer.flush()
            if reader.history_refused:
                logger.warning(
                    "The service refused all_results (%s): images were read one by one",
                    reader.history_refused,
                )
