"""The end of an ingest run in Prefect: its warnings logged, its report attached to the flow run.

Wiring only: the summary, its warnings and the plots are worked out in :mod:`tasks.reporting`;
this module runs them with the flow run's logger and publishes them as Prefect artifacts (a
table and a markdown report).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.exceptions import MissingContextError

from flows.options import IngestOptions
from tasks.reporting.report import draw_run_plots, plots_markdown
from tasks.reporting.summary import RunSummary
from tasks.reporting.warnings import run_warnings


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger (its lines reach the Prefect UI), or the module's outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


async def with_warnings(summary: RunSummary, options: IngestOptions) -> RunSummary:
    """``summary`` with its :attr:`~RunSummary.warnings` (the lake read in a thread)."""
    warnings = await asyncio.to_thread(run_warnings, summary, options, log=_logger())
    return replace(summary, warnings=tuple(warnings))


async def publish_summary(summary: RunSummary, options: IngestOptions) -> None:
    """Attach the summary to the flow run as a table and a markdown artifact (with plots),
    and log its warnings (:func:`with_warnings` worked them out)."""
    await acreate_table_artifact(
        summary.stage_rows(), key="ingest-summary", description=f"Ingest of {options.source}"
    )
    logger = _logger()
    for warning in summary.warnings:
        logger.warning("%s", warning)
    run_plots = await draw_run_plots(summary, options, log=logger)
    report = summary.markdown() + (plots_markdown(run_plots) if run_plots else "")
    await acreate_markdown_artifact(
        report, key="ingest-report", description=f"Ingest of {options.source}"
    )
