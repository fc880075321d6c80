"""Writing a backfill's readings: results and aux through the ingest's buffered writer (same
flattening, same stable ids, the ledger moved to ``written`` once in the lake), smoothed results
buffered on their own, and the counts the run's summary reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from tasks.backfill.read import Reading
from tasks.lake import BufferedLakeWriter, Lake, LakeRows, RunRecord
from tasks.ledger import ImageState, Ledger
from tasks.smoothing.rows import smoothed_rows
from tasks.uploading import mark_pending, mark_written
from tasks.waiting import ImageResults

SMOOTHED_FLUSH_ROWS = 50_000
"""Smoothed rows buffered before they are written (a few dozen per image)."""

NO_LONGER_COMPLETE = "results no longer complete at the API; the lake keeps its rows"


class BackfillWriter:
    """The writers and counts of one run, shared by its chunks."""

    def __init__(
        self, lake: Lake, ledger: Ledger, run_id: str, *, window_days: int, max_size: int
    ) -> None:
        self.lake, self.ledger, self.run_id = lake, ledger, run_id
        self.window_days, self.max_size = window_days, max_size
        self.writer = BufferedLakeWriter(
            lake, run_id=run_id, on_written=lambda ids: mark_written(ledger, ids)
        )
        self._smoothed = LakeRows()
        self._lock = asyncio.Lock()
        self.complete = 0
        self.no_face = 0
        """Images the service could not analyse (no face...): rewritten, with their finding."""
        self.service: str | None = None
        """Who answered (``runs.service``), once the flow knows."""
        self.pending: list[str] = []
        self.failed: list[tuple[str, str]] = []
        """Images not rewritten, with why."""
        self.smoothing_failed: list[tuple[str, str, str]] = []
        """(image id, method, why) of smoothings the API refused; the image's results were
        written all the same."""
        self.smoothed_rows = 0

    async def add(self, readings: Sequence[Reading]) -> None:
        to_write: list[ImageResults] = []
        for reading in readings:
            image_id = reading.target.image.image_id
            if reading.error is not None:
                self.failed.append((image_id, reading.error))
            elif reading.results.complete:
                if reading.results.finding:
                    self.no_face += 1
                else:
                    self.complete += 1
                to_write.append(reading.results)
                self.smoothing_failed.extend(
                    (image_id, method.value, why)
                    for method, why in reading.smoothing_errors.items()
                )
                await self._add_smoothed(reading)
            elif reading.target.state is ImageState.WRITTEN:
                # Complete once and in the lake; a pending row now would hide those results.
                self.failed.append((image_id, NO_LONGER_COMPLETE))
            else:
                self.pending.append(image_id)
                to_write.append(reading.results)
        unfinished = [r.image.image_id for r in to_write if not r.complete]
        if unfinished:
            mark_pending(self.ledger, unfinished, "results not complete at the backfill")
        await self.writer.add(to_write)

    async def _add_smoothed(self, reading: Reading) -> None:
        rows = LakeRows()
        for method, values in reading.smoothed.items():
            rows.extend(
                smoothed_rows(
                    reading.target.image,
                    values,
                    method=method.value,
                    window_days=self.window_days,
                    max_size=self.max_size,
                    run_id=self.run_id,
                )
            )
        async with self._lock:
            self._smoothed.extend(rows)
            full = len(self._smoothed) >= SMOOTHED_FLUSH_ROWS
        if full:
            await self._flush_smoothed()

    async def _flush_smoothed(self) -> None:
        async with self._lock:
            rows, self._smoothed = self._smoothed, LakeRows()
            if len(rows) == 0:
                return
            await asyncio.to_thread(self.lake.stage, rows, run_id=self.run_id)
            self.smoothed_rows += len(rows)

    async def flush(self) -> None:
        """Write everything buffered (smoothed rows staged, then results: the ledger follows
        them) and publish it all."""
        await self._flush_smoothed()
        await self.writer.flush()

    def tally(self, record: RunRecord) -> RunRecord:
        """The run's manifest row with this writer's counts."""
        return replace(
            record,
            images_complete=self.complete,
            images_no_face=self.no_face,
            images_pending=len(self.pending),
            images_failed=len(self.failed),
            service=self.service,
            rows_written=self.writer.rows_written + self.smoothed_rows,
        )
