"""What the flows share to run work in chunks: the split, the error a failed group shows, and
how a failed or stopped run records it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from prefect.exceptions import ExternalSignal

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive runs of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def first_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first chunk's own error, so that callers (the CLI's AuthError handler) see what
    happened rather than a TaskGroup's group."""
    error: BaseException = errors
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def describe_error(error: BaseException) -> str:
    """``error`` as a runs row records it: its kind and its message, e.g. ``AuthError: not
    authorised - [GET /api/v1/...] - status 401``."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


STOPPED = (KeyboardInterrupt, asyncio.CancelledError, ExternalSignal)
"""What stops a run that nothing failed: Ctrl-C, SIGTERM (Prefect's TerminationSignal while a
flow runs, a KeyboardInterrupt from the command line's handler otherwise), a cancellation."""


def how_it_ended(error: BaseException) -> tuple[str, str]:
    """The status and error a runs row records for a run that ``error`` ended: ``stopped`` (by
    a signal or a cancellation) or ``failed``, with :func:`describe_error`."""
    if isinstance(error, STOPPED):
        return "stopped", "stopped by Ctrl-C, SIGTERM or a cancellation; the next run resumes it"
    return "failed", describe_error(error)
