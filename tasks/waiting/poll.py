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
each of its photos several times before it has finished any. While the run is still uploading
(:attr:`WaitSession.uploading`), a first read waits twice that: uploads go first, and the reads
held back keep the budget busy at the end, while the last photos are processed, instead of it
idling there.
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
        self._fresh: dict[str, float] = {}  # added within the cap of their upload: upload times
        self._tight: set[str] = set()  # first read planned at the earliest it could be done
        self._parked: set[str] = set()  # fresh images waiting for a pace
        self._held: set[str] = set()  # read later than their pace while uploads go on

    def bind(self, session: WaitSession) -> None:
        self._session = session

    async def prepare(self, images: Sequence[UploadedImage]) -> None:
        return None

    def _uploading(self) -> bool:
        return self._session is not None and self._session.uploading

    def first_read(self, image: UploadedImage, now: float) -> float:
        image_id = image.image_id
        uploaded = loop_time_of(image.uploaded_at, now)
        if now - uploaded > self.backoff.cap:
            return now  # uploaded long ago (an earlier run's): it may well be done
        self._fresh[image_id] = uploaded
        settle_age = self.pace.settle_age
        if settle_age is None and not self._probing:
            self._probing = True
            self._tight.add(image_id)
            return now
        if settle_age is None:
            self._parked.add(image_id)
            return max(now, uploaded + self.backoff.cap)
        return self._at_pace(image_id, uploaded, settle_age, now)

    def _at_pace(self, image_id: str, uploaded: float, settle_age: float, now: float) -> float:
        if self._uploading():
            # Uploads come first: the reads held back meanwhile are what fills the request
            # budget at the end, while the last uploads are processed.
            self._held.add(image_id)
            return max(now, uploaded + 2 * settle_age)
        self._tight.add(image_id)
        return max(now, uploaded + settle_age)

    def next_read(self, image: UploadedImage, now: float, misses: int) -> float:
        self._parked.discard(image.image_id)
        self._held.discard(image.image_id)
        return now + self.backoff.delay(misses)

    def done(self, image: UploadedImage, read_at: float, *, complete: bool, misses: int) -> None:
        image_id = image.image_id
        self._parked.discard(image_id)
        self._held.discard(image_id)
        tight = image_id in self._tight
        self._tight.discard(image_id)
        uploaded = self._fresh.pop(image_id, None)
        if uploaded is None or not complete or not (tight or misses):
            return  # a complete read after a wait longer than needed says little
        first = self.pace.settle_age is None
        self.pace.observe(read_at - uploaded)
        settle_age = self.pace.settle_age
        if first and settle_age is not None and self._session is not None:
            # The images parked until the service showed its pace are read at that pace.
            parked, self._parked = self._parked, set()
            for parked_id in parked:
                when = self._at_pace(parked_id, self._fresh[parked_id], settle_age, read_at)
                self._session.read_at(parked_id, when)

    def uploads_done(self) -> None:
        """No more uploads: the held reads go at the images' pace."""
        settle_age = self.pace.settle_age
        held, self._held = self._held, set()
        if self._session is None or settle_age is None:
            return
        for image_id in held:
            self._tight.add(image_id)
            self._session.read_at(image_id, self._fresh[image_id] + settle_age)

    def close(self) -> None:
        self._fresh.clear()
        self._tight.clear()
        self._parked.clear()
        self._held.clear()


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
