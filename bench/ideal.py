"""The ideal a request-rate limit allows: the fewest requests an ingest needs, at the limit.

Per run: log in, find or create the dataset, attach the application (3). Per subject: create it
(1). Per capture: create its batch (1). Per image: upload it, read its results once, read its
aux images once (3). Waiting costs nothing in the ideal: a notification (websocket or webhook)
says when to read, and uploads go on meanwhile, so the only limit is the request budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.photos import CaptureSet

SETUP_REQUESTS = 3
REQUESTS_PER_SUBJECT = 1
REQUESTS_PER_CAPTURE = 1
REQUESTS_PER_IMAGE = 3


@dataclass(frozen=True)
class Ideal:
    """The ideal run of a capture set at a rate limit."""

    images: int
    requests: int
    rate_limit: float

    @property
    def seconds(self) -> float:
        return self.requests / self.rate_limit

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds


def ideal(captures: CaptureSet, rate_limit: float) -> Ideal:
    """The ideal ingest of ``captures`` at ``rate_limit`` requests per second."""
    requests = (
        SETUP_REQUESTS
        + REQUESTS_PER_SUBJECT * captures.subjects
        + REQUESTS_PER_CAPTURE * captures.captures
        + REQUESTS_PER_IMAGE * captures.images
    )
    return Ideal(images=captures.images, requests=requests, rate_limit=rate_limit)
