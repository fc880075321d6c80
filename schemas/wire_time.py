"""Timestamps as the Haut.AI API writes and reads them, shared by the client and the emulator.

The API writes ``"YYYY-MM-DD HH:MM:SS"`` in UTC; in the wild it also sends ISO 8601 (with ``Z``
or an offset, sometimes fractional seconds) and the vendor guide shows ``"YYYY.MM.DD HH:MM:SS"``.
Every parsed value is an aware UTC datetime; a value without a zone is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"
_DOTTED_FORMATS = ("%Y.%m.%d %H:%M:%S", "%Y.%m.%d")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken as already UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_wire_time(moment: datetime) -> str:
    """``"YYYY-MM-DD HH:MM:SS"`` in UTC, the way the real API writes times."""
    return as_utc(moment).strftime(WIRE_FORMAT)


def parse_wire_time(value: str | datetime | date) -> datetime:
    """An aware UTC datetime from any time format the API or its guide uses.

    Accepts ``"YYYY-MM-DD HH:MM:SS"``, ISO 8601 (``Z``, offsets, fractional seconds, a bare
    date), ``"YYYY.MM.DD HH:MM:SS"``, and datetime/date objects. Raises ValueError otherwise.
    """
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    text = value.strip()
    for pattern in _DOTTED_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    # Python 3.11's fromisoformat reads "YYYY-MM-DD HH:MM:SS", "T", "Z", offsets and dates.
    return as_utc(datetime.fromisoformat(text))
