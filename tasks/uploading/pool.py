"""The upload pool: planned captures uploaded with bounded concurrency, on one event loop.

The client's own connection limit and request rate apply underneath. Per capture (see
:mod:`tasks.uploading.capture_upload`): the subject once per subject key, a batch with the
capture time, then its images named by content hash. An image the API refuses (4xx)
quarantines its capture and the run goes on; a capture that still fails after the client's
retries is reported failed and stays in the ledger, so the next run resumes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from haut.client import HautClient
from schemas.captures import Capture, QuarantinedFile, UploadedImage
from tasks.ledger import Ledger
from tasks.uploading.capture_upload import CaptureOutcome, CaptureUploader, DatasetContext

__all__ = ["UploadOutcome", "upload_captures"]


@dataclass
class UploadOutcome:
    uploaded: list[UploadedImage] = field(default_factory=list)
    """Images at the API for the given captures, uploaded by this call or resumed, whose
    results are not yet written to the lake."""
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    """REJECTED_BY_API: images the API refused, one per refused capture."""
    failed: list[tuple[Capture, str]] = field(default_factory=list)
    """Captures that failed after retries, with the error; the next run resumes them."""

    def add(self, outcome: CaptureOutcome) -> None:
        self.uploaded.extend(outcome.uploaded)
        if outcome.quarantined is not None:
            self.quarantined.append(outcome.quarantined)
        if outcome.failure is not None:
            self.failed.append((outcome.capture, outcome.failure))


async def upload_captures(
    client: HautClient,
    ledger: Ledger,
    dataset: DatasetContext,
    captures: Sequence[Capture],
    *,
    concurrency: int = 8,
    storage_options: Mapping[str, Any] | None = None,
    on_capture: Callable[[CaptureOutcome], None] | None = None,
    before_capture: Callable[[], Awaitable[None]] | None = None,
) -> UploadOutcome:
    """Upload (or finish) these captures, ``concurrency`` at a time.

    ``on_capture`` is called after each capture (e.g. to advance a progress bar, or to start
    awaiting its images at once); ``before_capture`` is awaited before each one starts (e.g.
    to wait for room among the images awaited). An AuthError ends the call; every other
    failure is per capture.
    """
    uploader = CaptureUploader(client, ledger, dataset, storage_options=storage_options)
    outcome = UploadOutcome()
    queue = iter(captures)  # shared by the workers; next() never awaits, so no lock needed

    async def worker() -> None:
        for capture in queue:
            if before_capture is not None:
                await before_capture()
            result = await uploader.upload(capture)
            outcome.add(result)
            if on_capture is not None:
                on_capture(result)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(captures)))):
            group.create_task(worker())
    return outcome
