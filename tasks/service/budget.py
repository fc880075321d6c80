"""One request budget for every process that calls the API: a rate held in PostgreSQL.

The API's rate limit is per company, so the workers of a sharded run, or two overlapping runs,
must share it: each process's own limiter (:class:`haut.ratelimit.Throttle`) only knows its own
requests. :class:`SharedRequestBudget` keeps the next free start time of the budget in one row
of the ledger's PostgreSQL database and hands out start times one request apart, in the order
the requests ask (the generic cell rate algorithm): a request reserves the slot
``max(next free, now)`` with one ``UPDATE ... RETURNING``, moves the next free slot on by
``1 / requests_per_second``, and sleeps until its slot. Both times are the database server's
clock, so machines with skewed clocks still share one schedule. N processes together start at
most ``requests_per_second`` requests a second, and the budget never waits for a slot it could
have used.

Why not a Prefect global concurrency limit with slot decay (``prefect.concurrency.asyncio.
rate_limit``), the other way DESIGN names: measured here (Prefect 3.9, its test server on
loopback, a limit of 20 with a decay of 20 a second, five tasks asking), it granted 8.9 requests
a second, under half the budget, since a refused acquisition waits for the server's coarse
``Retry-After``; and it let 27 through in one second. The PostgreSQL budget needs nothing the
scale-out does not already have (the ledger is in PostgreSQL there).

The budget's row is keyed by a name (by default the service's URL): processes that talk to the
same service with the same ledger database share it; a different service, or the embedded
emulator each process starts for itself, has its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

__all__ = ["BUDGET_TABLE", "SharedRequestBudget"]

BUDGET_TABLE = "hautflow_request_budget"
"""The table of budgets, beside the ledger's tables (created on first use)."""

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {BUDGET_TABLE} (
    name TEXT PRIMARY KEY,
    next_start DOUBLE PRECISION NOT NULL
)
"""
_ADD = f"INSERT INTO {BUDGET_TABLE} (name, next_start) VALUES (:name, 0) ON CONFLICT DO NOTHING"  # noqa: S608
# One statement: the row lock serialises reservations across processes; clock_timestamp() is
# the server's time now (now() would be the transaction's start).
_RESERVE = f"""
UPDATE {BUDGET_TABLE}
SET next_start = greatest(next_start, extract(epoch FROM clock_timestamp())) + :interval
WHERE name = :name
RETURNING next_start - :interval AS start, extract(epoch FROM clock_timestamp()) AS now
"""  # noqa: S608 (the table name is a constant)


@dataclass
class SharedRequestBudget:
    """At most ``requests_per_second`` request starts a second, across every process that
    uses the same ``name`` on the same PostgreSQL database (``engine``)."""

    engine: Engine
    requests_per_second: float
    name: str = "haut-api"
    reservations: int = field(default=0, init=False)
    """Requests this process started through the budget."""

    def __post_init__(self) -> None:
        if self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        if self.engine.dialect.name != "postgresql":
            raise ValueError(
                f"a shared request budget needs a PostgreSQL ledger, not {self.engine.dialect.name}"
            )
        with self.engine.begin() as connection:
            # Two processes creating the table at once: PostgreSQL's IF NOT EXISTS can still
            # collide on the catalog, so a lock serialises the first use.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": BUDGET_TABLE}
            )
            connection.execute(text(_CREATE))
            connection.execute(text(_ADD), {"name": self.name})

    def _reserve(self) -> float:
        """Reserve the next slot; the seconds to wait for it."""
        with self.engine.begin() as connection:
            start, now = connection.execute(
                text(_RESERVE), {"name": self.name, "interval": 1.0 / self.requests_per_second}
            ).one()
        return max(0.0, float(start) - float(now))

    async def acquire(self) -> None:
        wait = await asyncio.to_thread(self._reserve)
        self.reservations += 1
        if wait > 0:
            await asyncio.sleep(wait)
