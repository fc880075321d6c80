"""The end of a run: a summary for the terminal and the Prefect UI (table and markdown)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.exceptions import MissingContextError

from flows.options import IngestOptions
from haut.redaction import redact
from schemas.captures import Capture, QuarantinedFile
from tasks.lake import RunRecord
from tasks.uploading import Plan

if TYPE_CHECKING:
    from tasks.lake.plot import RunPlots

PLOTTED_SUBJECTS = 4
"""Subjects drawn in the run's report unless ``IngestOptions.report_plots`` says otherwise: the
first few by key of those the run wrote. Each plot is a PNG inside the markdown (a data URI,
15-25 KB), so a run of hundreds of people must not carry hundreds; ``hautflow history SUBJECT
--plot FILE.png`` draws anyone."""

PLOTS_BUDGET_S = 30.0
"""Seconds the run's end may spend on plots (each is a few DuckDB queries and a drawing, well
under a second on a local lake; a slow remote lake must not hold the run): past it, the report
goes out without them."""

_NOT_DRAWN = "Skin-diary plots not drawn for the run report (the data written is unaffected): %s"


@dataclass(frozen=True)
class RunSummary:
    """What one ingest run did, and what it could not."""

    record: RunRecord
    quarantined: Sequence[QuarantinedFile] = ()
    failed: Sequence[tuple[Capture, str]] = ()
    plan: Plan | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when nothing was quarantined, failed or left pending."""
        r = self.record
        return not (self.quarantined or self.failed or r.images_pending or r.images_failed)

    def stage_rows(self) -> list[dict[str, object]]:
        r = self.record
        return [
            {"stage": "files seen", "count": r.files_seen},
            {"stage": "captures discovered", "count": r.captures_discovered},
            {"stage": "captures already done (skipped)", "count": r.captures_skipped},
            {"stage": "captures new", "count": r.captures_new},
            {"stage": "captures resumed", "count": r.captures_resumed},
            {"stage": "images uploaded", "count": r.images_uploaded},
            {"stage": "images with complete results", "count": r.images_complete},
            {"stage": "images pending (next run)", "count": r.images_pending},
            {"stage": "images failed", "count": r.images_failed},
            {"stage": "rows written", "count": r.rows_written},
            {"stage": "files quarantined", "count": len(self.quarantined)},
        ]

    def quarantine_rows(self) -> list[dict[str, str]]:
        return [
            {
                "file": redact(q.uri),
                "reason": q.reason.value,
                "detail": redact(q.detail),
                "fix": q.fix,
            }
            for q in self.quarantined
        ]

    def markdown(self) -> str:
        r = self.record
        lines = [
            f"# Ingest run `{r.run_id}`: {r.status}",
            "",
            f"Source `{r.source}`.",
            "",
            "| stage | count |",
            "|---|---:|",
            *(f"| {row['stage']} | {row['count']} |" for row in self.stage_rows()),
        ]
        if self.quarantined:
            reasons = Counter(q.reason.value for q in self.quarantined)
            lines += ["", "## Quarantined", "", "| reason | files |", "|---|---:|"]
            lines += [f"| {reason} | {n} |" for reason, n in sorted(reasons.items())]
            lines += ["", "| file | reason | fix |", "|---|---|---|"]
            lines += [
                f"| `{row['file']}` | {row['reason']} | {row['fix']} |"
                for row in self.quarantine_rows()
            ]
        if self.failed:
            lines += ["", "## Failed (resumed by the next run)", ""]
            lines += [f"- `{capture.key}`: {error}" for capture, error in self.failed]
        return "\n".join(lines)


def plots_markdown(run_plots: RunPlots) -> str:
    """The report's section of skin-diary plots, each PNG embedded as a data URI (the Prefect
    UI renders those; it has no other place to fetch a picture from)."""
    if not run_plots.plots and not run_plots.problems:
        return ""
    shown = len(run_plots.plots)
    lines = [
        "",
        "## Skin diaries",
        "",
        f"{shown} of the {run_plots.subjects_written} subjects this run wrote (the first by key): "
        "face scores of the front photos, smoothed line on top. "
        f"Saved in {_code(redact(run_plots.folder))}; any subject: "
        "`hautflow history SUBJECT --plot FILE.png`.",
    ]
    if run_plots.problems:
        problems = len(run_plots.problems)
        lines += ["", f"{problems} plot(s) not drawn or not saved: see the run's log."]
    for plot in run_plots.plots:
        lines += ["", f"### {_code(plot.subject_key)}", "", f"![skin diary]({plot.data_uri()})"]
    return "\n".join(lines)


def _code(text: str) -> str:
    """``text`` as inline code that cannot end early or break the line: a subject key is a
    folder name, and may hold markdown (``*``, ``](``, ``#``), backticks or a newline."""
    flat = " ".join(text.replace("`", "").splitlines())
    return f"`{flat}`" if flat.strip() else "`?`"


async def draw_run_plots(
    summary: RunSummary, options: IngestOptions, budget_s: float = PLOTS_BUDGET_S
) -> RunPlots | None:
    """The run's plots, or None when it wrote nothing, plots are off (``report_plots`` 0), or
    drawing failed or outlasted ``budget_s`` (logged as a warning: a picture is never worth
    failing, or holding, an ingest whose data is already in the lake). A plot that fails alone
    is logged and left out; the others are kept."""
    # getattr: the option is new; a deployment's older options object has no such field.
    limit = int(getattr(options, "report_plots", PLOTTED_SUBJECTS))
    if summary.record.rows_written == 0 or limit <= 0:
        return None
    logger = _logger()
    try:
        from tasks.lake.plot import plot_run_subjects

        # The thread cannot be cancelled: the deadline stops it starting another subject.
        run_plots = await asyncio.wait_for(
            asyncio.to_thread(
                plot_run_subjects,
                options.lake,
                summary.record.run_id,
                storage_options=options.fs_options(),
                limit=limit,
                deadline=time.monotonic() + budget_s,
            ),
            timeout=budget_s,
        )
    except TimeoutError:
        logger.warning(_NOT_DRAWN, f"they took more than {budget_s:g} s")
        return None
    except Exception as exc:
        logger.warning(_NOT_DRAWN, redact(f"{exc.__class__.__name__}: {exc}"))
        return None
    for problem in run_plots.problems:
        logger.warning("Skin-diary plot left out of the run report: %s", problem)
    return run_plots


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger (its lines reach the Prefect UI), or the module's outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


async def publish_summary(summary: RunSummary, options: IngestOptions) -> None:
    """Attach the summary to the flow run as a table and a markdown artifact (with plots)."""
    await acreate_table_artifact(
        summary.stage_rows(), key="ingest-summary", description=f"Ingest of {options.source}"
    )
    run_plots = await draw_run_plots(summary, options)
    report = summary.markdown() + (plots_markdown(run_plots) if run_plots else "")
    await acreate_markdown_artifact(
        report, key="ingest-report", description=f"Ingest of {options.source}"
    )
