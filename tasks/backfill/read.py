"""Reading what the API holds now for the images of one chunk.

One ``all_results`` call per subject slice gives the rows of all its images; an image whose
rows there are missing or incomplete is read on its own with ``client.results`` before it is
judged unfinished (the history may lag, or read capture times otherwise). Complete images get
their aux images and one ``smoothed_results`` per method.

Errors are caught narrowly, as :mod:`tasks.waiting.tracker` does: a refused login
(:class:`~haut.errors.AuthError`) or a service that is down (:class:`~haut.errors.TransientError`,
rate limits past the client's retries) ends the run, since every other image would fail the
same way; only what concerns one image (:class:`~haut.errors.NotFoundError`,
:class:`~haut.errors.RequestRefusedError`) is that image's failure, and a refused smoothing is only
that method's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import msgspec

from haut.client import HautClient
from haut.errors import NotFoundError, RequestRefusedError
from haut.redaction import redact
from schemas.api_results import ResultRow, SmoothedValue
from tasks.backfill.plan import SubjectSlice, Target
from tasks.smoothing.settings import SmoothingMethod
from tasks.waiting.tracker import ImageResults, expected_set, settle

ENVELOPE_EXTRAS = ("batch_id", "subject_id")
"""Keys ``all_results`` adds to the ``/results/`` row envelope (reference §13.3): dropped, so
a backfilled row's raw JSON is the one the ingest wrote and the views do not change."""

IMAGE_ERRORS = (NotFoundError, RequestRefusedError)
"""What one image's (or one smoothing's) read may fail with without ending the run."""


@dataclass(frozen=True)
class SmoothingRequest:
    """The smoothed results to pull for each complete image."""

    methods: tuple[SmoothingMethod, ...]
    window_days: int
    max_size: int


@dataclass(frozen=True)
class Reading:
    """What the API holds for one image now."""

    target: Target
    results: ImageResults
    smoothed: dict[SmoothingMethod, list[SmoothedValue]] = field(default_factory=dict)
    smoothing_errors: dict[SmoothingMethod, str] = field(default_factory=dict)
    """Methods the API refused for this image, with why (the results are written anyway)."""
    error: str | None = None
    """Why the image could not be read at all (then nothing of it is written)."""
    from_history: bool = False
    """The rows came from the subject's ``all_results`` (no ``/results/`` read was needed)."""


def results_by_image(rows: Sequence[ResultRow]) -> dict[str, list[ResultRow]]:
    """``all_results`` rows grouped by image, each in the ``/results/`` envelope."""
    grouped: dict[str, list[ResultRow]] = {}
    for row in rows:
        if row.image_id is None:
            continue  # not attributable to an image: nothing to write it under
        # Only the raw JSON keeps the extras (flattening takes ids from the image): a copy
        # with a trimmed raw, not a second decoding of the whole payload.
        grouped.setdefault(row.image_id, []).append(
            msgspec.structs.replace(row, raw=_plain(row.raw))
        )
    return grouped


def _plain(raw: bytes) -> bytes:
    """A row's JSON without the envelope extras, keys in their order (unchanged without any)."""
    if not raw:
        return raw
    decoded = msgspec.json.decode(raw)
    if not isinstance(decoded, dict) or not any(key in decoded for key in ENVELOPE_EXTRAS):
        return raw
    return msgspec.json.encode({k: v for k, v in decoded.items() if k not in ENVELOPE_EXTRAS})


class ChunkReader:
    """Reads chunks of one run: a history call per subject slice, then per image its own rows
    if needed, aux images and smoothed results."""

    def __init__(
        self,
        client: HautClient,
        expected: Collection[int],
        smoothing: SmoothingRequest,
        *,
        concurrency: int,
    ) -> None:
        self.client = client
        self.expected = expected_set(expected)
        self.smoothing = smoothing
        self.concurrency = max(1, concurrency)
        self.history_refused: str | None = None
        """Why the service refused ``all_results`` (the first time), if it did: the images
        were then read one by one. The flow logs it once."""

    async def chunk(self, slices: Sequence[SubjectSlice]) -> list[Reading]:
        """One reading per image of the slices, in order."""
        slots = asyncio.Semaphore(self.concurrency)
        per_slice = await asyncio.gather(*(self._slice(piece, slots) for piece in slices))
        return [reading for readings in per_slice for reading in readings]

    async def _slice(self, piece: SubjectSlice, slots: asyncio.Semaphore) -> list[Reading]:
        first, after_last = piece.history_range
        try:
            async with slots:
                history = await self.client.all_results(
                    piece.subject, date_from=first, date_to=after_last
                )
        except IMAGE_ERRORS as exc:
            # A service without the history call (the vendor's record of it is thin, reference
            # §13.3): each image is read on its own below.
            self.history_refused = self.history_refused or redact(str(exc))
            history = []
        grouped = results_by_image(history)
        return list(
            await asyncio.gather(
                *(self.read_image(t, grouped.get(t.image.image_id), slots) for t in piece.targets)
            )
        )

    def _complete(self, rows: Sequence[ResultRow]) -> bool:
        """Settled: every row is in, or the rows say the photo cannot be analysed (a backfill
        reads once: the rest of such an answer would only repeat it)."""
        complete, finding = settle(rows, self.expected)
        return complete or finding is not None

    async def read_image(
        self,
        target: Target,
        history: list[ResultRow] | None,
        slots: asyncio.Semaphore | None = None,
    ) -> Reading:
        """One image, given its rows in the subject's history (None: not there)."""
        slots = slots or asyncio.Semaphore(1)
        ref = target.image.ref
        async with slots:
            try:
                if history is not None and self._complete(history):
                    rows, from_history = history, True
                else:
                    # Missing or partial in the history: the image's own rows decide, so a
                    # lagging history never turns a complete image pending.
                    rows, from_history = await self.client.results(ref), False
                if not self._complete(rows):
                    return Reading(target, ImageResults(target.image, rows, [], complete=False))
                aux = await self.client.aux_images(ref)
            except IMAGE_ERRORS as exc:
                return Reading(
                    target,
                    ImageResults(target.image, [], [], complete=False),
                    error=redact(str(exc)),
                )
            smoothed, refused = await self._smoothed(target)
        finding = settle(rows, self.expected)[1]
        return Reading(
            target,
            ImageResults(target.image, rows, aux, complete=True, finding=finding),
            smoothed,
            refused,
            from_history=from_history,
        )

    async def _smoothed(
        self, target: Target
    ) -> tuple[dict[SmoothingMethod, list[SmoothedValue]], dict[SmoothingMethod, str]]:
        smoothed: dict[SmoothingMethod, list[SmoothedValue]] = {}
        refused: dict[SmoothingMethod, str] = {}
        for method in self.smoothing.methods:
            try:
                smoothed[method] = await self.client.smoothed_results(
                    target.image.ref,
                    method=method.value,
                    window_days=self.smoothing.window_days,
                    max_size=self.smoothing.max_size,
                )
            except IMAGE_ERRORS as exc:
                refused[method] = redact(str(exc))
        return smoothed, refused
