"""When ``hautflow ingest`` exits non-zero (its own module: the CLI imports it at start-up)."""

from __future__ import annotations

from enum import StrEnum


class FailOn(StrEnum):
    """When ``hautflow ingest`` exits non-zero."""

    QUARANTINE = "quarantine"  # anything quarantined, not analysable, failed or left pending
    FAILURE = "failure"  # only failed or pending images
    NEVER = "never"
