"""The wire time formats: what the client writes, and every format it and the emulator read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from schemas.wire_time import format_wire_time, parse_wire_time

MOMENT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02 03:04:05",
        "2024-01-02T03:04:05Z",
        "2024-01-02T05:04:05+02:00",
        "2024.01.02 03:04:05",
        " 2024-01-02 03:04:05 ",
    ],
)
def test_every_wire_format_reads_as_the_same_utc_moment(text: str) -> None:
    parsed = parse_wire_time(text)
    assert parsed == MOMENT
    assert parsed.utcoffset() == timedelta(0)


def test_fractions_dates_and_naive_values_are_utc() -> None:
    assert parse_wire_time("2025-10-08T20:00:33.223Z").microsecond == 223000
    assert parse_wire_time("2024-01-02") == datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_wire_time(date(2024, 1, 2)) == datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_wire_time(datetime(2024, 1, 2, 3, 4, 5)) == MOMENT


def test_anything_else_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="yesterday"):
        parse_wire_time("yesterday")
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_wire_time(12)  # type: ignore[arg-type]


def test_written_as_utc_seconds_and_read_back() -> None:
    east = datetime(2024, 1, 2, 5, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert format_wire_time(east) == "2024-01-02 03:04:05"
    assert format_wire_time(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert parse_wire_time(format_wire_time(MOMENT)) == MOMENT
