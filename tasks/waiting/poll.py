"""Waiting by polling ``GET {I}/results/``: the default, works everywhere.

One session polls every outstanding image on its own schedule, so images uploaded while others
are awaited are polled alongside them and nothing waits for a whole pass. A read that finds an
image unfinished is repeated after the backoff (0.5 s, 1 s, 2 s ... up to 5 s by default); the
last read happens at the image's deadline itself, so an image that finished while the waiter
slept is never reported unfinished.

Each read costs a request of the rate budget the uploads share, so the first read of a new
image waits for about as long as images have been seen to take (:class:`Pace`): the quickest
of the recent images read complete after a fresh upload. Until one has been, the first image
is read at once and others after the backoff's cap, so an idle service is never polled for
each of its photos several times before it has finished any.
"""

from __future__ import annotations

import contextlib
import functools
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass

from haut.client import HautClient
from schemas.captures import UploadedImage
from tasks.waiting.session import OnResult, WaitSession, loop_time_of, wait_all
from tasks.waiting.tracker import DEFAULT_CONCURRENCY, ImageResults

PACE_WINDOW = 32  # recent fresh images whose time to complete sets the first read of new ones


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

    def delay(self, misses: int) -> float:
        """The wait after the ``misses``-th read in a row that found an image unfinished."""
        return min(self.cap, self.initial * self.factor ** max(0, misses - 1))


class Pace:
    """How long fresh uploads have taken to complete: the quickest of the last few."""

    def __init__(self, window: int = PACE_WINDOW) -> None:
        self._ages: deque[float] = deque(maxlen=window)

    def observe(self, age: float) -> None:
        self._ages.append(age)

    @property
    def settle_age(self) -> float | None:
        return min(self._ages) if self._ages else None


class PollSchedule:
    """The read policy of polling (see the module)."""

    def __init__(self, backoff: PollBackoff, pace: Pace) -> None:
        self.backoff = backoff
        self.pace = pace
        self._session: WaitSession | None = None
        self._probing = False
        self._fresh: set[str] = set()  # added within the backoff's cap of their upload
        self._parked: dict[str, float] = {}  # fresh images waiting for a pace: upload times

    def bind(self, session: WaitSession) -> None:
        self._session = session

    async def prepare(self, images: Sequence[UploadedImage]) -> None:
        return None

    def first_read(self, image: UploadedImage, now: float) -> float:
        uploaded = loop_time_of(image.uploaded_at, now)
        if now - uploaded > self.backoff.cap:
            return now  # uploaded long ago (an earlier run's): it may well be done
        self._fresh.add(image.image_id)
        settle_age = self.pace.settle_age
        if settle_age is not None:
            return max(now, uploaded + settle_age)
        if not self._probing:
            self._probing = True
            return now
        self._parked[image.image_id] = uploaded
        return max(now, uploaded + self.backoff.cap)

    def next_read(self, image: UploadedImage, now: float, misses: int) -> float:
        self._parked.pop(image.image_id, None)
        return now + self.backoff.delay(misses)

    def done(self, image: UploadedImage, now: float, *, complete: bool) -> None:
        self._parked.pop(image.image_id, None)
        if image.image_id not in self._fresh:
            return
        self._fresh.discard(image.image_id)
        if not complete:
            return
        first = self.pace.settle_age is None
        self.pace.observe(now - loop_time_of(image.uploaded_at, now))
        settle_age = self.pace.settle_age
        if first and settle_age is not None and self._session is not None:
            # The images parked until the service showed its pace are read at that pace.
            parked, self._parked = self._parked, {}
            for image_id, uploaded in parked.items():
                self._session.read_at(image_id, uploaded + settle_age)

    def close(self) -> None:
        self._fresh.clear()
        self._parked.clear()


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
        self.pace = Pace()

    def __repr__(self) -> str:
        return f"PollWaiter(backoff={self.backoff!r}, concurrency={self.concurrency})"

    @contextlib.asynccontextmanager
    async def listening(
        self, client: HautClient, *, dataset_ids: Collection[str] = ()
    ) -> AsyncIterator[None]:
        """Nothing to open: polling needs no notification channel."""
        yield

    def session(
        self,
        client: HautClient,
        *,
        expected_algorithms: Collection[int],
        timeout: float,
        on_result: OnResult,
    ) -> contextlib.AbstractAsyncContextManager[WaitSession]:
        return WaitSession(
            client,
            expected_algorithms,
            PollSchedule(self.backoff, self.pace),
            timeout=timeout,
            on_result=on_result,
            concurrency=self.concurrency,
        )

    async def wait(
        self,
        client: HautClient,
        images: Sequence[UploadedImage],
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - a wait budget, not a cancellation: partial results come back
    ) -> list[ImageResults]:
        return await wait_all(
            functools.partial(
                self.session, client, expected_algorithms=expected_algorithms, timeout=timeout
            ),
            images,
        )
