"""Reading the API's ``smoothed_results`` for images the lake already holds.

The images come back out of the lake's ``images`` view as :class:`UploadedImage`s (every field
the upload recorded is there), so a pull needs neither the ledger nor the photo folder. Each
image is asked once per setting; the client bounds how many requests are in flight and how fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from haut.client import HautClient
from haut.errors import NotFoundError
from schemas.captures import UploadedImage
from tasks.lake import Lake
from tasks.lake.rows import LakeRows
from tasks.ledger.records import uploaded_image
from tasks.smoothing.rows import smoothed_rows
from tasks.smoothing.settings import Smoothing

if TYPE_CHECKING:
    import duckdb

_IMAGES_SQL = """
SELECT image_id, coalesce(capture_id, '') AS capture_id, subject_key, session_key, dataset_id,
       subject_id, batch_id, coalesce(source_uri, '') AS uri, side, coalesce(sha256, '') AS sha256,
       coalesce(size_bytes, 0) AS size, coalesce(image_format, 'JPEG') AS image_format,
       captured_at, coalesce(captured_at_source, '') AS captured_at_source,
       coalesce(light_id, 1) AS light_id, uploaded_at
FROM images
WHERE status = 'complete'
  AND ($subjects IS NULL OR list_contains($subjects, subject_key))
ORDER BY subject_key, captured_at, side, image_id
"""


def lake_images(
    con: duckdb.DuckDBPyConnection, *, subject_keys: Sequence[str] | None = None
) -> list[UploadedImage]:
    """The lake's complete images (of these subjects, if given), oldest first per subject."""
    cursor = con.execute(_IMAGES_SQL, {"subjects": list(subject_keys) if subject_keys else None})
    names = [column[0] for column in cursor.description]
    return [uploaded_image(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


@dataclass
class PullOutcome:
    """What a pull read: the rows for the lake, and the images the API no longer has."""

    rows: LakeRows
    missing: list[str]
    """Image ids the API answered 404 for (deleted, or another service than the ingest's)."""

    def extend(self, other: PullOutcome) -> None:
        self.rows.extend(other.rows)
        self.missing.extend(other.missing)


async def _pull_one(
    client: HautClient, image: UploadedImage, setting: Smoothing, run_id: str
) -> LakeRows | None:
    try:
        values = await client.smoothed_results(
            image.ref,
            method=setting.method.value,
            window_days=setting.window_days,
            max_size=setting.max_size,
        )
    except NotFoundError:
        return None
    return smoothed_rows(
        image,
        values,
        method=setting.method.value,
        window_days=setting.window_days,
        max_size=setting.max_size,
        run_id=run_id,
    )


async def pull_smoothed(
    client: HautClient,
    images: Sequence[UploadedImage],
    settings: Sequence[Smoothing],
    *,
    run_id: str,
) -> PullOutcome:
    """Every image's smoothed_results under every setting, as ``smoothed_results`` rows."""
    jobs = [(image, setting) for image in images for setting in settings]
    answers = await asyncio.gather(
        *(_pull_one(client, image, setting, run_id) for image, setting in jobs)
    )
    outcome = PullOutcome(LakeRows(), [])
    missing: set[str] = set()
    for (image, _), rows in zip(jobs, answers, strict=True):
        if rows is None:
            if image.image_id not in missing:
                missing.add(image.image_id)
                outcome.missing.append(image.image_id)
        else:
            outcome.rows.extend(rows)
    return outcome


FLUSH_ROWS = 50_000
"""Smoothed rows buffered before a write (12 per image and setting): few large files a run."""


class SmoothedWriter:
    """Collects the chunks' ``smoothed_results`` rows and writes them in large files.

    A pull writes a handful of files however many chunks it has (one file per chunk and month
    would leave a big lake with thousands of small files to read); :meth:`flush` at the end.
    """

    def __init__(self, lake: Lake, run_id: str, *, flush_rows: int = FLUSH_ROWS) -> None:
        self._lake = lake
        self._run_id = run_id
        self._flush_rows = flush_rows
        self._rows = LakeRows()
        self._lock = asyncio.Lock()
        self.rows_written = 0
        self._unpublished = False

    async def add(self, rows: LakeRows) -> None:
        async with self._lock:
            self._rows.extend(rows)
            full = len(self._rows) >= self._flush_rows
        if full:
            await self._write(publish=False)

    async def flush(self) -> None:
        """Write what is buffered and publish everything this writer staged."""
        await self._write(publish=True)

    async def _write(self, *, publish: bool) -> None:
        async with self._lock:
            rows, self._rows = self._rows, LakeRows()
            if len(rows):
                await asyncio.to_thread(self._lake.stage, rows, run_id=self._run_id)
                self._unpublished = True
                self.rows_written += len(rows)
            if publish and self._unpublished:
                await asyncio.to_thread(self._lake.publish)
                self._unpublished = False
