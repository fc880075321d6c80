"""What is no regular file where a photo should be: pipes, devices, link loops, folders named like
photos, reads that stall. None hangs discovery, none is opened, none is silently skipped."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from schemas.captures import Discovery, QuarantinedFile, QuarantineReason
from tasks.discovery import discover
from tests.tasks.discover_support import photo, triple, write_fs, write_local

R = QuarantineReason


def by_path(found: Discovery) -> dict[str, QuarantinedFile]:
    """Quarantined entries by their path below the source."""
    return {q.uri.split("/src/", 1)[1]: q for q in found.quarantined}


def _pipe(path: Path) -> None:
    os.mkfifo(path)


def _link_to_pipe(path: Path) -> None:
    os.mkfifo(path.parents[3] / "pipe")
    path.symlink_to(path.parents[3] / "pipe")


def _link_to_device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # read as a file: 30 MiB of zeros, then "too large"


@pytest.mark.timeout(20, method="thread")  # a blocked open() ignores the signal method
@pytest.mark.parametrize(
    ("make", "what"),
    [
        (_pipe, "a named pipe (FIFO)"),
        (_link_to_pipe, "a named pipe (FIFO)"),
        (_link_to_device, "a device"),
    ],
)
def test_a_pipe_or_device_named_front_jpg_is_quarantined_unopened(
    tmp_path: Path, make: Any, what: str
) -> None:
    src = write_local(tmp_path / "src", {**triple("alice", "s1"), **triple("bob", "s1", 4)})
    (src / "bob/s1/front.jpg").unlink()
    make(src / "bob/s1/front.jpg")

    found = discover(str(src))

    assert [c.key for c in found.captures] == ["alice/s1"]
    quarantined = by_path(found)
    pipe = quarantined["bob/s1/front.jpg"]
    assert (pipe.reason, pipe.subject_key, pipe.session_key) == (R.NOT_A_FILE, "bob", "s1")
    assert pipe.detail.startswith(f"bob/s1/front.jpg is {what}, not a photo file")
    assert "put the photo file in its place" in pipe.fix
    for usable in ("bob/s1/right.jpg", "bob/s1/left.jpg"):
        assert quarantined[usable].reason is R.NOT_A_FILE
        assert "held back" in quarantined[usable].detail
    assert found.files_seen == 6


@pytest.mark.timeout(20, method="thread")
def test_a_pipe_outside_the_sessions_is_reported_whatever_its_name(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", triple("alice", "s1"))
    os.mkfifo(src / "stray.jpg")
    os.mkfifo(src / "alice/feed")  # no photo name: still no file to skip silently

    found = discover(str(src))

    assert [c.key for c in found.captures] == ["alice/s1"]
    assert {path: q.reason for path, q in by_path(found).items()} == {
        "stray.jpg": R.NOT_A_FILE,
        "alice/feed": R.NOT_A_FILE,
    }
    assert by_path(found)["alice/feed"].subject_key == "alice"
    assert found.files_seen == 5


def test_an_empty_folder_named_like_a_photo_is_not_a_file(tmp_path: Path) -> None:
    src = write_local(
        tmp_path / "src",
        {
            **triple("alice", "s1"),
            "bob/s1/right.jpg": photo(5),
            "bob/s1/left.jpg": photo(6),
            "bob/s1/front.jpg/.DS_Store": b"\x00",  # Finder's clutter: still an empty folder
            "carol/s1/front.jpg": photo(7),
        },
    )
    (src / "alice/holiday.jpg").mkdir()
    (src / "carol/s1/extra").mkdir()  # an empty folder named like no photo: nothing to say

    found = discover(str(src))

    assert [c.key for c in found.captures] == ["alice/s1", "carol/s1"]
    quarantined = by_path(found)
    assert {path: q.reason for path, q in quarantined.items()} == {
        "alice/holiday.jpg": R.NOT_A_FILE,
        "bob/s1/front.jpg": R.NOT_A_FILE,
        "bob/s1/right.jpg": R.NOT_A_FILE,
        "bob/s1/left.jpg": R.NOT_A_FILE,
    }
    folder = quarantined["bob/s1/front.jpg"]
    assert folder.detail == "bob/s1/front.jpg is a folder, not a photo file"
    assert "remove the folder" in folder.fix
    assert "held back" in quarantined["bob/s1/right.jpg"].detail
    assert found.files_seen == 9  # six photos, the clutter, and the two folders


@pytest.mark.timeout(20, method="thread")
def test_link_loops_hold_their_session_back_and_the_walk_ends(tmp_path: Path) -> None:
    src = write_local(
        tmp_path / "src",
        {**triple("alice", "s1"), **triple("bob", "s1", 4), **triple("carol", "s1", 7)},
    )
    (src / "alice/loop").symlink_to("..")  # a folder in alice's that is the source itself
    (src / "bob/s1/a").symlink_to("b")  # a -> b -> a: the disk refuses to follow it
    (src / "bob/s1/b").symlink_to("a")
    (src / "carol/s1/up").symlink_to("..")  # a folder below the session that holds it

    found = discover(str(src))

    assert [c.key for c in found.captures] == ["alice/s1"]
    quarantined = by_path(found)
    loop = quarantined["alice/loop"]
    assert (loop.reason, loop.subject_key, loop.session_key) == (R.UNREADABLE, "alice", None)
    assert loop.detail.startswith("alice/loop is a link loop (alice/loop -> ..)")
    assert loop.fix.startswith("remove the link loop")
    assert quarantined["bob/s1/a"].detail.startswith("bob/s1/a is a link loop (bob/s1/a -> b)")
    for session, loop_name in (("bob/s1", "a"), ("carol/s1", "up")):
        front = quarantined[f"{session}/front.jpg"]
        assert front.reason is R.UNREADABLE
        assert f"held back: {session}/{loop_name} in the same session cannot be used" in (
            front.detail
        )
        assert "remove the link loop" in front.fix
    assert found.files_seen == 13  # nine photos and four links


def test_a_linked_session_folder_is_followed(tmp_path: Path) -> None:
    """Photos kept on another drive and linked into the source are found, like linked photos."""
    elsewhere = write_local(tmp_path / "drive", triple("x", "s1"))
    src = write_local(tmp_path / "src", {"alice/s1/front.jpg": photo(9)})
    (src / "alice/s2").symlink_to(elsewhere / "x/s1")

    found = discover(str(src))

    assert [c.key for c in found.captures] == ["alice/s1", "alice/s2"]
    assert found.captures[1].images[0].uri == str(src / "alice/s2/front.jpg")
    assert (found.quarantined, found.files_seen) == ((), 4)


class StallingMemory(MemoryFileSystem):
    """A memory filesystem where opening the files in ``stalled`` waits, as a dead share does."""

    protocol = "stallmem"
    stalled: ClassVar[set[str]] = set()
    released = threading.Event()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(path.removeprefix("stallmem://"))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if self._strip_protocol(path) in self.stalled:
            # Without a watchdog the run waits here; bounded so a broken build fails, not hangs.
            self.released.wait(10)
        return super()._open(path, mode, **kwargs)


@pytest.fixture
def stalling_root() -> Iterator[str]:
    fsspec.register_implementation("stallmem", StallingMemory, clobber=True)
    root = f"/{uuid.uuid4().hex}"
    write_fs(StallingMemory(), root, {**triple("alice", "s1"), **triple("bob", "s1", 4)})
    yield root
    StallingMemory.released.set()
    StallingMemory.stalled.clear()
    StallingMemory().rm(root, recursive=True)


@pytest.mark.timeout(20, method="thread")
def test_a_read_that_stalls_is_given_up_as_unreadable(stalling_root: str) -> None:
    StallingMemory.stalled.add(f"{stalling_root}/bob/s1/right.jpg")

    found = discover(f"stallmem://{stalling_root}", read_timeout=0.2)

    assert [c.key for c in found.captures] == ["alice/s1"]
    quarantined = {q.uri.rsplit("/s1/", 1)[1]: q for q in found.quarantined}
    assert {name: q.reason for name, q in quarantined.items()} == {
        "front.jpg": R.UNREADABLE,
        "right.jpg": R.UNREADABLE,
        "left.jpg": R.UNREADABLE,
    }
    stalled = quarantined["right.jpg"]
    assert stalled.detail.startswith(
        "bob/s1/right.jpg cannot be read: it gave no data for 0.2 seconds"
    )
    assert "check that the drive, share or bucket answers" in stalled.fix


@pytest.mark.timeout(20, method="thread")
def test_with_a_manifest_a_pipe_is_no_file_whether_listed_or_not(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"dump/1.jpg": photo(1)})
    os.mkfifo(src / "dump/2.jpg")
    os.mkfifo(src / "dump/feed")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,subject,session,side\ndump/1.jpg,a,s,front\ndump/2.jpg,b,s,front\n")

    found = discover(str(src), manifest=str(manifest))

    assert [c.key for c in found.captures] == ["a/s"]
    assert {path: q.reason for path, q in by_path(found).items()} == {
        "dump/2.jpg": R.NOT_A_FILE,
        "dump/feed": R.NOT_A_FILE,
    }
    assert found.files_seen == 3


def test_a_link_to_nothing_says_to_mount_the_drive(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"a/s/right.jpg": photo(1), "a/s/left.jpg": photo(2)})
    (src / "a/s/front.jpg").symlink_to("/media/unmounted/IMG_0001.jpg")

    found = discover(str(src))

    link = by_path(found)["a/s/front.jpg"]
    assert link.reason is R.UNREADABLE
    assert link.detail.startswith("a/s/front.jpg is gone (a/s/front.jpg -> /media/unmounted/")
    assert link.fix.startswith("mount the drive or restore the file the link points to")
    assert found.captures == ()
