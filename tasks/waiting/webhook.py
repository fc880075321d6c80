"""Waiting on the dataset webhook (reference §4.9, §7, §13.8): the waiter receives it itself.

::

    waiter = WebhookWaiter(authorization=WebhookAuth.query("auth_key"), public_url=None)
    async with waiter.listening(client, dataset_ids=[dataset.id]):
        uploaded = await upload_captures(...)
        results = await waiter.wait(client, uploaded, expected_algorithms=[30, 40], timeout=600)

``listening`` starts the receiver (default 127.0.0.1 on a free port; ``public_url`` is what the
API is told when it must come through a proxy), registers it as the webhook of each dataset
(one webhook per dataset: the one already there is put back afterwards, or ours is deleted),
and stops it all at the end. ``wait`` alone does the same around itself, for the datasets of
the images. Deliveries only say *when* to read an image; images uploaded before the webhook
was registered are read at once, unfinished ones every ``reconcile_interval`` and once more at
the timeout, so a delivery the API gave up on costs time, never the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from haut.client import HautClient
from haut.errors import CreateInDoubtError, HautError
from haut.redaction import get_logger
from schemas.api import Webhook
from schemas.captures import UploadedImage
from schemas.url_secrets import strip_url_secrets
from tasks.waiting.poll import PollBackoff
from tasks.waiting.receiver import DEFAULT_PATH, WebhookAuth, WebhookReceiver
from tasks.waiting.session import OnResult, WaitSession, wait_all
from tasks.waiting.signals import ImageSignal, SignalHub, SignalWait
from tasks.waiting.tracker import DEFAULT_CONCURRENCY, ImageResults

log = get_logger(__name__)


@dataclass(frozen=True)
class _Registration:
    dataset_id: str
    webhook_id: str | int | None
    previous: Webhook | None
    since: datetime


@dataclass(eq=False)
class _Channel:
    client: HautClient
    hub: SignalHub
    receiver: WebhookReceiver
    registrations: dict[str, _Registration] = field(default_factory=dict)


class WebhookWaiter:
    """Marks images done from webhook deliveries to its own receiver; reads rows and aux."""

    name = "webhook"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        path: str = DEFAULT_PATH,
        authorization: WebhookAuth | None = None,
        restore_previous: bool = True,
        concurrency: int = DEFAULT_CONCURRENCY,
        reconcile_interval: float | None = 30.0,
        backoff: PollBackoff | None = None,
    ) -> None:
        self.host, self.port, self.path, self.public_url = host, port, path, public_url
        self.authorization = authorization or WebhookAuth()
        self.restore_previous = restore_previous
        self.concurrency = concurrency
        self.behaviour = SignalWait(reconcile_interval, backoff or PollBackoff())
        self._channel: _Channel | None = None

    def __repr__(self) -> str:
        where = (
            strip_url_secrets(self.public_url) if self.public_url else f"{self.host}:{self.port}"
        )
        return f"WebhookWaiter({where!r}, scheme={self.authorization.scheme.value!r})"

    @property
    def receiver(self) -> WebhookReceiver | None:
        """The running receiver (inside ``listening``), e.g. for its ``url`` and counters."""
        return self._channel.receiver if self._channel else None

    @contextlib.asynccontextmanager
    async def listening(
        self, client: HautClient, *, dataset_ids: Collection[str] = ()
    ) -> AsyncIterator[None]:
        """Receive the webhooks of these datasets for the block (more are added by ``wait``)."""
        if self._channel is not None:
            raise RuntimeError("this WebhookWaiter is already listening")
        hub = SignalHub()
        loop = asyncio.get_running_loop()

        def hand_over(image_id: str | None) -> None:  # runs on the receiver's thread
            if image_id is None:
                event = hub.gap
            else:
                signal = ImageSignal(image_id, finished=True)

                def event() -> None:
                    hub.publish(signal)

            with contextlib.suppress(RuntimeError):  # the waiting loop is gone: nothing to tell
                loop.call_soon_threadsafe(event)

        receiver = WebhookReceiver(
            self.authorization,
            hand_over,
            host=self.host,
            port=self.port,
            path=self.path,
            public_url=self.public_url,
        )
        await asyncio.to_thread(receiver.start)
        channel = self._channel = _Channel(client, hub, receiver)
        try:
            await self._register_all(channel, dataset_ids)
            yield
        finally:
            self._channel = None
            for registration in channel.registrations.values():
                await self._unregister(client, registration)
            await asyncio.to_thread(receiver.stop)

    @contextlib.asynccontextmanager
    async def session(
        self,
        client: HautClient,
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - a wait budget per image, not a cancellation
        on_result: OnResult,
    ) -> AsyncIterator[WaitSession]:
        """A run-long wait (:mod:`~tasks.waiting.session`); starts the receiver for itself when
        it is not listening yet, and registers the webhook of each dataset its images are in."""
        async with contextlib.AsyncExitStack() as stack:
            if self._channel is None:
                await stack.enter_async_context(self.listening(client))
            channel = self._channel
            assert channel is not None

            def covered_since(image: UploadedImage) -> datetime | None:
                registration = channel.registrations.get(image.dataset_id)
                return registration.since if registration else None

            async def register(images: Sequence[UploadedImage]) -> None:
                await self._register_all(channel, sorted({i.dataset_id for i in images}))

            policy = self.behaviour.schedule(channel.hub, covered_since, register)
            yield await stack.enter_async_context(
                WaitSession(
                    client,
                    expected_algorithms,
                    policy,
                    timeout=timeout,
                    on_result=on_result,
                    concurrency=self.concurrency,
                )
            )

    async def wait(
        self,
        client: HautClient,
        images: Sequence[UploadedImage],
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - a wait budget, not a cancellation: partial results come back
    ) -> list[ImageResults]:
        return await wait_all(
            functools.partial(
                self.session, client, expected_algorithms=expected_algorithms, timeout=timeout
            ),
            images,
        )

    async def _register_all(self, channel: _Channel, dataset_ids: Collection[str]) -> None:
        for dataset_id in dataset_ids:
            if dataset_id in channel.registrations:
                continue
            try:
                channel.registrations[dataset_id] = await self._register(channel, dataset_id)
            except HautError as error:
                log.warning(
                    "could not register the webhook of dataset %s (%s); waiting by polling",
                    dataset_id,
                    error,
                )
                channel.hub.lose()

    async def _register(self, channel: _Channel, dataset_id: str) -> _Registration:
        client, url = channel.client, channel.receiver.url
        existing = await client.list_webhooks(dataset_id)
        previous = existing[-1] if existing else None
        try:
            auth = self.authorization
            hook = await client.set_webhook(
                dataset_id,
                url,
                authorization=auth.scheme.value,
                authorization_key=auth.key,
                authorization_value=auth.value.get_secret_value(),
            )
        except CreateInDoubtError:
            # The answer was lost: ours is there if the dataset's webhook now has our URL.
            found = [h for h in await client.list_webhooks(dataset_id) if h.url == url]
            if not found:
                raise
            hook = found[-1]
        log.info("dataset %s webhook -> %s", dataset_id, strip_url_secrets(url))
        return _Registration(dataset_id, hook.id, previous, datetime.now(UTC))

    async def _unregister(self, client: HautClient, registration: _Registration) -> None:
        """Put the dataset's previous webhook back, or delete ours."""
        previous, dataset_id = registration.previous, registration.dataset_id
        if previous and previous.authorization and previous.authorization_value is None:
            log.warning(
                "the API did not return the authorization value of dataset %s's previous "
                "webhook: it is put back without it; set its secret again",
                dataset_id,
            )
        try:
            if previous is not None and self.restore_previous:
                await client.set_webhook(
                    dataset_id,
                    previous.url,
                    authorization=previous.authorization or "bearer",
                    authorization_key=previous.authorization_key,
                    authorization_value=(
                        previous.authorization_value.get_secret_value()
                        if previous.authorization_value
                        else None
                    ),
                    method=previous.method or "post",
                    enabled=True if previous.enabled is None else previous.enabled,
                )
            elif registration.webhook_id is not None:
                await client.delete_webhook(dataset_id, registration.webhook_id)
        except HautError as error:
            log.error(
                "could not remove the hautflow webhook of dataset %s (%s): it points at a "
                "stopped receiver; set the dataset's webhook again or delete it",
                dataset_id,
                error,
            )
