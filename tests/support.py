"""Helpers shared by every test package (plain functions, not fixtures)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from haut.emulator.server import EmulatorServer


def wait_until(
    condition: Callable[[], bool],
    what: str = "the condition",
    timeout: float = 15.0,
    interval: float = 0.02,
) -> None:
    """Return as soon as ``condition()`` holds; raise AssertionError naming ``what`` on timeout.

    For state that lives in another thread or process, where there is no event to wait on.
    From async code run it with ``await asyncio.to_thread(wait_until, ...)`` so the event loop
    keeps serving while it polls.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


async def control(emulator: EmulatorServer, method: str, path: str, body: Any = None) -> Any:
    """Call one of the emulator's /_emulator/ control endpoints (never faulted)."""
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        response = await http.request(method, f"/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()
