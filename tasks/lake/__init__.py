"""The lake: analysis results as hive-partitioned Parquet, and DuckDB views to query them.

:func:`flatten_image` turns one image's results into table rows (:mod:`~tasks.lake.flatten`,
row shapes and ids in :mod:`~tasks.lake.rows`); :class:`BufferedLakeWriter` gathers them into
few large files and tells the ledger once they are written (:mod:`~tasks.lake.writer`);
:class:`Lake` writes and compacts the Parquet files on any fsspec path
(:mod:`~tasks.lake.store`); :func:`connect`, :func:`create_views` and :func:`subject_history`
read it back with DuckDB (:mod:`~tasks.lake.query`).

Each name is imported on first use: a command that only reads the lake (``hautflow history``)
does not load the flattening and writing side (the API client, the waiters' types).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.lake.flatten import flatten_image
    from tasks.lake.query import connect, create_views, format_history, subject_history
    from tasks.lake.rows import LakeRows, RunRecord, quarantine_rows, run_rows
    from tasks.lake.store import CompactionReport, Lake
    from tasks.lake.writer import BufferedLakeWriter

_LAZY = {
    "BufferedLakeWriter": "tasks.lake.writer",
    "CompactionReport": "tasks.lake.store",
    "Lake": "tasks.lake.store",
    "LakeRows": "tasks.lake.rows",
    "RunRecord": "tasks.lake.rows",
    "connect": "tasks.lake.query",
    "create_views": "tasks.lake.query",
    "flatten_image": "tasks.lake.flatten",
    "format_history": "tasks.lake.query",
    "quarantine_rows": "tasks.lake.rows",
    "run_rows": "tasks.lake.rows",
    "subject_history": "tasks.lake.query",
}

__all__ = [
    "BufferedLakeWriter",
    "CompactionReport",
    "Lake",
    "LakeRows",
    "RunRecord",
    "connect",
    "create_views",
    "flatten_image",
    "format_history",
    "quarantine_rows",
    "run_rows",
    "subject_history",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)
