"""Discover captures under a folder URL: which photos make which capture, and what is set aside.

:func:`discover` walks a local path, ``file://``, ``s3://``, ``gs://`` or ``memory://`` folder
(anything fsspec opens), reads every photo once (hash, decode, EXIF), groups photos into
captures by the folder layout ``<root>/<subject>/<session>/<side>.<ext>`` or by a manifest CSV,
and quarantines every file it cannot use with a reason and a fix. It raises only when the
source (or manifest) itself cannot be used.

What is skipped without a quarantine record (still counted in ``files_seen``): hidden files and
OS clutter (``.DS_Store``, ``._front.jpg``, ``Thumbs.db``), and files outside session folders
whose names do not claim a photo (``README.md``, the manifest itself). A file whose extension
claims a photo, and any file inside a session folder, is always either used or quarantined.

Nothing hangs it: only regular files are opened (a pipe, socket or device named like a photo is
quarantined as not a file), and a read that gives no data for ``read_timeout`` seconds is given
up and its file quarantined as unreadable. Nothing outside the source is read through a
manifest unless ``allow_outside_source`` says so.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from schemas.captures import Capture, Discovery, ImageKind, QuarantinedFile, QuarantineReason
from tasks.discovery.candidates import Candidate, sort_by_layout
from tasks.discovery.capture_time import CaptureTime, TimeSource, choose
from tasks.discovery.entries import EntryKind, entry_problem, kind_of
from tasks.discovery.errors import SourceError
from tasks.discovery.image_file import CheckedImage, Problem, Readable, check_image, check_size
from tasks.discovery.layout import DEFAULT_LAYOUT, FolderLayout
from tasks.discovery.listing import list_files
from tasks.discovery.manifest_source import sort_by_manifest
from tasks.discovery.sessions import SessionFile, build_session
from tasks.discovery.watchdog import Progress, map_watched
from tasks.fs import is_local

logger = logging.getLogger(__name__)

MAX_BYTES = 30 * 2**20
"""The API's limit per image (signed upload range 1..31457280)."""
CHECK_WORKERS = 8
"""Files read and decoded at once: bucket reads wait on the network, decoding frees the GIL."""
READ_BLOCK = 4 << 20
READ_TIMEOUT = 60.0
"""Seconds a photo's read may go without getting any data before it is given up: long enough
for a slow bucket or share, short enough that a stalled one does not hold the run."""


def discover(
    source: str,
    *,
    manifest: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    image_kind: ImageKind = ImageKind.SELFIE,
    max_bytes: int = MAX_BYTES,
    layout: FolderLayout = DEFAULT_LAYOUT,
    read_timeout: float = READ_TIMEOUT,
    allow_outside_source: bool = False,
) -> Discovery:
    """Find the captures under ``source``; quarantine whatever cannot be uploaded.

    ``read_timeout``: seconds a file's read may go without data before the file is quarantined
    as unreadable. ``allow_outside_source``: manifest rows may name files outside ``source``
    (``../``, absolute paths, other URLs); by default such rows are bad rows.

    Raises SourceError when ``source`` does not exist or cannot be listed, and ManifestError
    when ``manifest`` cannot be read or lacks a required column.
    """
    fs, root = open_source(source, storage_options)
    try:
        listing = list_files(fs, root)
    except OSError as error:
        raise SourceError(
            f"source {source} cannot be listed ({type(error).__name__}: {error}). "
            "Fix: check the permissions or credentials for it"
        ) from error
    if manifest is None:
        found = sort_by_layout(fs, listing.files, layout)
    else:
        found = sort_by_manifest(
            fs,
            root,
            listing.files,
            manifest,
            storage_options,
            layout.side_words,
            allow_outside_source=allow_outside_source,
        )
    checked = check_all(found.candidates, max_bytes, read_timeout)
    captures, held = group_sessions(checked, image_kind)
    quarantined = [*listing.unreadable, *found.quarantined, *held]
    return Discovery(
        source=source,
        captures=tuple(sorted(captures, key=lambda capture: capture.key)),
        quarantined=tuple(sorted(quarantined, key=lambda q: (q.uri, q.reason.value))),
        files_seen=found.files_seen,
    )


def open_source(
    source: str, storage_options: Mapping[str, Any] | None
) -> tuple[AbstractFileSystem, str]:
    """The filesystem and root path of ``source``; raises SourceError when it is no folder."""
    try:
        fs, root = url_to_fs(source, **dict(storage_options or {}))
        is_folder = fs.isdir(root)
        exists = is_folder or fs.exists(root)
    except (ImportError, ValueError, OSError) as error:
        raise SourceError(
            f"source {source} cannot be opened ({type(error).__name__}: {error}). "
            "Fix: check the URL, and the credentials or storage options for it"
        ) from error
    if not is_folder:
        what = "is a file" if exists else "does not exist"
        raise SourceError(
            f"source {source} {what}. Fix: give the folder that holds one folder per subject "
            "(<source>/<subject>/<session>/front.jpg)"
        )
    root = root.rstrip("/") or root
    # One spelling of the root (``a/../src`` is ``src``), so manifest paths compare with it.
    return fs, posixpath.normpath(root) if is_local(fs) else root


def check_all(
    candidates: Sequence[Candidate], max_bytes: int, read_timeout: float = READ_TIMEOUT
) -> list[SessionFile]:
    """Check every candidate (a few at a time), in the candidates' order; a read that stalls
    for ``read_timeout`` seconds is given up and its file quarantined as unreadable."""
    if not candidates:
        return []
    discovered_at = datetime.now(UTC)
    return map_watched(
        lambda candidate, progress: check(candidate, max_bytes, discovered_at, progress),
        candidates,
        workers=CHECK_WORKERS,
        stall_after=read_timeout,
        stalled=lambda candidate: _session_file(candidate, _stalled(candidate, read_timeout)),
    )


def check(
    candidate: Candidate,
    max_bytes: int,
    discovered_at: datetime,
    progress: Progress = lambda: None,
) -> SessionFile:
    """Read, hash and decode one candidate (calling ``progress`` as it reads); date it if it is
    usable."""
    outcome = _not_a_file(candidate) or _read(candidate, max_bytes, progress)
    captured = None
    if isinstance(outcome, CheckedImage):
        captured = _capture_time(candidate, outcome, discovered_at)
    return _session_file(candidate, outcome, captured)


def _session_file(
    candidate: Candidate, outcome: CheckedImage | Problem, captured: CaptureTime | None = None
) -> SessionFile:
    return SessionFile(
        uri=candidate.uri,
        name=candidate.name,
        subject_key=candidate.subject_key,
        session_key=candidate.session_key,
        side=candidate.side,
        outcome=outcome,
        captured=captured,
        light_id=candidate.light_id,
    )


def _not_a_file(candidate: Candidate) -> Problem | None:
    # What the listing saw stands (a link to a folder holding it is a loop only to the walk);
    # a file is looked at again, as it may have been swapped for a pipe since.
    if candidate.kind is not EntryKind.FILE:
        return entry_problem(candidate.name, candidate.kind, candidate.info)
    try:
        kind = kind_of(candidate.fs, candidate.path, candidate.info)
    except OSError:
        return None  # cannot look: the read says why, with its fix
    return entry_problem(candidate.name, kind, candidate.info)


def _read(candidate: Candidate, max_bytes: int, progress: Progress) -> CheckedImage | Problem:
    too_large = check_size(candidate.name, candidate.info.get("size"), max_bytes)
    if too_large is not None:
        return too_large
    try:
        with candidate.fs.open(candidate.path, "rb", block_size=READ_BLOCK) as stream:
            return check_image(candidate.name, _Reporting(stream, progress), max_bytes)
    except Exception as error:  # any failure to read one file quarantines that file only
        logger.debug("cannot read %s", candidate.name, exc_info=True)
        return Problem(
            QuarantineReason.UNREADABLE,
            f"{candidate.name} cannot be read ({type(error).__name__}: {error})",
            "give the user running hautflow permission to read it (or restore the file), "
            "then run again",
        )


class _Reporting:
    """A stream that tells the watchdog each time a read returns."""

    def __init__(self, stream: Readable, progress: Progress) -> None:
        self._stream = stream
        self._progress = progress

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self._progress()
        return chunk


def _stalled(candidate: Candidate, read_timeout: float) -> Problem:
    return Problem(
        QuarantineReason.UNREADABLE,
        f"{candidate.name} cannot be read: it gave no data for {read_timeout:g} seconds (a drive, "
        "share or bucket that stopped answering, or a file that is no regular file)",
        "check that the drive, share or bucket answers (or copy the photo to a local disk), "
        "then run again",
    )


def _capture_time(
    candidate: Candidate, checked: CheckedImage, discovered_at: datetime
) -> CaptureTime:
    if candidate.captured_at is not None:
        return CaptureTime(candidate.captured_at, TimeSource.MANIFEST)
    chosen = choose(checked.exif_time, candidate.session_key, candidate.info)
    # A backend that reports no file time at all leaves only the moment we saw the file.
    return chosen or CaptureTime(discovered_at, TimeSource.MTIME)


def group_sessions(
    files: Iterable[SessionFile], kind: ImageKind
) -> tuple[list[Capture], list[QuarantinedFile]]:
    """Apply the session rules to each session's files."""
    captures: list[Capture] = []
    quarantined: list[QuarantinedFile] = []
    by_session = sorted(files, key=_session_of)
    for (subject_key, session_key), session_files in groupby(by_session, key=_session_of):
        result = build_session(subject_key, session_key, list(session_files), kind)
        if result.capture is not None:
            captures.append(result.capture)
        quarantined.extend(result.quarantined)
    return captures, quarantined


def _session_of(file: SessionFile) -> tuple[str, str]:
    return file.subject_key, file.session_key
