"""Buffer flattened results and write them to the lake in few large files.

Results arrive an image at a time (:meth:`BufferedLakeWriter.put`, as each image settles) or a
batch at a time (:meth:`BufferedLakeWriter.add`); writing each would scatter a run over
thousands of small files, and holding a whole run would make memory grow with its size. The
writer keeps at most ``flush_rows`` rows, then stages one file per table and partition
(:meth:`tasks.lake.Lake.stage`), and only then tells the ledger those images are written: a
crash before that leaves them "uploaded", and the next run reads their results again; a crash
after it leaves them staged, and the next run's first publish brings them in. :meth:`flush`
(at the end of a run, or of a failed one) stages the rest and publishes, so each partition the
run touched is rewritten once, not once per ``flush_rows``.

Images put one at a time wait in a short queue (``queue_images``) for one consumer that
flattens what has gathered off the event loop; a full queue makes ``put`` wait, which holds
back whoever reads more results than the lake takes in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from tasks.lake.flatten import flatten_image
from tasks.lake.rows import LakeRows
from tasks.lake.store import Lake
from tasks.waiting import ImageResults

DEFAULT_FLUSH_ROWS = 50_000
DEFAULT_QUEUE_IMAGES = 32
"""Images put and not yet flattened: a few seconds of results at most."""
FLATTEN_BATCH = 16
"""Images flattened in one trip off the event loop."""


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
        queue_images: int = DEFAULT_QUEUE_IMAGES,
    ) -> None:
        self._lake = lake
        self._mask_coordinates = mask_coordinates
        self._run_id = run_id
        self._on_written = on_written
        self._flush_rows = flush_rows
        self._rows = LakeRows()
        self._image_ids: list[str] = []
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[ImageResults] = asyncio.Queue(max(1, queue_images))
        self._consumer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.rows_written = 0
        self._unpublished = False

    async def put(self, result: ImageResults) -> None:
        """Take one image's results; they are flattened soon and written with the next flush.
        Raises what stopped the writer, if anything did."""
        self._raise_if_failed()
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._consume(), name="hautflow-lake-writer")
        await self._queue.put(result)

    async def add(self, results: Sequence[ImageResults]) -> None:
        """Flatten these images' results; write when the buffer is full."""
        # Flattening takes long enough to stall uploads and reads: off the event loop.
        rows = await asyncio.to_thread(self._flatten, results)
        async with self._lock:
            self._rows.extend(rows)
            self._image_ids.extend(r.image.image_id for r in results if r.complete)
        if len(self._rows) >= self._flush_rows:
            await self._write(publish=False)

    async def _consume(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < FLATTEN_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                if self._failure is None:
                    await self.add(batch)
            except Exception as error:  # kept for put and flush to raise; the queue drains on
                self._failure = error
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

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
        """Write what is buffered or queued, mark its complete images written in the ledger,
        and publish everything staged so far."""
        if self._consumer is not None:
            await self._queue.join()
        await self._write(publish=True)
        self._raise_if_failed()

    async def _write(self, *, publish: bool) -> None:
        async with self._lock:
            rows, image_ids = self._rows, self._image_ids
            self._rows, self._image_ids = LakeRows(), []
            if len(rows):
                await asyncio.to_thread(self._lake.stage, rows, run_id=self._run_id)
                self._unpublished = True
                self.rows_written += len(rows)
                self._on_written(image_ids)
            if publish and self._unpublished:
                await asyncio.to_thread(self._lake.publish)
                self._unpublished = False

    async def aclose(self) -> None:
        """Stop the consumer (after :meth:`flush`, or to drop what is queued)."""
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None
