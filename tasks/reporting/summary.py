"""What one ingest run did, as tables and markdown: for the terminal, ``--json`` and the
Prefect report.

:class:`RunSummary` holds the run's record and its lists (quarantined files, failed captures,
photos not analysable, the plan of a dry run); whether the run succeeded is its
:attr:`~RunSummary.outcome` (:mod:`tasks.reporting.outcome`). Pure: it reads no lake and
draws nothing (:mod:`tasks.reporting.warnings` and :mod:`tasks.reporting.report` do).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC

from haut.redaction import redact
from schemas.captures import Capture, QuarantinedFile, QuarantineReason, Side, UnanalysedImage
from tasks.lake import RunRecord
from tasks.reporting.outcome import RunOutcome
from tasks.uploading import Plan

PLAN_ROWS_SHOWN = 50
"""Captures a dry run lists one by one (then "... and N more"): enough to check the sorting of
a folder by eye, not a wall of text for a folder of thousands."""

_MANIFEST_LINE = re.compile(r" line (\d+): ")
"""How a bad manifest row names its line in the detail (tasks/discovery/manifest.py BadRow)."""


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
            lines += ["", markdown_row(columns), "|" + "---|" * len(columns)]
            lines += [
                markdown_row([inline_code(row[c]) if c == "file" else row[c] for c in columns])
                for row in held
            ]
        if self.unanalysed:
            lines += ["", "## Not analysable (the service's finding)", ""]
            lines += ["| file | finding | fix |", "|---|---|---|"]
            lines += [
                markdown_row([inline_code(row["file"]), row["finding"], row["fix"]])
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
        lines = ["", "## Plan", "", markdown_row(columns), "|" + "---|" * len(columns)]
        lines += [
            markdown_row([inline_code(row[c]) if c in code else row[c] for c in columns])
            for row in rows[:PLAN_ROWS_SHOWN]
        ]
        if len(rows) > PLAN_ROWS_SHOWN:
            lines += ["", f"... and {len(rows) - PLAN_ROWS_SHOWN} more."]
        return lines


def markdown_row(cells: Sequence[str]) -> str:
    """One row of a markdown table."""
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


def inline_code(text: str) -> str:
    """``text`` as inline code that cannot end early or break the line: a subject key is a
    folder name, and may hold markdown (``*``, ``](``, ``#``), backticks or a newline."""
    flat = " ".join(text.replace("`", "").splitlines())
    return f"`{flat}`" if flat.strip() else "`?`"
