"""Whether a run succeeded: the one rule behind its status, its ``ok`` and its exit code.

A finished ingest run left three kinds of things undone, in order of weight: images it could
not finish (failed, or pending at the results timeout: the next run resumes them), files it held
back (quarantined), and photos the service could not analyse (findings). :class:`RunOutcome`
says which, once; the runs row's status, the summary's ``ok`` and ``hautflow ingest
--fail-on`` all read it. Standard library only: the command line imports it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.lake import RunRecord


class FailOn(StrEnum):
    """When ``hautflow ingest`` exits non-zero."""

    QUARANTINE = "quarantine"  # anything quarantined, not analysable, failed or left pending
    FAILURE = "failure"  # only failed or pending images
    NEVER = "never"


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run left undone."""

    unfinished: bool
    """Images failed or left pending: the next run resumes them."""
    quarantined: bool
    """Files held back with a reason."""
    findings: bool
    """Photos the service could not analyse (no face...)."""

    @classmethod
    def of(
        cls,
        record: RunRecord,
        *,
        quarantined: int = 0,
        failed: int = 0,
        unanalysed: int = 0,
    ) -> RunOutcome:
        """The outcome of the run ``record`` counts; ``quarantined``, ``failed`` (captures)
        and ``unanalysed`` are the lengths of the summary's lists, which the flow's record
        agrees with: either one saying so counts."""
        return cls(
            unfinished=bool(failed or record.images_failed or record.images_pending),
            quarantined=bool(quarantined or record.quarantined),
            findings=bool(unanalysed or record.images_no_face),
        )

    @property
    def status(self) -> str:
        """The runs row's status of a run that finished (the heaviest thing left undone)."""
        if self.unfinished:
            return "incomplete"
        if self.quarantined:
            return "completed_with_quarantine"
        return "completed_with_findings" if self.findings else "completed"

    @property
    def ok(self) -> bool:
        """True when nothing was left undone at all."""
        return not (self.unfinished or self.quarantined or self.findings)

    def trips(self, fail_on: FailOn) -> bool:
        """Whether the run fails at the level ``fail_on``."""
        if fail_on is FailOn.NEVER:
            return False
        if fail_on is FailOn.FAILURE:
            return self.unfinished
        return not self.ok

    def exit_code(self, fail_on: FailOn) -> int:
        """``hautflow ingest``'s exit code at the level ``fail_on``: 1 when it trips, else 0."""
        return 1 if self.trips(fail_on) else 0
