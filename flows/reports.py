"""The reports flow: the latest PDF report of each subject (or of the given ones) into the lake.

The thing to schedule weekly: each run downloads a report only for an image that has none yet
(see :mod:`tasks.operations.reports` for the layout, under ``reports/pdf``), so a subject with no
new photos costs nothing. One image's failure does not stop the others: each is logged, the
rest are written, and the run fails at the end naming the failed images, so a schedule shows
it. It talks to the service the way the ingest does (``api_url``, the settings, or the embedded
emulator kept in ``state_dir``), so with no credentials it reaches the emulator the ingest used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import Field, Secret

from flows.options import DEFAULT_LAKE, DEFAULT_STATE, ServiceOptions
from schemas.errors import HautflowError
from tasks.lake import Lake
from tasks.operations.reports import (
    REPORTS_FOLDER,
    ReportImage,
    ReportOutcome,
    ReportRun,
    latest_images,
    write_reports,
)
from tasks.service.connection import connect, require_service


class ReportOptions(ServiceOptions):
    """Options of one reports run (the flow's parameter; deployments pass it as JSON)."""

    lake: str = Field(
        DEFAULT_LAKE, description=f"The Parquet lake; reports go to its {REPORTS_FOLDER}/"
    )
    state_dir: str = Field(DEFAULT_STATE, description="Where the embedded emulator's state is")
    subjects: list[str] | None = Field(None, description="Subject keys; None: every subject")
    overwrite: bool = Field(False, description="Download again reports already written")
    storage_options: Secret[dict[str, Any]] | None = Field(
        None, description="fsspec options (e.g. endpoint, key, secret) for a bucket lake"
    )

    def open_lake(self) -> Lake:
        options = None if self.storage_options is None else self.storage_options.get_secret_value()
        return Lake(self.lake, options)


class ReportsFailedError(HautflowError, RuntimeError):
    """Some reports could not be written; the others were."""


@task(name="latest-images", cache_policy=NO_CACHE)
def latest_images_task(options: ReportOptions) -> list[ReportImage]:
    return latest_images(options.open_lake(), options.subjects)


@task(name="write-reports", cache_policy=NO_CACHE)
async def write_reports_task(options: ReportOptions, images: list[ReportImage]) -> ReportRun:
    logger = get_run_logger()

    def failed(image: ReportImage, error: str) -> None:
        logger.error(
            "report of image %s (%s, %s %s) not written: %s",
            image.image_id,
            image.subject_key,
            image.session_key,
            image.side,
            error,
        )

    emulator_state = Path(options.state_dir) / "emulator.sqlite"
    async with connect(
        api_url=options.api_url, emulator_state=emulator_state, allow_emulator=options.emulator
    ) as connection:
        return await write_reports(
            connection.client,
            options.open_lake(),
            images,
            overwrite=options.overwrite,
            on_failure=failed,
        )


@flow(name="reports", log_prints=False)
async def reports(options: ReportOptions) -> list[ReportOutcome]:
    """Write the latest report of each subject (or ``options.subjects``) into the lake."""
    require_service(options.api_url, None, allow_emulator=options.emulator)
    images = latest_images_task(options)
    run = await write_reports_task(options, images) if images else ReportRun()
    get_run_logger().info(
        "reports: %d written, %d already there, %d failed, in %s",
        run.written,
        len(run.outcomes) - run.written,
        len(run.failed),
        options.open_lake().location(REPORTS_FOLDER),
    )
    if run.failed:
        failed = ", ".join(image.image_id for image, _ in run.failed)
        raise ReportsFailedError(
            f"{len(run.failed)} of {len(images)} reports were not written (images {failed}); "
            "the others were. The errors are in this run's log; the next run tries them again"
        )
    return run.outcomes
