"""The terminal face of an ingest run: progress bars per stage, the summary, the exit code."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.ingest import ingest
from flows.options import IngestOptions
from flows.summary import RunSummary
from haut.errors import AuthError
from hautflow.exit_policy import FailOn
from hautflow.settings import ConfigurationError
from tasks.discovery import DiscoveryError
from tasks.ledger import LedgerBusyError
from tasks.progress import Stage, reporting_to
from tasks.uploading import DatasetConflictError

console = Console(stderr=True)

USER_ERRORS: tuple[type[Exception], ...] = (
    DiscoveryError,
    DatasetConflictError,
    LedgerBusyError,
    ConfigurationError,
    AuthError,
)
"""Failures the user fixes (the message says how): printed without a traceback."""

TRY_QUERY = (
    "SELECT subject_key, session_key, side, redness, acne "
    "FROM image_metrics_wide ORDER BY captured_at LIMIT 10"
)


class RichStageProgress:
    """One bar per stage of the run."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._bars = {stage: progress.add_task(stage.value, total=None) for stage in Stage}

    def set_total(self, stage: Stage, total: int) -> None:
        self._progress.update(self._bars[stage], total=total)

    def advance(self, stage: Stage, amount: int = 1) -> None:
        self._progress.advance(self._bars[stage], amount)


def run_ingest(options: IngestOptions) -> RunSummary:
    """Run the flow with progress bars on the terminal."""
    columns = (
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bars, reporting_to(RichStageProgress(bars)):
        return asyncio.run(ingest(options))


def print_summary(summary: RunSummary, options: IngestOptions) -> None:
    record = summary.record
    table = Table(title=f"Ingest run {record.run_id}: {record.status}")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for row in summary.stage_rows():
        table.add_row(str(row["stage"]), str(row["count"]))
    console.print(table)
    if summary.quarantined:
        quarantine = Table(title="Quarantined files")
        for column in ("file", "reason", "fix"):
            quarantine.add_column(column, overflow="fold")
        for held in summary.quarantine_rows():
            quarantine.add_row(held["file"], held["reason"], held["fix"])
        console.print(quarantine)
    for capture, error in summary.failed:
        console.print(f"[red]failed[/] {capture.key}: {error} (the next run resumes it)")
    if options.dry_run:
        console.print("Dry run: nothing was uploaded or written.")
        return
    console.print(f"Lake: {options.lake}   views: {options.views_path}")
    console.print(f"Try: duckdb {options.views_path} -c {TRY_QUERY!r}")


def exit_code(summary: RunSummary, fail_on: FailOn) -> int:
    record = summary.record
    unfinished = bool(summary.failed or record.images_pending or record.images_failed)
    if fail_on is FailOn.NEVER:
        return 0
    if fail_on is FailOn.FAILURE:
        return 1 if unfinished else 0
    return 0 if summary.ok else 1
