"""One worker of the shared-budget test: ``python -m tests.tasks.service.budget_worker URL
REQUESTS [LEDGER_URL]`` sends REQUESTS cheap API calls through :func:`tasks.service.connect`,
at most 20 a second of its own and, given a ledger URL, within the budget shared in it. Prints
``{"seconds": ..., "reservations": ...}`` as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from sqlalchemy import create_engine

from tasks.service.connection import connect

OWN_RATE = 20.0
IN_FLIGHT = 8


async def main(url: str, requests: int, ledger_url: str | None) -> None:
    engine = create_engine(ledger_url) if ledger_url else None
    async with connect(
        api_url=url,
        requests_per_second=OWN_RATE,
        max_concurrency=IN_FLIGHT,
        shared_budget=engine,
    ) as connection:
        client = connection.client
        await client.login()
        lanes = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> None:
            async with lanes:
                await client.datasets_short_list()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        seconds = time.perf_counter() - started
    budget = client.session.throttle.budget
    reservations = getattr(budget, "reservations", 0)
    print(json.dumps({"seconds": seconds, "reservations": reservations}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
