"""The client-side throttle: at most N requests in flight and at most R started per second.

The rate is this process's. Processes that share one API account (the workers of a sharded
run) also share its rate limit; a :class:`RequestBudget` given to the throttle is that shared
budget (e.g. :class:`tasks.service.budget.SharedRequestBudget`, held in PostgreSQL), taken
after the process's own slot and rate token. The client knows only this protocol.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Protocol

from aiolimiter import AsyncLimiter


class RequestBudget(Protocol):
    """A request rate shared with other processes."""

    async def acquire(self) -> None:
        """Return when one more request may start (never early: wait instead)."""
        ...


class Throttle:
    """An async context manager that holds one concurrency slot and one rate token (and one
    request of the shared budget, when there is one)."""

    def __init__(
        self,
        max_concurrency: int,
        requests_per_second: float | None,
        budget: RequestBudget | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.requests_per_second = requests_per_second
        self.budget = budget
        self._slots = asyncio.Semaphore(max_concurrency)
        self._limiter = _limiter(requests_per_second) if requests_per_second else None

    async def __aenter__(self) -> None:
        # Slot first, then rate token: a waiting request must not burn a token it cannot use.
        await self._slots.acquire()
        try:
            if self._limiter is not None:
                await self._limiter.acquire()
            if self.budget is not None:
                await self.budget.acquire()
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._slots.release()


def _limiter(requests_per_second: float) -> AsyncLimiter:
    if requests_per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    # AsyncLimiter needs a bucket of at least one request; below 1/s, widen the period.
    if requests_per_second >= 1:
        return AsyncLimiter(requests_per_second, 1.0)
    return AsyncLimiter(1, 1.0 / requests_per_second)
