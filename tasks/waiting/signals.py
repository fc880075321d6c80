"""Waiting on notifications (websocket or webhook), with polling as the safety net.

A notification source (the results websocket listener, the webhook receiver) publishes
:class:`ImageSignal` s into a :class:`SignalHub`; each running wait session is told of every
signal, and an image's signals that arrived before it joined a session are remembered by the
hub and replayed. A signal only says *when* to read an image's rows; completeness is decided
by reading them (:class:`~tasks.waiting.tracker.ResultTracker`).

Nothing is lost because notifications are never the only path:

* images uploaded before the source was (last) connected are read at once;
* a gap (socket reopened) reads every unfinished image;
* every ``reconcile_interval`` seconds an unfinished image is read anyway;
* a lost source (socket cannot be reopened, webhook not registered) turns the wait into polling;
* at an image's deadline, one last read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from schemas.captures import UploadedImage
from tasks.waiting.poll import Pace, PollBackoff, PollSchedule
from tasks.waiting.session import NEVER, WaitSession

HISTORY_LIMIT = 100_000  # image ids remembered for sessions that learn of them late


@dataclass(frozen=True)
class ImageSignal:
    """An algorithm row finished (``algorithm_id``), or the whole image did (``finished``)."""

    image_id: str
    algorithm_id: int | None = None
    finished: bool = False


@dataclass
class Seen:
    """What the notifications said of one image so far."""

    algorithms: set[int] = field(default_factory=set)
    finished: bool = False


class SignalListener(Protocol):
    """What the hub tells a running wait."""

    def signal(self, image_id: str, seen: Seen) -> None: ...

    def gap(self) -> None: ...

    def lost(self) -> None: ...


class SignalHub:
    """Fans signals out to the running waits; lives on the waits' event loop."""

    def __init__(self, history_limit: int = HISTORY_LIMIT) -> None:
        self._history: OrderedDict[str, Seen] = OrderedDict()
        self._history_limit = history_limit
        self._listeners: set[SignalListener] = set()
        self.connected_since: datetime | None = None
        self.lost = False

    def connected(self, *, reopened: bool) -> None:
        """The source is (again) delivering; after a reopen, messages may have been missed."""
        self.connected_since = datetime.now(UTC)
        if reopened:
            self.gap()

    def lose(self) -> None:
        self.lost = True
        for listener in list(self._listeners):
            listener.lost()

    def gap(self) -> None:
        for listener in list(self._listeners):
            listener.gap()

    def publish(self, signal: ImageSignal) -> None:
        seen = self._history.setdefault(signal.image_id, Seen())
        self._history.move_to_end(signal.image_id)
        if signal.algorithm_id is not None:
            seen.algorithms.add(signal.algorithm_id)
        seen.finished = seen.finished or signal.finished
        while len(self._history) > self._history_limit:
            self._history.popitem(last=False)
        for listener in list(self._listeners):
            listener.signal(signal.image_id, seen)

    def seen(self, image_id: str) -> Seen | None:
        """What was announced of this image so far, if anything."""
        return self._history.get(image_id)

    def subscribe(self, listener: SignalListener) -> None:
        self._listeners.add(listener)

    def unsubscribe(self, listener: SignalListener) -> None:
        self._listeners.discard(listener)


CoveredSince = Callable[[UploadedImage], datetime | None]
"""From when notifications for this image are delivered (None: not covered at all)."""


def uploaded_before(image: UploadedImage, moment: datetime | None) -> bool:
    """Whether the image may have finished before notifications for it were delivered."""
    if moment is None:
        return True
    uploaded = image.uploaded_at
    if uploaded.tzinfo is None:  # naive times are UTC throughout hautflow
        uploaded = uploaded.replace(tzinfo=UTC)
    return uploaded <= moment


@dataclass(frozen=True)
class SignalWait:
    """How a notification-driven wait behaves besides listening."""

    reconcile_interval: float | None = 30.0
    """Seconds between safety reads of an unfinished image (None: only at gaps and the end)."""
    backoff: PollBackoff = field(default_factory=PollBackoff)
    """Used when the source is lost and the wait turns into polling."""

    def schedule(
        self,
        hub: SignalHub,
        covered_since: CoveredSince,
        prepare: Callable[[Sequence[UploadedImage]], Awaitable[None]] | None = None,
    ) -> SignalSchedule:
        return SignalSchedule(self, hub, covered_since, prepare)


class SignalSchedule:
    """The read policy of a notification-driven wait (see the module)."""

    def __init__(
        self,
        behaviour: SignalWait,
        hub: SignalHub,
        covered_since: CoveredSince,
        prepare: Callable[[Sequence[UploadedImage]], Awaitable[None]] | None,
    ) -> None:
        self.behaviour = behaviour
        self.hub = hub
        self.covered_since = covered_since
        self._prepare = prepare
        self._polling = PollSchedule(behaviour.backoff, Pace())
        self._session: WaitSession | None = None
        self._expected: frozenset[int] = frozenset()

    def bind(self, session: WaitSession) -> None:
        self._session = session
        self._expected = session.tracker.expected
        self._polling.bind(session)
        self.hub.subscribe(self)

    def close(self) -> None:
        self.hub.unsubscribe(self)
        self._polling.close()

    async def prepare(self, images: Sequence[UploadedImage]) -> None:
        if self._prepare is not None:
            await self._prepare(images)

    def _announced(self, seen: Seen | None) -> bool:
        return seen is not None and (seen.finished or self._expected <= seen.algorithms)

    def _safety_read(self, now: float) -> float:
        interval = self.behaviour.reconcile_interval
        return now + interval if interval else NEVER

    def first_read(self, image: UploadedImage, now: float) -> float:
        if self.hub.lost:
            return self._polling.first_read(image, now)
        if uploaded_before(image, self.covered_since(image)):
            return now
        if self._announced(self.hub.seen(image.image_id)):
            return now
        return self._safety_read(now)

    def next_read(self, image: UploadedImage, now: float, misses: int) -> float:
        if self.hub.lost:
            return self._polling.next_read(image, now, misses)
        return self._safety_read(now)

    def done(self, image: UploadedImage, read_at: float, *, complete: bool, misses: int) -> None:
        self._polling.done(image, read_at, complete=complete, misses=misses)

    def uploads_done(self) -> None:
        self._polling.uploads_done()

    # --- what the hub says ---------------------------------------------------------------

    def signal(self, image_id: str, seen: Seen) -> None:
        if self._session is not None and self._announced(seen):
            self._session.read_soon(image_id)

    def gap(self) -> None:
        if self._session is not None:
            self._session.read_all_soon()

    def lost(self) -> None:
        if self._session is not None:
            self._session.read_all_soon()
