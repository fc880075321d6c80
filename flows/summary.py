"""The end of a run: a summary for the terminal and the Prefect UI (table and markdown)."""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import TYPE_CHECKING

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.exceptions import MissingContextError

from flows.options import IngestOptions
from haut.redaction import redact
from schemas.captures import Capture, QuarantinedFile, QuarantineReason, Side, UnanalysedImage
from tasks.lake import Lake, RunRecord
from tasks.reporting.outcome import RunOutcome
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

PLAN_ROWS_SHOWN = 50
"""Captures a dry run lists one by one (then "... and N more"): enough to check the sorting of
a folder by eye, not a wall of text for a folder of thousands."""

_MANIFEST_LINE = re.compile(r" line (\d+): ")
"""How a bad manifest row names its line in the detail (tasks/discovery/manifest.py BadRow)."""

_NOT_DRAWN = "Skin-diary plots not drawn for the run report (the data written is unaffected): %s"


@dataclass(frozen=True)
class RunSummary:
    """What one ingest run did, and what it could not."""

    record: RunRecord
    quarantined: Sequence[QuarantinedFile] = ()
    failed: Sequence[tuple[Capture, str]] = ()
    unanalysed: Sequence[UnanalysedImage] = ()
    """Photos the service could not analyse (no face...): findings, listed with the fix."""
    plan: Plan | None = field(default=None, repr=False)
    awaiting: frozenset[tuple[str, str]] = field(default=frozenset(), repr=False)
    """Captures (subject key, session key) with images at the API whose results are not in the
    lake yet: the next ingest writes them (carried over), so no backfill is needed for them."""
    warnings: tuple[str, ...] = ()
    """What the counts alone would hide (:func:`run_warnings`), worked out once at the run's
    end: the terminal and the Prefect report both show these."""

    @property
    def outcome(self) -> RunOutcome:
        """What the run left undone: the one rule behind its status, ``ok`` and exit code."""
        return RunOutcome.of(
            self.record,
            quarantined=len(self.quarantined),
            failed=len(self.failed),
            unanalysed=len(self.unanalysed),
        )

    @property
    def ok(self) -> bool:
        """True when nothing was quarantined, failed, left pending or found unanalysable."""
        return self.outcome.ok

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
            {"stage": "images not analysable (no face)", "count": r.images_no_face},
            {"stage": "images pending (next run)", "count": r.images_pending},
            {"stage": "images failed", "count": r.images_failed},
            {"stage": "rows written", "count": r.rows_written},
            {"stage": "files quarantined", "count": len(self.quarantined)},
        ]

    def quarantine_rows(self) -> list[dict[str, str]]:
        """One row per quarantined file; ``line`` is the manifest line of a bad manifest row
        (empty otherwise), since the user edits the manifest by line."""
        return [
            {
                "file": redact(q.uri),
                "line": manifest_line(q),
                "reason": q.reason.value,
                "detail": redact(q.detail),
                "fix": q.fix,
            }
            for q in self.quarantined
        ]

    def unanalysed_rows(self) -> list[dict[str, str]]:
        """One row per photo the service could not analyse: the file, its words, the fix."""
        return [
            {
                "file": redact(u.image.source.uri),
                "subject": u.image.subject_key,
                "session": u.image.session_key,
                "finding": u.finding,
                "fix": u.fix,
            }
            for u in self.unanalysed
        ]

    def quarantine_columns(self) -> list[str]:
        """The columns of :meth:`quarantine_rows` to show: ``line`` only when some file is a
        bad manifest row (the user edits the manifest by line), else it is an empty column."""
        columns = ["file", "line", "reason", "fix"]
        if not any(manifest_line(q) for q in self.quarantined):
            columns.remove("line")
        return columns

    def plan_rows(self) -> list[dict[str, str]]:
        """What the run uploads (a dry run: would upload), capture by capture: resumed ones
        first, as the uploader takes them."""
        if self.plan is None:
            return []
        resumed = {capture.capture_id for capture in self.plan.resume}
        return [
            {
                "subject": capture.subject_key,
                "session": capture.session_key,
                "sides": "+".join(image.side.value for image in capture.images),
                "images": str(len(capture.images)),
                "captured at": _captured_at(capture),
                "action": "resume" if capture.capture_id in resumed else "new",
            }
            for capture in self.plan.to_upload
        ]

    def markdown(self) -> str:
        """The report as markdown; the :attr:`warnings` go under the counts."""
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
        for warning in self.warnings:
            lines += ["", f"**Warning:** {warning}"]
        if r.status == "dry-run":
            lines += self._plan_markdown()
        if self.quarantined:
            reasons = Counter(q.reason.value for q in self.quarantined)
            lines += ["", "## Quarantined", "", "| reason | files |", "|---|---:|"]
            lines += [f"| {reason} | {n} |" for reason, n in sorted(reasons.items())]
            held = self.quarantine_rows()
            columns = self.quarantine_columns()
            lines += ["", _markdown_row(columns), "|" + "---|" * len(columns)]
            lines += [
                _markdown_row([_code(row[c]) if c == "file" else row[c] for c in columns])
                for row in held
            ]
        if self.unanalysed:
            lines += ["", "## Not analysable (the service's finding)", ""]
            lines += ["| file | finding | fix |", "|---|---|---|"]
            lines += [
                _markdown_row([_code(row["file"]), row["finding"], row["fix"]])
                for row in self.unanalysed_rows()
            ]
        if self.failed:
            lines += ["", "## Failed (resumed by the next run)", ""]
            lines += [f"- `{capture.key}`: {error}" for capture, error in self.failed]
        return "\n".join(lines)

    def _plan_markdown(self) -> list[str]:
        rows = self.plan_rows()
        if not rows:
            return ["", "## Plan", "", "Nothing to upload."]
        columns = list(rows[0])
        code = ("subject", "session")  # folder names: may hold markdown
        lines = ["", "## Plan", "", _markdown_row(columns), "|" + "---|" * len(columns)]
        lines += [
            _markdown_row([_code(row[c]) if c in code else row[c] for c in columns])
            for row in rows[:PLAN_ROWS_SHOWN]
        ]
        if len(rows) > PLAN_ROWS_SHOWN:
            lines += ["", f"... and {len(rows) - PLAN_ROWS_SHOWN} more."]
        return lines


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def manifest_line(held: QuarantinedFile) -> str:
    """The manifest line a bad manifest row came from ("" for any other quarantined file)."""
    if held.reason is not QuarantineReason.BAD_MANIFEST_ROW:
        return ""
    found = _MANIFEST_LINE.search(held.detail) or re.search(r"#L(\d+)$", held.uri)
    return found.group(1) if found else ""


def _captured_at(capture: Capture) -> str:
    """The capture time as the lake will hold it, and where it was read (exif, folder...)."""
    front = next((i for i in capture.images if i.side is Side.FRONT), capture.images[0])
    when = front.captured_at
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return f"{when:%Y-%m-%d %H:%M:%S} UTC ({front.captured_at_source})"


def run_warnings(summary: RunSummary, options: IngestOptions) -> list[str]:
    """Every warning of the run's end: a new ledger rebuilt from the lake or the API
    (:mod:`tasks.uploading.recovery`), :func:`dataset_warnings`, then :func:`lake_warnings`
    (which reads the lake: called once per run, by :func:`with_warnings`)."""
    recovered = summary.plan.recovered if summary.plan is not None else None
    recovery = recovered.messages(redact(options.lake), options.dataset) if recovered else []
    return recovery + dataset_warnings(summary, options) + lake_warnings(summary, options)


async def with_warnings(summary: RunSummary, options: IngestOptions) -> RunSummary:
    """``summary`` with its :attr:`~RunSummary.warnings` (the lake read in a thread)."""
    warnings = await asyncio.to_thread(run_warnings, summary, options)
    return replace(summary, warnings=tuple(warnings))


def dataset_warnings(summary: RunSummary, options: IngestOptions) -> list[str]:
    """Captures skipped as done that went to another dataset than this run's: the ledger knows
    a photo once per state, whatever the dataset, so a run with another ``--dataset`` on the
    same ``--state`` uploads none of them again, which the counts alone do not say."""
    elsewhere = summary.plan.done_elsewhere if summary.plan is not None else ()
    run = options.dataset
    return [
        f"{n} {'capture' if n == 1 else 'captures'} skipped as already done "
        f"{'was' if n == 1 else 'were'} analysed into dataset {name!r}, not {run!r}: each photo "
        f"is analysed once per --state; to analyse {'it' if n == 1 else 'them'} into {run!r} "
        "too, use another --state"
        for name, n in elsewhere
    ]


def lake_warnings(summary: RunSummary, options: IngestOptions) -> list[str]:
    """What the counts alone would hide: captures the ledger calls done (so the run skips
    them) that have no image in this lake, i.e. an existing ``--state`` pointed at a new or
    emptied ``--lake``. The run itself then writes nothing for them, silently; a backfill does.

    Captures with images still awaiting their results (``summary.awaiting``: a run stopped
    while waiting, or timed out) are left out: the next ingest writes those, carried over.
    Reads only the images table's key columns. Never fails the run: a lake that cannot be read
    here is logged and gives no warning.
    """
    done = summary.plan.done if summary.plan is not None else ()
    written = [c for c in done if (c.subject_key, c.session_key) not in summary.awaiting]
    if not written:
        return []
    try:
        missing = _missing_from_lake(written, Lake(options.lake, options.fs_options()))
    except Exception as exc:
        _logger().warning(
            "Could not check the lake for the skipped captures' images: %s",
            redact(f"{exc.__class__.__name__}: {exc}"),
        )
        return []
    if not missing:
        return []
    ledger_url = " (with HAUTFLOW_LEDGER_URL set)" if options.ledger_url is not None else ""
    awaiting = len(done) - len(written)
    carried = ""
    if awaiting == 1:
        carried = " The other one awaits its results: the next ingest writes it."
    elif awaiting:
        carried = f" The other {awaiting} await their results: the next ingest writes them."
    return [
        f"{missing} of the {len(done)} captures skipped as already done have no image in this "
        f"lake ({redact(options.lake)}): earlier runs analysed them into another lake. The "
        "ingest never uploads them again; to write them here, run "
        f"`{backfill_command(options)}`{ledger_url}.{carried}"
    ]


def _missing_from_lake(done: Sequence[Capture], lake: Lake) -> int:
    """How many of ``done`` have no row in the lake's images table (by subject and session)."""
    files = lake.files("images")
    if not files:
        return len(done)
    import pyarrow.dataset as ds

    table = ds.dataset(files, filesystem=lake.fs, format="parquet").to_table(
        columns=["subject_key", "session_key"]
    )
    present = set(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return sum(1 for c in done if (c.subject_key, c.session_key) not in present)


def backfill_command(options: IngestOptions) -> str:
    """The ``hautflow backfill`` command that writes this ingest's uploaded images into its
    lake: same lake, state, dataset, service and credentials block (backfill has no flag for
    it: ``HAUT_CREDENTIALS_BLOCK``, which it reads like the ingest does). The ledger URL holds
    a password, so it is never printed: backfill reads it from ``HAUTFLOW_LEDGER_URL``, and
    the caller says so."""
    args = ["hautflow", "backfill", "--lake", options.lake, "--state", options.state_dir]
    if options.dataset != IngestOptions.model_fields["dataset"].default:
        args += ["--dataset", options.dataset]
    if options.api_url:
        args += ["--api-url", options.api_url]
    command = shlex.join(args)
    if options.credentials_block:
        command = f"HAUT_CREDENTIALS_BLOCK={shlex.quote(options.credentials_block)} {command}"
    return redact(command)


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
    """Attach the summary to the flow run as a table and a markdown artifact (with plots),
    and log its warnings (:func:`with_warnings` worked them out)."""
    await acreate_table_artifact(
        summary.stage_rows(), key="ingest-summary", description=f"Ingest of {options.source}"
    )
    for warning in summary.warnings:
        _logger().warning("%s", warning)
    run_plots = await draw_run_plots(summary, options)
    report = summary.markdown() + (plots_markdown(run_plots) if run_plots else "")
    await acreate_markdown_artifact(
        report, key="ingest-report", description=f"Ingest of {options.source}"
    )
