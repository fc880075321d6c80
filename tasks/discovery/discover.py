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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from schemas.captures import Capture, Discovery, ImageKind, QuarantinedFile, QuarantineReason
from tasks.discovery.candidates import Candidate, sort_by_layout
from tasks.discovery.capture_time import CaptureTime, TimeSource, choose
from tasks.discovery.errors import SourceError
from tasks.discovery.image_file import CheckedImage, Problem, check_image, check_size
from tasks.discovery.layout import DEFAULT_LAYOUT, FolderLayout
from tasks.discovery.listing import list_files
from tasks.discovery.manifest_source import sort_by_manifest
from tasks.discovery.sessions import SessionFile, build_session

logger = logging.getLogger(__name__)

MAX_BYTES = 30 * 2**20
"""The API's limit per image (signed upload range 1..31457280)."""
CHECK_WORKERS = 8
"""Files read and decoded at once: bucket reads wait on the network, decoding frees the GIL."""
READ_BLOCK = 4 << 20


def discover(
    source: str,
    *,
    manifest: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    image_kind: ImageKind = ImageKind.SELFIE,
    max_bytes: int = MAX_BYTES,
    layout: FolderLayout = DEFAULT_LAYOUT,
) -> Discovery:
    """Find the captures under ``source``; quarantine whatever cannot be uploaded.

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
            fs, root, listing.files, manifest, storage_options, layout.side_words
        )
    checked = check_all(found.candidates, max_bytes)
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
    return fs, root.rstrip("/") or root


def check_all(candidates: Sequence[Candidate], max_bytes: int) -> list[SessionFile]:
    """Check every candidate (a few at a time), in the candidates' order."""
    if not candidates:
        return []
    discovered_at = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=min(CHECK_WORKERS, len(candidates))) as pool:
        return list(pool.map(lambda c: check(c, max_bytes, discovered_at), candidates))


def check(candidate: Candidate, max_bytes: int, discovered_at: datetime) -> SessionFile:
    """Read, hash and decode one candidate; date it if it is usable."""
    too_small_or_large = check_size(candidate.name, candidate.info.get("size"), max_bytes)
    outcome = too_small_or_large or _read(candidate, max_bytes)
    captured = None
    if isinstance(outcome, CheckedImage):
        captured = _capture_time(candidate, outcome, discovered_at)
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


def _read(candidate: Candidate, max_bytes: int) -> CheckedImage | Problem:
    try:
        with candidate.fs.open(candidate.path, "rb", block_size=READ_BLOCK) as stream:
            return check_image(candidate.name, stream, max_bytes)
    except Exception as error:  # any failure to read one file quarantines that file only
        logger.debug("cannot read %s", candidate.name, exc_info=True)
        return Problem(
            QuarantineReason.UNREADABLE,
            f"{candidate.name} cannot be read ({type(error).__name__}: {error})",
            "give the user running hautflow permission to read it (or restore the file), "
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
