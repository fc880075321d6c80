"""Waiting for analysis results: three ways behind one protocol, picked by name.

* ``poll`` (default): read ``/results/`` of the unfinished images with capped backoff;
* ``websocket``: listen on the company results stream, read an image when it is announced;
* ``webhook``: start a receiver, register it as the dataset webhook, read an image when it is
  delivered.

The names and their classes are in :mod:`~tasks.waiting.registry`: a new way is one module and
one line there. Every waiter returns one :class:`ImageResults` per image, in order; an image
not complete at the timeout comes back with ``complete=False`` (the caller records it pending
and the next run picks it up). Rows and aux images are always read with ``client.results`` /
``client.aux_images``.
Open the notification channel before uploading so nothing is missed::

    waiter = make_waiter("websocket")
    async with waiter.listening(client, dataset_ids=[dataset_id]):
        uploaded = ...
        results = await waiter.wait(client, uploaded, expected_algorithms=[30, 40], timeout=600)

A run that uploads while it waits opens one :meth:`ResultWaiter.session` instead, adds images
as they are uploaded and gets each one's results the moment it settles
(:mod:`~tasks.waiting.session`); ``wait`` is one such session over a fixed list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from tasks.waiting import registry

if TYPE_CHECKING:
    from haut.client import HautClient
    from schemas.captures import UploadedImage
    from tasks.waiting.poll import PollBackoff, PollWaiter
    from tasks.waiting.receiver import WebhookAuth, WebhookAuthScheme, WebhookReceiver
    from tasks.waiting.session import OnResult, WaitSession
    from tasks.waiting.tracker import ImageResults
    from tasks.waiting.webhook import WebhookWaiter
    from tasks.waiting.websocket import WebsocketWaiter

__all__ = [
    "ImageResults",
    "OnResult",
    "PollBackoff",
    "PollWaiter",
    "ResultWaiter",
    "WaitSession",
    "WaiterName",
    "WebhookAuth",
    "WebhookAuthScheme",
    "WebhookReceiver",
    "WebhookWaiter",
    "WebsocketWaiter",
    "make_waiter",
]

WaiterName: TypeAlias = str
"""A wait strategy's name: one of :func:`tasks.waiting.registry.names`."""

_LAZY = {
    "ImageResults": "tasks.waiting.tracker",
    "OnResult": "tasks.waiting.session",
    "WaitSession": "tasks.waiting.session",
    "PollBackoff": "tasks.waiting.poll",
    "PollWaiter": "tasks.waiting.poll",
    "WebhookAuth": "tasks.waiting.receiver",
    "WebhookAuthScheme": "tasks.waiting.receiver",
    "WebhookReceiver": "tasks.waiting.receiver",
    "WebhookWaiter": "tasks.waiting.webhook",
    "WebsocketWaiter": "tasks.waiting.websocket",
}
"""Names imported on first use: :mod:`~tasks.waiting.registry` is read by the options at
start-up, and importing this package must not start the waiters' web stack."""


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)


class ResultWaiter(Protocol):
    """Waits until uploaded images are analysed, then reads their rows and aux images."""

    name: str

    def listening(
        self, client: HautClient, *, dataset_ids: Collection[str] = ()
    ) -> AbstractAsyncContextManager[None]:
        """Keep the notification channel open for a block (open it before uploading)."""
        ...

    def session(
        self,
        client: HautClient,
        *,
        expected_algorithms: Collection[int],
        timeout: float,
        on_result: OnResult,
    ) -> AbstractAsyncContextManager[WaitSession]:
        """A run-long wait: images are added as they are uploaded, each is handed to
        ``on_result`` once, as it settles or at its own ``timeout``."""
        ...

    async def wait(
        self,
        client: HautClient,
        images: Sequence[UploadedImage],
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - a wait budget, not a cancellation: partial results come back
    ) -> list[ImageResults]:
        """One entry per image, in order; ``complete=False`` for those unfinished at timeout."""
        ...


def make_waiter(name: WaiterName = registry.DEFAULT_STRATEGY, **options: Any) -> ResultWaiter:
    """The waiter of strategy ``name`` (:data:`~tasks.waiting.registry.STRATEGIES`) with its
    options (see each class for what it takes); ValueError for an unknown name."""
    return registry.waiter_class(name)(**options)
