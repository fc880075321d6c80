"""The lake on disk and in a bucket: partitioned files, types, compaction, no secrets."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from schemas.captures import QuarantinedFile, QuarantineReason
from schemas.lake import TABLES
from tasks.lake import Lake, LakeRows, RunRecord, connect, flatten_image, quarantine_rows, run_rows
from tasks.lake.store import CompactionReport, at_rest, conform
from tests.tasks.lake_support import (
    AUX_TOKEN,
    capture_rows,
    emulated_payload,
    moto_s3,
    uploaded_image,
)

STARTED = datetime(2026, 2, 3, 8, 0, tzinfo=UTC)


def two_months() -> LakeRows:
    """The real capture for a January session and a February session of alice."""
    rows = LakeRows()
    for session, month in (("2026-01-05", 1), ("2026-02-09", 2)):
        image = uploaded_image(
            session_key=session, captured_at=datetime(2026, month, 5, tzinfo=UTC)
        )
        rows.extend(
            flatten_image(
                image, capture_rows(image.image_id), [], run_id="run-1", status="complete"
            )
        )
    return rows


def read_sql(sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a fresh connection (the tests' own queries over temporary paths)."""
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_write_makes_one_file_per_table_partition(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    paths = lake.write(two_months(), run_id="run-1")
    metrics = sorted(p for p in paths if "/metrics/" in p)
    assert [posixpath.basename(posixpath.dirname(p)) for p in metrics] == [
        "capture_month=2026-01",
        "capture_month=2026-02",
    ]
    assert all(posixpath.basename(p).startswith("run-1-") for p in paths)
    assert len(paths) == len(set(paths)) == 2 * 5 + 1  # batches..masks per month, subjects once
    assert all("/_staging/" in p for p in paths)  # staged first, then published
    assert [posixpath.basename(posixpath.dirname(p)) for p in lake.files("metrics")] == [
        "capture_month=2026-01",
        "capture_month=2026-02",
    ]
    assert not list((tmp_path / "lake" / "_staging").rglob("*.parquet"))
    assert not list((tmp_path / "lake").rglob("*.tmp"))


def test_parquet_reads_back_through_duckdb_with_types(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write(two_months(), run_id="run-1")
    pattern = f"{tmp_path}/lake/metrics/*/*.parquet"
    types = dict(
        (name, kind)
        for name, kind, *_ in read_sql(
            f"DESCRIBE SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)"  # noqa: S608
        )
    )
    assert types["value"] == "DOUBLE"
    assert types["value_text"] == "VARCHAR"
    assert types["captured_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["algorithm_version_id"] == "INTEGER"
    ((count, months),) = read_sql(
        f"SELECT count(*), count(DISTINCT capture_month) FROM read_parquet('{pattern}', "  # noqa: S608
        "hive_partitioning = true)"
    )
    assert (count, months) == (2 * 183, 2)


def test_all_null_columns_keep_their_types(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write(run_rows(RunRecord("run-1", STARTED, "/photos", "running")), run_id="run-1")
    lake.write(two_months(), run_id="run-1")
    (runs_file,) = lake.files("runs")
    schema = pq.read_schema(runs_file)
    assert str(schema.field("finished_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("error").type) == "string"
    masks = [pq.read_schema(path).field("coordinates_json").type for path in lake.files("masks")]
    assert {str(t) for t in masks} == {"string"}
    assert b"description" in (schema.field("source").metadata or {})


def test_staged_rows_are_published_one_row_per_id(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    image = uploaded_image()
    for status in ("pending", "complete"):
        rows = flatten_image(
            image, capture_rows(image.image_id), [], run_id=f"run-{status}", status=status
        )
        lake.write(rows, run_id=f"run-{status}", publish=False)
    assert lake.files("metrics") == []  # staged: readers see nothing yet
    assert len(lake.staged_files("metrics")) == 2
    report = lake.publish()
    assert report.files_before == 2 * 6
    assert report.files_after == 6
    assert report.rows_after * 2 == report.rows_before
    assert [lake.staged_files(name) for name in ("metrics", "images")] == [[], []]
    (published,) = lake.files("metrics")
    assert posixpath.basename(published).startswith("part-")
    metrics = lake.read("metrics", deduplicate=False)
    assert metrics.num_rows == len(set(metrics.column("metric_id").to_pylist())) == 183
    assert lake.read("images", deduplicate=False).column("status").to_pylist() == ["complete"]
    assert lake.compact() == CompactionReport()  # nothing left to merge


def test_a_rerun_rewrites_the_partition_it_touched(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    rows = two_months()
    lake.write(rows, run_id="run-1")
    first = lake.files("metrics")
    lake.write(rows, run_id="run-2")
    again = lake.files("metrics")
    assert len(again) == 2
    assert not set(first) & set(again)
    (count, ids, runs) = read_sql(
        f"SELECT count(*), count(DISTINCT metric_id), list(DISTINCT run_id) FROM read_parquet("  # noqa: S608
        f"'{tmp_path}/lake/metrics/*/*.parquet')"
    )[0]
    assert (count, ids, runs) == (2 * 183, 2 * 183, ["run-1"])  # rows keep their first writer


def test_an_older_lake_with_a_file_per_write_is_merged(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    image = uploaded_image()
    spec = TABLES["metrics"]
    folder = tmp_path / "lake" / "metrics" / "capture_month=2026-01"
    for run in ("old-1", "old-2"):  # as earlier versions wrote: one file per write, ids twice
        rows = flatten_image(image, capture_rows(image.image_id), [], run_id=run, status="complete")
        table = rows.tables()["metrics"].drop_columns(["capture_month"])
        lake._put(conform(table, spec.file_schema), f"{folder}/{run}-0123.parquet")
    assert not at_rest(lake.files("metrics"))
    report = lake.compact("metrics")
    assert (report.partitions_compacted, report.files_before, report.files_after) == (1, 2, 1)
    assert (report.rows_before, report.rows_after) == (2 * 183, 183)
    assert at_rest(lake.files("metrics"))


def test_a_crash_during_publish_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    rows = flatten_image(uploaded_image(), capture_rows(), [], run_id="r", status="complete")
    lake.write(rows, run_id="r1")
    lake.write(rows, run_id="r2", publish=False)
    remove = lake.fs.rm

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("killed before the old files were deleted")

    monkeypatch.setattr(lake.fs, "rm", crash)
    with pytest.raises(OSError, match="killed"):
        lake.publish(["metrics"])
    # Both versions are in place (rows doubled, none lost) and the staged file is still there.
    assert len(lake.files("metrics")) == 2
    assert len(lake.staged_files("metrics")) == 1
    monkeypatch.setattr(lake.fs, "rm", remove)
    report = lake.publish(["metrics"])
    assert report.files_before == 3
    assert report.rows_after == 183
    con = connect(str(tmp_path / "lake"))
    assert con.execute("SELECT count(*), count(DISTINCT metric_id) FROM metrics").fetchall() == [
        (183, 183)
    ]


def test_no_token_anywhere_in_the_written_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    image = uploaded_image()
    payload = emulated_payload(image.image_id)
    lake.write(
        flatten_image(image, payload.rows, payload.aux, run_id="r", status="complete"),
        run_id="r",
    )
    files = list((tmp_path / "lake").rglob("*.parquet"))
    assert any("aux_images" in str(path) for path in files)
    urls = connect(str(tmp_path / "lake")).execute("SELECT url FROM aux_images").fetchall()
    assert len(urls) == 6
    assert all(url.endswith(".jpg") for (url,) in urls)
    for path in files:  # decoded values: the files are compressed, bytes would hide it
        table = pq.read_table(path)
        text = str(table.to_pylist())
        assert AUX_TOKEN not in text, path
        assert "token=" not in text, path


def test_runs_and_quarantine_rows(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write(run_rows(RunRecord("run-1", STARTED, "/photos", "running")), run_id="run-1")
    finished = RunRecord(
        "run-1",
        STARTED,
        "/photos",
        "succeeded",
        finished_at=STARTED,
        quarantined=1,
        options={"concurrency": 8},
    )
    bad = QuarantinedFile(
        "/photos/bob/s1/notes.txt", QuarantineReason.NOT_AN_IMAGE, "not an image", "remove it"
    )
    rows = run_rows(finished)
    rows.extend(quarantine_rows([bad], run_id="run-1", started_at=STARTED))
    lake.write(rows, run_id="run-1")
    assert [p.split("/")[-2] for p in lake.files("runs")] == ["run_date=2026-02-03"]
    runs = lake.read("runs").to_pylist()
    assert [(r["status"], r["quarantined"], r["options_json"]) for r in runs] == [
        ("succeeded", 1, '{"concurrency": 8}')
    ]
    (quarantined,) = lake.read("quarantine").to_pylist()
    assert (quarantined["reason"], quarantined["fix"]) == ("not_an_image", "remove it")
    assert str(quarantined["run_date"]) == "2026-02-03"


@pytest.fixture
def s3_options(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield from moto_s3(monkeypatch)


@pytest.mark.server
def test_a_bucket_lake_round_trips(s3_options: dict[str, Any]) -> None:
    url = "s3://lake-bucket/lake"
    lake = Lake(url, s3_options)
    rows = two_months()
    lake.write(rows, run_id="run-1")
    lake.write(rows, run_id="run-2")
    assert all(path.startswith("lake-bucket/lake/") for path in lake.files("metrics"))
    con = connect(url, storage_options=s3_options)
    assert con.execute("SELECT count(*) FROM metrics").fetchall() == [(2 * 183,)]
    assert con.execute("SELECT count(*) FROM image_metrics_wide").fetchall() == [(2,)]
    assert len(lake.files("metrics")) == 2  # one per month: the second write merged into them
    assert lake.staged_files("metrics") == []
    assert Lake(url, s3_options).compact("metrics") == CompactionReport()
    assert Lake(url, s3_options).read("metrics", deduplicate=False).num_rows == 2 * 183
