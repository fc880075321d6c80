"""The run lock's refusal says who holds the ledger and since when, on SQLite and PostgreSQL
alike, with a run id as long as a real one (PostgreSQL keeps 63 bytes of a connection's name)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tasks.ledger import Ledger, LedgerBusyError
from tests.tasks.upload_support import any_ledger, postgres

__all__ = ["any_ledger", "postgres"]  # fixtures, imported for pytest

RUN_ID = "20261202T081010Z-0a1b2c3d"  # the shape of an ingest's run id
SINCE = re.compile(r"since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)")


def test_a_refused_run_reads_who_holds_the_ledger_and_since_when(any_ledger: Ledger) -> None:
    other_process = Ledger(any_ledger.url)  # its own engine and connections
    try:
        with any_ledger.run_lock(RUN_ID):
            taken = datetime.now(UTC)
            with (
                pytest.raises(LedgerBusyError) as busy,
                other_process.run_lock("20261202T081011Z-99999999"),
            ):
                pytest.fail("two runs held one ledger")
    finally:
        other_process.close()
    message = str(busy.value)
    assert f"run {RUN_ID}, pid " in message
    since = SINCE.search(message)
    assert since, message
    held_from = datetime.strptime(since.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(held_from - taken) < timedelta(minutes=1), message


def test_a_postgresql_holder_without_a_name_is_still_dated(postgres: Any) -> None:
    """A session that took the key by hand (psql, no application_name) is shown by its time."""
    from sqlalchemy import text

    from tasks.ledger.lock import advisory_key
    from tests.tasks.upload_support import postgres_ledger

    ledger = postgres_ledger(postgres, "by-hand")
    high, low = advisory_key()
    try:
        with ledger.engine.connect() as by_hand:
            by_hand = by_hand.execution_options(isolation_level="AUTOCOMMIT")
            by_hand.execute(text("SELECT pg_advisory_lock(:h, :l)"), {"h": high, "l": low})
            with (
                pytest.raises(LedgerBusyError, match=r"held by a session that took it at \d{4}-"),
                ledger.run_lock(RUN_ID),
            ):
                pytest.fail("the run took a lock held by another session")
            by_hand.execute(text("SELECT pg_advisory_unlock(:h, :l)"), {"h": high, "l": low})
    finally:
        ledger.close()
