"""Sorting listed files by the folder layout: session files become candidates, others are judged.

A *candidate* is a file that belongs to a session (by its folder, or by a manifest row) and is
still to be read. Photos that sit above or below the session level are quarantined as outside
the layout without being read; other files there (``README.md``, a manifest) are no photos and
are only counted. What is no regular file (a pipe, a link loop, an empty folder named like a
photo) is quarantined for what it is wherever it sits, never skipped and never opened.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fsspec import AbstractFileSystem

from schemas.captures import QuarantinedFile, QuarantineReason, Side
from tasks.discovery.entries import EntryKind, entry_problem
from tasks.discovery.layout import FolderLayout, Location, Placement, claims_image, is_system_file
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
    kind: EntryKind = EntryKind.FILE
    """What the listing found at the path; a file is asked again right before it is read."""

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
            candidates.append(_session_file(fs, listed, where, layout))
        elif listed.kind is not EntryKind.FILE:
            quarantined.append(not_a_file(fs, listed, where.subject_key, where.session_key))
        elif claims_image(listed.name):
            quarantined.append(outside_layout(fs, listed, where))
        else:
            logger.debug("skipping %s: not a photo and not in a session folder", listed.relative)
    return Sorted(candidates, quarantined, len(files))


def _session_file(
    fs: AbstractFileSystem, listed: ListedFile, where: Location, layout: FolderLayout
) -> Candidate:
    assert where.subject_key is not None
    assert where.session_key is not None
    return Candidate(
        fs=fs,
        path=listed.path,
        name=listed.relative,
        info=listed.info,
        subject_key=where.subject_key,
        session_key=where.session_key,
        side=layout.side_words.side_in_name(listed.name),
        kind=listed.kind,
    )


def not_a_file(
    fs: AbstractFileSystem,
    listed: ListedFile,
    subject_key: str | None = None,
    session_key: str | None = None,
) -> QuarantinedFile:
    """A pipe, a link loop, an empty folder named like a photo...: what it is, and the fix."""
    problem = entry_problem(listed.relative, listed.kind, listed.info)
    assert problem is not None, "only entries that are no regular file are quarantined here"
    return QuarantinedFile(
        uri=uri_of(fs, listed.path),
        reason=problem.reason,
        detail=problem.detail,
        fix=problem.fix,
        subject_key=subject_key,
        session_key=session_key,
    )


def outside_layout(fs: AbstractFileSystem, listed: ListedFile, where: Location) -> QuarantinedFile:
    if where.placement is Placement.BELOW:
        place = f"in a folder below the session folder {'/'.join(listed.parts[:2])}"
    else:
        place = "not in a session folder"
    return QuarantinedFile(
        uri=uri_of(fs, listed.path),
        reason=QuarantineReason.OUTSIDE_LAYOUT,
        detail=f"{listed.relative} is {place}; photos go in <subject>/<session>/<side>.jpg",
        fix="move it into its session folder (e.g. alice/2026-01-05/front.jpg), "
        "or list it in a manifest CSV",
        subject_key=where.subject_key,
        session_key=where.session_key,
    )
