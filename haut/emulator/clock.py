"""The emulator's clock: wall time plus an offset that tests move forward.

Token expiry, processing delays, rate limits and retention all read this clock, so a test
can make an hour pass in a millisecond. Times on the wire are written and read by
:mod:`schemas.wire_time`, shared with the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class EmulatorClock:
    """Wall-clock time shifted by ``offset_seconds`` (which only grows)."""

    def __init__(self, offset_seconds: float = 0.0, wall: Callable[[], float] = time.time):
        self.offset_seconds = offset_seconds
        self._wall = wall

    def timestamp(self) -> float:
        return self._wall() + self.offset_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        self.offset_seconds += seconds


def moment(timestamp: float) -> datetime:
    """The UTC datetime of an emulator-clock timestamp (format it with schemas.wire_time)."""
    return datetime.fromtimestamp(timestamp, UTC)
