"""One rule decides whether a run succeeded: the runs row's status, the summary's ``ok`` and
``hautflow ingest --fail-on`` read the same :class:`RunOutcome`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hautflow.exit_policy import FailOn
from hautflow.ingest_cli import exit_code
from schemas.captures import Capture
from tasks.lake import RunRecord
from tasks.reporting.outcome import RunOutcome
from tasks.reporting.summary import RunSummary

Q, F, N = FailOn.QUARANTINE, FailOn.FAILURE, FailOn.NEVER

# failed images, pending images, quarantined files, photos with no face
#   -> status, ok, exit code at --fail-on quarantine / failure / never
OUTCOMES = [
    ((0, 0, 0, 0), "completed", True, {Q: 0, F: 0, N: 0}),
    ((0, 0, 0, 1), "completed_with_findings", False, {Q: 1, F: 0, N: 0}),
    ((0, 0, 1, 0), "completed_with_quarantine", False, {Q: 1, F: 0, N: 0}),
    ((0, 0, 1, 1), "completed_with_quarantine", False, {Q: 1, F: 0, N: 0}),
    ((0, 1, 0, 0), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((0, 1, 0, 1), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((0, 1, 1, 0), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((0, 1, 1, 1), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 0, 0, 0), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 0, 0, 1), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 0, 1, 0), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 0, 1, 1), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 1, 0, 0), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 1, 0, 1), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 1, 1, 0), "incomplete", False, {Q: 1, F: 1, N: 0}),
    ((1, 1, 1, 1), "incomplete", False, {Q: 1, F: 1, N: 0}),
]


def _record(failed: int, pending: int, quarantined: int, no_face: int) -> RunRecord:
    return RunRecord(
        run_id="r",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        source="data/sample",
        status="running",
        images_failed=failed,
        images_pending=pending,
        quarantined=quarantined,
        images_no_face=no_face,
    )


def test_the_table_covers_every_combination() -> None:
    assert sorted(counts for counts, *_ in OUTCOMES) == [
        (a, b, c, d) for a in (0, 1) for b in (0, 1) for c in (0, 1) for d in (0, 1)
    ]


@pytest.mark.parametrize(("counts", "status", "ok", "codes"), OUTCOMES)
def test_status_ok_and_exit_codes_come_from_one_outcome(
    counts: tuple[int, int, int, int], status: str, ok: bool, codes: dict[FailOn, int]
) -> None:
    outcome = RunOutcome.of(_record(*counts))
    assert (outcome.status, outcome.ok) == (status, ok)
    assert {level: outcome.exit_code(level) for level in FailOn} == codes
    # The summary and the command line read the same outcome.
    summary = RunSummary(record=_record(*counts))
    assert summary.ok is ok
    assert {level: exit_code(summary, level) for level in FailOn} == codes


@pytest.mark.parametrize(("counts", "status", "ok", "codes"), OUTCOMES)
def test_the_summary_lists_count_like_the_record(
    counts: tuple[int, int, int, int], status: str, ok: bool, codes: dict[FailOn, int]
) -> None:
    """A summary's failed captures, quarantined files and findings weigh as the record's
    counts of them do."""
    failed, pending, quarantined, no_face = counts
    outcome = RunOutcome.of(
        _record(0, pending, 0, 0), failed=failed, quarantined=quarantined, unanalysed=no_face
    )
    assert (outcome.status, outcome.ok) == (status, ok)
    assert {level: outcome.exit_code(level) for level in FailOn} == codes


def test_a_failed_capture_fails_the_summary_whatever_the_counts() -> None:
    capture = Capture.__new__(Capture)  # only counted
    summary = RunSummary(record=_record(0, 0, 0, 0), failed=[(capture, "boom")])
    assert not summary.ok
    assert exit_code(summary, FailOn.FAILURE) == 1
    assert exit_code(summary, FailOn.NEVER) == 0
