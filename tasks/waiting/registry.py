"""The ways to wait for results, by name: a new strategy is one module and one line here.

Each entry names a class by ``module:attribute``, imported only when it is asked for: the
options' validation and the command line's list of values read the names without bringing the
waiters' web servers and websocket clients along (``hautflow --help`` stays light).
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import TYPE_CHECKING

from schemas.errors import HautflowError

if TYPE_CHECKING:
    from tasks.waiting import ResultWaiter

STRATEGIES: dict[str, str] = {
    "poll": "tasks.waiting.poll:PollWaiter",
    "websocket": "tasks.waiting.websocket:WebsocketWaiter",
    "webhook": "tasks.waiting.webhook:WebhookWaiter",
}
"""Wait strategy name -> ``module:class`` of its waiter (a :class:`ResultWaiter`)."""

DEFAULT_STRATEGY = "poll"


class UnknownWaiterError(HautflowError, ValueError):
    """A wait strategy that is not in :data:`STRATEGIES`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown result waiter {name!r}: choose one of {', '.join(names())}")


def names() -> tuple[str, ...]:
    """Every wait strategy's name, as the command line lists them."""
    return tuple(STRATEGIES)


def waiter_class(name: str) -> type[ResultWaiter]:
    """The waiter class of strategy ``name``, imported now; UnknownWaiterError if none."""
    try:
        module, _, attribute = STRATEGIES[name].partition(":")
    except KeyError:
        raise UnknownWaiterError(name) from None
    waiter: type[ResultWaiter] = getattr(import_module(module), attribute)
    return waiter


def parameters(name: str) -> frozenset[str]:
    """The keyword options the waiter of strategy ``name`` takes."""
    return frozenset(inspect.signature(waiter_class(name)).parameters)
