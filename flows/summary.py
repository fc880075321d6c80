"""The end of a run: a summary for the terminal and the Prefect UI (table and markdown)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from flows.options import IngestOptions
from haut.redaction import redact
from schemas.captures import Capture, QuarantinedFile
from tasks.lake import RunRecord
from tasks.uploading import Plan


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


async def publish_summary(summary: RunSummary, options: IngestOptions) -> None:
    """Attach the summary to the flow run as a table and a markdown artifact."""
    await acreate_table_artifact(
        summary.stage_rows(), key="ingest-summary", description=f"Ingest of {options.source}"
    )
    await acreate_markdown_artifact(
        summary.markdown(), key="ingest-report", description=f"Ingest of {options.source}"
    )
