"""When ``hautflow ingest`` exits non-zero (its own module: the CLI imports it at start-up).

The rule itself is :class:`tasks.reporting.outcome.RunOutcome`; :class:`FailOn` lives next to it
and is named here for the command line.
"""

from __future__ import annotations

from tasks.reporting.outcome import FailOn

__all__ = ["FailOn"]
