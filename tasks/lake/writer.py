"""Buffer flattened results and write them to the lake in few large files.

Results arrive an image at a time (:meth:`BufferedLakeWriter.put`, as each image settles) or a
batch at a time (:meth:`BufferedLakeWriter.add`); writing each would scatter a run over
thousands of small files, and holding a whole run would make memory grow with its size. The
writer keeps at most ``flush_rows`` rows, then writes one file per table and partition, and
only then tells the ledger those images are written: a crash before a flush leaves them
"uploaded", and the next run reads their results again. The lake's views keep the newest row
per id, so an image written twice is still one row.

Images put one at a time wait in a short queue (``queue_images``) for one consumer that
flattens what has gathered off the event loop; a full queue makes ``put`` wait, which holds
back whoever reads more results than the lake takes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ctypes
import ctypes.util
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from tasks.lake.flatten import flatten_image
from tasks.lake.rows import LakeRows
from tasks.lake.store import Lake
from tasks.waiting import ImageResults

DEFAULT_FLUSH_ROWS = 25_000
DEFAULT_QUEUE_IMAGES = 16
"""Images put and not yet flattened: a few seconds of results at most."""
FLATTEN_BATCH = 8
"""Images flattened in one trip off the event loop."""

T = TypeVar("T")


def _malloc_trim() -> Callable[[], object]:
    """glibc's ``malloc_trim(0)``, or nothing elsewhere (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


_give_back = _malloc_trim()


def give_memory_back() -> None:
    """Return the memory a flush freed to the system: Arrow's pool and the C allocator keep
    freed pages for reuse, so a long run's resident set would otherwise creep up flush after
    flush."""
    pa.default_memory_pool().release_unused()
    _give_back()


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
        # One thread flattens and writes: the big, short-lived buffers then come and go in one
        # allocator arena instead of in one per worker thread of the default executor.
        self._thread: ThreadPoolExecutor | None = None
        self.rows_written = 0
        self.files: list[str] = []

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
        rows = await self._off_the_loop(self._flatten, results)
        async with self._lock:
            self._rows.extend(rows)
            self._image_ids.extend(r.image.image_id for r in results if r.complete)
        if len(self._rows) >= self._flush_rows:
            await self._write()

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
        """Write what is buffered or queued, then mark its complete images written in the
        ledger."""
        if self._consumer is not None:
            await self._queue.join()
        await self._write()
        self._raise_if_failed()

    async def _write(self) -> None:
        async with self._lock:
            rows, image_ids = self._rows, self._image_ids
            self._rows, self._image_ids = LakeRows(), []
            if len(rows) == 0:
                return
            count = len(rows)
            # Handed over in a list the thread empties, so the rows are freed before it gives
            # their memory back.
            handed = [rows]
            del rows
            written = await self._off_the_loop(self._write_files, handed)
            self.files.extend(written)
            self.rows_written += count
            self._on_written(image_ids)

    def _write_files(self, handed: list[LakeRows]) -> list[str]:
        rows = handed.pop()
        written = []
        # A table at a time, its rows dropped once written: a flush holds one table's Arrow
        # copy at most, not every table's at once.
        for table in sorted(rows.rows.keys() | rows.blocks.keys()):
            one = LakeRows()
            if table in rows.rows:
                one.rows[table] = rows.rows.pop(table)
            if table in rows.blocks:
                one.blocks[table] = rows.blocks.pop(table)
            written += self._lake.write(one, run_id=self._run_id)
            del one
        del rows
        give_memory_back()
        return written

    async def _off_the_loop(self, function: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="hautflow-lake-writer")
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def aclose(self) -> None:
        """Stop the consumer and the writing thread (after :meth:`flush`, or to drop what is
        queued)."""
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None
