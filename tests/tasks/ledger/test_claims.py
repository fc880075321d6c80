"""Claims on a shared PostgreSQL ledger: two runs never hold one subject, a dead run's claims
lapse and are taken over, a live run's are renewed (a real PostgreSQL server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tasks.ledger import Ledger
from tasks.ledger.claims import ClaimHolder, claim, claimed_by_others, release, renew
from tests.tasks.upload_support import postgres, postgres_ledger

__all__ = ["postgres"]  # the fixture, imported for pytest

pytestmark = pytest.mark.server

SUBJECTS = [f"subject-{n:03d}" for n in range(300)]


@pytest.fixture
def ledger(postgres: Any, request: pytest.FixtureRequest) -> Iterator[Ledger]:
    shared = postgres_ledger(postgres, request.node.name)
    yield shared
    shared.close()


def test_a_subject_held_by_a_live_run_is_not_claimed_by_another(ledger: Ledger) -> None:
    engine = ledger.engine
    assert claim(engine, "run-a", "ds", SUBJECTS[:200]) == set(SUBJECTS[:200])
    assert claim(engine, "run-b", "ds", SUBJECTS[100:]) == set(SUBJECTS[200:])
    assert claim(engine, "run-b", "other dataset", SUBJECTS[:10]) == set(SUBJECTS[:10])
    assert claimed_by_others(engine, "run-b", "ds", SUBJECTS) == dict.fromkeys(
        SUBJECTS[:200], "run-a"
    )
    assert claim(engine, "run-a", "ds", SUBJECTS[:5]) == set(SUBJECTS[:5])  # its own, again
    release(engine, "run-a")
    assert claim(engine, "run-b", "ds", SUBJECTS[:200]) == set(SUBJECTS[:200])


def test_runs_claiming_at_once_split_the_subjects(ledger: Ledger) -> None:
    got: dict[str, set[str]] = {}
    start = threading.Barrier(3)

    def run(run_id: str) -> None:
        start.wait()
        got[run_id] = claim(ledger.engine, run_id, "ds", SUBJECTS)

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = list(got.values())
    assert set().union(*held) == set(SUBJECTS)
    assert sum(len(h) for h in held) == len(SUBJECTS)  # no subject held twice


def test_a_lapsed_claim_is_taken_over_and_a_live_one_is_not(ledger: Ledger) -> None:
    engine = ledger.engine
    claim(engine, "dead", "ds", ["alice"], lease_seconds=0.0)  # its lease is over at once
    claim(engine, "alive", "ds", ["bob"])
    assert claim(engine, "next", "ds", ["alice", "bob"]) == {"alice"}
    assert renew(engine, "dead") == 0  # it holds nothing any more
    assert renew(engine, "alive") == 1


def test_the_holder_renews_while_the_run_lives_and_releases_at_its_end(ledger: Ledger) -> None:
    engine = ledger.engine
    with ClaimHolder(engine, "long", lease_seconds=1.5) as holder:
        assert holder.claim("ds", ["alice", "bob"]) == {"alice", "bob"}
        time.sleep(3.5)  # over two leases: only the renewals keep them
        assert claim(engine, "other", "ds", ["alice", "bob"]) == set()
        assert not holder.lost
    assert claim(engine, "other", "ds", ["alice", "bob"]) == {"alice", "bob"}


def test_the_holder_notices_a_subject_taken_over(ledger: Ledger) -> None:
    engine = ledger.engine
    with ClaimHolder(engine, "stalled", lease_seconds=0.3) as holder:
        holder.claim("ds", ["alice", "bob"])
        assert not holder.lost
        # As if the process had stalled past its lease and another run had taken alice.
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE ledger_claims SET run_id = 'faster' WHERE subject_key = 'alice'"
            )
        time.sleep(1.0)
        assert holder.lost


_HOLD = """
import sys, time
from tasks.ledger import Ledger
from tasks.ledger.claims import ClaimHolder
with ClaimHolder(Ledger(sys.argv[1]).engine, "worker", lease_seconds=2.0) as holder:
    holder.claim("ds", ["alice", "bob"])
    print("claimed", flush=True)
    time.sleep(60)
"""


def test_a_killed_workers_claims_are_taken_over_after_its_lease(ledger: Ledger) -> None:
    url = ledger.url.render_as_string(hide_password=False)
    worker = subprocess.Popen(
        [sys.executable, "-c", _HOLD, url], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "claimed"
        time.sleep(2.5)  # renewed past its first lease: still held
        assert claim(ledger.engine, "next", "ds", ["alice", "bob"]) == set()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed = time.monotonic()
        assert claim(ledger.engine, "next", "ds", ["alice", "bob"]) == set()  # lease runs on
        taken: set[str] = set()
        while not taken and time.monotonic() - killed < 30:
            time.sleep(0.2)
            taken = claim(ledger.engine, "next", "ds", ["alice", "bob"])
        assert taken == {"alice", "bob"}
        assert time.monotonic() - killed <= 2.0 + 5  # within a lease (and the machine's noise)
    finally:
        worker.kill()
        worker.wait(timeout=10)
