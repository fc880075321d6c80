"""List every file under a source folder through fsspec, noting folders that cannot be read.

Two ways to walk, picked by the filesystem: object stores (S3, GCS, Azure) list a whole prefix
in a few paged requests, where folders are only name prefixes and access is granted per bucket;
folder filesystems (local disk, memory, SFTP...) are walked one folder at a time, so a folder
that refuses to be listed is reported as unreadable while its siblings are still found. Hidden
folders (``.git``, ``.Trashes``, ``@eaDir``) are not walked into.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fsspec import AbstractFileSystem

from schemas.captures import QuarantinedFile, QuarantineReason
from tasks.discovery.layout import is_hidden_folder
from tasks.fs import is_local, protocols

OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})


@dataclass(frozen=True)
class ListedFile:
    """A file below the source: its filesystem path, its path parts below the root, its info."""

    path: str
    parts: tuple[str, ...]
    info: dict[str, Any] = field(compare=False)

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
    files: list[ListedFile] = []
    unreadable: list[QuarantinedFile] = []
    for entry in _walk(fs, root, (), unreadable):
        files.append(entry)
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


def _walk(
    fs: AbstractFileSystem,
    folder: str,
    parts: tuple[str, ...],
    unreadable: list[QuarantinedFile],
) -> Iterator[ListedFile]:
    try:
        entries = fs.ls(folder, detail=True)
    except OSError as error:
        if not parts:
            raise
        unreadable.append(_unreadable_folder(fs, folder, parts, error))
        return
    for info in sorted(entries, key=lambda entry: str(entry["name"])):
        path = str(info["name"]).rstrip("/")
        name = path.rsplit("/", 1)[-1]
        if path == folder.rstrip("/") or not name:
            continue
        if info.get("type") == "directory":
            if not is_hidden_folder(name):
                yield from _walk(fs, path, (*parts, name), unreadable)
        else:
            yield ListedFile(path, (*parts, name), info)


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
        subject_key=parts[0],
        session_key=parts[1] if len(parts) > 1 else None,
    )
