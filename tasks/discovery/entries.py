"""What a path is before anything opens it: a regular file, a folder, a pipe, a link loop...

Opening a named pipe (FIFO) waits for a writer for ever, and reading a device may never end or
have side effects, so only regular files are ever opened. On the local disk that is asked of the
disk itself (``os.stat``, which follows links and opens nothing), right before the read; other
filesystems say it in the ``type`` of their listing. Anything else becomes a :class:`Problem`
that names the path, what it is, and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from fsspec import AbstractFileSystem

from schemas.captures import QuarantineReason
from tasks.discovery.image_file import Problem
from tasks.fs import is_local


class EntryKind(StrEnum):
    """What a listed path turned out to be."""

    FILE = "file"
    """A regular file (or a link to one): the only kind that is read."""
    FOLDER = "folder"
    """A folder where a file was expected (e.g. an empty folder named ``front.jpg``)."""
    PIPE = "pipe"
    SOCKET = "socket"
    DEVICE = "device"
    OTHER = "other"
    """Anything else a filesystem lists that is neither file nor folder."""
    LINK_LOOP = "link_loop"
    """A link that leads back to itself, or to a folder that contains it."""
    BROKEN_LINK = "broken_link"
    """A link to nothing (a drive that is not mounted), or a file gone since it was listed."""


_WHAT = {
    EntryKind.FOLDER: "a folder, not a photo file",
    EntryKind.PIPE: "a named pipe (FIFO), not a photo file",
    EntryKind.SOCKET: "a socket, not a photo file",
    EntryKind.DEVICE: "a device, not a photo file",
    EntryKind.OTHER: "no regular file",
}


def kind_of(fs: AbstractFileSystem, path: str, info: Mapping[str, Any]) -> EntryKind:
    """What ``path`` is now: asked of the local disk, else read from its listing's ``type``.

    Raises OSError when the local disk cannot tell (e.g. no permission to look).
    """
    if is_local(fs):
        return local_kind(path)
    listed = info.get("type", "file")  # a backend that omits the type lists files only
    if listed == "file":
        return EntryKind.FILE
    return EntryKind.FOLDER if listed == "directory" else EntryKind.OTHER


def local_kind(path: str) -> EntryKind:
    """The kind of a local path, following links, without opening it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return EntryKind.BROKEN_LINK
    except OSError as error:
        if error.errno == errno.ELOOP:
            return EntryKind.LINK_LOOP
        raise
    if stat.S_ISREG(mode):
        return EntryKind.FILE
    if stat.S_ISDIR(mode):
        return EntryKind.FOLDER
    if stat.S_ISFIFO(mode):
        return EntryKind.PIPE
    if stat.S_ISSOCK(mode):
        return EntryKind.SOCKET
    return EntryKind.DEVICE if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else EntryKind.OTHER


def entry_problem(name: str, kind: EntryKind, info: Mapping[str, Any]) -> Problem | None:
    """Why ``name`` (a path below the source, for messages) cannot be read; None for a file."""
    link = f" ({name} -> {info['destination']})" if info.get("destination") else ""
    if kind is EntryKind.FILE:
        return None
    if kind is EntryKind.LINK_LOOP:
        return Problem(
            QuarantineReason.UNREADABLE,
            f"{name} is a link loop{link}: following it leads back to where it started",
            f"remove the link loop (delete the link {name}, or point it at the photo or folder "
            "it should reach), then run again",
        )
    if kind is EntryKind.BROKEN_LINK:
        return Problem(
            QuarantineReason.UNREADABLE,
            f"{name} is gone{link}: a link to nothing, or a file removed since it was listed",
            "mount the drive or restore the file the link points to (or remove the link), "
            "then run again",
        )
    if kind is EntryKind.FOLDER:
        fix = "remove the folder, or put the photo file in its place under that name"
    else:
        fix = "move it out of the photo folders and put the photo file in its place"
    return Problem(QuarantineReason.NOT_A_FILE, f"{name} is {_WHAT[kind]}{link}", fix)
