"""Discovery through fsspec backends: memory://, s3:// on loopback moto, unreadable parts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from moto.server import ThreadedMotoServer

from schemas.captures import Discovery, QuarantineReason
from tasks.discovery import discover
from tests.tasks.discover_support import photo, triple, write_fs, write_local

TREE = {
    **triple("alice", "2026-01-05", 1, taken=datetime(2026, 1, 5, 9, 0)),
    **triple("alice", "2026-01-12", 4),  # dated by its folder
    "bob/2026-01-07/IMG_7_front.jpg": photo(8, taken=datetime(2026, 1, 7, 18, 0)),
    "bob/2026-01-08/front.jpg": b"",
    "bob/note.jpg": photo(9),
    ".DS_Store": b"\x00",
}


def summary(found: Discovery) -> tuple[object, ...]:
    """Everything but where the files live: what a user would compare between two copies."""
    captures = [
        (
            c.key,
            c.capture_id,
            [(i.side, i.sha256, i.size, i.image_format, i.captured_at) for i in c.images],
        )
        for c in found.captures
    ]
    quarantined = sorted((q.uri.rsplit("/src/", 1)[1], q.reason) for q in found.quarantined)
    return captures, quarantined, found.files_seen


@pytest.fixture
def local_copy(tmp_path: Path) -> Discovery:
    return discover(str(write_local(tmp_path / "src", TREE)))


def test_memory_urls_find_the_same_as_a_local_copy(local_copy: Discovery) -> None:
    root = f"/{uuid.uuid4().hex}/src"
    fs = fsspec.filesystem("memory")
    write_fs(fs, root, TREE)
    try:
        found = discover(f"memory://{root}")
    finally:
        fs.rm(root.rsplit("/", 1)[0], recursive=True)
    assert summary(found) == summary(local_copy)
    assert found.captures[0].images[0].uri == f"memory://{root}/alice/2026-01-05/front.jpg"


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, Any]]:
    """A moto S3 server on loopback with dummy credentials; yields s3fs storage options."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield {"client_kwargs": {"endpoint_url": f"http://{host}:{port}"}}
        finally:
            server.stop()


@pytest.mark.server
def test_an_s3_bucket_finds_the_same_as_a_local_copy(
    s3_options: dict[str, Any], local_copy: Discovery
) -> None:
    fs = fsspec.filesystem("s3", **s3_options)
    fs.mkdir("photos")
    write_fs(fs, "photos/src", TREE)
    found = discover("s3://photos/src", storage_options=s3_options)
    assert summary(found) == summary(local_copy)
    assert found.captures[0].images[0].uri == "s3://photos/src/alice/2026-01-05/front.jpg"
    assert found.captures[0].images[0].captured_at_source == "exif"


class LockedMemory(MemoryFileSystem):
    """A memory filesystem where some folders cannot be listed and some files not opened."""

    protocol = "lockedmem"
    locked: ClassVar[set[str]] = set()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(path.removeprefix("lockedmem://"))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        if self._strip_protocol(path) in self.locked:
            raise PermissionError(13, "Permission denied", path)
        return super().ls(path, detail=detail, **kwargs)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if self._strip_protocol(path) in self.locked:
            raise PermissionError(13, "Permission denied", path)
        return super()._open(path, mode, **kwargs)


@pytest.fixture
def locked_root() -> Iterator[str]:
    fsspec.register_implementation("lockedmem", LockedMemory, clobber=True)
    root = f"/{uuid.uuid4().hex}"
    write_fs(LockedMemory(), root, {**triple("alice", "s1"), **triple("bob", "s1", 7)})
    write_fs(LockedMemory(), root, {**triple("bob", "s2", 4), **triple("chen", "s1", 9)})
    yield root
    LockedMemory.locked.clear()
    LockedMemory().rm(root, recursive=True)


def test_unreadable_folders_are_quarantined_and_the_rest_is_found(locked_root: str) -> None:
    LockedMemory.locked.update({f"{locked_root}/bob/s1", f"{locked_root}/chen"})
    found = discover(f"lockedmem://{locked_root}")
    assert [c.key for c in found.captures] == ["alice/s1", "bob/s2"]
    unreadable = {(q.subject_key, q.session_key): q for q in found.quarantined}
    assert set(unreadable) == {("bob", "s1"), ("chen", None)}
    assert all(q.reason is QuarantineReason.UNREADABLE for q in found.quarantined)
    assert "folder chen cannot be listed" in unreadable["chen", None].detail
    assert "permission" in unreadable["chen", None].fix


def test_an_unreadable_photo_holds_back_its_session(locked_root: str) -> None:
    LockedMemory.locked.add(f"{locked_root}/alice/s1/right.jpg")
    found = discover(f"lockedmem://{locked_root}")
    assert "alice/s1" not in [c.key for c in found.captures]
    by_name = {q.uri.rsplit("/", 1)[1]: q.reason for q in found.quarantined}
    assert by_name == {
        "right.jpg": QuarantineReason.UNREADABLE,
        "front.jpg": QuarantineReason.UNREADABLE,
        "left.jpg": QuarantineReason.UNREADABLE,
    }


def test_a_source_that_cannot_be_listed_raises(locked_root: str) -> None:
    from tasks.discovery import SourceError

    LockedMemory.locked.add(locked_root)
    with pytest.raises(SourceError, match="cannot be listed"):
        discover(f"lockedmem://{locked_root}")
