"""The ingest flow: an image folder in, every photo analysed once, every metric in the lake.

Orchestration only: discover, plan, then chunks of captures each going upload -> wait ->
write, a few chunks in flight at once, then the run's manifest and quarantine rows. Each stage
is a Prefect task over a chunk (not over an image: a task run costs far more than an upload),
with asyncio and httpx concurrency inside; the work itself is in ``tasks/``. Chunks of data are
passed to tasks ``quote``d: Prefect would otherwise walk every nested result row of every
parameter to track dependencies, which cost more than the work itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.options import IngestOptions
from flows.summary import RunSummary, publish_summary
from haut.client import HautClient
from hautflow.service import connect
from schemas.captures import Capture, Discovery, ImageKind, QuarantinedFile, UploadedImage
from tasks import progress
from tasks.discover import discover
from tasks.lake import Lake
from tasks.lake_rows import RunRecord, quarantine_rows, run_rows
from tasks.lake_writer import BufferedLakeWriter
from tasks.ledger import Ledger
from tasks.plan import Plan, plan
from tasks.progress import Stage
from tasks.query import create_views
from tasks.upload import (
    DatasetContext,
    UploadOutcome,
    ensure_dataset,
    mark_pending,
    mark_written,
    pending_images,
    upload_captures,
)
from tasks.waiting import ImageResults, ResultWaiter, make_waiter

CHUNKS_IN_FLIGHT = 3


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(options: IngestOptions) -> Discovery:
    discovery = discover(
        options.source,
        manifest=options.manifest,
        storage_options=options.storage_options,
        image_kind=ImageKind(options.image_kind),
    )
    progress.current().set_total(Stage.DISCOVERED, discovery.files_seen)
    progress.current().advance(Stage.DISCOVERED, discovery.files_seen)
    return discovery


@task(name="plan", cache_policy=NO_CACHE)
def plan_task(discovery: Discovery, ledger: Ledger) -> Plan:
    return plan(discovery, ledger)


@task(name="upload-chunk", cache_policy=NO_CACHE)
async def upload_chunk(
    client: HautClient,
    ledger: Ledger,
    dataset: DatasetContext,
    captures: Sequence[Capture],
    options: IngestOptions,
) -> UploadOutcome:
    outcome = await upload_captures(
        client,
        ledger,
        dataset,
        captures,
        concurrency=options.concurrency,
        storage_options=options.storage_options,
        on_capture=lambda done: progress.current().advance(Stage.UPLOADED, len(done.uploaded)),
    )
    return outcome


@task(name="await-results", cache_policy=NO_CACHE)
async def await_chunk(
    waiter: ResultWaiter,
    client: HautClient,
    images: Sequence[UploadedImage],
    dataset: DatasetContext,
    options: IngestOptions,
) -> list[ImageResults]:
    results = await waiter.wait(
        client,
        images,
        expected_algorithms=dataset.enabled_algorithms,
        timeout=options.results_timeout,
    )
    progress.current().advance(Stage.RESULTS, sum(1 for r in results if r.complete))
    return results


@task(name="write-chunk", cache_policy=NO_CACHE)
async def write_chunk(writer: BufferedLakeWriter, results: Sequence[ImageResults]) -> None:
    await writer.add(results)


def _chunks(captures: Sequence[Capture], size: int) -> list[Sequence[Capture]]:
    return [captures[i : i + size] for i in range(0, len(captures), size)]


class _Run:
    """The moving parts of one run, shared by its chunks."""

    def __init__(
        self,
        client: HautClient,
        ledger: Ledger,
        dataset: DatasetContext,
        waiter: ResultWaiter,
        writer: BufferedLakeWriter,
        options: IngestOptions,
    ) -> None:
        self.client, self.ledger, self.dataset = client, ledger, dataset
        self.waiter, self.writer, self.options = waiter, writer, options
        self.uploads = UploadOutcome()
        self.carried_over: set[str] = set()
        self.complete = 0
        self.pending: list[str] = []
        self._slots = asyncio.Semaphore(CHUNKS_IN_FLIGHT)

    async def captures(self, chunk: Sequence[Capture]) -> None:
        async with self._slots:
            outcome = await upload_chunk(
                self.client, self.ledger, self.dataset, quote(chunk), self.options
            )
            self.uploads.uploaded.extend(outcome.uploaded)
            self.uploads.quarantined.extend(outcome.quarantined)
            self.uploads.failed.extend(outcome.failed)
            # Resumed captures report images uploaded by an earlier run too; those whose
            # results are outstanding are already being awaited as carried over.
            fresh = [i for i in outcome.uploaded if i.image_id not in self.carried_over]
            await self._results(fresh)

    async def images(self, images: Sequence[UploadedImage]) -> None:
        async with self._slots:
            await self._results(images)

    async def _results(self, images: Sequence[UploadedImage]) -> None:
        if not images:
            return
        results = await await_chunk(
            self.waiter, self.client, quote(images), self.dataset, self.options
        )
        unfinished = [r.image.image_id for r in results if not r.complete]
        if unfinished:
            mark_pending(self.ledger, unfinished, "results not complete at the timeout")
            self.pending.extend(unfinished)
        self.complete += len(results) - len(unfinished)
        await write_chunk(self.writer, quote(results))


def _open_ledger(options: IngestOptions) -> Ledger:
    if options.ledger_url:
        return Ledger(options.ledger_url)
    return Ledger.sqlite(Path(options.state_dir) / "ledger.sqlite")


async def _upload_and_write(
    options: IngestOptions, ledger: Ledger, work: Plan, record: RunRecord, lake: Lake
) -> tuple[RunRecord, UploadOutcome]:
    logger = get_run_logger()
    emulator_state = Path(options.state_dir) / "emulator.sqlite"
    async with connect(api_url=options.api_url, emulator_state=emulator_state) as connection:
        if connection.embedded_emulator:
            logger.info("No Haut.AI credentials: using the embedded emulator (%s)", connection.url)
        client = connection.client
        dataset = await ensure_dataset(
            client,
            ledger,
            name=options.dataset,
            image_kind=ImageKind(options.image_kind),
            enabled_algorithms=options.enabled_algorithms,
        )
        waiter = make_waiter(options.wait, **options.wait_options)

        def written(image_ids: list[str]) -> None:
            mark_written(ledger, image_ids)
            progress.current().advance(Stage.WRITTEN, len(image_ids))

        writer = BufferedLakeWriter(lake, run_id=record.run_id, on_written=written)
        # Images uploaded by earlier runs whose results never reached the lake.
        carried_over = pending_images(ledger)
        to_upload = [*work.resume, *work.new]
        progress.current().set_total(
            Stage.UPLOADED, sum(len(c.images) for c in to_upload) + len(carried_over)
        )
        progress.current().advance(Stage.UPLOADED, len(carried_over))
        progress.current().set_total(
            Stage.RESULTS, sum(len(c.images) for c in to_upload) + len(carried_over)
        )
        progress.current().set_total(
            Stage.WRITTEN, sum(len(c.images) for c in to_upload) + len(carried_over)
        )
        run = _Run(client, ledger, dataset, waiter, writer, options)
        run.carried_over = {image.image_id for image in carried_over}
        async with waiter.listening(client, dataset_ids=[dataset.dataset_id]):
            size = options.chunk_size
            jobs = [
                run.images(carried_over[i : i + size]) for i in range(0, len(carried_over), size)
            ]
            jobs += [run.captures(chunk) for chunk in _chunks(to_upload, size)]
            await asyncio.gather(*jobs)
        await writer.flush()
    return replace(
        record,
        images_uploaded=len(run.uploads.uploaded),
        images_failed=sum(len(c.images) for c, _ in run.uploads.failed),
        images_complete=run.complete,
        images_pending=len(run.pending),
        rows_written=writer.rows_written,
        quarantined=record.quarantined + len(run.uploads.quarantined),
    ), run.uploads


@flow(name="ingest", log_prints=False)
async def ingest(options: IngestOptions) -> RunSummary:
    """Analyse every new photo under ``options.source`` once and write its results to the lake."""
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    lake = Lake(options.lake, options.storage_options)
    discovery = discover_task(options)
    ledger = _open_ledger(options)
    try:
        work = plan_task(discovery, ledger)
        quarantined: list[QuarantinedFile] = [*discovery.quarantined, *work.changed]
        record = RunRecord(
            run_id=run_id,
            started_at=started,
            source=options.source,
            status="planned" if options.dry_run else "running",
            files_seen=discovery.files_seen,
            captures_discovered=len(discovery.captures),
            quarantined=len(quarantined),
            captures_new=len(work.new),
            captures_resumed=len(work.resume),
            captures_skipped=len(work.done),
            options=options.public(),
        )
        failed: list[tuple[Capture, str]] = []
        if not options.dry_run:
            record, uploads = await _upload_and_write(options, ledger, work, record, lake)
            quarantined += uploads.quarantined
            failed = uploads.failed
        record = replace(record, finished_at=datetime.now(UTC), status=_status(record, options))
        if not options.dry_run:
            _write_manifest(lake, record, quarantined)
            create_views(options.lake, options.views_path, storage_options=options.storage_options)
    finally:
        ledger.close()
    summary = RunSummary(record=record, quarantined=quarantined, failed=failed, plan=work)
    await publish_summary(summary, options)
    return summary


def _status(record: RunRecord, options: IngestOptions) -> str:
    if options.dry_run:
        return "dry-run"
    if record.images_failed or record.images_pending:
        return "incomplete"
    return "completed_with_quarantine" if record.quarantined else "completed"


def _write_manifest(lake: Lake, record: RunRecord, quarantined: Sequence[QuarantinedFile]) -> None:
    rows = run_rows(record)
    rows.extend(quarantine_rows(quarantined, run_id=record.run_id, started_at=record.started_at))
    lake.write(rows, run_id=record.run_id)


def options_from(**values: Any) -> IngestOptions:
    """Options from keyword arguments (the deployment's parameters), defaults for the rest."""
    return IngestOptions(**values)
