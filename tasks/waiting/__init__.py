"""Waiting for analysis results: three ways behind one protocol, picked by name.

* ``poll`` (default): read ``/results/`` of the unfinished images with capped backoff;
* ``websocket``: listen on the company results stream, read an image when it is announced;
* ``webhook``: start a receiver, register it as the dataset webhook, read an image when it is
  delivered.

Every waiter returns one :class:`ImageResults` per image, in order; an image not complete at the
timeout comes back with ``complete=False`` (the caller records it pending and the next run picks
it up). Rows and aux images are always read with ``client.results`` / ``client.aux_images``.
Open the notification channel before uploading so nothing is missed::

    waiter = make_waiter("websocket")
    async with waiter.listening(client, dataset_ids=[dataset_id]):
        uploaded = ...
        results = await waiter.wait(client, uploaded, expected_algorithms=[30, 40], timeout=600)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol, get_args

from haut.client import HautClient
from schemas.captures import UploadedImage
from tasks.waiting.poll import PollBackoff, PollWaiter
from tasks.waiting.receiver import WebhookAuth, WebhookAuthScheme, WebhookReceiver
from tasks.waiting.tracker import ImageResults
from tasks.waiting.webhook import WebhookWaiter
from tasks.waiting.websocket import WebsocketWaiter

__all__ = [
    "WAITER_NAMES",
    "ImageResults",
    "PollBackoff",
    "PollWaiter",
    "ResultWaiter",
    "WaiterName",
    "WebhookAuth",
    "WebhookAuthScheme",
    "WebhookReceiver",
    "WebhookWaiter",
    "WebsocketWaiter",
    "make_waiter",
]

WaiterName = Literal["poll", "websocket", "webhook"]
WAITER_NAMES: tuple[str, ...] = get_args(WaiterName)


class ResultWaiter(Protocol):
    """Waits until uploaded images are analysed, then reads their rows and aux images."""

    name: str

    def listening(
        self, client: HautClient, *, dataset_ids: Collection[str] = ()
    ) -> AbstractAsyncContextManager[None]:
        """Keep the notification channel open for a block (open it before uploading)."""
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


_WAITERS: dict[str, type[PollWaiter | WebsocketWaiter | WebhookWaiter]] = {
    "poll": PollWaiter,
    "websocket": WebsocketWaiter,
    "webhook": WebhookWaiter,
}


def make_waiter(name: WaiterName | str = "poll", **options: Any) -> ResultWaiter:
    """The waiter called ``name`` with its options (see each class for what it takes)."""
    try:
        waiter_class = _WAITERS[name]
    except KeyError:
        raise ValueError(
            f"unknown result waiter {name!r}: choose one of {', '.join(WAITER_NAMES)}"
        ) from None
    return waiter_class(**options)
