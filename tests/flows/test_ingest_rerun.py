"""Exactly once across runs: a rerun uploads nothing and writes no row twice; a new session
uploads only itself; a photo changed under an uploaded capture is reported, never uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.options import IngestOptions
from tasks.lake import connect
from tests.flows.support import (
    SMALL_CAPTURES,
    SMALL_IMAGES,
    SMALL_SUBJECTS,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    parquet_files,
    run_flow,
    small_sample,
    view_counts,
    write_capture,
    write_photo,
)

pytestmark = pytest.mark.server


@pytest.fixture
def options(tmp_path: Path, emulator: Emulator) -> IngestOptions:
    """A small folder, ingested once already."""
    source = small_sample(tmp_path / "photos")
    options = IngestOptions(
        source=str(source),
        lake=str(tmp_path / "lake"),
        state_dir=str(tmp_path / "state"),
        api_url=emulator.url,
    )
    first = run_flow(options)
    assert first.record.images_uploaded == first.record.images_complete == SMALL_IMAGES
    assert first.record.status == "completed"
    return options


def test_a_rerun_uploads_nothing_and_writes_no_row_twice(
    options: IngestOptions, emulator: Emulator
) -> None:
    stats = emulator.stats()
    con = connect(options.lake)
    counts = view_counts(con)
    con.close()
    data_files = {f for f in parquet_files(Path(options.lake)) if not f.startswith("runs/")}

    again = run_flow(options)

    assert again.record.captures_skipped == SMALL_CAPTURES
    assert (again.record.captures_new, again.record.images_uploaded) == (0, 0)
    assert again.ok
    assert again.record.status == "completed"
    assert emulator.stats() == stats
    con = connect(options.lake)
    assert view_counts(con) == {**counts, "runs": counts["runs"] + 1}
    assert_lake_complete(con, stats)
    con.close()
    # nothing but the run's manifest row was written: no image, result or metric file
    written = parquet_files(Path(options.lake)) - data_files
    assert {f.split("/")[0] for f in written} == {"runs"}


def test_a_new_session_uploads_only_itself(options: IngestOptions, emulator: Emulator) -> None:
    before = emulator.stats()
    write_capture(Path(options.source), "ben", "2026-01-19", 4, triple=False)

    run = run_flow(options)

    assert (run.record.captures_new, run.record.captures_skipped) == (1, SMALL_CAPTURES)
    assert run.record.images_uploaded == run.record.images_complete == 1
    after = emulator.stats()
    assert_each_photo_uploaded_once(after, SMALL_IMAGES + 1)
    assert (after["subjects"], after["batches"]) == (SMALL_SUBJECTS, SMALL_CAPTURES + 1)
    assert set(before["uploads_by_sha256"]) < set(after["uploads_by_sha256"])
    con = connect(options.lake)
    assert_lake_complete(con, after)
    sessions = con.execute("SELECT session_key FROM batches WHERE subject_key = 'ben'").fetchall()
    assert sorted(s for (s,) in sessions) == ["2026-01-05", "2026-01-19"]
    con.close()


def test_a_changed_photo_is_reported_not_uploaded(
    options: IngestOptions, emulator: Emulator
) -> None:
    before = emulator.stats()
    changed = write_photo(Path(options.source) / "amy" / "2026-01-12" / "front.jpg", seed=99)

    run = run_flow(options)

    assert emulator.stats() == before
    assert run.record.images_uploaded == 0
    assert [(q.uri, q.reason.value) for q in run.quarantined] == [
        (str(changed), "changed_after_upload")
    ]
    assert run.quarantined[0].fix
    assert run.record.status == "completed_with_quarantine"
    con = connect(options.lake)
    rows = con.execute("SELECT uri, reason, fix FROM quarantine").fetchall()
    assert [(uri, reason) for uri, reason, _ in rows] == [(str(changed), "changed_after_upload")]
    # the lake keeps what was uploaded, not the new bytes
    assert_lake_complete(con, before)
    con.close()
