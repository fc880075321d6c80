"""Where a manifest row's path points: inside the source folder, in one spelling.

A manifest is a file of paths that anyone could have written, so it must not be a way to read
what the source does not hold: a row's path is resolved below the source root, and ``../``
escapes, absolute paths and URLs that land outside it are refused (unless the user allows it).
An absolute path or URL that lands inside the source (``/photos/a.jpg``, ``s3://b/src/a.jpg``
for a source ``s3://b/src``) is the same file as its relative spelling. Paths are compared by
their text, not by following links: a link inside the source that points elsewhere is the
user's own doing, as for the folder layout.
"""

from __future__ import annotations

import posixpath

from fsspec import AbstractFileSystem

from tasks.fs import is_local, protocols


def is_absolute(cell: str) -> bool:
    """An absolute path or a URL, as opposed to a path relative to the source."""
    return "://" in cell or cell.startswith("/")


def one_spelling(path: str) -> str:
    """``a/./b``, ``a//b`` and ``a/x/../b`` are ``a/b``; a URL (``http://...``) is kept as is."""
    return path if "://" in path else posixpath.normpath(path)


def below_root(root: str, relative: str) -> str:
    """The path ``relative`` names below ``root``, in one spelling (it may climb out of it)."""
    return one_spelling(f"{root.rstrip('/')}/{relative}")


def inside_source(cell: str, fs: AbstractFileSystem, root: str) -> str | None:
    """The path on the source's filesystem that ``cell`` names, when it lies below ``root``;
    None when it leads outside (``../``, another folder, another filesystem or bucket)."""
    if "://" in cell:
        if cell.split("://", 1)[0] not in protocols(fs):
            return None
        path = one_spelling(fs._strip_protocol(cell))
    elif cell.startswith("/"):
        if not is_local(fs):
            return None
        path = one_spelling(cell)
    else:
        path = below_root(root, cell)
    return path if path.startswith(root.rstrip("/") + "/") else None
