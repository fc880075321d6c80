"""The result waiters under the name the ingest contract uses (they live in tasks.waiting)."""

from tasks.waiting import (
    WAITER_NAMES,
    ImageResults,
    PollBackoff,
    PollWaiter,
    ResultWaiter,
    WaiterName,
    WebhookAuth,
    WebhookAuthScheme,
    WebhookWaiter,
    WebsocketWaiter,
    make_waiter,
)

__all__ = [
    "WAITER_NAMES",
    "ImageResults",
    "PollBackoff",
    "PollWaiter",
    "ResultWaiter",
    "WaiterName",
    "WebhookAuth",
    "WebhookAuthScheme",
    "WebhookWaiter",
    "WebsocketWaiter",
    "make_waiter",
]
