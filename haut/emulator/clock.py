"""The emulator's clock: wall time plus an offset that tests move forward.

Token expiry, processing delays, rate limits and retention all read this clock, so a test
can make an hour pass in a millisecond.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime

WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"
_ACCEPTED_FORMATS = (WIRE_FORMAT, "%Y.%m.%d %H:%M:%S", "%Y-%m-%d", "%Y.%m.%d")


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


def wire_time(moment: float | datetime) -> str:
    """``"YYYY-MM-DD HH:MM:SS"`` in UTC, the way the real API writes times."""
    if isinstance(moment, float | int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime(WIRE_FORMAT)


def parse_time(text: str) -> datetime:
    """A UTC datetime from the wire format, ``YYYY.MM.DD HH:MM:SS``, or ISO 8601 (date or time).

    Raises ValueError for anything else.
    """
    text = text.strip()
    for pattern in _ACCEPTED_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    parsed = datetime.fromisoformat(iso)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
