"""A wait as long as a run: images join as they are uploaded, each is read when its strategy
says so, and each is handed on the moment it settles.

::

    async with waiter.session(client, expected_algorithms=[30, 40], timeout=600,
                              on_result=write) as session:
        session.add(uploaded)           # any time, from any task on this loop
        await session.settled(uploaded) # these are handed on (or the session failed)
        await session.drain()           # every image added so far is handed on

Every image added is handed to ``on_result`` exactly once: complete (rows and aux images), or
unfinished at its own deadline (``timeout`` seconds after it was added; one last read happens
at the deadline itself). The strategies (poll, websocket, webhook) differ only in *when* an
image is read, a :class:`ReadPolicy`; one loop serves every outstanding image, so a wait never
holds up the uploads that feed it, and each image's rows are held only until it is handed on.
An authentication error or a failing ``on_result`` fails the session: ``add``, ``settled`` and
``drain`` raise it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from haut.client import HautClient
from schemas.captures import UploadedImage
from tasks.waiting.tracker import (
    DEFAULT_CONCURRENCY,
    ImageResults,
    Look,
    ResultTracker,
)

OnResult = Callable[[ImageResults], Awaitable[None]]
"""Receives each image's results once, as it settles."""

NEVER = float("inf")


class ReadPolicy(Protocol):
    """When a session reads an image (loop times, ``asyncio`` clock): what a strategy decides."""

    def bind(self, session: WaitSession) -> None:
        """The session starts: a policy driven by notifications asks it for reads from now on."""
        ...

    async def prepare(self, images: Sequence[UploadedImage]) -> None:
        """Before the first reads of these images (e.g. register their dataset's webhook)."""
        ...

    def first_read(self, image: UploadedImage, now: float) -> float:
        """When to read an image just added (``NEVER``: at its deadline)."""
        ...

    def next_read(self, image: UploadedImage, now: float, misses: int) -> float:
        """When to read again an image whose ``misses``-th read found it unfinished."""
        ...

    def done(self, image: UploadedImage, read_at: float, *, complete: bool, misses: int) -> None:
        """The image is settled (``complete``: the read started at ``read_at`` found all its
        rows, after ``misses`` reads that did not; a policy may learn how long images take) or
        given up on."""
        ...

    def uploads_done(self) -> None:
        """The run has uploaded all it will (see :attr:`WaitSession.uploading`)."""
        ...

    def close(self) -> None:
        """The session ends."""
        ...


def loop_time_of(moment: datetime, now: float) -> float:
    """The loop time (``now`` is the loop's) at which ``moment`` (UTC; naive is UTC) was."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return now - (datetime.now(UTC) - moment).total_seconds()


@dataclass(eq=False)
class _Awaited:
    image: UploadedImage
    deadline: float
    done: asyncio.Future[None]
    due: float = NEVER
    misses: int = 0
    reading: bool = False
    scheduled: bool = False  # its first read is planned (until then the policy decides it)


@dataclass
class _Schedule:
    """Due reads in time order; an entry is stale once its image was rescheduled or read."""

    heap: list[tuple[float, int, str]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, due: float, image_id: str) -> None:
        heapq.heappush(self.heap, (due, next(self.order), image_id))

    def next_due(self) -> float:
        return self.heap[0][0] if self.heap else NEVER

    def pop_due(self, now: float) -> tuple[float, str] | None:
        """The earliest read due by ``now``, taken off the schedule; None if none is."""
        if not self.heap or self.heap[0][0] > now:
            return None
        when, _, image_id = heapq.heappop(self.heap)
        return when, image_id


class WaitSession:
    """One loop reading every outstanding image when its policy says; see the module."""

    def __init__(
        self,
        client: HautClient,
        expected_algorithms: Collection[int],
        policy: ReadPolicy,
        *,
        timeout: float,
        on_result: OnResult,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.tracker = ResultTracker(client, expected_algorithms, concurrency=concurrency)
        self.policy = policy
        self.timeout = max(0.0, timeout)
        self._on_result = on_result
        self._awaited: dict[str, _Awaited] = {}
        self._arrivals: list[_Awaited] = []
        self._schedule = _Schedule()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._reading = 0
        self._max_reading = max(1, concurrency) * 2
        self._runner: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.handed_on = 0
        self.uploading = False
        """The caller is still uploading images it will add: reads may give way to uploads."""

    async def __aenter__(self) -> WaitSession:
        self.policy.bind(self)
        self._runner = asyncio.create_task(self._run(), name="hautflow-wait-session")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        self.policy.close()

    # --- what callers use ------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """Images added and not yet handed on."""
        return len(self._awaited)

    def knows(self, image_id: str) -> bool:
        return image_id in self._awaited

    def add(self, images: Sequence[UploadedImage]) -> None:
        """Await these images too (one already outstanding is not added twice)."""
        self._raise_if_failed()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for image in images:
            if image.image_id in self._awaited:
                continue
            awaited = _Awaited(image, deadline, loop.create_future())
            self._awaited[image.image_id] = awaited
            self._arrivals.append(awaited)
        self._wake.set()

    def uploads_started(self) -> None:
        """More images are being uploaded to join this wait (see :attr:`uploading`)."""
        self.uploading = True

    def uploads_done(self) -> None:
        """Every image the caller uploads has been added: reads need give way no more."""
        self.uploading = False
        self.policy.uploads_done()

    async def settled(self, images: Sequence[UploadedImage]) -> None:
        """Return once these images are handed on; raises the session's failure."""
        waiting = [self._awaited[i.image_id].done for i in images if i.image_id in self._awaited]
        if waiting:
            await asyncio.gather(*waiting)
        self._raise_if_failed()

    async def below(self, limit: int) -> None:
        """Return once fewer than ``limit`` images are outstanding; raises the session's
        failure (a caller uploading more images waits here, so memory stays bounded)."""
        while len(self._awaited) >= limit and self._failure is None:
            self._room.clear()
            await self._room.wait()
        self._raise_if_failed()

    async def drain(self) -> None:
        """Return once every image added so far is handed on; raises the session's failure."""
        while self._awaited and self._failure is None:
            await asyncio.gather(*(a.done for a in list(self._awaited.values())))
        self._raise_if_failed()

    # --- what policies use -----------------------------------------------------------------

    def read_soon(self, image_id: str) -> None:
        """Read this image now, unless it is being read (or is not awaited here)."""
        self.read_at(image_id, asyncio.get_running_loop().time())

    def read_at(self, image_id: str, when: float) -> None:
        """Read this image at loop time ``when`` instead of when planned (unless being read)."""
        awaited = self._awaited.get(image_id)
        if awaited is not None and awaited.scheduled and not awaited.reading:
            self._due_at(awaited, when)

    def read_all_soon(self) -> None:
        """Read every outstanding image now (notifications may have been lost)."""
        now = asyncio.get_running_loop().time()
        for awaited in self._awaited.values():
            if awaited.scheduled and not awaited.reading:
                self._due_at(awaited, now)

    # --- the loop --------------------------------------------------------------------------

    def _due_at(self, awaited: _Awaited, when: float) -> None:
        awaited.due = min(when, awaited.deadline)
        self._schedule.push(awaited.due, awaited.image.image_id)
        self._wake.set()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                await self._loop(group)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # an auth error, a failing on_result: the session's end
            while isinstance(error, BaseExceptionGroup):
                error = error.exceptions[0]
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        self._failure = error
        self._room.set()
        for awaited in self._awaited.values():
            if not awaited.done.done():
                awaited.done.set_result(None)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _loop(self, group: asyncio.TaskGroup) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._arrivals:
                arrivals, self._arrivals = self._arrivals, []
                await self.policy.prepare([a.image for a in arrivals])
                now = loop.time()
                for awaited in arrivals:
                    awaited.scheduled = True
                    self._due_at(awaited, self.policy.first_read(awaited.image, now))
            # Reads (with their hand-over) in flight are bounded: results wait in the API,
            # not in memory, while whoever takes them is slower than the reads.
            while self._reading < self._max_reading:
                due = self._schedule.pop_due(loop.time())
                if due is None:
                    break
                when, image_id = due
                entry = self._awaited.get(image_id)
                if entry is None or entry.reading or entry.due != when:
                    continue  # handed on, being read, or rescheduled since
                entry.reading = True
                self._reading += 1
                group.create_task(self._read(entry))
            if self._arrivals:
                continue
            self._wake.clear()
            delay = self._schedule.next_due() - loop.time()
            if self._reading >= self._max_reading:
                delay = NEVER  # a read's end wakes the loop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if delay == NEVER else max(0.0, delay)):
                    await self._wake.wait()

    async def _read(self, awaited: _Awaited) -> None:
        try:
            await self._read_once(awaited)
        finally:
            self._reading -= 1
            self._wake.set()

    async def _read_once(self, awaited: _Awaited) -> None:
        loop = asyncio.get_running_loop()
        image = awaited.image
        started = loop.time()
        look = await self.tracker.check(image)
        if look is Look.UNFINISHED and started < awaited.deadline:
            awaited.misses += 1
            awaited.reading = False
            self._due_at(awaited, self.policy.next_read(image, loop.time(), awaited.misses))
            return
        self.policy.done(image, started, complete=look is Look.COMPLETE, misses=awaited.misses)
        try:
            result = await self.tracker.hand_over(image, look)
            await self._on_result(result)
            self.handed_on += 1
        finally:
            self._awaited.pop(image.image_id, None)
            self._room.set()
            if not awaited.done.done():
                awaited.done.set_result(None)


async def wait_all(
    session: Callable[..., contextlib.AbstractAsyncContextManager[WaitSession]],
    images: Sequence[UploadedImage],
) -> list[ImageResults]:
    """A whole wait over ``images`` in a ``session(on_result=...)``: one entry per image, in
    order (an image listed twice is read once and reported twice); every waiter's ``wait``."""
    by_id: dict[str, ImageResults] = {}

    async def keep(result: ImageResults) -> None:
        by_id[result.image.image_id] = result

    async with session(on_result=keep) as waiting:
        waiting.add(images)
        await waiting.drain()
    return [by_id[image.image_id] for image in images]
