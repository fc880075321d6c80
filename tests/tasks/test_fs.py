"""The shared filesystem facts: protocols and local-ness, whatever form fsspec gives them in."""

from __future__ import annotations

from pathlib import Path

import fsspec
from fsspec import AbstractFileSystem

from tasks.discovery.listing import uri_of
from tasks.fs import is_local, protocols
from tasks.lake import Lake


class _Bucket(AbstractFileSystem):
    protocol = ("s3", "s3a")


def test_protocols_are_always_a_tuple() -> None:
    assert protocols(fsspec.filesystem("memory")) == ("memory",)
    assert protocols(_Bucket()) == ("s3", "s3a")
    assert set(protocols(fsspec.filesystem("file"))) == {"file", "local"}


def test_local_disk_gives_plain_paths_everywhere_else_urls(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    assert is_local(fsspec.filesystem("file"))
    assert not is_local(memory)
    assert not is_local(_Bucket())
    assert uri_of(memory, "/a/b.jpg").startswith("memory://")
    assert uri_of(fsspec.filesystem("file"), "/a/b.jpg") == "/a/b.jpg"
    assert Lake(str(tmp_path)).is_local
    assert not Lake("memory://lake").is_local
