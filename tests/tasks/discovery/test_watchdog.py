"""The watchdog: work that stops making progress is given up, work that progresses is not."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tasks.discovery.watchdog import Progress, map_watched


@pytest.fixture
def never() -> Iterator[threading.Event]:
    """An event only the teardown sets: what a dead share's read waits for."""
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.timeout(20, method="thread")
def test_stalled_items_get_the_stand_in_and_do_not_block_the_others(
    never: threading.Event,
) -> None:
    def work(item: str, progress: Progress) -> str:
        if item.startswith("stuck"):
            never.wait(10)
        return item.upper()

    items = ["stuck-1", "a", "stuck-2", "b", "stuck-3", "c"]
    # Two workers, three stuck items: each one given up frees its worker for the next item.
    found = map_watched(work, items, workers=2, stall_after=0.1, stalled=lambda i: f"({i})")
    assert found == ["(stuck-1)", "A", "(stuck-2)", "B", "(stuck-3)", "C"]


@pytest.mark.timeout(20, method="thread")
def test_work_that_keeps_progressing_is_not_given_up() -> None:
    def work(item: int, progress: Progress) -> int:
        tick = threading.Event()
        for _ in range(15):  # a slow read: 0.75 s in all, beyond stall_after, never 0.5 s idle
            tick.wait(0.05)
            progress()
        return item

    assert map_watched(work, [1, 2], workers=2, stall_after=0.5, stalled=lambda i: -i) == [1, 2]


def test_an_error_in_the_work_is_raised_once_all_is_settled() -> None:
    def work(item: int, progress: Progress) -> int:
        if item == 2:
            raise RuntimeError("bug in the check")
        return item

    with pytest.raises(RuntimeError, match="bug in the check"):
        map_watched(work, [1, 2, 3], workers=2, stall_after=5, stalled=lambda i: -i)
