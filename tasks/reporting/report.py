"""The run report's skin-diary plots: drawn for a few of the subjects a run wrote, within a
time budget, and their section of the markdown report (each PNG a data URI)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from haut.redaction import get_logger, redact
from tasks.reporting.options import RunOptions
from tasks.reporting.summary import RunSummary, inline_code
from tasks.reporting.warnings import Logger

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

_log = get_logger(__name__)


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
        f"Saved in {inline_code(redact(run_plots.folder))}; any subject: "
        "`hautflow history SUBJECT --plot FILE.png`.",
    ]
    if run_plots.problems:
        problems = len(run_plots.problems)
        lines += ["", f"{problems} plot(s) not drawn or not saved: see the run's log."]
    for plot in run_plots.plots:
        lines += [
            "",
            f"### {inline_code(plot.subject_key)}",
            "",
            f"![skin diary]({plot.data_uri()})",
        ]
    return "\n".join(lines)


async def draw_run_plots(
    summary: RunSummary,
    options: RunOptions,
    budget_s: float = PLOTS_BUDGET_S,
    *,
    log: Logger = _log,
) -> RunPlots | None:
    """The run's plots, or None when it wrote nothing, plots are off (``report_plots`` 0), or
    drawing failed or outlasted ``budget_s`` (logged as a warning: a picture is never worth
    failing, or holding, an ingest whose data is already in the lake). A plot that fails alone
    is logged and left out; the others are kept. ``log`` takes those lines (the flow's run
    logger, so they reach the Prefect UI)."""
    # getattr: the option is new; a deployment's older options object has no such field.
    limit = int(getattr(options, "report_plots", PLOTTED_SUBJECTS))
    if summary.record.rows_written == 0 or limit <= 0:
        return None
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
        log.warning(_NOT_DRAWN, f"they took more than {budget_s:g} s")
        return None
    except Exception as exc:
        log.warning(_NOT_DRAWN, redact(f"{exc.__class__.__name__}: {exc}"))
        return None
    for problem in run_plots.problems:
        log.warning("Skin-diary plot left out of the run report: %s", problem)
    return run_plots
