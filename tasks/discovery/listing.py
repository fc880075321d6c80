"""List every file under a source folder through fsspec, noting folders that cannot be read.

Two ways to walk, picked by the filesystem: object stores (S3, GCS, Azure) list a whole prefix
in a few paged requests, where folders are only name prefixes and access is granted per bucket;
folder filesystems (local disk, memory, SFTP...) are walked one folder at a time, so a folder
that refuses to be listed is reported as unreadable while its siblings are still found. Hidden
folders (``.git``, ``.Trashes``, ``@eaDir``) are not walked into.

On the local disk a link to a folder is followed (photos kept on another drive), but never into a
folder that already contains it: such a link, and a link that leads back to itself, is listed as
a link loop, so the walk always ends. Pipes, sockets and devices are listed with their kind, never
opened; so is a folder named like a photo that holds no file (``front.jpg/``), which would
otherwise vanish from the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fsspec import AbstractFileSystem

from schemas.captures import QuarantinedFile, QuarantineReason
from tasks.discovery.entries import EntryKind, local_kind
from tasks.discovery.layout import claims_image, is_hidden_folder, is_system_file, key_of
from tasks.fs import is_local, protocols

OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})


@dataclass(frozen=True)
class ListedFile:
    """An entry below the source that is not walked into: its path, its parts below the root,
    its info, and its kind (a file, or what stands where a file was expected)."""

    path: str
    parts: tuple[str, ...]
    info: dict[str, Any] = field(compare=False)
    kind: EntryKind = EntryKind.FILE

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def relative(self) -> str:
        """Path below the source, for messages: ``alice/2026-01-05/front.jpg``."""
        return "/".join(self.parts)


@dataclass(frozen=True)
class Listing:
    """Every file found, and every folder that could not be listed."""

    files: tuple[ListedFile, ...]
    unreadable: tuple[QuarantinedFile, ...]


def uri_of(fs: AbstractFileSystem, path: str) -> str:
    """The URI a file is known by: a plain path on local disk, else with its protocol."""
    return path if is_local(fs) else fs.unstrip_protocol(path)


def list_files(fs: AbstractFileSystem, root: str) -> Listing:
    """Every file below ``root``, sorted by path. Raises OSError when ``root`` cannot be listed."""
    if not OBJECT_STORES.isdisjoint(protocols(fs)):
        return Listing(tuple(sorted(_list_prefix(fs, root), key=_by_path)), ())
    unreadable: list[QuarantinedFile] = []
    walk = _Walk(fs, unreadable)
    identity = walk.identity(root)
    files = list(walk.folder(root, (), (identity,) if identity else ()))
    return Listing(tuple(sorted(files, key=_by_path)), tuple(unreadable))


def _by_path(listed: ListedFile) -> tuple[str, ...]:
    return listed.parts


def _list_prefix(fs: AbstractFileSystem, root: str) -> Iterator[ListedFile]:
    found = fs.find(root, withdirs=False, detail=True)
    prefix = root.rstrip("/") + "/"
    for path, info in found.items():
        if info.get("type") == "directory" or not path.startswith(prefix):
            continue
        parts = tuple(part for part in path[len(prefix) :].split("/") if part)
        if parts and not any(is_hidden_folder(folder) for folder in parts[:-1]):
            yield ListedFile(path, parts, info)


_FolderId = tuple[int, int]


@dataclass(frozen=True)
class _Walk:
    """One folder-by-folder walk: the filesystem, and where unlistable folders are noted."""

    fs: AbstractFileSystem
    unreadable: list[QuarantinedFile]

    def folder(
        self, folder: str, parts: tuple[str, ...], above: tuple[_FolderId, ...]
    ) -> Iterator[ListedFile]:
        """The entries below ``folder``; ``above`` identifies it and the folders holding it."""
        try:
            entries = self.fs.ls(folder, detail=True)
        except OSError as error:
            if not parts:
                raise
            self.unreadable.append(_unreadable_folder(self.fs, folder, parts, error))
            return
        for info in sorted(entries, key=lambda entry: str(entry["name"])):
            path = str(info["name"]).rstrip("/")
            name = path.rsplit("/", 1)[-1]
            if path == folder.rstrip("/") or not name:
                continue
            kind = self.kind(path, info)
            if kind is not EntryKind.FOLDER:
                yield ListedFile(path, (*parts, name), info, kind)
            elif not is_hidden_folder(name):
                yield from self.subfolder(path, (*parts, name), info, above)

    def subfolder(
        self, path: str, parts: tuple[str, ...], info: dict[str, Any], above: tuple[_FolderId, ...]
    ) -> Iterator[ListedFile]:
        """Walk into ``path``, unless it is one of the folders holding it (a link loop)."""
        identity = self.identity(path)
        if identity is not None and identity in above:
            yield ListedFile(path, parts, info, EntryKind.LINK_LOOP)
            return
        noted = len(self.unreadable)
        below = list(self.folder(path, parts, (*above, identity) if identity else above))
        yield from below
        holds_nothing = all(is_system_file(entry.name) for entry in below)
        if holds_nothing and len(self.unreadable) == noted and claims_image(parts[-1]):
            yield ListedFile(path, parts, info, EntryKind.FOLDER)

    def kind(self, path: str, info: dict[str, Any]) -> EntryKind:
        """Files and folders as listed; what a link or a special file is, asked of the disk."""
        listed = info.get("type")
        if listed == "directory":
            return EntryKind.FOLDER
        if listed == "file" or listed is None:
            return EntryKind.FILE
        if not is_local(self.fs):
            return EntryKind.OTHER
        try:
            return local_kind(path)
        except OSError:  # cannot even look: reading it reports why, with the fix
            return EntryKind.FILE

    def identity(self, folder: str) -> _FolderId | None:
        """Device and inode of a local folder (what a link to it shares); None elsewhere."""
        if not is_local(self.fs):
            return None
        try:
            found = os.stat(folder)
        except OSError:
            return None
        return found.st_dev, found.st_ino


def _unreadable_folder(
    fs: AbstractFileSystem, folder: str, parts: tuple[str, ...], error: OSError
) -> QuarantinedFile:
    relative = "/".join(parts)
    cause = f"{type(error).__name__}: {error.strerror or error}"
    return QuarantinedFile(
        uri=uri_of(fs, folder),
        reason=QuarantineReason.UNREADABLE,
        detail=f"folder {relative} cannot be listed ({cause})",
        fix="give the user running hautflow permission to read the folder, then run again",
        subject_key=key_of(parts[0]),
        session_key=key_of(parts[1]) if len(parts) > 1 else None,
    )
