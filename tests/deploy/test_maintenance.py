"""The lake maintenance flow: staged rows published (newest row per id kept), the views file
rewritten; run in this process against the session's Prefect test server (the path through a
deployment and a worker, pull step included, is the ingest's in test_schedule.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from flows.maintenance import compact_lake
from tasks.lake import Lake, flatten_image
from tests.tasks.lake_support import capture_rows, uploaded_image

pytestmark = pytest.mark.server


@pytest.fixture(autouse=True)
def _on_the_test_server(prefect_server: str) -> str:
    return prefect_server


def lake_of_two_runs(root: Path) -> Lake:
    """One image staged twice, pending then complete: two files per table-partition."""
    lake = Lake(str(root))
    image = uploaded_image()
    for status in ("pending", "complete"):
        rows = flatten_image(image, capture_rows(image.image_id), [], run_id=status, status=status)
        lake.stage(rows, run_id=status)
    return lake


def test_compaction_leaves_one_file_per_partition_and_fresh_views(tmp_path: Path) -> None:
    lake = lake_of_two_runs(tmp_path / "lake")
    assert len(lake.staged_files("metrics")) == 2
    state = tmp_path / "state"

    report = asyncio.run(compact_lake(lake=str(tmp_path / "lake"), state_dir=str(state)))

    assert report.files_before == 2 * report.files_after > 0
    assert report.rows_before == 2 * report.rows_after
    assert len(lake.files("metrics")) == 1
    assert lake.staged_files("metrics") == []
    # The views file the plain duckdb shell opens: newest row per id, from the merged files.
    con = duckdb.connect(str(state / "lake.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT status FROM images").fetchall() == [("complete",)]
        assert con.execute("SELECT count(*) = count(DISTINCT metric_id) FROM metrics").fetchone()
    finally:
        con.close()


def test_one_table_only(tmp_path: Path) -> None:
    lake = lake_of_two_runs(tmp_path / "lake")
    report = asyncio.run(
        compact_lake(lake=str(tmp_path / "lake"), state_dir=str(tmp_path / "s"), table="images")
    )
    assert report.files_after == 1
    assert len(lake.files("images")) == 1
    assert len(lake.staged_files("metrics")) == 2  # untouched


def test_an_unknown_table_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"no lake table 'imgs'; the tables are .*images"):
        asyncio.run(compact_lake(lake=str(tmp_path), state_dir=str(tmp_path), table="imgs"))
