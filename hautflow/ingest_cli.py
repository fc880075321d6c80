"""The terminal face of an ingest run: progress bars per stage, the summary, the exit code.

The progress bars go to stderr; the summary is the command's output and goes to stdout, so
``hautflow ingest ... > run.txt`` keeps it and a pipe gets no bars. ``--json`` makes that output
one JSON object (:func:`summary_json`) for a script to read.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from dataclasses import fields
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from flows.ingest import ingest
from flows.options import DEFAULT_LAKE, IngestOptions
from haut.errors import HautError
from haut.redaction import redact
from hautflow.cli_support import duckdb_shell
from hautflow.exit_policy import FailOn
from hautflow.failures import explain, prefect_errors_held_back, service_name
from hautflow.interrupts import stop_signals
from tasks.discovery import DiscoveryError
from tasks.lake.provenance import MixedServicesError
from tasks.ledger import LedgerBusyError
from tasks.ledger.location import ledger_path
from tasks.progress import Stage, reporting_to
from tasks.reporting.summary import PLAN_ROWS_SHOWN, RunSummary
from tasks.service.settings import ConfigurationError
from tasks.uploading import DatasetConflictError

console = Console(stderr=True)
"""Progress bars (and anything else that is not the command's result)."""
output = Console()
"""The run summary: the command's output, on stdout."""

USER_ERRORS: tuple[type[Exception], ...] = (
    DiscoveryError,
    DatasetConflictError,
    LedgerBusyError,
    ConfigurationError,
    HautError,
    MixedServicesError,
)
"""Failures the user fixes (:func:`failure_line` says how): one line, no traceback, exit 2."""

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
    with (
        prefect_errors_held_back(USER_ERRORS + stop_signals()),
        Progress(*columns, console=console) as bars,
        reporting_to(RichStageProgress(bars)),
    ):
        return asyncio.run(ingest(options))


RESUME = "run the same ingest again: it resumes where this one stopped"
"""What running an ingest again does after it failed or was stopped."""


def failure_line(error: BaseException, options: IngestOptions) -> str:
    """What the user reads when the run stopped on one of :data:`USER_ERRORS`."""
    return explain(
        error,
        service=service_name(options.api_url),
        again=RESUME,
        rate_fix="--requests-per-second or HAUT_REQUESTS_PER_SECOND",
    )


def summary_json(summary: RunSummary, options: IngestOptions) -> dict[str, object]:
    """The run as one JSON object: its id and status, the counts, the files quarantined and
    the photos not analysable (each with its reason and fix), failed captures, warnings, and
    where the results are; every text passed through :func:`redact`."""
    record = summary.record
    document: dict[str, object] = {
        "run_id": record.run_id,
        "status": record.status,
        "ok": summary.ok,
        "service": record.service,
        "counts": _counts(summary),
        "quarantined": summary.quarantine_rows(),
        "no_face": summary.unanalysed_rows(),
        "failed": [
            {"capture": capture.key, "error": error, "fix": "the next run resumes it"}
            for capture, error in summary.failed
        ],
        "warnings": list(summary.warnings),
        "lake": options.lake,
        "views": str(options.views_path),
    }
    if options.dry_run:
        document["plan"] = summary.plan_rows()
    return {key: _redacted(value) for key, value in document.items()}


def _counts(summary: RunSummary) -> dict[str, int]:
    """The run's counts by the names of the lake's ``runs`` columns: files_seen,
    images_pending, quarantined..."""
    record = summary.record
    return {
        f.name: getattr(record, f.name)
        for f in fields(record)
        if isinstance(getattr(record, f.name), int)
    }


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def print_json(document: object) -> None:
    """``document`` on stdout as one line of JSON (plain: no colour, no wrapping)."""
    typer.echo(json.dumps(document, default=str))


def print_summary(summary: RunSummary, options: IngestOptions) -> None:
    """The run's counts, warnings, plan (dry run), quarantined files and failures; then where
    the results are and commands that read them."""
    record = summary.record
    table = Table(title=f"Ingest run {record.run_id}: {record.status}")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for row in summary.stage_rows():
        table.add_row(str(row["stage"]), str(row["count"]))
    output.print(table)
    for warning in summary.warnings:
        output.print(f"Warning: {warning}", style="yellow", markup=False, highlight=False)
    if options.dry_run:
        _print_plan(summary)
    if summary.quarantined:
        _print_quarantine(summary)
    if summary.unanalysed:
        _print_unanalysed(summary)
    for capture, error in summary.failed:
        failed = Text.assemble(("failed", "red"), f" {capture.key}: {error}")
        output.print(failed.append(" (the next run resumes it)"), highlight=False)
    if options.dry_run:
        output.print(
            f"Dry run: nothing was uploaded and the lake was not written. {_ledger(options)}",
            markup=False,
        )
        return
    output.print(f"Lake: {redact(options.lake)}   views: {options.views_path}", markup=False)
    for line in try_lines(summary, options):
        # Commands to copy: never wrapped, never read as markup.
        output.print(line, soft_wrap=True, markup=False, highlight=False)


def _print_plan(summary: RunSummary) -> None:
    rows = summary.plan_rows()
    if not rows:
        output.print("Plan: nothing to upload.")
        return
    images = sum(int(row["images"]) for row in rows)
    plan = Table(title=f"Plan: {len(rows)} captures, {images} images to upload")
    for column in rows[0]:
        plan.add_column(column, justify="right" if column == "images" else "left")
    for row in rows[:PLAN_ROWS_SHOWN]:
        plan.add_row(*map(Text, row.values()))  # Text: a folder name is not markup
    output.print(plan)
    if len(rows) > PLAN_ROWS_SHOWN:
        output.print(f"... and {len(rows) - PLAN_ROWS_SHOWN} more captures.")


def _print_quarantine(summary: RunSummary) -> None:
    held = summary.quarantine_rows()
    columns = summary.quarantine_columns()
    quarantine = Table(title="Quarantined files")
    for column in columns:
        quarantine.add_column(
            "manifest line" if column == "line" else column,
            overflow="fold",
            justify="right" if column == "line" else "left",
        )
    for row in held:
        quarantine.add_row(*(Text(row[column]) for column in columns))
    output.print(quarantine)


def _print_unanalysed(summary: RunSummary) -> None:
    findings = Table(title="Photos the service could not analyse")
    for column in ("file", "finding", "fix"):
        findings.add_column(column, overflow="fold")
    for row in summary.unanalysed_rows():
        findings.add_row(Text(row["file"]), Text(row["finding"]), Text(row["fix"]))
    output.print(findings)


def _ledger(options: IngestOptions) -> str:
    """What a dry run did touch: it plans against the ledger, which it opens (and creates)."""
    if options.ledger_url is not None:
        return "Only the ledger was consulted, to plan."
    return (
        f"Only the ledger {ledger_path(options.state_dir)} was consulted, to plan "
        "(created empty if it was missing)."
    )


def try_lines(summary: RunSummary, options: IngestOptions) -> list[str]:
    """Commands that read what the run wrote, each working as printed: a subject's diary
    through hautflow, a query through the Python that runs hautflow (DuckDB is a dependency,
    the ``duckdb`` shell is not installed by the project), and the same query for that shell."""
    views = str(options.views_path.resolve())
    lines = []
    subjects = sorted(
        {c.subject_key for c in summary.plan.to_upload + summary.plan.done}
        if summary.plan is not None
        else ()
    )
    if subjects:
        # A lake URL may carry a credential (user info, a signed query): never printed.
        lake = [] if options.lake == DEFAULT_LAKE else ["--lake", redact(options.lake)]
        diary = shlex.join([_hautflow(), "history", subjects[0], *lake])
        lines.append(f"Try:  {diary}")
    # json.dumps: a Python string literal in double quotes, so shlex.quote wraps the whole
    # program in single quotes without escaping any.
    program = (
        f"import duckdb; print(duckdb.connect({json.dumps(views)}, read_only=True)"
        f".sql({json.dumps(TRY_QUERY)}))"
    )
    lines.append(f"Query: {shlex.quote(sys.executable)} -c {shlex.quote(program)}")
    shell = shlex.quote(duckdb_shell())
    lines.append(f"   or: {shell} {shlex.quote(views)} -c {shlex.quote(TRY_QUERY)}  (duckdb shell)")
    return lines


def _hautflow() -> str:
    """The command as the user typed it (``.venv/bin/hautflow``), or ``hautflow``."""
    typed = sys.argv[0] if sys.argv else ""
    return typed if Path(typed).name == "hautflow" else "hautflow"


def exit_code(summary: RunSummary, fail_on: FailOn) -> int:
    """The command's exit code: the run's :class:`~tasks.reporting.outcome.RunOutcome` at the
    ``--fail-on`` level."""
    return summary.outcome.exit_code(fail_on)
