"""Where a command finds the ingest's ledger: one rule, so every command sees the same one.

A SQLAlchemy URL (``--ledger-url``, e.g. PostgreSQL) wins; else the SQLite file
``<state>/ledger.sqlite``. The ingest creates that file on its first run; a command that only
reads or adjusts what an ingest recorded (:func:`existing_ledger`) must not create an empty one,
which would hide that it looked in the wrong ``--state``.
"""

from __future__ import annotations

from pathlib import Path

from tasks.ledger.ledger import Ledger

LEDGER_FILE = "ledger.sqlite"
"""The SQLite ledger's file name inside the state folder."""


def ledger_path(state_dir: str | Path) -> Path:
    """The SQLite ledger's path in ``state_dir`` (used when no ledger URL is given)."""
    return Path(state_dir) / LEDGER_FILE


def open_ledger(state_dir: str | Path, url: str | None = None) -> Ledger:
    """The ledger at ``url``, else the SQLite file in ``state_dir`` (created if missing)."""
    if url:
        return Ledger(url)
    return Ledger.sqlite(ledger_path(state_dir))


def existing_ledger(state_dir: str | Path, url: str | None = None) -> Ledger | None:
    """The ledger at ``url``, else the SQLite file in ``state_dir`` if an ingest made it; None
    when there is none there."""
    if url:
        return Ledger(url)
    path = ledger_path(state_dir)
    return Ledger.sqlite(path) if path.exists() else None
