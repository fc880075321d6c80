"""Waiting by polling ``GET {I}/results/`` with capped backoff: the default, works everywhere.

Each pass reads the rows of every unfinished image (bounded concurrency); passes are spaced
0.5 s, 1 s, 2 s ... up to 5 s by default. A last pass happens at the timeout itself, so an image
that finished while the waiter slept is never reported unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass

from haut.client import HautClient
from schemas.captures import UploadedImage
from tasks.waiting.tracker import (
    DEFAULT_CONCURRENCY,
    ImageResults,
    ResultTracker,
    collect_results,
)


@dataclass(frozen=True)
class PollBackoff:
    """How long to wait between poll passes: ``initial * factor**n``, at most ``cap`` seconds."""

    initial: float = 0.5
    cap: float = 5.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial or self.factor < 1:
            raise ValueError(
                f"{self!r} is not a usable backoff: need 0 < initial <= cap and factor >= 1"
            )

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.cap, delay * self.factor)


async def poll_until(tracker: ResultTracker, deadline: float, backoff: PollBackoff) -> None:
    """Poll the unfinished images until all are complete or the deadline (loop time) passes."""
    loop = asyncio.get_running_loop()
    for delay in backoff.delays():
        await tracker.check_all(tracker.unfinished)
        remaining = deadline - loop.time()
        if tracker.all_settled or remaining <= 0:
            return
        await asyncio.sleep(min(delay, remaining))


class PollWaiter:
    """Polls ``client.results`` for the unfinished images until complete or the timeout."""

    name = "poll"

    def __init__(
        self,
        *,
        backoff: PollBackoff | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.backoff = backoff or PollBackoff()
        self.concurrency = concurrency

    def __repr__(self) -> str:
        return f"PollWaiter(backoff={self.backoff!r}, concurrency={self.concurrency})"

    @contextlib.asynccontextmanager
    async def listening(
        self, client: HautClient, *, dataset_ids: Collection[str] = ()
    ) -> AsyncIterator[None]:
        """Nothing to open: polling needs no notification channel."""
        yield

    async def wait(
        self,
        client: HautClient,
        images: Sequence[UploadedImage],
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - a wait budget, not a cancellation: partial results come back
    ) -> list[ImageResults]:
        deadline = asyncio.get_running_loop().time() + max(0.0, timeout)

        async def poll(tracker: ResultTracker) -> None:
            await poll_until(tracker, deadline, self.backoff)

        return await collect_results(
            client, images, expected_algorithms, concurrency=self.concurrency, wait=poll
        )
