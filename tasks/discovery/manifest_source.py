"""Sorting by a manifest: its rows say which file is which subject, session and side.

A row's path is relative to the source, an absolute local path, or a URL. The manifest replaces
the folder layout, but the source is still listed: a photo under it that no row names is
quarantined as outside the layout (so a forgotten row never drops a photo silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from schemas.captures import QuarantinedFile, QuarantineReason
from tasks.discovery.candidates import Candidate, Sorted
from tasks.discovery.errors import ManifestError
from tasks.discovery.layout import SideWords, claims_image, is_system_file
from tasks.discovery.listing import ListedFile, uri_of
from tasks.discovery.manifest import BadRow, ManifestRow, read_manifest
from tasks.fs import protocols


def sort_by_manifest(
    fs: AbstractFileSystem,
    root: str,
    files: Sequence[ListedFile],
    manifest: str,
    storage_options: Mapping[str, Any] | None,
    side_words: SideWords,
) -> Sorted:
    """Candidates from the manifest's rows; bad rows and unlisted photos quarantined."""
    manifest_fs, manifest_path = _manifest_file(manifest, fs, storage_options)
    rows, bad = _read(manifest_fs, manifest_path, manifest, side_words)
    listed = {f.path: f for f in files}
    quarantined = [_bad_row(manifest_fs, manifest_path, row, fs, root) for row in bad]
    candidates: list[Candidate] = []
    # A file behind a bad row is reported once, for its row, not again as unlisted.
    named: set[str] = set()
    for bad_row in bad:
        behind = _locate(bad_row, manifest, fs, root, storage_options) if bad_row.path else None
        if isinstance(behind, tuple):
            named.add(behind[1])
    for row in rows:
        located = _locate(row, manifest, fs, root, storage_options)
        if isinstance(located, BadRow):
            quarantined.append(_bad_row(manifest_fs, manifest_path, located, fs, root))
            continue
        row_fs, path = located
        info = listed[path].info if row_fs is fs and path in listed else _info(row_fs, path)
        if info is None or info.get("type") == "directory":
            missing = BadRow(
                row.line, row.path, f"{manifest} line {row.line}: no file at {row.path}",
                "correct the path (relative to the source folder) or delete the row",
            )  # fmt: skip
            quarantined.append(_bad_row(manifest_fs, manifest_path, missing, fs, root))
            continue
        named.add(path)
        side = row.side or side_words.side_in_name(path.rsplit("/", 1)[-1])
        candidates.append(_candidate(row_fs, path, row, info, side))
    unlisted = [f for f in files if f.path not in named and f.path != manifest_path]
    quarantined.extend(_unlisted(fs, f, manifest) for f in unlisted if _is_photo(f))
    outside = len({c.path for c in candidates if c.fs is not fs or c.path not in listed})
    return Sorted(candidates, quarantined, len(files) + outside)


def _candidate(
    fs: AbstractFileSystem, path: str, row: ManifestRow, info: Mapping[str, Any], side: Any
) -> Candidate:
    return Candidate(
        fs=fs,
        path=path,
        name=row.path,
        info=info,
        subject_key=row.subject_key,
        session_key=row.session_key,
        side=side,
        light_id=row.light_id,
        captured_at=row.captured_at,
    )


def _filesystem_for(
    url: str, source_fs: AbstractFileSystem, storage_options: Mapping[str, Any] | None
) -> tuple[AbstractFileSystem, str]:
    # The source's storage options only fit URLs of the source's own protocol.
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    options = dict(storage_options or {}) if protocol in protocols(source_fs) else {}
    fs, path = url_to_fs(url, **options)
    return fs, path


def _manifest_file(
    manifest: str, source_fs: AbstractFileSystem, storage_options: Mapping[str, Any] | None
) -> tuple[AbstractFileSystem, str]:
    try:
        return _filesystem_for(manifest, source_fs, storage_options)
    except (ValueError, ImportError) as error:
        raise ManifestError(
            f"manifest {manifest} cannot be opened ({type(error).__name__}: {error}). "
            "Fix: give a local path, or a URL of an installed filesystem (s3:// needs s3fs)"
        ) from error


def _read(
    fs: AbstractFileSystem, path: str, manifest: str, side_words: SideWords
) -> tuple[list[ManifestRow], list[BadRow]]:
    try:
        with fs.open(path, "rt", encoding="utf-8-sig", newline="") as stream:
            return read_manifest(stream, manifest, side_words)
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(
            f"manifest {manifest} cannot be read ({type(error).__name__}: {error}). "
            "Fix: give the path or URL of a UTF-8 CSV file"
        ) from error


def _resolve(
    row_path: str,
    fs: AbstractFileSystem,
    root: str,
    storage_options: Mapping[str, Any] | None,
) -> tuple[AbstractFileSystem, str]:
    if "://" in row_path or row_path.startswith("/"):
        return _filesystem_for(row_path, fs, storage_options)
    return fs, _below(root, row_path)


def _locate(
    row: ManifestRow | BadRow,
    manifest: str,
    fs: AbstractFileSystem,
    root: str,
    storage_options: Mapping[str, Any] | None,
) -> tuple[AbstractFileSystem, str] | BadRow:
    """The filesystem and path a row names, or why that path cannot be opened at all."""
    assert row.path is not None
    try:
        return _resolve(row.path, fs, root, storage_options)
    except (ValueError, ImportError, OSError) as error:
        # An unknown protocol (ValueError), a filesystem whose package is not installed
        # (ImportError) or a bucket refusing us (OSError) spoils this row, not the run.
        return BadRow(
            row.line,
            row.path,
            f"{manifest} line {row.line}: {row.path} cannot be opened "
            f"({type(error).__name__}: {error})",
            "correct the path: relative to the source folder, absolute, or a URL of an "
            "installed filesystem (s3:// needs s3fs, gs:// needs gcsfs); or delete the row",
        )


def _below(root: str, relative: str) -> str:
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    return "/".join([root.rstrip("/"), *parts])


def _info(fs: AbstractFileSystem, path: str) -> Mapping[str, Any] | None:
    try:
        return dict(fs.info(path))
    except (OSError, ValueError):  # ValueError: a path the filesystem cannot even parse
        return None


def _bad_row(
    manifest_fs: AbstractFileSystem,
    manifest_path: str,
    row: BadRow,
    fs: AbstractFileSystem,
    root: str,
) -> QuarantinedFile:
    if row.path is None:
        uri = f"{uri_of(manifest_fs, manifest_path)}#L{row.line}"
    else:
        absolute = "://" in row.path or row.path.startswith("/")
        uri = row.path if absolute else uri_of(fs, _below(root, row.path))
    return QuarantinedFile(uri, QuarantineReason.BAD_MANIFEST_ROW, row.detail, row.fix)


def _is_photo(listed: ListedFile) -> bool:
    return not is_system_file(listed.name) and claims_image(listed.name)


def _unlisted(fs: AbstractFileSystem, listed: ListedFile, manifest: str) -> QuarantinedFile:
    return QuarantinedFile(
        uri=uri_of(fs, listed.path),
        reason=QuarantineReason.OUTSIDE_LAYOUT,
        detail=f"{listed.relative} is not listed in the manifest {manifest}",
        fix="add a row for it to the manifest (path, subject, session, side), "
        "or move it out of the source folder",
    )
