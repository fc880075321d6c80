"""Querying the lake with DuckDB: connections with the views ready, and the skin diary.

>>> con = connect("data/lake")                                      # doctest: +SKIP
>>> con.sql("SELECT subject_key, avg(value) FROM metrics "
...         "WHERE algorithm = 'redness' AND kind = 'main' AND area_name = 'face' "
...         "GROUP BY ALL").df()                                    # doctest: +SKIP

A bucket lake (``s3://...``) is read through fsspec (``register_filesystem``), since DuckDB's
httpfs extension cannot be assumed. :func:`create_views` writes a ``.duckdb`` file holding the
same views with absolute paths, for the plain ``duckdb`` shell (``duckdb lake.duckdb``); run it
again after the first ingest, since a table with no files yet gets an empty placeholder view.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from schemas.lake import TABLES
from schemas.views import FACE_FAMILIES, WIDE_VIEW, view_statements
from tasks.lake.store import Lake

__all__ = ["connect", "create_views", "format_history", "install_views", "subject_history"]


def install_views(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Create (or replace) every view and macro of ``lake`` on ``con``."""
    if not lake.is_local:
        con.register_filesystem(lake.fs)
    con.execute("SET TimeZone = 'UTC'")
    locations = {name: lake.location(name) if lake.files(name) else None for name in TABLES}
    for statement in view_statements(locations):
        con.execute(statement)


def connect(
    lake_url: str,
    *,
    storage_options: Mapping[str, Any] | None = None,
    database: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (in memory, or ``database``) with the lake's views ready."""
    lake = Lake(lake_url, storage_options)
    con = duckdb.connect(database or ":memory:")
    try:
        install_views(con, lake)
    except Exception:
        con.close()
        raise
    return con


def create_views(
    lake_url: str,
    database_path: str | Path,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> Path:
    """Write a ``.duckdb`` file holding the lake's views; returns its absolute path.

    For a local lake the file works in the plain ``duckdb`` shell as it is; for a bucket lake
    the shell needs its own access to the bucket (httpfs and credentials).
    """
    path = Path(database_path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    connect(lake_url, storage_options=storage_options, database=str(path)).close()
    return path


_HISTORY_SQL = f"""
SELECT CAST(timezone('UTC', captured_at) AS DATE) AS date, session_key, captured_at, status,
       {", ".join(FACE_FAMILIES)}
FROM {WIDE_VIEW}
WHERE subject_key = $subject AND side = 'front'
  AND ($since IS NULL OR CAST(timezone('UTC', captured_at) AS DATE) >= $since)
  AND ($until IS NULL OR CAST(timezone('UTC', captured_at) AS DATE) <= $until)
ORDER BY captured_at, session_key
"""  # noqa: S608 (constants only; the subject and days are bound parameters)


def subject_history(
    con: duckdb.DuckDBPyConnection,
    subject_key: str,
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """The skin diary: one row per capture session (its front image), oldest first.

    Columns: ``date``, ``session_key``, ``captured_at``, ``status`` and the face-area main
    metric of every family in :data:`schemas.views.FACE_FAMILIES` (null when not measured).
    ``since`` and ``until`` are inclusive days (UTC).
    """
    params = {"subject": subject_key, "since": since, "until": until}
    return con.execute(_HISTORY_SQL, params).df()


def format_history(history: pd.DataFrame, subject_key: str) -> str:
    """The diary as a text table for the terminal: families never measured are left out."""
    if history.empty:
        return f"No captures of {subject_key!r} in the lake for that period."
    shown = history.drop(columns=["captured_at"]).dropna(axis="columns", how="all")
    families = [c for c in shown.columns if c in FACE_FAMILIES]
    shown[families] = shown[families].round(0).astype("Int64")
    table = shown.to_string(index=False, na_rep="-")
    return f"Skin diary of {subject_key} ({len(history)} sessions)\n{table}"
