"""Buffer flattened results and write them to the lake in few large files.

Results arrive a chunk at a time; writing each chunk would scatter a run over hundreds of small
files, and holding a whole run would make memory grow with its size. The writer keeps about
``flush_rows`` rows, then writes one file per table and partition, and only then tells the
ledger those images are written: a crash before a flush leaves them "uploaded", and the next
run reads their results again. The lake's views keep the newest row per id, so an image written
twice is still one row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from tasks.lake.flatten import flatten_image
from tasks.lake.rows import LakeRows
from tasks.lake.store import Lake
from tasks.waiting import ImageResults

DEFAULT_FLUSH_ROWS = 50_000


class BufferedLakeWriter:
    """Collects the rows of finished images and writes them in large files.

    ``mask_coordinates`` keeps each mask's GeoJSON features in ``masks.coordinates_json``:
    off by default, as they are most of a result's size and few analyses need them.
    """

    def __init__(
        self,
        lake: Lake,
        *,
        run_id: str,
        on_written: Callable[[list[str]], None],
        flush_rows: int = DEFAULT_FLUSH_ROWS,
        mask_coordinates: bool = False,
    ) -> None:
        self._lake = lake
        self._mask_coordinates = mask_coordinates
        self._run_id = run_id
        self._on_written = on_written
        self._flush_rows = flush_rows
        self._rows = LakeRows()
        self._image_ids: list[str] = []
        self._lock = asyncio.Lock()
        self.rows_written = 0
        self.files: list[str] = []

    async def add(self, results: Sequence[ImageResults]) -> None:
        """Flatten these images' results; write when the buffer is full."""
        # Flattening a chunk takes long enough to stall uploads and reads: off the event loop.
        rows = await asyncio.to_thread(self._flatten, results)
        async with self._lock:
            self._rows.extend(rows)
            self._image_ids.extend(r.image.image_id for r in results if r.complete)
        if len(self._rows) >= self._flush_rows:
            await self.flush()

    def _flatten(self, results: Sequence[ImageResults]) -> LakeRows:
        rows = LakeRows()
        for result in results:
            rows.extend(
                flatten_image(
                    result.image,
                    result.rows,
                    result.aux,
                    run_id=self._run_id,
                    status=result.status,
                    finding=result.finding,
                    include_coordinates=self._mask_coordinates,
                )
            )
        return rows

    async def flush(self) -> None:
        """Write what is buffered, then mark its complete images written in the ledger."""
        async with self._lock:
            rows, image_ids = self._rows, self._image_ids
            self._rows, self._image_ids = LakeRows(), []
            if len(rows) == 0:
                return
            written = await asyncio.to_thread(self._lake.write, rows, run_id=self._run_id)
            self.files.extend(written)
            self.rows_written += len(rows)
            self._on_written(image_ids)
