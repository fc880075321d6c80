"""Waiting on the company results websocket (reference §13.7), with polling as the safety net.

Open the socket before uploading so no message is missed::

    waiter = WebsocketWaiter()
    async with waiter.listening(client):
        uploaded = await upload_captures(...)
        results = await waiter.wait(client, uploaded, expected_algorithms=[30, 40], timeout=600)

(or ``waiter.session(...)`` for a run-long wait, :mod:`~tasks.waiting.session`). Messages::

    {"event": "algorithm_result", "dataset_id": ..., "result": {"image_id": ..., "algorithm_version_id": 30, ...}}
    {"event": "photo_calculated_by_app", "image_id": ..., "application_run_id": ...}

An image is read when all its expected algorithms were announced or when it is announced
finished. A dropped socket is reopened at once and every unfinished image is read once,
because messages sent while it was closed are gone. If it cannot be reopened (or the service
has no results stream), the wait turns into polling.
"""  # noqa: E501

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Collection, Sequence

from pydantic import ValidationError

from haut.client import HautClient
from haut.redaction import get_logger
from schemas.api_results import AlgorithmResultMessage, Notification, PhotoCalculated
from schemas.captures import UploadedImage
from tasks.waiting.poll import PollBackoff
from tasks.waiting.session import OnResult, WaitSession, wait_all
from tasks.waiting.signals import ImageSignal, SignalHub, SignalWait
from tasks.waiting.tracker import DEFAULT_CONCURRENCY, ImageResults

log = get_logger(__name__)

QUIET_REOPENS_LIMIT = 5  # reopened sockets that closed again without a message: give up


class ResultsListener:
    """Keeps ``client.result_notifications()`` open and publishes its messages as signals."""

    def __init__(self, client: HautClient, hub: SignalHub) -> None:
        self._client = client
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.messages = 0

    async def start(self) -> None:
        """Returns once the socket is open (or known to be unavailable: then the hub is lost)."""
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(opened))
        await opened

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, opened: asyncio.Future[None]) -> None:
        quiet_reopens = 0
        try:
            while quiet_reopens <= QUIET_REOPENS_LIMIT:
                received = await self._session(opened)
                self.reconnects += 1
                quiet_reopens = 0 if received else quiet_reopens + 1
                log.info("results websocket closed after %d messages, reopening", received)
            raise ConnectionError("the socket keeps closing without sending anything")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # any failure of the socket degrades to polling
            log.warning("results websocket unavailable (%s); waiting by polling instead", error)
            self._hub.lose()
        finally:
            if not opened.done():
                opened.set_result(None)

    async def _session(self, opened: asyncio.Future[None]) -> int:
        """One connection's life; returns how many messages it carried."""
        received = 0
        async with self._client.result_notifications(reconnect=False) as stream:
            self._hub.connected(reopened=self.reconnects > 0)
            if not opened.done():
                opened.set_result(None)
            try:
                async for message in stream:
                    received += 1
                    self.messages += 1
                    self._publish(message)
            except ValidationError as error:
                # A message we cannot read: reopen, and the gap read covers what it said.
                log.warning(
                    "unreadable results message (%d errors), reopening", error.error_count()
                )
        return received

    def _publish(self, message: Notification) -> None:
        if isinstance(message, AlgorithmResultMessage):
            row = message.result
            if row.image_id is not None:
                signal = ImageSignal(row.image_id, algorithm_id=row.algorithm_version_id)
                self._hub.publish(signal)
        elif isinstance(message, PhotoCalculated):
            self._hub.publish(ImageSignal(message.image_id, finished=True))


class WebsocketWaiter:
    """Marks images done from the results websocket; reads rows and aux when they are."""

    name = "websocket"

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        reconcile_interval: float | None = 30.0,
        backoff: PollBackoff | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.behaviour = SignalWait(reconcile_interval, backoff or PollBackoff())
        self._hub: SignalHub | None = None
        self.listener: ResultsListener | None = None

    def __repr__(self) -> str:
        return (
            f"WebsocketWaiter(concurrency={self.concurrency}, "
            f"reconcile_interval={self.behaviour.reconcile_interval})"
        )

    @contextlib.asynccontextmanager
    async def listening(
        self, client: HautClient, *, dataset_ids: Collection[str] = ()
    ) -> AsyncIterator[None]:
        """Keep the results socket open for the block (the stream is company-wide, so
        ``dataset_ids`` is not needed)."""
        if self._hub is not None:
            raise RuntimeError("this WebsocketWaiter is already listening")
        hub = SignalHub()
        listener = ResultsListener(client, hub)
        await listener.start()
        self._hub, self.listener = hub, listener
        try:
            yield
        finally:
            self._hub = None
            await listener.stop()

    @contextlib.asynccontextmanager
    async def session(
        self,
        client: HautClient,
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - a wait budget per image, not a cancellation
        on_result: OnResult,
    ) -> AsyncIterator[WaitSession]:
        """A run-long wait (:mod:`~tasks.waiting.session`); opens the socket for itself when
        it is not open yet."""
        async with contextlib.AsyncExitStack() as stack:
            if self._hub is None:
                await stack.enter_async_context(self.listening(client))
            hub = self._hub
            assert hub is not None
            policy = self.behaviour.schedule(hub, lambda _: hub.connected_since)
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
