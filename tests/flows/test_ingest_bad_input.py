"""The bad-input kinds data/sample cannot hold, end to end: a folder that cannot be read, a bad
manifest row, a photo the API refuses. Each is quarantined with its reason and fix, in the run
summary and the lake, and the rest of the folder is still ingested.

An unreadable folder needs a filesystem that refuses to list it: these tests run as root, which
reads any folder whatever its mode, so the folder is refused by a local filesystem (under its
own protocol) that denies listing it, as a permission error would.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem

from flows.options import IngestOptions
from schemas.captures import QuarantineReason
from tasks.lake import connect
from tests.flows.support import (
    SAMPLE_QUARANTINE,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    options_in,
    run_flow,
    scalar,
    write_capture,
)

pytestmark = pytest.mark.server

HERE = {"unreadable": 1, "bad_manifest_row": 2, "rejected_by_api": 1}
IN_THE_RERUN_TESTS = {"changed_after_upload"}
IN_THE_FINDINGS_TESTS = {"duplicate_photo"}  # test_ingest_findings.py
IN_THE_NOT_A_FILE_TEST = {"not_a_file"}  # test_a_pipe_or_a_folder_named_like_a_photo_...


class RefusingLocal(LocalFileSystem):
    """The local disk, except that the folders in ``refused`` cannot be listed."""

    protocol = ("refusing",)
    refused: ClassVar[set[str]] = set()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(str(path).removeprefix("refusing://"))

    def ls(self, path: str, detail: bool = False, **kwargs: Any) -> Any:
        if self._strip_protocol(path) in self.refused:
            raise PermissionError(13, "Permission denied", path)
        return super().ls(path, detail=detail, **kwargs)


@pytest.fixture
def refusing_fs() -> Iterator[type[RefusingLocal]]:
    fsspec.register_implementation("refusing", RefusingLocal, clobber=True)
    yield RefusingLocal
    RefusingLocal.refused.clear()


MANIFEST = """path,subject,session,side,light
amy/2026-01-05/front.jpg,amy,2026-01-05,front,
amy/2026-01-05/right.jpg,amy,2026-01-05,right,
amy/2026-01-05/left.jpg,amy,2026-01-05,left,
ben/2026-01-05/front.jpg,ben,2026-01-05,front,2
ben/2026-01-12/front.jpg,,2026-01-12,front,
ben/2026-01-19/front.jpg,ben,2026-01-19,top,
"""
"""amy's triple is fine; ben's photo asks for light 2, which selfies do not have (the API refuses
it); two rows are unusable (no subject; no such side). cal's folder cannot be listed."""


def test_unreadable_folders_bad_rows_and_refused_photos_are_quarantined(
    tmp_path: Path, emulator: Emulator, refusing_fs: type[RefusingLocal]
) -> None:
    photos = tmp_path / "photos"
    write_capture(photos, "amy", "2026-01-05", 1, triple=True)
    for n, session in enumerate(("2026-01-05", "2026-01-12", "2026-01-19"), start=2):
        write_capture(photos, "ben", session, n, triple=False)
    write_capture(photos, "cal", "2026-01-05", 9, triple=False)
    refusing_fs.refused.add(str(photos / "cal"))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(MANIFEST)
    options = IngestOptions(
        source=f"refusing://{photos}",
        manifest=str(manifest),
        lake=str(tmp_path / "lake"),
        state_dir=str(tmp_path / "state"),
        api_url=emulator.url,
    )

    summary = run_flow(options)

    assert Counter(q.reason.value for q in summary.quarantined) == HERE
    assert all(q.detail and q.fix for q in summary.quarantined)
    by_reason = {q.reason.value: q for q in summary.quarantined}
    assert by_reason["unreadable"].uri.endswith("/photos/cal")
    assert by_reason["rejected_by_api"].uri.endswith("ben/2026-01-05/front.jpg")
    assert summary.record.images_uploaded == summary.record.images_complete == 3
    stats = emulator.stats()
    assert_each_photo_uploaded_once(stats, 3)
    con = connect(options.lake)
    assert_lake_complete(con, stats)
    rows = con.execute("SELECT reason, detail, fix FROM quarantine").fetchall()
    assert Counter(reason for reason, _, _ in rows) == HERE
    assert all(detail and fix for _, detail, fix in rows)
    con.close()


def test_every_bad_input_kind_is_covered_end_to_end() -> None:
    """A new quarantine reason needs an end-to-end case here, in the sample, or in a rerun."""
    covered = set(SAMPLE_QUARANTINE) | set(HERE) | IN_THE_RERUN_TESTS | IN_THE_FINDINGS_TESTS
    covered |= IN_THE_NOT_A_FILE_TEST
    assert covered == {reason.value for reason in QuarantineReason}


def test_a_dangling_link_is_unreadable_not_empty(tmp_path: Path, emulator: Emulator) -> None:
    """A photo folder with links to a drive that is not mounted: the fix is to mount it, not to
    copy the photo again."""
    photos = tmp_path / "photos"
    write_capture(photos, "amy", "2026-01-05", 1, triple=False)
    link = photos / "amy" / "2026-01-12" / "front.jpg"
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "unmounted-drive" / "IMG_0001.jpg")
    options = options_in(tmp_path, emulator)

    summary = run_flow(options)

    assert summary.record.images_uploaded == 1
    assert [(q.uri, q.reason.value) for q in summary.quarantined] == [(str(link), "unreadable")]


@pytest.mark.timeout(60, method="thread")  # an open() blocked on a pipe ignores the signal method
def test_a_pipe_or_a_folder_named_like_a_photo_is_not_a_file(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A named pipe (FIFO) and an empty folder where photos should be: set aside unopened, with
    the fix, and the run ends; the rest of the folder goes up."""
    photos = tmp_path / "photos"
    write_capture(photos, "amy", "2026-01-05", 1, triple=False)
    pipe = photos / "ben" / "2026-01-05" / "front.jpg"
    pipe.parent.mkdir(parents=True)
    os.mkfifo(pipe)
    folder = photos / "cal" / "2026-01-05" / "front.jpg"
    folder.mkdir(parents=True)
    options = options_in(tmp_path, emulator)

    summary = run_flow(options)

    assert summary.record.images_uploaded == 1
    assert sorted((q.uri, q.reason.value) for q in summary.quarantined) == [
        (str(pipe), "not_a_file"),
        (str(folder), "not_a_file"),
    ]
    assert all(q.fix for q in summary.quarantined)
    con = connect(options.lake)
    assert scalar(con, "SELECT count(*) FROM quarantine WHERE reason = 'not_a_file'") == 2
    con.close()
