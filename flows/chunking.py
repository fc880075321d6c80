"""What the flows share to run work in chunks: the split, and the error a failed group shows."""

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
