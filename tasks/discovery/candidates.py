"""Sorting listed files by the folder layout: session files become candidates, others are judged.

A *candidate* is a file that belongs to a session (by its folder, or by a manifest row) and is
still to be read. Photos that sit above or below the session level are quarantined as outside
the layout without being read; other files there (``README.md``, a manifest) are no photos and
are only counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fsspec import AbstractFileSystem

from schemas.captures import QuarantinedFile, QuarantineReason, Side
from tasks.discovery.layout import FolderLayout, Placement, claims_image, is_system_file
from tasks.discovery.listing import ListedFile, uri_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A file that belongs to a session (by the layout or a manifest row), before checking."""

    fs: AbstractFileSystem = field(compare=False)
    path: str
    name: str
    """Path relative to the source (or as the manifest wrote it), for messages."""
    info: Mapping[str, Any] = field(compare=False)
    subject_key: str
    session_key: str
    side: Side | None
    light_id: int = 1
    captured_at: datetime | None = None
    """Given by a manifest row: wins over EXIF, folder and file times."""

    @property
    def uri(self) -> str:
        return uri_of(self.fs, self.path)


@dataclass(frozen=True)
class Sorted:
    """Files sorted into session candidates and files set aside before any read."""

    candidates: list[Candidate]
    quarantined: list[QuarantinedFile]
    files_seen: int


def sort_by_layout(
    fs: AbstractFileSystem, files: Sequence[ListedFile], layout: FolderLayout
) -> Sorted:
    """Session files become candidates; photos elsewhere are outside the layout."""
    candidates: list[Candidate] = []
    quarantined: list[QuarantinedFile] = []
    for listed in files:
        if is_system_file(listed.name):
            logger.debug("skipping system file %s", listed.relative)
            continue
        where = layout.locate(listed.parts)
        if where.placement is Placement.SESSION:
            candidates.append(_session_file(fs, listed, layout))
        elif claims_image(listed.name):
            quarantined.append(outside_layout(fs, listed, where.placement, where.subject_key))
        else:
            logger.debug("skipping %s: not a photo and not in a session folder", listed.relative)
    return Sorted(candidates, quarantined, len(files))


def _session_file(fs: AbstractFileSystem, listed: ListedFile, layout: FolderLayout) -> Candidate:
    return Candidate(
        fs=fs,
        path=listed.path,
        name=listed.relative,
        info=listed.info,
        subject_key=listed.parts[0],
        session_key=listed.parts[1],
        side=layout.side_words.side_in_name(listed.name),
    )


def outside_layout(
    fs: AbstractFileSystem, listed: ListedFile, placement: Placement, subject_key: str | None
) -> QuarantinedFile:
    if placement is Placement.BELOW:
        where = f"in a folder below the session folder {'/'.join(listed.parts[:2])}"
    else:
        where = "not in a session folder"
    return QuarantinedFile(
        uri=uri_of(fs, listed.path),
        reason=QuarantineReason.OUTSIDE_LAYOUT,
        detail=f"{listed.relative} is {where}; photos go in <subject>/<session>/<side>.jpg",
        fix="move it into its session folder (e.g. alice/2026-01-05/front.jpg), "
        "or list it in a manifest CSV",
        subject_key=subject_key,
        session_key=listed.parts[1] if placement is Placement.BELOW else None,
    )
