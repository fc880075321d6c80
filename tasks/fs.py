"""Small facts about an fsspec filesystem that several tasks need: its protocols, whether it
is the local disk."""

from __future__ import annotations

from fsspec import AbstractFileSystem


def protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    """Every protocol name ``fs`` answers to (fsspec gives one name or a tuple of them)."""
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)


def is_local(fs: AbstractFileSystem) -> bool:
    """True for the local disk, where files are known by plain paths rather than URLs."""
    return not {"file", "local"}.isdisjoint(protocols(fs))
