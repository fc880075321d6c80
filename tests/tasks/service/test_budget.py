"""One request budget across processes: workers that each keep their own rate still share the
API's, through the budget held in PostgreSQL (real emulator over loopback, real PostgreSQL,
real worker processes)."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from tasks.service.budget import BUDGET_TABLE, SharedRequestBudget
from tests.tasks.upload_support import postgres

__all__ = ["postgres"]  # the fixture, imported for pytest

pytestmark = pytest.mark.server

API_RATE = 20.0
"""The emulator's rate limit per company, and the shared budget's."""
WORKERS = 3
REQUESTS = 40
"""Per worker: 120 in all, six seconds at the API's rate."""


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(rate_limit_per_second=API_RATE, login_limit_per_minute=100)
    with EmulatorServer(config) as server:
        yield server


def database(server: Any, name: str) -> str:
    """A fresh database of ``server``; its SQLAlchemy URL."""
    database = "b" + hashlib.sha256(name.encode()).hexdigest()[:12]
    server.psql(f'CREATE DATABASE "{database}";')
    return str(server.get_uri(database)).replace("postgresql://", "postgresql+psycopg://", 1)


def run_workers(url: str, ledger_url: str | None) -> list[dict[str, Any]]:
    """WORKERS worker processes at once, each its own rate of 20 a second."""
    words = [sys.executable, "-m", "tests.tasks.service.budget_worker", url, str(REQUESTS)]
    processes = [
        subprocess.Popen(
            [*words, *([ledger_url] if ledger_url else [])], stdout=subprocess.PIPE, text=True
        )
        for _ in range(WORKERS)
    ]
    answers = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers


def stats(emulator: EmulatorServer) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{emulator.url}/_emulator/requests").json()
    return answer


def test_workers_sharing_the_budget_stay_within_the_apis_rate(
    emulator: EmulatorServer, postgres: Any
) -> None:
    ledger_url = database(postgres, "shared")
    answers = run_workers(emulator.url, ledger_url)
    counted = stats(emulator)
    # Each worker's own limiter would allow 20 a second: 60 together, three times the API's.
    assert all(a["reservations"] >= REQUESTS for a in answers)
    assert counted["throttled"] <= 0.02 * counted["requests"], counted
    # ...and the budget is not slower than the rate it shares: 120 requests (and the logins)
    # at 20 a second take six seconds; the last worker to finish took about that.
    slowest = max(a["seconds"] for a in answers)
    assert slowest < 2 * WORKERS * REQUESTS / API_RATE, answers


def test_without_the_budget_the_same_workers_are_throttled(emulator: EmulatorServer) -> None:
    # The control: what the shared budget prevents.
    run_workers(emulator.url, None)
    counted = stats(emulator)
    assert counted["throttled"] > 0.1 * counted["requests"], counted


def test_reservations_are_one_interval_apart_on_the_servers_clock(postgres: Any) -> None:
    engine = create_engine(database(postgres, "spacing"))
    first = SharedRequestBudget(engine, requests_per_second=10.0, name="svc")
    second = SharedRequestBudget(engine, requests_per_second=10.0, name="svc")  # another process
    other = SharedRequestBudget(engine, requests_per_second=10.0, name="other service")
    waits = [budget._reserve() for budget in (first, second, first, second)]
    # Ten a second: each reservation is 0.1 s after the previous one, whoever asks.
    assert waits[0] == pytest.approx(0.0, abs=0.05)
    for earlier, later in itertools.pairwise(waits):
        assert later - earlier == pytest.approx(0.1, abs=0.05)
    assert other._reserve() == pytest.approx(0.0, abs=0.05)  # its own budget
    with engine.connect() as connection:
        names = connection.execute(text(f"SELECT name FROM {BUDGET_TABLE} ORDER BY name"))  # noqa: S608
        assert [row[0] for row in names] == ["other service", "svc"]
    engine.dispose()


def test_a_sqlite_ledger_cannot_hold_a_shared_budget(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/ledger.sqlite")
    with pytest.raises(ValueError, match="needs a PostgreSQL ledger"):
        SharedRequestBudget(engine, requests_per_second=10.0)
