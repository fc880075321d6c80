"""When a photo was taken: EXIF first, then a date in the session folder's name, then file time.

Every answer is an aware UTC datetime. EXIF ``DateTimeOriginal`` carries no zone unless the
camera also wrote ``OffsetTimeOriginal``; without one it is read as UTC (the same rule the
client uses for naive times), so the same file always gives the same time wherever it is run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from PIL import Image

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881

_FOLDER_DATE = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d\d)(?P<sep>[-_.]?)(?P<month>\d\d)(?P=sep)(?P<day>\d\d)"
    r"(?:[T _\-.]?(?P<hour>\d\d)[:_\-.h]?(?P<minute>\d\d)(?:[:_\-.m]?(?P<second>\d\d))?)?"
    r"(?!\d)"
)
_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<hours>\d\d):?(?P<minutes>\d\d)$")


class TimeSource(StrEnum):
    """Where a capture time came from (``SourceImage.captured_at_source``)."""

    EXIF = "exif"
    FOLDER = "folder"
    MTIME = "mtime"
    MANIFEST = "manifest"


@dataclass(frozen=True)
class CaptureTime:
    """A capture time and where it came from."""

    at: datetime
    source: TimeSource


def exif_time(image: Image.Image) -> datetime | None:
    """``DateTimeOriginal`` (with ``OffsetTimeOriginal`` when present) in UTC, else None."""
    try:
        tags = image.getexif().get_ifd(EXIF_IFD)
    except Exception:  # a broken EXIF block is no reason to refuse the photo
        return None
    raw = tags.get(DATE_TIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=_offset(tags.get(OFFSET_TIME_ORIGINAL))).astimezone(UTC)


def _offset(raw: object) -> timezone:
    match = _OFFSET.match(raw.strip("\x00 ")) if isinstance(raw, str) else None
    if match is None:
        return UTC
    delta = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
    return timezone(-delta if match["sign"] == "-" else delta)


def folder_time(folder_name: str) -> datetime | None:
    """A date (and optional time) in a folder name, in UTC: ``2026-01-05``, ``20260105``,
    ``2026_01_05``, ``2026-01-05T09-30``, ``20260105_093000``; None when there is none."""
    for match in _FOLDER_DATE.finditer(folder_name):
        year, month, day, hour, minute, second = (
            int(match[name] or 0) for name in ("year", "month", "day", "hour", "minute", "second")
        )
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            continue
    return None


def file_time(info: Mapping[str, Any]) -> datetime | None:
    """The modification time in an fsspec ``info()`` record, whatever the backend calls it."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        moment = _as_datetime(info.get(key))
        if moment is not None:
            return moment
    return None


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def choose(exif: datetime | None, session_key: str, info: Mapping[str, Any]) -> CaptureTime | None:
    """EXIF, else the session folder's date, else the file's time; None if none is known."""
    if exif is not None:
        return CaptureTime(exif, TimeSource.EXIF)
    from_folder = folder_time(session_key)
    if from_folder is not None:
        return CaptureTime(from_folder, TimeSource.FOLDER)
    from_file = file_time(info)
    return None if from_file is None else CaptureTime(from_file, TimeSource.MTIME)


def parse_given(text: str) -> datetime:
    """A time written in a manifest: ISO 8601 date or datetime; naive means UTC.

    Raises ValueError with the accepted forms when ``text`` is none of them.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time: write 2026-01-05 or 2026-01-05T09:30:00+01:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
