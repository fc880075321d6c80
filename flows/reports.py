"""The reports flow: the latest PDF report of each subject (or of the given ones) into the lake.

The thing to schedule weekly: each run downloads a report only for an image that has none yet
(see :mod:`tasks.operations.reports` for the layout, under ``reports/pdf``), so a subject with no
new photos costs nothing. One image's failure does not stop the others: each is logged, the
rest are written, and the run fails at the end naming the failed images, so a schedule shows
it. It talks to the service the way the ingest does (``api_url``, the settings, or the embedded
emulator kept in ``state_dir``), so with no credentials it reaches the emulator the ingest used.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.options import ReportOptions
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


def _open_lake(options: ReportOptions) -> Lake:
    return Lake(options.lake, options.fs_options())


class ReportsFailedError(HautflowError, RuntimeError):
    """Some reports could not be written; the others were."""


@task(name="latest-images", cache_policy=NO_CACHE)
def latest_images_task(options: ReportOptions) -> list[ReportImage]:
    return latest_images(_open_lake(options), options.subjects)


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

    async with connect(
        api_url=options.api_url,
        emulator_state=options.emulator_state,
        allow_emulator=options.emulator,
    ) as connection:
        return await write_reports(
            connection.client,
            _open_lake(options),
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
        _open_lake(options).location(REPORTS_FOLDER),
    )
    if run.failed:
        failed = ", ".join(image.image_id for image, _ in run.failed)
        raise ReportsFailedError(
            f"{len(run.failed)} of {len(images)} reports were not written (images {failed}); "
            "the others were. The errors are in this run's log; the next run tries them again"
        )
    return run.outcomes
