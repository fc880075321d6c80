"""Querying the lake with DuckDB: connections with the views ready, and the skin diary.

>>> con = connect("data/lake")                                      # doctest: +SKIP
>>> con.sql("SELECT subject_key, avg(value) FROM metrics "
...         "WHERE algorithm = 'redness' AND kind = 'main' AND area_name = 'face' "
...         "GROUP BY ALL").df()                                    # doctest: +SKIP

A bucket lake (``s3://...``) is read through fsspec (``register_filesystem``), since DuckDB's
httpfs extension cannot be assumed. :func:`create_views` writes a ``.duckdb`` file holding the
same views with absolute paths, for the plain ``duckdb`` shell (``duckdb lake.duckdb``); run it
again after the first ingest, since a table with no files yet gets an empty placeholder view.
The file is written in the storage format of :data:`VIEWS_STORAGE_VERSION`, so the oldest DuckDB
the project allows opens it, whichever newer DuckDB wrote it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from schemas.lake import TABLES, TableSpec
from schemas.views import (
    FACE_FAMILIES,
    WIDE_VIEW,
    FileLayout,
    file_pattern,
    quote_literal,
    view_statements,
)
from tasks.lake.store import Lake

__all__ = [
    "VIEWS_STORAGE_VERSION",
    "connect",
    "create_views",
    "format_history",
    "install_views",
    "subject_history",
]

VIEWS_STORAGE_VERSION = "v1.4.0"
"""The storage format of the views file: that of the oldest DuckDB ``pyproject.toml`` allows
(``duckdb>=1.4.5``; older ones cannot call the smoothing macros as they are written). DuckDB 2
writes its newest format by default, which a 1.x ``duckdb`` shell refuses to open ("version
number 999"); pinned to this one, a 1.4 shell reads every view and macro."""


def install_views(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Create (or replace) every view and macro of ``lake`` on ``con``."""
    if not lake.is_local:
        con.register_filesystem(lake.fs)
    con.execute("SET TimeZone = 'UTC'")
    locations = {name: lake.location(name) if lake.files(name) else None for name in TABLES}
    layouts = {
        name: file_layout(con, TABLES[name], location)
        for name, location in locations.items()
        if location is not None
    }
    for statement in view_statements(locations, layouts):
        con.execute(statement)


def file_layout(con: duckdb.DuckDBPyConnection, spec: TableSpec, location: str) -> FileLayout:
    """What a table's files hold (:data:`schemas.views.FileLayout`), from their footers."""
    glob = quote_literal(file_pattern(location, spec))
    found: dict[str, set[str]] = {}
    for file_name, name in con.execute(
        f"SELECT file_name, name FROM parquet_schema({glob}) WHERE num_children IS NULL"  # noqa: S608
    ).fetchall():
        found.setdefault(file_name, set()).add(name)
    wanted = set(spec.file_schema.names)
    if all(columns == wanted for columns in found.values()):
        return "uniform"
    return "complete" if wanted <= set().union(*found.values()) else "mixed"


def connect(
    lake_url: str,
    *,
    storage_options: Mapping[str, Any] | None = None,
    database: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (in memory, or ``database``) with the lake's views ready."""
    lake = Lake(lake_url, storage_options)
    # The setting only decides the format of a file this connection creates.
    config: dict[str, str | bool | int | float | list[str]] = (
        {"storage_compatibility_version": VIEWS_STORAGE_VERSION} if database else {}
    )
    con = duckdb.connect(database or ":memory:", config=config)
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
    if path.exists():
        _make_compatible(path)
    connect(lake_url, storage_options=storage_options, database=str(path)).close()
    return path


def storage_version(database_path: str | Path) -> str | None:
    """The storage format a ``.duckdb`` file is written in, as DuckDB names it (``v1.2.0+``)."""
    with duckdb.connect(str(database_path), read_only=True) as con:
        row = con.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    tags = row[0] if row else None
    return tags.get("storage_version") if isinstance(tags, dict) else None


def _version(text: str | None) -> tuple[int, ...] | None:
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(part) for part in found.groups()) if found else None


def _make_compatible(path: Path) -> None:
    """Copy a views file written in a newer storage format (by an earlier hautflow, or a user's
    newer shell) into :data:`VIEWS_STORAGE_VERSION`'s, keeping whatever the user added to it;
    a file already readable by the oldest allowed DuckDB is left as it is."""
    found, wanted = _version(storage_version(path)), _version(VIEWS_STORAGE_VERSION)
    if found is None or wanted is None or found <= wanted:
        return
    copy = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with duckdb.connect() as con:
            # Attached read-write, so any write-ahead log of the old file is checkpointed into
            # it first and none is left behind to be replayed onto the copy.
            con.execute(f"ATTACH {quote_literal(str(path))} AS old_views")
            con.execute(
                f"ATTACH {quote_literal(str(copy))} AS new_views "
                f"(STORAGE_VERSION {quote_literal(VIEWS_STORAGE_VERSION)})"
            )
            con.execute("COPY FROM DATABASE old_views TO new_views")
        os.replace(copy, path)
    finally:
        copy.unlink(missing_ok=True)


_HISTORY_SQL = f"""
SELECT CAST(timezone('UTC', captured_at) AS DATE) AS date, session_key, captured_at, status,
       {", ".join(FACE_FAMILIES)}
FROM {WIDE_VIEW}_of($subject)
WHERE side = 'front'
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
