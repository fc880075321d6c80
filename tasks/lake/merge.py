"""One partition's files merged into files that hold each id once, streamed through DuckDB.

:func:`merge_files` reads every input file of a table partition (the published ones and the
newly staged ones), keeps the newest row per id (``written_at``, then file name: the rule the
views used to apply on every read) and writes the kept rows, sorted by subject and time, into
Parquet files of about :data:`TARGET_FILE_BYTES` each. DuckDB runs with a memory limit and spills
its sort to a temporary folder, so a partition far larger than memory merges within the limit;
the output is written batch by batch with pyarrow, so every file keeps the table's exact Arrow
schema (types, column descriptions, schema version).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from schemas.lake import TableSpec

__all__ = [
    "MERGE_MEMORY_LIMIT",
    "READ_BATCH_ROWS",
    "ROW_GROUP_ROWS",
    "TARGET_FILE_BYTES",
    "Merged",
    "merge_files",
    "write_rolling",
]

TARGET_FILE_BYTES = 128 * 2**20
"""A merged partition is cut into files of about this size (compressed): within the 64-256 MB
analysts' engines (Spark, Trino, DuckDB) read best; most monthly partitions are one file."""

ROW_GROUP_ROWS = 122_880
"""Rows per Parquet row group (DuckDB's own default): large enough for fast scans, small enough
for row-group pruning on ``subject_key`` (the files are sorted by it)."""

READ_BATCH_ROWS = ROW_GROUP_ROWS // 4
"""Rows per batch taken from DuckDB: its reader holds several batches at once, so a quarter of a
row group keeps that small; the writer joins four into one row group."""

MERGE_MEMORY_LIMIT = os.environ.get("HAUTFLOW_LAKE_MERGE_MEMORY", "256MB")
"""DuckDB's memory limit while merging (``HAUTFLOW_LAKE_MERGE_MEMORY``); beyond it the grouping
and the sort spill to disk. The merge's whole peak is about this plus 300 MB (the batches in
flight and the row group being written)."""


@dataclass(frozen=True)
class Merged:
    """What one merge read and wrote."""

    rows_in: int
    rows_out: int
    files_out: int


def sort_columns(spec: TableSpec) -> list[str]:
    """The order of a merged file's rows: by subject, then time, then id, where the table has
    them. One subject's rows then sit in few row groups, which a filter on ``subject_key`` skips
    to by the row groups' min/max statistics."""
    names = set(spec.file_schema.names)
    wanted = ("subject_key", "captured_at", spec.id_column)
    return [name for name in wanted if name in names]


_SOURCE = (
    "read_parquet($files, union_by_name = true, filename = true, file_row_number = true, "
    "hive_partitioning = false)"
)


def _query(spec: TableSpec) -> str:
    """The kept rows, sorted. The newest row of each id is found first on a narrow scan (id,
    time, file, row number), then the wide rows are read once more and kept by file and row
    number: a window over the whole wide rows would hold them in memory, where a grouping of
    narrow keys and a sort both spill to disk within the memory limit."""
    order = ", ".join(f'"{name}"' for name in sort_columns(spec))
    # Identifiers come from schemas.lake; the file list is a bound parameter.
    return (
        "WITH newest AS ("  # noqa: S608
        "SELECT arg_max(struct_pack(f := filename, r := file_row_number), "
        "struct_pack(w := coalesce(written_at, TIMESTAMPTZ '-infinity'), f := filename)) AS row "
        f'FROM {_SOURCE} GROUP BY "{spec.id_column}") '
        f"SELECT * EXCLUDE (filename, file_row_number) FROM {_SOURCE} AS s "
        "SEMI JOIN newest ON newest.row.f = s.filename AND newest.row.r = s.file_row_number "
        f"ORDER BY {order}"
    )


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """``batch`` with exactly ``schema``'s columns and types (missing columns null)."""
    names = batch.schema.names
    columns = [
        batch.column(names.index(f.name)).cast(f.type)
        if f.name in names
        else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def merge_files(
    sources: Sequence[str],
    spec: TableSpec,
    open_target: Callable[[int], IO[bytes]],
    *,
    filesystem: AbstractFileSystem | None = None,
) -> Merged:
    """Merge ``sources`` (paths DuckDB can read: local, or URLs of ``filesystem``) into files
    opened by ``open_target(n)`` (n = 0, 1, ...), each closed by the caller's context."""
    with tempfile.TemporaryDirectory(prefix="hautflow-merge-") as spill:
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": MERGE_MEMORY_LIMIT,
            "temp_directory": spill,
            "threads": min(2, os.cpu_count() or 1),
        }
        con = duckdb.connect(config=config)
        try:
            con.execute("SET TimeZone = 'UTC'")
            if filesystem is not None:
                con.register_filesystem(filesystem)
            ((rows_in,),) = con.sql(
                "SELECT count(*) FROM read_parquet($files, union_by_name = true)",
                params={"files": list(sources)},
            ).fetchall()
            reader = con.sql(_query(spec), params={"files": list(sources)}).to_arrow_reader(
                READ_BATCH_ROWS
            )
            rows_out, files_out = write_rolling(reader, spec.file_schema, open_target)
        finally:
            con.close()
    return Merged(int(rows_in), rows_out, files_out)


def write_rolling(
    reader: pa.RecordBatchReader, schema: pa.Schema, open_target: Callable[[int], IO[bytes]]
) -> tuple[int, int]:
    """Write the reader's batches in row groups of :data:`ROW_GROUP_ROWS`, starting a new file
    past the target size."""
    rows = files = 0
    target: IO[bytes] | None = None
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    pending_rows = 0

    def write_pending() -> None:
        nonlocal target, writer, files, pending_rows
        if not pending:
            return
        if writer is None:
            target = open_target(files)
            writer = pq.ParquetWriter(target, schema, compression="zstd")
            files += 1
        writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
        pending.clear()
        pending_rows = 0
        if target is not None and target.tell() >= TARGET_FILE_BYTES:
            writer.close()
            target.close()
            writer = target = None

    try:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            pending.append(conform_batch(batch, schema))
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                write_pending()
        write_pending()
        if writer is None and files == 0:  # no rows: one empty file keeps the partition's schema
            target = open_target(0)
            writer = pq.ParquetWriter(target, schema, compression="zstd")
            files = 1
    finally:
        if writer is not None:
            writer.close()
        if target is not None:
            target.close()
    return rows, files
