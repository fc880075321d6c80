"""Small facts about an fsspec filesystem that several tasks need: its protocols, whether it
is the local disk, and a file name safe on any of them."""

from __future__ import annotations

import re
import unicodedata

from fsspec import AbstractFileSystem


def protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    """Every protocol name ``fs`` answers to (fsspec gives one name or a tuple of them)."""
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)


def is_local(fs: AbstractFileSystem) -> bool:
    """True for the local disk, where files are known by plain paths rather than URLs."""
    return not {"file", "local"}.isdisjoint(protocols(fs))


_UNSAFE_NAME = re.compile(r"[^\w.-]")
_SUFFIXED = re.compile(r"-[0-9a-f]{8}$")
_MAX_NAME_BYTES = 100


def safe_file_name(key: str) -> str:
    """``key`` as one file or folder name (no extension) on every disk and bucket, and never
    the name of another key: two subjects must not overwrite each other's plot or report.

    Letters of any script, digits, ``_``, ``.`` and ``-`` are kept (``José``, ``日本``); any
    other character becomes ``_``, leading dots (hidden files, ``..``) and trailing dots are
    dropped, and long names are cut. Whenever that changed the key, or the key has capitals (a
    case-insensitive disk would merge ``Alice`` and ``alice``) or already ends like a suffix,
    ``-`` and the first 8 characters of :func:`tasks.lake.rows.stable_id` of the key are
    appended: ``a b`` is ``a_b-<hash>``, distinct from ``a_b``, which stays as it is.
    """
    # Imported here: tasks.lake imports this module (a top-level import would be circular).
    from tasks.lake.rows import stable_id

    cleaned = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", key)).lstrip(".").rstrip(".")
    cleaned = cleaned.encode()[:_MAX_NAME_BYTES].decode(errors="ignore") or "_"
    if cleaned == key and key == key.lower() and not _SUFFIXED.search(key):
        return key
    return f"{cleaned}-{stable_id(key)[:8]}"
