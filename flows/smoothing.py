"""Smoothing flows: the API's smoothed_results pulled into the lake, and compared with local.

:func:`pull_smoothed_results` (a Prefect flow) reads the lake's complete images, asks the API for
each image's ``smoothed_results`` under every setting asked for, and writes the rows to the
``smoothed_results`` table: chunks of images as tasks, asyncio concurrency inside (as the ingest
does; a task per request would cost more than the request). :func:`compare_smoothing` does the
same reads without Prefect or writes and sets them beside the lake's own smoothing.

Both open the service exactly as the ingest does (``api_url``, else the settings, else the
embedded emulator kept in ``<state_dir>/emulator.sqlite``), so they ask the service that
analysed the images.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.chunking import chunks, first_error
from flows.options import SmoothingOptions
from haut.client import HautClient
from haut.redaction import redact
from schemas.captures import UploadedImage
from tasks.lake import Lake, RunRecord, create_views, run_rows
from tasks.lake import connect as connect_lake
from tasks.lake.provenance import check_one_kind_of_service
from tasks.service.connection import connect, require_service
from tasks.smoothing.compare import ApiAnswers, Comparison, compare
from tasks.smoothing.pull import SmoothedWriter, lake_images, pull_smoothed
from tasks.smoothing.settings import (
    Smoothing,
)

CHUNKS_IN_FLIGHT = 4
"""Chunks pulling at once; the client's own limits bound the requests in flight."""


@dataclass
class PullSummary:
    """What a pull did."""

    run_id: str
    settings: list[Smoothing]
    images: int = 0
    rows_written: int = 0
    missing: list[str] = field(default_factory=list)


def _read_images(options: SmoothingOptions) -> list[UploadedImage]:
    con = connect_lake(options.lake, storage_options=options.fs_options())
    try:
        return lake_images(con, subject_keys=options.subjects)
    finally:
        con.close()


@task(name="pull-smoothed-chunk", cache_policy=NO_CACHE)
async def pull_chunk(
    client: HautClient,
    images: Sequence[UploadedImage],
    settings: Sequence[Smoothing],
    writer: SmoothedWriter,
    run_id: str,
) -> list[str]:
    """Pull one chunk into the run's buffered writer; the images the API does not know."""
    outcome = await pull_smoothed(client, images, settings, run_id=run_id)
    await writer.add(outcome.rows)
    return outcome.missing


def _record(options: SmoothingOptions, summary: PullSummary, started: datetime) -> RunRecord:
    settings = "; ".join(str(s) for s in summary.settings)
    public = options.model_dump(mode="json", exclude={"storage_options"})
    return RunRecord(
        run_id=summary.run_id,
        started_at=started,
        source=f"smoothing pull ({settings})",
        status="running",
        options=public,
    )


@flow(name="smoothing-pull", log_prints=False)
async def pull_smoothed_results(options: SmoothingOptions) -> PullSummary:
    """Pull the API's smoothed_results of the lake's complete images into the lake.

    The run's manifest row (table ``runs``) says what it pulled: ``images_complete`` the images
    the API answered for, ``rows_written`` the smoothed rows.
    """
    started = datetime.now(UTC)
    require_service(options.api_url, None, allow_emulator=options.emulator)
    summary = PullSummary(
        run_id=f"smoothing-{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        settings=options.settings(),
    )
    images = _read_images(options)
    summary.images = len(images)
    lake = Lake(options.lake, options.fs_options())
    record = _record(options, summary, started)
    lake.write(run_rows(record), run_id=summary.run_id)
    writer = SmoothedWriter(lake, summary.run_id)
    in_flight = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
    try:
        async with connect(
            api_url=options.api_url,
            emulator_state=options.emulator_state,
            allow_emulator=options.emulator,
        ) as service:
            if service.embedded_emulator:
                get_run_logger().info("No Haut.AI credentials: using the embedded emulator")
            record = replace(record, service=await service.identify())
            check_one_kind_of_service(
                lake, record.service or "unknown", allow_mixed=options.allow_mixed_services
            )

            async def one(chunk: Sequence[UploadedImage]) -> list[str]:
                async with in_flight:
                    return await pull_chunk(
                        service.client,
                        quote(chunk),
                        quote(summary.settings),
                        writer,
                        summary.run_id,
                    )

            pieces = chunks(images, options.chunk_size)
            for missing in await asyncio.gather(*(one(chunk) for chunk in pieces)):
                summary.missing.extend(missing)
    except BaseException as exc:
        await writer.flush()  # what was read before the failure is kept
        failed = replace(
            record,
            status="failed",
            finished_at=datetime.now(UTC),
            rows_written=writer.rows_written,
            error=redact(repr(exc)),
        )
        lake.write(run_rows(failed), run_id=summary.run_id)
        raise
    await writer.flush()
    summary.rows_written = writer.rows_written
    done = replace(
        record,
        status="completed",
        finished_at=datetime.now(UTC),
        images_complete=summary.images - len(summary.missing),
        images_failed=len(summary.missing),
        rows_written=summary.rows_written,
    )
    lake.write(run_rows(done), run_id=summary.run_id)
    create_views(options.lake, options.views_path, storage_options=options.fs_options())
    return summary


async def compare_smoothing(options: SmoothingOptions) -> Comparison:
    """Ask the API for the lake's complete images and compare with the lake's own smoothing.

    Reads only: nothing is written, no Prefect server is needed. The answers go chunk by chunk
    into a DuckDB table of the comparison's connection, so memory stays bounded by a chunk.
    """
    images = _read_images(options)
    settings = options.settings()
    con = connect_lake(options.lake, storage_options=options.fs_options())
    try:
        answers = ApiAnswers(con)
        in_flight = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
        async with connect(
            api_url=options.api_url,
            emulator_state=options.emulator_state,
            allow_emulator=options.emulator,
        ) as service:

            async def one(chunk: Sequence[UploadedImage]) -> None:
                async with in_flight:
                    outcome = await pull_smoothed(service.client, chunk, settings, run_id="compare")
                answers.add(outcome.rows, outcome.missing)

            try:
                # A TaskGroup stops the other chunks when one fails (a service that is down).
                async with asyncio.TaskGroup() as group:
                    for chunk in chunks(images, options.chunk_size):
                        group.create_task(one(chunk))
            except BaseExceptionGroup as errors:
                raise first_error(errors) from errors
        return compare(con, answers, settings, subjects=options.subjects)
    finally:
        con.close()
