"""The ingest flow: an image folder in, every photo analysed once, every metric in the lake.

Orchestration only: discover, plan, then chunks of captures uploaded one after another while
their images are awaited by one wait session and each settled image goes to the lake writer,
then the run's manifest and quarantine rows. Uploading and awaiting are Prefect tasks over a
chunk (not over an image: a task run costs far more than an upload), with asyncio and httpx
concurrency inside; the work itself is in ``tasks/``. Chunks of data are
passed to tasks ``quote``d: Prefect would otherwise walk every nested result row of every
parameter to track dependencies, which cost more than the work itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.chunking import chunks, first_error, how_it_ended
from flows.options import IngestOptions
from flows.summary import publish_summary, with_warnings
from haut.client import HautClient
from haut.redaction import redact
from schemas.captures import (
    Capture,
    Discovery,
    ImageKind,
    QuarantinedFile,
    UnanalysedImage,
    UploadedImage,
)
from tasks import progress
from tasks.discovery import discover
from tasks.lake import BufferedLakeWriter, Lake, RunRecord, create_views, quarantine_rows, run_rows
from tasks.lake.provenance import check_one_kind_of_service
from tasks.lake.run_history import record_died_runs
from tasks.ledger import Ledger
from tasks.ledger.location import open_ledger
from tasks.progress import Stage
from tasks.reporting.outcome import RunOutcome
from tasks.reporting.summary import RunSummary
from tasks.service.connection import connect, require_service
from tasks.service.settings import ConfigurationError, HautSettings
from tasks.uploading import (
    DatasetContext,
    Plan,
    UploadOutcome,
    ensure_dataset,
    mark_pending,
    mark_written,
    pending_images,
    plan,
    upload_captures,
)
from tasks.uploading.capture_upload import CaptureOutcome
from tasks.uploading.recovery import recover_from_api, recover_from_lake
from tasks.waiting import (
    ImageResults,
    WaitSession,
    WebhookAuth,
    WebhookAuthScheme,
    make_waiter,
)

UPLOADING_CHUNKS = 2
"""Chunks uploading at once (each uploads ``concurrency`` captures at a time): the next chunk
starts while the last captures of one finish, and uploads never wait for results."""
AWAITED_CHUNKS = 6
"""Chunks' worth of images (``chunk_size`` x this) awaited at once at most: an upload waits for
room beyond it, so memory stays bounded however long results take."""

T = TypeVar("T")


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(options: IngestOptions) -> Discovery:
    discovery = discover(
        options.source,
        manifest=options.manifest,
        storage_options=options.fs_options(),
        image_kind=ImageKind(options.image_kind),
        read_timeout=options.read_timeout,
        allow_outside_source=options.allow_outside_source,
    )
    progress.current().set_total(Stage.DISCOVERED, discovery.files_seen)
    progress.current().advance(Stage.DISCOVERED, discovery.files_seen)
    return discovery


@task(name="plan", cache_policy=NO_CACHE)
def plan_task(discovery: Discovery, ledger: Ledger, options: IngestOptions) -> Plan:
    lake = Lake(options.lake, options.fs_options())
    if not options.dry_run:  # a dry run writes no lake: the next real run reports them
        lake.publish()  # what a killed run staged, before anything reads the lake
        for run_id in record_died_runs(lake, ledger.unfinished_runs):
            get_run_logger().warning("Run %s had died: its runs row now says so", run_id)
        ledger.forget_runs(ledger.unfinished_runs)
    # A new ledger first learns from the lake what was analysed already (a lost --state).
    recovered = recover_from_lake(
        ledger,
        lake,
        discovery.captures,
        dataset=options.dataset,
        image_kind=ImageKind(options.image_kind),
    )
    work = plan(
        discovery,
        ledger,
        dataset=options.dataset,
        allow_duplicates=options.allow_duplicate_photos,
    )
    return replace(work, recovered=recovered)


@task(name="upload-chunk", cache_policy=NO_CACHE)
async def upload_chunk(
    client: HautClient,
    ledger: Ledger,
    dataset: DatasetContext,
    captures: Sequence[Capture],
    options: IngestOptions,
    on_capture: Callable[[CaptureOutcome], None],
    before_capture: Callable[[], Awaitable[None]],
) -> UploadOutcome:
    def uploaded(done: CaptureOutcome) -> None:
        progress.current().advance(Stage.UPLOADED, len(done.uploaded))
        on_capture(done)

    outcome = await upload_captures(
        client,
        ledger,
        dataset,
        captures,
        concurrency=options.concurrency,
        storage_options=options.fs_options(),
        on_capture=uploaded,
        before_capture=before_capture,
    )
    return outcome


@task(name="await-results", cache_policy=NO_CACHE)
async def await_chunk(session: WaitSession, images: Sequence[UploadedImage]) -> None:
    """Until these images are settled; each went to the writer as it settled."""
    await session.settled(images)


class _Run:
    """The moving parts of one run, shared by its chunks.

    Captures are uploaded chunk after chunk, never waiting for results: each capture's images
    join the run's one wait session as soon as they are at the API, and each image goes to the
    writer the moment it settles (:meth:`settled`). Only the number of images awaited at once
    holds uploads back (:data:`AWAITED_CHUNKS`).
    """

    def __init__(
        self,
        client: HautClient,
        ledger: Ledger,
        dataset: DatasetContext,
        writer: BufferedLakeWriter,
        options: IngestOptions,
        carried_over: Sequence[UploadedImage],
    ) -> None:
        self.client, self.ledger, self.dataset = client, ledger, dataset
        self.writer, self.options = writer, options
        self.carried_over = list(carried_over)
        self._carried_ids = {image.image_id for image in carried_over}
        self.uploads = UploadOutcome()
        self.newly_uploaded = 0
        self.complete = 0
        self.pending: list[str] = []
        self.unanalysed: list[UnanalysedImage] = []
        self._uploading = asyncio.Semaphore(UPLOADING_CHUNKS)
        self._chunks_to_upload = 0
        self._most_awaited = AWAITED_CHUNKS * options.chunk_size

    async def settled(self, result: ImageResults) -> None:
        """One image settled (or timed out): count it, then hand it to the writer."""
        if not result.complete:
            image_id = result.image.image_id
            mark_pending(self.ledger, [image_id], "results not complete at the timeout")
            self.pending.append(image_id)
        else:
            progress.current().advance(Stage.RESULTS)
        if result.status == "complete":
            self.complete += 1
        elif result.finding and result.complete:
            self.unanalysed.append(UnanalysedImage(result.image, result.finding))
        await self.writer.put(result)

    async def captures(self, chunk: Sequence[Capture], session: WaitSession) -> None:
        fresh: list[UploadedImage] = []

        def uploaded(done: CaptureOutcome) -> None:
            # Resumed captures report images uploaded by an earlier run too; those whose
            # results are outstanding are already awaited as carried over.
            images = [i for i in done.uploaded if i.image_id not in self._carried_ids]
            fresh.extend(images)
            session.add(images)

        async def room() -> None:
            await session.below(self._most_awaited)

        async with self._uploading:
            try:
                outcome = await upload_chunk(
                    self.client,
                    self.ledger,
                    self.dataset,
                    quote(chunk),
                    self.options,
                    uploaded,
                    room,
                )
            finally:
                self._chunks_to_upload -= 1
                if self._chunks_to_upload == 0:
                    session.uploads_done()
        self.uploads.uploaded.extend(outcome.uploaded)
        self.uploads.quarantined.extend(outcome.quarantined)
        self.uploads.failed.extend(outcome.failed)
        self.newly_uploaded += len(fresh)
        if fresh:
            await await_chunk(session, quote(fresh))

    async def images(self, images: Sequence[UploadedImage], session: WaitSession) -> None:
        await session.below(self._most_awaited)
        session.add(images)
        await await_chunk(session, quote(images))

    async def all(self, captures: Sequence[Capture], session: WaitSession) -> None:
        """Every carried-over image and every capture, through one wait session."""
        size = self.options.chunk_size
        # A TaskGroup cancels the other chunks when one fails, so a failed run stops whole.
        to_upload = chunks(captures, size)
        self._chunks_to_upload = len(to_upload)
        if to_upload:
            session.uploads_started()
        try:
            async with asyncio.TaskGroup() as group:
                for images in chunks(self.carried_over, size):
                    group.create_task(self.images(images, session))
                for chunk in to_upload:
                    group.create_task(self.captures(chunk, session))
            await session.drain()
        except BaseExceptionGroup as errors:
            # The chunk's own error (a refused login, a service that is down): the runs row,
            # Prefect's state and the command line then name it, not "unhandled errors in a
            # TaskGroup".
            raise first_error(errors) from errors

    def tally(self, record: RunRecord) -> RunRecord:
        return replace(
            record,
            images_uploaded=self.newly_uploaded,
            images_failed=sum(len(c.images) for c, _ in self.uploads.failed),
            images_complete=self.complete,
            images_pending=len(self.pending),
            images_no_face=len(self.unanalysed),
            rows_written=self.writer.rows_written,
            quarantined=record.quarantined + len(self.uploads.quarantined),
        )


def _announce_totals(captures: Sequence[Capture], carried_over: Sequence[UploadedImage]) -> None:
    images = sum(len(c.images) for c in captures) + len(carried_over)
    reporter = progress.current()
    for stage in (Stage.UPLOADED, Stage.RESULTS, Stage.WRITTEN):
        reporter.set_total(stage, images)
    reporter.advance(Stage.UPLOADED, len(carried_over))


class _Service:
    """The service settings and the result waiter, made before anything else: a configuration
    error (e.g. a bad ``HAUT_WEBHOOK_SECRET``) stops the run before it logs in, creates a
    dataset, or writes a ledger or a lake."""

    def __init__(self, options: IngestOptions) -> None:
        self.settings = HautSettings()
        require_service(
            options.api_url,
            options.credentials_block,
            allow_emulator=options.emulator,
            settings=self.settings,
        )
        self.waiter = make_waiter(options.wait, **_waiter_options(options, self.settings))


@dataclass
class _Manifest:
    """The run's manifest row as far as the run got: what its final row, or a failure's, says."""

    record: RunRecord
    run: _Run | None = None

    def so_far(self) -> RunRecord:
        return self.record if self.run is None else self.run.tally(self.record)


async def _upload_and_write(
    options: IngestOptions,
    service: _Service,
    ledger: Ledger,
    work: Plan,
    manifest: _Manifest,
    lake: Lake,
) -> tuple[_Run, Plan]:
    """Upload ``work`` and write its results; returns the run and the plan as it ran (new
    captures found at the API are done, see :func:`_found_at_the_api`)."""
    emulator_state = options.emulator_state
    settings, waiter = service.settings, service.waiter
    async with connect(
        settings,
        api_url=options.api_url,
        allow_emulator=options.emulator,
        emulator_state=emulator_state,
        credentials_block=options.credentials_block,
        requests_per_second=options.requests_per_second,
        max_concurrency=options.requests_in_flight,
        # A PostgreSQL ledger may be shared by several runs and workers: so is the API's rate.
        shared_budget=ledger.engine if ledger.engine.dialect.name == "postgresql" else None,
    ) as connection:
        if connection.embedded_emulator:
            get_run_logger().info(
                "No Haut.AI credentials: using the embedded emulator (%s)", connection.url
            )
        client = connection.client
        # Before anything is created: a lake never mixes emulated and real analyses by accident.
        service_name = await connection.identify()
        manifest.record = replace(manifest.record, service=service_name)
        check_one_kind_of_service(lake, service_name, allow_mixed=options.allow_mixed_services)
        dataset = await ensure_dataset(
            client,
            ledger,
            name=options.dataset,
            image_kind=ImageKind(options.image_kind),
            enabled_algorithms=options.enabled_algorithms,
            retention=options.retention(),
        )
        work = await _found_at_the_api(client, ledger, work, dataset, manifest, options)

        def written(image_ids: list[str]) -> None:
            mark_written(ledger, image_ids)
            progress.current().advance(Stage.WRITTEN, len(image_ids))

        writer = BufferedLakeWriter(
            lake,
            run_id=manifest.record.run_id,
            on_written=written,
            mask_coordinates=options.mask_coordinates,
        )
        # Images uploaded by earlier runs whose results never reached the lake.
        carried_over = pending_images(ledger)
        _announce_totals(work.to_upload, carried_over)
        run = manifest.run = _Run(client, ledger, dataset, writer, options, carried_over)
        try:
            async with (
                waiter.listening(client, dataset_ids=[dataset.dataset_id]),
                waiter.session(
                    client,
                    expected_algorithms=dataset.enabled_algorithms,
                    timeout=options.results_timeout,
                    on_result=run.settled,
                ) as session,
            ):
                await run.all(work.to_upload, session)
        finally:
            # What finished before a failure is kept: written now, not read again next run.
            try:
                await writer.flush()
            finally:
                await writer.aclose()
    return run, work


async def _found_at_the_api(
    client: HautClient,
    ledger: Ledger,
    work: Plan,
    dataset: DatasetContext,
    manifest: _Manifest,
    options: IngestOptions,
) -> Plan:
    """``work`` without the new captures the API already holds, when the ledger was new and
    the lake did not know them (a lost --state and a lost lake): they are recorded as uploaded
    and their results awaited as carried over, never analysed again."""
    if not (work.recovered.ledger_was_new and work.new):
        return work
    found = await recover_from_api(
        client,
        ledger,
        work.new,
        dataset=options.dataset,
        dataset_id=dataset.dataset_id,
        image_kind=ImageKind(options.image_kind),
    )
    work = work.found_at_the_api(found)
    manifest.record = replace(
        manifest.record, captures_new=len(work.new), captures_skipped=len(work.done)
    )
    return work


def _waiter_options(options: IngestOptions, settings: HautSettings) -> dict[str, Any]:
    """The waiter's options, with the webhook's authorization for ``wait="webhook"``.

    The secret comes from ``HAUT_WEBHOOK_SECRET`` (random per run when unset), never from the
    options: Prefect records those with the run.
    """
    wait_options = dict(options.wait_options)
    if options.wait != "webhook":
        return wait_options
    scheme = WebhookAuthScheme(options.webhook_auth or "bearer")
    key = options.webhook_auth_key or "hautflow"
    try:
        if settings.webhook_secret is None:
            authorization = WebhookAuth(scheme, key=key)
        else:
            authorization = WebhookAuth(scheme, key=key, value=settings.webhook_secret)
    except ValueError as exc:
        raise ConfigurationError(f"HAUT_WEBHOOK_SECRET: {exc}") from None
    wait_options["authorization"] = authorization
    return wait_options


@flow(name="ingest", log_prints=False)
async def ingest(options: IngestOptions) -> RunSummary:
    """Analyse every new photo under ``options.source`` once and write its results to the lake."""
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    # A dry run talks to no service: its settings are not needed.
    service = None if options.dry_run else _Service(options)
    lake = Lake(options.lake, options.fs_options())
    discovery = discover_task(options)
    ledger = open_ledger(options.state_dir, options.ledger_address())
    try:
        with ledger.run_lock(run_id):
            summary = await _run(options, service, lake, ledger, discovery, run_id, started)
    finally:
        ledger.close()
    summary = await with_warnings(summary, options)
    await publish_summary(summary, options)
    return summary


async def _run(
    options: IngestOptions,
    service: _Service | None,
    lake: Lake,
    ledger: Ledger,
    discovery: Discovery,
    run_id: str,
    started: datetime,
) -> RunSummary:
    work = plan_task(discovery, ledger, options)
    quarantined = [*discovery.quarantined, *work.changed, *work.duplicates]
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
    if service is None:  # a dry run: it plans, and talks to no service
        record = replace(record, finished_at=datetime.now(UTC), status="dry-run")
        return RunSummary(
            record=record, quarantined=quarantined, plan=work, awaiting=_awaiting(ledger)
        )
    # The run is in the manifest from its start: a run that dies leaves its "running" row.
    lake.write(run_rows(record), run_id=run_id)
    manifest = _Manifest(record)
    try:
        run, work = await _upload_and_write(options, service, ledger, work, manifest, lake)
    except BaseException as exc:
        # What the run did before it failed (who answered, rows written) stays on record.
        status, error = how_it_ended(exc)
        failure = replace(
            manifest.so_far(), finished_at=datetime.now(UTC), status=status, error=redact(error)
        )
        _write_manifest(lake, failure, quarantined)
        raise
    record = run.tally(manifest.record)
    quarantined += run.uploads.quarantined
    outcome = RunOutcome.of(
        record,
        quarantined=len(quarantined),
        failed=len(run.uploads.failed),
        unanalysed=len(run.unanalysed),
    )
    record = replace(record, finished_at=datetime.now(UTC), status=outcome.status)
    _write_manifest(lake, record, quarantined)
    create_views(options.lake, options.views_path, storage_options=options.fs_options())
    return RunSummary(
        record=record,
        quarantined=quarantined,
        failed=run.uploads.failed,
        unanalysed=run.unanalysed,
        plan=work,
        awaiting=_awaiting(ledger),
    )


def _awaiting(ledger: Ledger) -> frozenset[tuple[str, str]]:
    """The captures with images at the API whose results are not in the lake yet (the next
    ingest carries them over): a dry run after a run stopped while waiting, or images still
    pending at this run's end. Their missing lake rows need no backfill."""
    return frozenset((i.subject_key, i.session_key) for i in pending_images(ledger))


def _write_manifest(lake: Lake, record: RunRecord, quarantined: Sequence[QuarantinedFile]) -> None:
    rows = run_rows(record)
    rows.extend(quarantine_rows(quarantined, run_id=record.run_id, started_at=record.started_at))
    lake.write(rows, run_id=record.run_id)
