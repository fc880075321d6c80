"""Sorting by a manifest: its rows say which file is which subject, session and side.

A row's path is relative to the source, or an absolute path or URL inside it; one that leads
outside the source is a bad row unless the user allows it (:mod:`~tasks.discovery.manifest_paths`).
Two rows naming one file, however spelled (``p.jpg``, ``./p.jpg``, ``x/../p.jpg``), are one
file listed twice: the later row is a bad row. The manifest replaces the folder layout, but the
source is still listed: a photo under it that no row names is quarantined as outside the layout
(so a forgotten row never drops a photo silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from schemas.captures import QuarantinedFile, QuarantineReason
from tasks.discovery.candidates import Candidate, Sorted, not_a_file
from tasks.discovery.entries import EntryKind
from tasks.discovery.errors import ManifestError
from tasks.discovery.layout import SideWords, claims_image, is_system_file
from tasks.discovery.listing import ListedFile, uri_of
from tasks.discovery.manifest import BadRow, ManifestRow, read_manifest
from tasks.discovery.manifest_paths import below_root, inside_source, is_absolute, one_spelling
from tasks.fs import protocols

OUTSIDE_FIX = (
    "write the path relative to the source folder (e.g. alice/2026-01-05/front.jpg) and keep "
    "the photo inside it; to read photos outside the source on purpose, allow it "
    "(--allow-outside-source)"
)


def sort_by_manifest(
    fs: AbstractFileSystem,
    root: str,
    files: Sequence[ListedFile],
    manifest: str,
    storage_options: Mapping[str, Any] | None,
    side_words: SideWords,
    *,
    allow_outside_source: bool = False,
) -> Sorted:
    """Candidates from the manifest's rows; bad rows and unlisted photos quarantined."""
    manifest_fs, manifest_path = _manifest_file(manifest, fs, storage_options)
    rows, bad = _read(manifest_fs, manifest_path, manifest, side_words)
    paths = _RowPaths(fs, root, manifest, storage_options, allow_outside_source)
    listed = {f.path: f for f in files}
    quarantined = [paths.bad_row(row, manifest_fs, manifest_path) for row in bad]
    # A file behind a bad row is reported once, for its row, not again as unlisted.
    named = {located[1] for located in map(paths.locate, bad) if isinstance(located, tuple)}
    candidates: list[Candidate] = []
    first_rows: dict[str, ManifestRow] = {}
    for row in rows:
        located = paths.locate(row)
        if isinstance(located, tuple):
            named.add(located[1])
            found = _candidate_of(row, located, paths, listed, first_rows, side_words)
        else:
            found = located
        if isinstance(found, BadRow):
            quarantined.append(paths.bad_row(found, manifest_fs, manifest_path))
        else:
            candidates.append(found)
    unlisted = [f for f in files if f.path not in named and f.path != manifest_path]
    quarantined.extend(_unlisted(fs, f, manifest) for f in unlisted if _must_be_reported(f))
    outside = len({c.path for c in candidates if c.fs is not fs or c.path not in listed})
    return Sorted(candidates, quarantined, len(files) + outside)


def _candidate_of(
    row: ManifestRow,
    located: tuple[AbstractFileSystem, str],
    paths: _RowPaths,
    listed: Mapping[str, ListedFile],
    first_rows: dict[str, ManifestRow],
    side_words: SideWords,
) -> Candidate | BadRow:
    """The file a row names, or why the row cannot be used (``first_rows`` notes each file's
    first row, so a second row for the same file is caught)."""
    row_fs, path = located
    uri = uri_of(row_fs, path)
    if uri in first_rows:
        return paths.listed_twice(row, first_rows[uri])
    first_rows[uri] = row
    entry = listed.get(path) if row_fs is paths.fs else None
    if entry is None:
        info = _info(row_fs, path)
        if info is None or info.get("type") == "directory":
            return paths.missing(row)
        kind = EntryKind.FILE
    else:
        info, kind = entry.info, entry.kind
    side = row.side or side_words.side_in_name(path.rsplit("/", 1)[-1])
    return Candidate(
        fs=row_fs,
        path=path,
        name=row.path,
        info=info,
        subject_key=row.subject_key,
        session_key=row.session_key,
        side=side,
        light_id=row.light_id,
        captured_at=row.captured_at,
        kind=kind,
    )


@dataclass(frozen=True)
class _RowPaths:
    """How the rows of one manifest name files: the source's filesystem and root, the options
    for other filesystems, and whether rows may lead outside the source."""

    fs: AbstractFileSystem
    root: str
    manifest: str
    storage_options: Mapping[str, Any] | None = field(compare=False)
    allow_outside_source: bool

    def locate(self, row: ManifestRow | BadRow) -> tuple[AbstractFileSystem, str] | BadRow:
        """The filesystem and path a row names, or why that path cannot be used."""
        if row.path is None:
            return self._row(row, "path is empty", "fill in path")
        inside = inside_source(row.path, self.fs, self.root)
        if inside is not None:
            return self.fs, inside
        if not self.allow_outside_source:
            return self._row(row, f"{row.path} is outside the source folder {self._source}")
        if not is_absolute(row.path):
            return self.fs, below_root(self.root, row.path)
        try:
            row_fs, path = _filesystem_for(row.path, self.fs, self.storage_options)
        except (ValueError, ImportError, OSError) as error:
            # An unknown protocol (ValueError), a filesystem whose package is not installed
            # (ImportError) or a bucket refusing us (OSError) spoils this row, not the run.
            return self._row(
                row,
                f"{row.path} cannot be opened ({type(error).__name__}: {error})",
                "correct the path: relative to the source folder, absolute, or a URL of an "
                "installed filesystem (s3:// needs s3fs, gs:// needs gcsfs); or delete the row",
            )
        return row_fs, one_spelling(path)

    def listed_twice(self, row: ManifestRow, first: ManifestRow) -> BadRow:
        spelled = f" (as {first.path})" if first.path != row.path else ""
        return self._row(
            row,
            f"{row.path} is already listed on line {first.line}{spelled}",
            "list each photo once; delete one of the two rows",
        )

    def missing(self, row: ManifestRow) -> BadRow:
        return self._row(
            row,
            f"no file at {row.path}",
            "correct the path (relative to the source folder) or delete the row",
        )

    def bad_row(
        self, row: BadRow, manifest_fs: AbstractFileSystem, manifest_path: str
    ) -> QuarantinedFile:
        """The quarantine record of a bad row: for its file, else for its manifest line."""
        if row.path is None:
            uri = f"{uri_of(manifest_fs, manifest_path)}#L{row.line}"
        elif (inside := inside_source(row.path, self.fs, self.root)) is not None:
            uri = uri_of(self.fs, inside)
        elif is_absolute(row.path):
            uri = one_spelling(row.path)
        else:
            uri = uri_of(self.fs, below_root(self.root, row.path))
        return QuarantinedFile(uri, QuarantineReason.BAD_MANIFEST_ROW, row.detail, row.fix)

    @property
    def _source(self) -> str:
        return uri_of(self.fs, self.root)

    def _row(self, row: ManifestRow | BadRow, detail: str, fix: str = OUTSIDE_FIX) -> BadRow:
        return BadRow(row.line, row.path, f"{self.manifest} line {row.line}: {detail}", fix)


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


def _info(fs: AbstractFileSystem, path: str) -> Mapping[str, Any] | None:
    try:
        return dict(fs.info(path))
    except (OSError, ValueError):  # ValueError: a path the filesystem cannot even parse
        return None


def _must_be_reported(listed: ListedFile) -> bool:
    """A photo, or what stands where one could be (a pipe, a link loop): never skipped."""
    if listed.kind is not EntryKind.FILE:
        return True
    return not is_system_file(listed.name) and claims_image(listed.name)


def _unlisted(fs: AbstractFileSystem, listed: ListedFile, manifest: str) -> QuarantinedFile:
    if listed.kind is not EntryKind.FILE:
        return not_a_file(fs, listed)
    return QuarantinedFile(
        uri=uri_of(fs, listed.path),
        reason=QuarantineReason.OUTSIDE_LAYOUT,
        detail=f"{listed.relative} is not listed in the manifest {manifest}",
        fix="add a row for it to the manifest (path, subject, session, side), "
        "or move it out of the source folder",
    )
