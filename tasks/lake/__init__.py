"""The lake: analysis results as hive-partitioned Parquet, and DuckDB views to query them.

:func:`flatten_image` turns one image's results into table rows (:mod:`~tasks.lake.flatten`,
row shapes and ids in :mod:`~tasks.lake.rows`); :class:`BufferedLakeWriter` gathers them into
few large files and tells the ledger once they are written (:mod:`~tasks.lake.writer`);
:class:`Lake` writes and compacts the Parquet files on any fsspec path
(:mod:`~tasks.lake.store`); :func:`connect`, :func:`create_views` and :func:`subject_history`
read it back with DuckDB (:mod:`~tasks.lake.query`).
"""

from tasks.lake.flatten import flatten_image
from tasks.lake.query import connect, create_views, format_history, subject_history
from tasks.lake.rows import LakeRows, RunRecord, quarantine_rows, run_rows
from tasks.lake.store import CompactionReport, Lake
from tasks.lake.writer import BufferedLakeWriter

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
