"""One ingest run at a time per ledger: the run lock.

Two runs on one ledger (a cron run overlapping the previous one) would both find the same
captures unrecorded and both create their batches and images. The ledger's records make every
create safe to *resume*, not safe to race, so a run holds the ledger's run lock from its plan to
its last record, and a second run is refused at once with :class:`LedgerBusyError`:

- SQLite: an exclusive ``flock`` on a lock file beside the database (``ledger.sqlite.lock``),
  which the kernel releases when the holding process dies, however it dies. The file keeps the
  holder's description, for the error message; it is never deleted (deleting a lock file races
  with the next run opening it).
- PostgreSQL: a session-level ``pg_try_advisory_lock`` on a key derived from a fixed name, held
  on a connection of its own for the whole run; the server releases it if that connection
  drops. The holder's run is in its connection's ``application_name`` (63 bytes at most, so
  no time there: a run id, pid and host fill it), and since when it holds the lock is the
  ``query_start`` of that idle connection, whose last statement took the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from schemas.errors import HautflowError

RUN_LOCK_NAME = "hautflow ingest run"
_APPLICATION_NAME_MAX = 63  # PostgreSQL truncates longer names


class LedgerBusyError(HautflowError, RuntimeError):
    """Another run holds the ledger's run lock."""


def busy(ledger: str, holder: str | None) -> LedgerBusyError:
    by = f" (held by {holder})" if holder else ""
    return LedgerBusyError(
        f"the ledger {ledger} is in use: another ingest run is in progress{by}. "
        "Wait for it to finish, or stop it, then run again"
    )


def describe_owner(owner: str) -> str:
    """Who holds the lock, for the next run's error message: the run, its process and host,
    and since when."""
    return f"{_holder(owner)}, since {_moment(datetime.now(UTC))}"


def _holder(owner: str) -> str:
    return f"run {owner}, pid {os.getpid()} on {socket.gethostname()}"


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def file_lock(lock_path: Path, owner: str, ledger: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path``; LedgerBusyError if another holds it."""
    handle = lock_path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise busy(ledger, handle.read().strip() or None) from None
        handle.truncate(0)
        handle.write(describe_owner(owner) + "\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


@contextmanager
def process_lock(lock: threading.Lock, ledger: str) -> Iterator[None]:
    """The lock of an in-memory database, which no other process can open anyway."""
    if not lock.acquire(blocking=False):
        raise busy(ledger, None)
    try:
        yield
    finally:
        lock.release()


def advisory_key(name: str = RUN_LOCK_NAME) -> tuple[int, int]:
    """Two non-negative int4 halves of the advisory lock key (``pg_locks`` shows them so)."""
    digest = hashlib.sha256(name.encode()).digest()
    return (
        int.from_bytes(digest[:4], "big") & 0x7FFFFFFF,
        int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF,
    )


_HOLDER = text(
    "SELECT a.application_name, a.query_start "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = CAST(:high AS oid) AND l.objid = CAST(:low AS oid) AND l.objsubid = 2"
)


def _advisory_holder(application_name: str | None, since: datetime | None) -> str | None:
    """The holder's description from its connection: its name, and when it took the lock."""
    if not application_name:
        return f"a session that took it at {_moment(since)}" if since else None
    return f"{application_name}, since {_moment(since)}" if since else application_name


@contextmanager
def advisory_lock(engine: Engine, owner: str, ledger: str) -> Iterator[None]:
    """Hold the run's advisory lock on a dedicated connection; LedgerBusyError if taken."""
    high, low = advisory_key()
    keys = {"high": high, "low": low}
    with engine.connect() as base:
        # Autocommit: the connection idles for the whole run, never inside a transaction.
        connection = base.execution_options(isolation_level="AUTOCOMMIT")
        name = f"hautflow {_holder(owner)}"[:_APPLICATION_NAME_MAX]
        connection.execute(
            text("SELECT set_config('application_name', :name, false)"), {"name": name}
        )
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:high, :low)"), keys)
        if not taken.scalar():
            holder = connection.execute(_HOLDER, keys).first()
            connection.execute(text("RESET application_name"))
            raise busy(ledger, _advisory_holder(*holder) if holder else None)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:high, :low)"), keys)
            connection.execute(text("RESET application_name"))
