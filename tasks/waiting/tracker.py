"""What a wait knows about its images: the rows read so far and which images are settled.

An image is complete when every expected algorithm other than the face detector has a row
(reference §13.5). The detector's row is not awaited: the real service leaves it out for a
photo with a face (the 17-row capture), so waiting for it would leave every image pending for
ever. When the rows say the photo cannot be analysed (the detector found no face, or a row's
error is "No face detected", "Not full face"...: :func:`unanalysable_reason`), the image is
still awaited whole, so every waiter writes the same rows; but if the wait's budget ends first,
it is settled with what it has (the rest would only repeat the finding) rather than left
pending for a next run that would learn nothing new.

Notifications only say *when* to look: settling is always decided by reading the rows, and the
rows and aux images handed on are always the ones read from the API. The tracker forgets an
image once it is handed on, so a run-long wait holds only the images still outstanding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from haut.client import HautClient
from haut.errors import AuthError, HautError, NotFoundError
from haut.redaction import get_logger
from schemas.api_results import FACE_DETECTOR_ID, AuxImage, ResultRow, unanalysable_reason
from schemas.captures import UploadedImage

log = get_logger(__name__)

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class ImageResults:
    """What the API computed for one uploaded image, read once it was complete (or the timeout
    came): the caller writes complete ones to the lake and records the others as pending."""

    image: UploadedImage
    rows: list[ResultRow]
    """One per finished algorithm (partial when ``complete`` is False)."""
    aux: list[AuxImage]
    """The face-area crops; read only for complete images."""
    complete: bool
    """Settled: every expected algorithm but the detector has a row, or the service said the
    photo cannot be analysed (``finding``); and the aux images were read."""
    finding: str | None = None
    """The service's words when it could not analyse the photo, e.g. "No face detected"."""

    @property
    def status(self) -> str:
        """The image's status in the lake: complete, no_face (``finding`` set) or pending."""
        if not self.complete:
            return "pending"
        return "no_face" if self.finding else "complete"


def finished_algorithms(rows: Iterable[ResultRow]) -> set[int]:
    return {row.algorithm_version_id for row in rows if row.algorithm_version_id is not None}


def expected_set(expected_algorithms: Collection[int]) -> frozenset[int]:
    """The algorithms whose rows make an image complete: the enabled ones but the face
    detector, whose row may never come (the detector alone when nothing else is enabled).
    An empty list is a caller's mistake."""
    expected = frozenset(int(a) for a in expected_algorithms)
    if not expected:
        raise ValueError(
            "expected_algorithms is empty, so no image could ever be complete: pass the "
            "dataset's enabled algorithms (the `enabled_algorithms` of attach_application's "
            "answer), e.g. [30, 40]."
        )
    return expected - {FACE_DETECTOR_ID} or expected


def settle(rows: Sequence[ResultRow], expected: frozenset[int]) -> tuple[bool, str | None]:
    """Whether these rows complete their image, and the service's finding if it could not
    analyse the photo (see the module's rules); ``expected`` comes from :func:`expected_set`."""
    return expected <= finished_algorithms(rows), unanalysable_reason(rows)


class Look(Enum):
    """What one read of an image's rows found."""

    COMPLETE = "complete"
    UNFINISHED = "unfinished"
    GONE = "gone"  # 404: deleted at the API, it will never finish


class ResultTracker:
    """Reads rows and aux images with bounded concurrency; remembers the outstanding images'."""

    def __init__(
        self,
        client: HautClient,
        expected_algorithms: Collection[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.client = client
        self.expected = expected_set(expected_algorithms)
        self._rows: dict[str, list[ResultRow]] = {}
        self._findings: dict[str, str] = {}
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self.reads = 0

    def covers(self, algorithms: Collection[int]) -> bool:
        """Whether these finished algorithms are all this wait expects."""
        return self.expected.issubset(algorithms)

    async def check(self, image: UploadedImage) -> Look:
        """Read the image's rows once. Errors other than authentication are logged and leave
        the image unfinished for a later look."""
        async with self._semaphore:
            try:
                rows = await self.client.results(image.ref)
            except AuthError:
                raise
            except NotFoundError:
                log.warning(
                    "image %s is gone at the API (404): it stays pending; upload it again "
                    "or remove it from the ledger",
                    image.image_id,
                )
                return Look.GONE
            except HautError as error:
                log.warning("reading results of image %s failed: %s", image.image_id, error)
                return Look.UNFINISHED
            finally:
                self.reads += 1
        self._rows[image.image_id] = rows
        settled, finding = settle(rows, self.expected)
        if finding is not None:
            self._findings[image.image_id] = finding
        return Look.COMPLETE if settled else Look.UNFINISHED

    async def hand_over(self, image: UploadedImage, look: Look) -> ImageResults:
        """The image's results, forgotten here: with its aux images when it is complete, or
        found unanalysable by the end of its wait (``look`` UNFINISHED at its deadline)."""
        image_id = image.image_id
        rows = self._rows.pop(image_id, [])
        finding = self._findings.pop(image_id, None)
        settled = look is Look.COMPLETE or (look is Look.UNFINISHED and finding is not None)
        aux = await self._aux(image) if settled else None
        return ImageResults(
            image=image,
            rows=rows,
            aux=aux or [],
            complete=aux is not None,
            finding=finding,
        )

    async def _aux(self, image: UploadedImage) -> list[AuxImage] | None:
        """The aux images, or None when they cannot be read: the image then stays pending
        rather than reaching the lake without its crops."""
        async with self._semaphore:
            try:
                return await self.client.aux_images(image.ref)
            except AuthError:
                raise
            except HautError as error:
                log.warning("reading aux images of image %s failed: %s", image.image_id, error)
                return None
