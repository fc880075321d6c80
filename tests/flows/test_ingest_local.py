"""End to end on a local folder: data/sample through the flow, the emulator and back via DuckDB.

One ingest of the whole sample (its >30 MiB photo included) is shared by the module; each test
reads a different side of it: the run summary, the emulator's counts, the lake's tables and
types, the views file, the wide view, the skin diary on the command line, the Prefect artifacts.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from typer.testing import CliRunner

from flows.options import IngestOptions
from hautflow.cli import app
from tasks.lake import connect, subject_history
from tasks.reporting.summary import RunSummary
from tests.flows.conftest import haut_environment
from tests.flows.support import (
    SAMPLE_CAPTURES,
    SAMPLE_FILES_SEEN,
    SAMPLE_IMAGES,
    SAMPLE_NO_FACE,
    SAMPLE_QUARANTINE,
    SAMPLE_SUBJECTS,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    column_types,
    copy_sample,
    run_flow,
    running_emulator,
    scalar,
    view_counts,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]


@dataclass(frozen=True)
class SampleRun:
    options: IngestOptions
    summary: RunSummary
    stats: dict[str, Any]


@pytest.fixture(scope="module")
def sample_run(
    prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SampleRun]:
    root = tmp_path_factory.mktemp("local")
    source = copy_sample(root / "sample")
    with haut_environment(), running_emulator() as emulator:
        options = IngestOptions(
            source=str(source),
            lake=str(root / "lake"),
            state_dir=str(root / "state"),
            api_url=emulator.url,
        )
        summary = run_flow(options)
        yield SampleRun(options, summary, emulator.stats())


@pytest.fixture
def lake(sample_run: SampleRun) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(sample_run.options.lake)
    yield con
    con.close()


def test_the_summary_counts_what_the_folder_holds(sample_run: SampleRun) -> None:
    record = sample_run.summary.record
    assert record.status == "completed_with_quarantine"
    assert record.files_seen == SAMPLE_FILES_SEEN
    assert record.captures_discovered == record.captures_new == SAMPLE_CAPTURES
    assert record.images_uploaded == SAMPLE_IMAGES
    assert (record.images_complete, record.images_no_face) == (
        SAMPLE_IMAGES - SAMPLE_NO_FACE,
        SAMPLE_NO_FACE,
    )
    assert (record.images_pending, record.images_failed, record.captures_skipped) == (0, 0, 0)
    assert record.rows_written > 0
    assert not sample_run.summary.failed
    assert not sample_run.summary.ok  # quarantined files make the run not ok


def test_every_bad_input_kind_is_in_the_summary_with_its_fix(sample_run: SampleRun) -> None:
    quarantined = sample_run.summary.quarantined
    assert Counter(q.reason.value for q in quarantined) == SAMPLE_QUARANTINE
    for q in quarantined:
        assert Path(q.uri).is_absolute()
        assert q.detail, q
        assert q.fix, q
    markdown = sample_run.summary.markdown()
    for reason in SAMPLE_QUARANTINE:
        assert f"| {reason} |" in markdown


def test_every_photo_is_uploaded_once(sample_run: SampleRun) -> None:
    stats = sample_run.stats
    assert_each_photo_uploaded_once(stats, SAMPLE_IMAGES)
    assert (stats["datasets"], stats["subjects"], stats["batches"]) == (
        1,
        SAMPLE_SUBJECTS,
        SAMPLE_CAPTURES,
    )


def test_the_quarantine_table_lists_every_bad_file_with_reason_and_fix(
    sample_run: SampleRun, lake: duckdb.DuckDBPyConnection
) -> None:
    rows = lake.execute("SELECT uri, reason, detail, fix FROM quarantine").fetchall()
    assert Counter(reason for _, reason, _, _ in rows) == SAMPLE_QUARANTINE
    assert {uri for uri, *_ in rows} == {q.uri for q in sample_run.summary.quarantined}
    assert all(detail and fix for _, _, detail, fix in rows)
    too_large = [uri for uri, reason, *_ in rows if reason == "too_large"]
    assert [Path(uri).name for uri in too_large] == ["front.jpg"]


def test_the_lake_holds_every_photo_once_with_all_its_results(
    sample_run: SampleRun, lake: duckdb.DuckDBPyConnection
) -> None:
    assert_lake_complete(lake, sample_run.stats, no_face=SAMPLE_NO_FACE)
    counts = view_counts(lake)
    assert counts["subjects"] == SAMPLE_SUBJECTS
    assert counts["batches"] == SAMPLE_CAPTURES
    assert counts["runs"] == 1
    assert counts["aux_images"] == sample_run.stats["aux_images"]
    assert counts["masks"] > 0
    assert counts["aux_metrics"] > 0
    by_side = dict(lake.execute("SELECT side, count(*) FROM images GROUP BY ALL").fetchall())
    assert by_side == {"front": 26, "right": 13, "left": 13}


def test_lake_columns_read_back_with_their_types(lake: duckdb.DuckDBPyConnection) -> None:
    metrics = column_types(lake, "metrics")
    assert metrics["value"] == "DOUBLE"
    assert metrics["value_text"] == "VARCHAR"
    assert metrics["captured_at"] == metrics["written_at"] == "TIMESTAMP WITH TIME ZONE"
    assert metrics["algorithm_version_id"] == "INTEGER"
    images = column_types(lake, "images")
    assert (images["side_id"], images["size_bytes"]) == ("SMALLINT", "BIGINT")
    assert images["uploaded_at"] == "TIMESTAMP WITH TIME ZONE"
    assert column_types(lake, "results")["is_ok"] == "BOOLEAN"
    assert column_types(lake, "runs")["run_date"] == "DATE"
    kinds = {kind for (kind,) in lake.execute("SELECT DISTINCT kind FROM metrics").fetchall()}
    assert "main" in kinds
    assert kinds <= {"main", "sub", "debug"}
    assert scalar(lake, "SELECT count(*) FROM metrics WHERE value IS NOT NULL") > 0


def test_capture_times_come_from_exif_or_the_folder_name(lake: duckdb.DuckDBPyConnection) -> None:
    def front(subject: str, session: str) -> tuple[Any, ...]:
        row = lake.execute(
            "SELECT captured_at, captured_at_source FROM images "
            "WHERE subject_key = ? AND session_key = ? AND side = 'front'",
            [subject, session],
        ).fetchone()
        assert row is not None
        return tuple(row)

    # alice's camera writes 09:37 local time with OffsetTimeOriginal +01:00
    assert front("alice", "2026-01-05") == (datetime(2026, 1, 5, 8, 37, tzinfo=UTC), "exif")
    # chen's phone lost EXIF once: the session folder's date and time
    assert front("chen", "2026-02-23_0815") == (datetime(2026, 2, 23, 8, 15, tzinfo=UTC), "folder")


def test_the_views_file_opens_fresh_with_the_same_rows(
    sample_run: SampleRun, lake: duckdb.DuckDBPyConnection
) -> None:
    views = duckdb.connect(str(sample_run.options.views_path), read_only=True)
    try:
        assert view_counts(views) == view_counts(lake)
        assert scalar(views, "SELECT count(*) FROM image_metrics_wide") == SAMPLE_IMAGES
    finally:
        views.close()


def test_the_wide_view_has_one_row_per_photo(lake: duckdb.DuckDBPyConnection) -> None:
    rows, photos, with_redness = lake.execute(
        "SELECT count(*), count(DISTINCT image_id), count(redness) FROM image_metrics_wide"
    ).fetchone() or (0, 0, 0)
    assert rows == photos == SAMPLE_IMAGES
    # every face photo has a face redness score; erin's landscape has no face to score
    assert with_redness == SAMPLE_IMAGES - 1


def test_history_prints_the_skin_diary(sample_run: SampleRun) -> None:
    runner = CliRunner()
    diary = runner.invoke(app, ["history", "alice", "--lake", sample_run.options.lake])
    assert diary.exit_code == 0, diary.output
    assert "Skin diary of alice (8 sessions)" in diary.output
    assert "2026-01-05" in diary.output
    assert "2026-02-23" in diary.output
    assert "redness" in diary.output
    since = runner.invoke(
        app, ["history", "alice", "--lake", sample_run.options.lake, "--since", "2026-02-01"]
    )
    assert since.exit_code == 0, since.output
    assert "(4 sessions)" in since.output
    assert "2026-01-05" not in since.output
    nobody = runner.invoke(app, ["history", "zoe", "--lake", sample_run.options.lake])
    assert "No captures of 'zoe'" in nobody.output


def test_the_skin_diary_follows_the_skin(lake: duckdb.DuckDBPyConnection) -> None:
    """alice's redness was drawn falling from 0.65 to 0.15 over eight weeks, so her redness
    score (0-100, higher is better) rises; bob's was drawn rising, so his score falls."""
    alice, bob = subject_history(lake, "alice"), subject_history(lake, "bob")
    assert len(alice) == len(bob) == 8
    assert alice["redness"].iloc[0] < alice["redness"].iloc[-1]
    assert bob["redness"].iloc[0] > bob["redness"].iloc[-1]


def test_the_run_publishes_its_summary_as_prefect_artifacts(sample_run: SampleRun) -> None:
    async def read(key: str) -> list[Any]:
        async with get_client() as client:
            found = ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            return list(await client.read_artifacts(artifact_filter=found))

    run_id = sample_run.summary.record.run_id
    reports = [a for a in asyncio.run(read("ingest-report")) if run_id in str(a.data)]
    assert len(reports) == 1
    assert "too_large" in str(reports[0].data)
    # the first four subjects by key, each plot a PNG in the markdown and a file in the lake
    report = str(reports[0].data)
    assert report.count("](data:image/png;base64,iVBORw0KGgo") == 4
    assert "### `alice`" in report
    assert "### `dara`" in report
    assert "### `erin`" not in report
    plots = Path(sample_run.options.lake) / "reports" / "plots"
    assert sorted(p.name for p in plots.iterdir()) == [
        "alice.png",
        "bob.png",
        "chen.png",
        "dara.png",
    ]
    tables = asyncio.run(read("ingest-summary"))
    assert any("images uploaded" in str(t.data) for t in tables)
