"""What the flows share to run work in chunks: the split, the error a failed group shows, and
how a failed run records it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

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
