"""Waiting on notifications (websocket or webhook), with polling as the safety net.

A notification source (the results websocket listener, the webhook receiver) publishes
:class:`ImageSignal` s into a :class:`SignalHub`; each running wait subscribes with its image
ids and gets the signals of its images, including those that arrived before it subscribed
(the hub remembers them). A signal only says *when* to read an image's rows; completeness is
decided by reading them (:class:`~tasks.waiting.tracker.ResultTracker`).

Nothing is lost because notifications are never the only path:

* images uploaded before the source was (last) connected are read once at the start;
* a :class:`Gap` (socket reopened) triggers a read of every unfinished image;
* every ``reconcile_interval`` seconds the unfinished images are read anyway;
* a lost source (socket cannot be reopened, webhook not registered) turns the wait into polling;
* at the timeout, one last read of every unfinished image.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.captures import UploadedImage
from tasks.waiting.poll import PollBackoff, poll_until
from tasks.waiting.tracker import ResultTracker

HISTORY_LIMIT = 100_000  # image ids remembered for waits that subscribe late


@dataclass(frozen=True)
class ImageSignal:
    """An algorithm row finished (``algorithm_id``), or the whole image did (``finished``)."""

    image_id: str
    algorithm_id: int | None = None
    finished: bool = False


@dataclass(frozen=True)
class Gap:
    """Notifications may have been lost (the socket was reopened): read the unfinished images."""


@dataclass(frozen=True)
class SourceLost:
    """No more notifications will come: poll."""


@dataclass(frozen=True)
class _Checked:
    """A read of an image finished (wakes the wait so it can see whether all are complete)."""


Event = ImageSignal | Gap | SourceLost | _Checked


@dataclass
class _Seen:
    algorithms: set[int] = field(default_factory=set)
    finished: bool = False


@dataclass(eq=False)
class Subscription:
    image_ids: frozenset[str]
    inbox: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)


class SignalHub:
    """Fans signals out to the waits interested in them; lives on the waits' event loop."""

    def __init__(self, history_limit: int = HISTORY_LIMIT) -> None:
        self._history: OrderedDict[str, _Seen] = OrderedDict()
        self._history_limit = history_limit
        self._subscriptions: set[Subscription] = set()
        self.connected_since: datetime | None = None
        self.lost = False

    def connected(self, *, reopened: bool) -> None:
        """The source is (again) delivering; after a reopen, messages may have been missed."""
        self.connected_since = datetime.now(UTC)
        if reopened:
            self._broadcast(Gap())

    def lose(self) -> None:
        self.lost = True
        self._broadcast(SourceLost())

    def gap(self) -> None:
        self._broadcast(Gap())

    def publish(self, signal: ImageSignal) -> None:
        seen = self._history.setdefault(signal.image_id, _Seen())
        self._history.move_to_end(signal.image_id)
        if signal.algorithm_id is not None:
            seen.algorithms.add(signal.algorithm_id)
        seen.finished = seen.finished or signal.finished
        while len(self._history) > self._history_limit:
            self._history.popitem(last=False)
        for subscription in self._subscriptions:
            if signal.image_id in subscription.image_ids:
                subscription.inbox.put_nowait(signal)

    def subscribe(self, image_ids: frozenset[str]) -> Subscription:
        """A subscription that first replays what is already known about these images."""
        subscription = Subscription(image_ids)
        for image_id in image_ids & self._history.keys():
            seen = self._history[image_id]
            for algorithm_id in sorted(seen.algorithms):
                subscription.inbox.put_nowait(ImageSignal(image_id, algorithm_id=algorithm_id))
            if seen.finished:
                subscription.inbox.put_nowait(ImageSignal(image_id, finished=True))
        if self.lost:
            subscription.inbox.put_nowait(SourceLost())
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def _broadcast(self, event: Event) -> None:
        for subscription in self._subscriptions:
            subscription.inbox.put_nowait(event)


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


class _Reads:
    """Reads started by signals: at most one in flight per image; each wakes the wait."""

    def __init__(self, tracker: ResultTracker, inbox: asyncio.Queue[Event]) -> None:
        self._tracker = tracker
        self._inbox = inbox
        self._in_flight: dict[str, asyncio.Task[bool]] = {}

    def start(self, image: UploadedImage) -> None:
        if self._tracker.is_complete(image.image_id) or image.image_id in self._in_flight:
            return
        task = asyncio.create_task(self._tracker.check(image))
        self._in_flight[image.image_id] = task
        task.add_done_callback(lambda _: self._done(image.image_id))

    def start_all(self, images: list[UploadedImage]) -> None:
        for image in images:
            self.start(image)

    def _done(self, image_id: str) -> None:
        self._in_flight.pop(image_id, None)
        self._inbox.put_nowait(_Checked())

    async def drain(self) -> None:
        """Let the reads in flight finish (an authentication error surfaces here)."""
        await asyncio.gather(*list(self._in_flight.values()))

    def cancel(self) -> None:
        for task in self._in_flight.values():
            task.cancel()


@dataclass(frozen=True)
class SignalWait:
    """How a notification-driven wait behaves besides listening."""

    reconcile_interval: float | None = 30.0
    """Seconds between safety reads of the unfinished images (None: only at gaps and the end)."""
    backoff: PollBackoff = field(default_factory=PollBackoff)
    """Used when the source is lost and the wait turns into polling."""

    async def run(
        self,
        tracker: ResultTracker,
        hub: SignalHub,
        covered_since: CoveredSince,
        seconds: float,
    ) -> None:
        """Wait until every image of ``tracker`` is complete or ``seconds`` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, seconds)
        subscription = hub.subscribe(tracker.image_ids)
        reads = _Reads(tracker, subscription.inbox)
        try:
            reads.start_all([i for i in tracker.unfinished if uploaded_before(i, covered_since(i))])
            await self._listen(tracker, hub, subscription, reads, deadline)
            await reads.drain()
        finally:
            hub.unsubscribe(subscription)
            reads.cancel()
        if hub.lost:
            await poll_until(tracker, deadline, self.backoff)
        else:
            await tracker.check_all(tracker.unfinished)  # the last look at the timeout

    async def _listen(
        self,
        tracker: ResultTracker,
        hub: SignalHub,
        subscription: Subscription,
        reads: _Reads,
        deadline: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        seen: dict[str, set[int]] = {}
        interval = self.reconcile_interval
        next_reconcile = loop.time() + interval if interval else float("inf")
        while not tracker.all_settled and not hub.lost:
            now = loop.time()
            if now >= deadline:
                return
            if now >= next_reconcile and interval:
                reads.start_all(tracker.unfinished)
                next_reconcile = now + interval
            try:
                wake_at = min(deadline, next_reconcile)
                event = await asyncio.wait_for(subscription.inbox.get(), wake_at - now)
            except TimeoutError:
                continue
            if isinstance(event, Gap):
                reads.start_all(tracker.unfinished)
            elif isinstance(event, ImageSignal):
                self._on_signal(tracker, reads, seen, event)

    @staticmethod
    def _on_signal(
        tracker: ResultTracker, reads: _Reads, seen: dict[str, set[int]], signal: ImageSignal
    ) -> None:
        image = tracker.image(signal.image_id)
        if image is None:
            return
        algorithms = seen.setdefault(signal.image_id, set())
        if signal.algorithm_id is not None:
            algorithms.add(signal.algorithm_id)
        if signal.finished or tracker.covers(algorithms):
            reads.start(image)
