"""When and how long to wait before trying a request again.

Capped exponential backoff with full jitter (tenacity drives the loop, with an injectable
sleep); a usable Retry-After of a 429 wins over the backoff. Idempotent calls retry on 429,
5xx, connection errors and timeouts. Creates retry only when the request provably never
reached the server (see :func:`should_retry`); never on validation, not-found or auth errors.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from haut.errors import CreateInDoubtError, RateLimitedError, TransientError
from haut.redaction import get_logger

log = get_logger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and the backoff: ``uniform(0, min(cap, base * 2**n))``."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    jitter: bool = True

    @property
    def max_retry_after(self) -> float:
        """Longer Retry-After hints than this are treated as nonsense, not obeyed."""
        return self.cap * 10

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when no hint applies."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling) if self.jitter else ceiling

    def usable_retry_after(self, hint: float | None) -> float | None:
        """The server's hint if it is a sane number of seconds, else None."""
        if hint is None or hint != hint or hint <= 0 or hint > self.max_retry_after:
            return None
        return hint

    def wait_after(self, error: BaseException | None, attempt: int, rng: random.Random) -> float:
        if isinstance(error, RateLimitedError):
            hint = self.usable_retry_after(error.retry_after)
            if hint is not None:
                return hint
        return self.backoff(attempt, rng)


def should_retry(error: BaseException, *, create: bool) -> bool:
    """Whether another attempt is safe and useful.

    A 429 is refused before the server acts, so even a create may repeat it. A transient
    failure of a create is retried only if the request never left (connect error, pool
    timeout); otherwise the caller gets a CreateInDoubtError and must reconcile.
    """
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, CreateInDoubtError):
        return False
    if isinstance(error, TransientError):
        return not (create and error.reached_server)
    return False


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    sleep: Sleep,
    rng: random.Random,
    create: bool = False,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the attempts run out."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.wait_after(error, state.attempt_number, rng)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait_for = state.next_action.sleep if state.next_action else 0.0
        log.log(
            logging.INFO,
            "retrying in %.2fs after attempt %d: %s",
            wait_for,
            state.attempt_number,
            error,
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait,
        retry=retry_if_exception(lambda error: should_retry(error, create=create)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return await retrying(attempt)
