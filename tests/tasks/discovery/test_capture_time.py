"""Capture times: EXIF with and without offsets, dates in folder names, backends' file times."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import Image

from tasks.discovery.capture_time import exif_time, file_time, folder_time, parse_given
from tests.tasks.discover_support import photo


def opened(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content))


def test_exif_time_without_offset_is_read_as_utc() -> None:
    with opened(photo(1, taken=datetime(2026, 1, 5, 9, 30, 15))) as image:
        assert exif_time(image) == datetime(2026, 1, 5, 9, 30, 15, tzinfo=UTC)


def test_exif_time_with_offset_is_converted_to_utc() -> None:
    with opened(photo(1, taken=datetime(2026, 1, 5, 0, 30), offset="+02:00")) as image:
        assert exif_time(image) == datetime(2026, 1, 4, 22, 30, tzinfo=UTC)


def test_png_exif_is_read_too() -> None:
    content = photo(1, taken=datetime(2026, 3, 1, 8, 0), image_format="PNG")
    with opened(content) as image:
        assert exif_time(image) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_no_exif_means_no_time() -> None:
    with opened(photo(1)) as image:
        assert exif_time(image) is None


@pytest.mark.parametrize(
    ("folder", "moment"),
    [
        ("2026-01-05", datetime(2026, 1, 5)),
        ("20260105", datetime(2026, 1, 5)),
        ("2026_01_05", datetime(2026, 1, 5)),
        ("visit 2026.01.05", datetime(2026, 1, 5)),
        ("2026-01-05T09-30", datetime(2026, 1, 5, 9, 30)),
        ("2026-01-05 09:30:15", datetime(2026, 1, 5, 9, 30, 15)),
        ("20260105_093015", datetime(2026, 1, 5, 9, 30, 15)),
        ("session-3", None),
        ("2026-13-40", None),
        ("1234567890", None),
        ("2026-0105", None),
    ],
)
def test_dates_in_folder_names(folder: str, moment: datetime | None) -> None:
    expected = None if moment is None else moment.replace(tzinfo=UTC)
    assert folder_time(folder) == expected


def test_file_time_from_each_backends_info() -> None:
    moment = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert file_time({"mtime": moment.timestamp()}) == moment
    assert file_time({"LastModified": moment.astimezone(timezone(timedelta(hours=3)))}) == moment
    assert file_time({"updated": "2026-01-05T09:30:00Z"}) == moment
    assert file_time({"created": moment.replace(tzinfo=None)}) == moment
    assert file_time({"size": 3}) is None


def test_manifest_times() -> None:
    assert parse_given("2026-01-05") == datetime(2026, 1, 5, tzinfo=UTC)
    assert parse_given("2026-01-05T10:00:00+01:00") == datetime(2026, 1, 5, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_given("last tuesday")
