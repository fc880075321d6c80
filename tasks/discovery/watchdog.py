"""Checking many files at once, none of them for ever.

A read can hang where no timeout of ours reaches: a network share that stopped answering, a
bucket connection that stalls, a file swapped for a pipe after it was listed. Python cannot stop
a thread, so each check runs on a daemon thread of its own (at most ``workers`` at once) and
reports progress as it reads; one that makes no progress for ``stall_after`` seconds is given
up: its item gets the caller's stand-in result, and its thread is left to end on its own or with
the process (a daemon thread keeps neither the run's end nor a SIGTERM waiting, where a pool's
worker would be joined for ever).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[], None]
"""Called by a check each time it gets further (e.g. per chunk read)."""


def map_watched(
    work: Callable[[T, Progress], R],
    items: Sequence[T],
    *,
    workers: int,
    stall_after: float,
    stalled: Callable[[T], R],
) -> list[R]:
    """``work(item, progress)`` for every item, in the items' order; ``stalled(item)`` for an
    item whose work went ``stall_after`` seconds without calling ``progress``.

    An exception raised by ``work`` is raised here once every item is settled.
    """
    return _Watch(work, items, stall_after, stalled).run(max(1, workers))


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Watch(Generic[T, R]):
    """The shared state of one :func:`map_watched`: what runs since when, and what is done."""

    def __init__(
        self,
        work: Callable[[T, Progress], R],
        items: Sequence[T],
        stall_after: float,
        stalled: Callable[[T], R],
    ) -> None:
        self._work = work
        self._items = items
        self._stall_after = stall_after
        self._stalled = stalled
        self._changed = threading.Condition()
        self._running: dict[int, float] = {}
        """Index of each running item -> when it last made progress (monotonic seconds)."""
        self._done: dict[int, R | _Failed] = {}

    def run(self, workers: int) -> list[R]:
        pending = deque(range(len(self._items)))
        with self._changed:
            while pending or self._running:
                while pending and len(self._running) < workers:
                    self._start(pending.popleft())
                if not self._give_up_stalled() and self._running:
                    self._changed.wait(self._until_next_stall())
        return [self._result(index) for index in range(len(self._items))]

    def _start(self, index: int) -> None:
        self._running[index] = time.monotonic()
        name = f"discovery-check-{index}"
        threading.Thread(target=self._run_one, args=(index,), name=name, daemon=True).start()

    def _run_one(self, index: int) -> None:
        outcome: R | _Failed
        try:
            outcome = self._work(self._items[index], lambda: self._progress(index))
        except BaseException as error:  # handed to the caller's thread, raised there
            outcome = _Failed(error)
        with self._changed:
            if self._running.pop(index, None) is not None:  # not given up meanwhile
                self._done[index] = outcome
            self._changed.notify()

    def _progress(self, index: int) -> None:
        with self._changed:
            if index in self._running:
                self._running[index] = time.monotonic()

    def _give_up_stalled(self) -> bool:
        now = time.monotonic()
        late = [i for i, last in self._running.items() if now - last >= self._stall_after]
        for index in late:
            del self._running[index]
            self._done[index] = self._stalled(self._items[index])
        return bool(late)

    def _until_next_stall(self) -> float:
        first = min(self._running.values())
        wait = first + self._stall_after - time.monotonic()
        return min(max(0.0, wait), threading.TIMEOUT_MAX)  # stall_after may be infinite

    def _result(self, index: int) -> R:
        outcome = self._done[index]
        if isinstance(outcome, _Failed):
            raise outcome.error
        return outcome
