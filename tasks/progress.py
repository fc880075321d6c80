"""Progress of an ingest run, stage by stage, for whoever is watching.

The command line shows bars; a scheduled run logs nothing extra. The flow reports through
:func:`current`, so the reporter is chosen by the caller and never passed as a flow parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Protocol


class Stage(StrEnum):
    """The stages of an ingest run, in order."""

    DISCOVERED = "discovered"
    UPLOADED = "uploaded"
    RESULTS = "results received"
    WRITTEN = "written"


class StageProgress(Protocol):
    """Receives how far each stage has come."""

    def set_total(self, stage: Stage, total: int) -> None: ...

    def advance(self, stage: Stage, amount: int = 1) -> None: ...


class SilentProgress:
    """Reports nowhere: the default."""

    def set_total(self, stage: Stage, total: int) -> None:
        return None

    def advance(self, stage: Stage, amount: int = 1) -> None:
        return None


_SILENT = SilentProgress()
_reporter: ContextVar[StageProgress | None] = ContextVar("hautflow_progress", default=None)


def current() -> StageProgress:
    """The reporter of the run in progress."""
    return _reporter.get() or _SILENT


@contextmanager
def reporting_to(progress: StageProgress) -> Iterator[StageProgress]:
    """Send the progress of runs started inside this block to ``progress``."""
    token = _reporter.set(progress)
    try:
        yield progress
    finally:
        _reporter.reset(token)
