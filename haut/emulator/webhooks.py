"""Outgoing dataset webhooks (reference §4.9, §7, §13.8): a durable queue with retries.

Each finished image queues one delivery per webhook in SQLite, so deliveries survive a restart.
The background ticker sends due deliveries; a failed attempt (non-2xx, connection error or an
injected fault) is retried with doubling backoff: ``webhook_max_attempts`` counts every send,
so the default 6 is the first send and "at most 5" retries (reference §13.8). Only loopback
destinations are contacted, never through a proxy: the emulator never sends data off the
machine.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from haut.emulator.state import EmulatorState

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def destination(webhook: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL and headers of a delivery, with the webhook's authorization applied."""
    url = str(webhook["url"])
    headers = {"content-type": "application/json", "user-agent": "haut-emulator-webhook"}
    scheme = webhook.get("authorization")
    key, value = webhook.get("authorization_key") or "", webhook.get("authorization_value") or ""
    if scheme == "query" and key:
        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode({key: value})) if q)
        url = urlunsplit(parts._replace(query=query))
    elif scheme == "basic":
        headers["authorization"] = "Basic " + base64.b64encode(f"{key}:{value}".encode()).decode()
    elif scheme == "bearer":
        headers["authorization"] = f"Bearer {value}"
    return url, headers


class WebhookDispatcher:
    """Sends queued deliveries from the server's event loop."""

    def __init__(self, state: EmulatorState):
        self._state = state
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def enqueue(self, webhook: dict[str, Any], payload: dict[str, Any]) -> None:
        doc = {
            "webhook_id": webhook["id"],
            "dataset_id": webhook["dataset_id"],
            "image_id": payload.get("image_id"),
            "event": payload.get("event"),
            "url": webhook["url"],  # as configured: query authorization is added only when sending
            "authorization": webhook.get("authorization"),
            "state": PENDING,
            "attempts": 0,
            "status_code": None,
            "last_error": None,
            "payload": payload,
        }
        self._state.store.execute(
            "INSERT INTO deliveries (state, next_at, doc) VALUES (?, ?, ?)",
            (PENDING, self._state.clock.timestamp(), json.dumps(doc)),
        )

    def log(self) -> list[dict[str, Any]]:
        rows = self._state.store.execute("SELECT id, doc FROM deliveries ORDER BY id")
        entries = []
        for delivery_id, raw in rows:
            doc = json.loads(raw)
            doc.pop("payload", None)
            entries.append({"id": int(delivery_id), **doc})
        return entries

    def dispatch_due(self) -> None:
        """Start a send for every pending delivery whose time has come."""
        rows = self._state.store.execute(
            "SELECT id, doc FROM deliveries WHERE state = ? AND next_at <= ? ORDER BY id",
            (PENDING, self._state.clock.timestamp()),
        )
        for delivery_id, raw in rows:
            if delivery_id in self._in_flight:
                continue
            self._in_flight.add(delivery_id)
            task = asyncio.get_running_loop().create_task(
                self._attempt(delivery_id, json.loads(raw))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _attempt(self, delivery_id: int, doc: dict[str, Any]) -> None:
        try:
            doc["attempts"] += 1
            doc["status_code"], doc["last_error"] = await self._send(doc)
            ok = doc["status_code"] is not None and 200 <= doc["status_code"] < 300
            self._record(delivery_id, doc, ok)
        finally:
            self._in_flight.discard(delivery_id)

    async def _send(self, doc: dict[str, Any]) -> tuple[int | None, str | None]:
        webhook = self._state.store.get("webhooks", doc["webhook_id"])
        if webhook is None or not webhook.get("enabled", True):
            return None, "webhook removed or disabled"
        if self._state.faults.webhook_failure():
            return None, "injected failure"
        url, headers = destination(webhook)
        if urlsplit(url).hostname not in LOOPBACK_HOSTS:
            return None, "the emulator only delivers to loopback addresses"
        if self._client is None:
            # trust_env=False: a proxy from the environment must not see loopback deliveries.
            self._client = httpx.AsyncClient(timeout=5.0, trust_env=False)
        try:
            if webhook.get("method", "post") == "get":
                response = await self._client.get(url, headers=headers)
            else:
                response = await self._client.post(url, json=doc["payload"], headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"

    def _record(self, delivery_id: int, doc: dict[str, Any], ok: bool) -> None:
        config = self._state.config
        if ok:
            doc["state"] = DELIVERED
        elif doc["attempts"] >= config.webhook_max_attempts:
            doc["state"] = FAILED
        backoff = config.webhook_backoff_seconds * 2 ** (doc["attempts"] - 1)
        self._state.store.execute(
            "UPDATE deliveries SET state = ?, next_at = ?, doc = ? WHERE id = ?",
            (doc["state"], self._state.clock.timestamp() + backoff, json.dumps(doc), delivery_id),
        )
