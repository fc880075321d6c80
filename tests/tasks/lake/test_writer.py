"""The ingest's lake writer: full buffers are staged (the ledger told), the run's end publishes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tasks.lake import Lake
from tasks.lake.writer import BufferedLakeWriter
from tasks.waiting import ImageResults
from tests.tasks.lake_support import capture_rows, uploaded_image


def results_of(subject: str, day: int) -> ImageResults:
    image = uploaded_image(
        subject_key=subject,
        session_key=f"2026-01-{day:02d}",
        captured_at=datetime(2026, 1, day, 9, tzinfo=UTC),
    )
    return ImageResults(image=image, rows=capture_rows(image.image_id), aux=[], complete=True)


def test_full_buffers_are_staged_and_the_flush_publishes_them_once(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    told: list[list[str]] = []
    writer = BufferedLakeWriter(lake, run_id="run-1", on_written=told.append, flush_rows=1)
    first, second = results_of("alice", 5), results_of("bob", 6)

    async def write() -> None:
        await writer.add([first])
        await writer.add([second])
        # Each full buffer is staged and its images recorded as written; nothing is published.
        assert told == [[first.image.image_id], [second.image.image_id]]
        assert lake.files("metrics") == []
        assert len(lake.staged_files("metrics")) == 2
        await writer.flush()

    asyncio.run(write())

    assert lake.staged_files("metrics") == []
    (published,) = lake.files("metrics")  # both stagings of January in one file
    metrics = lake.read("metrics", deduplicate=False)
    assert metrics.num_rows == len(set(metrics.column("metric_id").to_pylist())) > 0
    assert set(metrics.column("image_id").to_pylist()) == {
        first.image.image_id,
        second.image.image_id,
    }
    assert writer.rows_written > metrics.num_rows  # every table's rows, not only the metrics
    assert published.endswith(".parquet")


def test_a_run_killed_after_staging_is_published_by_the_next_publish(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = BufferedLakeWriter(lake, run_id="killed", on_written=lambda _: None, flush_rows=1)
    asyncio.run(writer.add([results_of("alice", 5)]))  # staged; the run dies before its flush
    staged = lake.staged_files("images")
    assert len(staged) == 1
    assert lake.files("images") == []

    report = lake.publish()

    assert report.partitions_compacted > 0
    assert lake.staged_files("images") == []
    assert lake.read("images").column("status").to_pylist() == ["complete"]
