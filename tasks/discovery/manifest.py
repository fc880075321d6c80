"""The manifest CSV: for folders that do not follow the layout, one row per photo says what it is.

Columns (header row required, any order, any case): ``path`` (relative to the source, or an
absolute path or URL inside it), ``subject``, ``session`` (both Unicode-normalised, NFC) —
required; ``side`` (a side word or side id 1/2/3; blank: read from the file name), ``light``
(light id, blank: 1), ``captured_at`` (ISO 8601 date or time, naive means UTC; blank: EXIF,
session-name date, file time) — optional. A row that cannot be used becomes a :class:`BadRow`
naming its line; the others still count. Where a path points, and whether two rows name one
file, is for :mod:`~tasks.discovery.manifest_source` to say: it takes the source into account.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from schemas.captures import Side
from schemas.errors import HautflowError
from tasks.discovery.capture_time import parse_given
from tasks.discovery.errors import ManifestError
from tasks.discovery.layout import DEFAULT_SIDE_WORDS, SideWords, key_of

REQUIRED_COLUMNS = ("path", "subject", "session")
OPTIONAL_COLUMNS = ("side", "light", "captured_at")
_SIDE_IDS = {"1": Side.FRONT, "2": Side.RIGHT, "3": Side.LEFT}


@dataclass(frozen=True)
class ManifestRow:
    """One usable manifest row."""

    line: int
    path: str
    subject_key: str
    session_key: str
    side: Side | None
    light_id: int = 1
    captured_at: datetime | None = None


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be used: its line, its path (when it has one), what is wrong, the fix."""

    line: int
    path: str | None
    detail: str
    fix: str


class _RowError(HautflowError, ValueError):
    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


def read_manifest(
    stream: IO[str], name: str, side_words: SideWords = DEFAULT_SIDE_WORDS
) -> tuple[list[ManifestRow], list[BadRow]]:
    """Parse a manifest; raises ManifestError only when the header lacks a required column."""
    reader = csv.DictReader(stream, skipinitialspace=True)
    header = [(column or "").strip().casefold() for column in reader.fieldnames or ()]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ManifestError(
            f"manifest {name} has no {', '.join(missing)} column; its header is {header}. "
            f"Fix: make the first line {','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        )
    reader.fieldnames = header
    rows: list[ManifestRow] = []
    bad: list[BadRow] = []
    for line, cells in _numbered(reader):
        path = (cells.get("path") or "").strip() or None
        try:
            rows.append(_row(line, cells, side_words))
        except _RowError as error:
            bad.append(BadRow(line, path, f"{name} line {line}: {error.detail}", error.fix))
    return rows, bad


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str | None, str]]]:
    for cells in reader:
        if any((value or "").strip() for key, value in cells.items() if key is not None):
            yield reader.line_num, cells


def _row(line: int, cells: dict[str | None, str], side_words: SideWords) -> ManifestRow:
    if cells.get(None):
        raise _RowError(
            "has more cells than the header has columns", "quote cells that contain commas"
        )
    values = {key: (value or "").strip() for key, value in cells.items() if key is not None}
    empty = [column for column in REQUIRED_COLUMNS if not values.get(column)]
    if empty:
        raise _RowError(f"{', '.join(empty)} is empty", f"fill in {', '.join(empty)}")
    return ManifestRow(
        line=line,
        path=values["path"],
        subject_key=key_of(values["subject"]),
        session_key=key_of(values["session"]),
        side=_side(values.get("side", ""), side_words),
        light_id=_light(values.get("light", "")),
        captured_at=_captured_at(values.get("captured_at", "")),
    )


def _side(text: str, side_words: SideWords) -> Side | None:
    if not text:
        return None
    side = _SIDE_IDS.get(text) or side_words.side_of(text)
    if side is None:
        raise _RowError(f"side {text!r} is not a side", "write front, right or left (or 1, 2, 3)")
    return side


def _light(text: str) -> int:
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise _RowError(
            f"light {text!r} is not a light id", "write a whole number (1 = regular light)"
        )
    return int(text)


def _captured_at(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return parse_given(text)
    except ValueError as error:
        raise _RowError(
            str(error), "write the time as ISO 8601, e.g. 2026-01-05T09:30:00Z"
        ) from None
