"""The lake writer as images arrive one at a time: rows reach the lake in few files, and the
ledger hears that an image is written only once its rows are in the lake (a crash before a
flush leaves it to be read again), never for a pending image, and not after a failure."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.api_results import decode_result_rows
from schemas.captures import Side, SourceImage, UploadedImage
from tasks.lake.store import Lake
from tasks.lake.writer import BufferedLakeWriter
from tasks.waiting import ImageResults

ROWS = (Path(__file__).resolve().parents[2] / "fixtures" / "fsm2_image_results.json").read_bytes()


def image(n: int) -> UploadedImage:
    digest = hashlib.sha256(str(n).encode()).hexdigest()
    source = SourceImage(
        uri=f"memory://photos/{n}/front.jpg",
        side=Side.FRONT,
        sha256=digest,
        size=1000,
        image_format="JPEG",
        captured_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        captured_at_source="exif",
    )
    return UploadedImage(
        capture_id=f"capture-{n}",
        subject_key=f"subject-{n}",
        session_key="2026-01-05",
        dataset_id="dataset",
        subject_id=f"s{n}",
        batch_id=f"b{n}",
        image_id=f"image-{n}",
        source=source,
        uploaded_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
    )


def results(n: int, *, complete: bool = True) -> ImageResults:
    return ImageResults(image(n), decode_result_rows(ROWS), [], complete=complete)


def test_images_are_marked_written_only_once_their_rows_are_in_the_lake(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    marked: list[list[str]] = []
    per_image = len(results(0).rows) * 10  # well below one image's rows: a flush every few

    async def run() -> None:
        writer = BufferedLakeWriter(
            lake, run_id="r", on_written=marked.append, flush_rows=per_image * 3, queue_images=2
        )
        for n in range(7):
            await writer.put(results(n))
        await writer.put(results(99, complete=False))
        # Whatever was marked so far is in the lake already.
        await asyncio.sleep(0)
        for ids in marked:
            in_lake = set(lake.read("images").column("image_id").to_pylist())
            assert set(ids) <= in_lake
        await writer.flush()
        await writer.aclose()

    asyncio.run(run())
    written = [image_id for ids in marked for image_id in ids]
    assert sorted(written) == sorted(f"image-{n}" for n in range(7)), "pending ones never"
    assert len(marked) > 1, "flushed as the buffer filled, not only at the end"
    in_lake = lake.read("images").column("image_id").to_pylist()
    assert sorted(in_lake) == sorted([*written, "image-99"])


def test_a_failure_before_a_flush_marks_nothing_and_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    marked: list[list[str]] = []

    def broken_write(*args: object, **kwargs: object) -> list[str]:
        raise OSError("the disk went away")

    monkeypatch.setattr(lake, "write", broken_write)

    async def run() -> None:
        writer = BufferedLakeWriter(lake, run_id="r", on_written=marked.append)
        try:
            for n in range(3):
                await writer.put(results(n))
            with pytest.raises(OSError, match="the disk went away"):
                await writer.flush()
        finally:
            await writer.aclose()

    asyncio.run(run())
    assert marked == []
