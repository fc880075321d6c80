"""The lake: hive-partitioned Parquet under a local path or any fsspec URL (``s3://...``).

:meth:`Lake.write` stamps ``written_at`` and writes one file per table-partition per call with a
unique name (run id + uuid), so runs never overwrite each other and a rerun only adds newer
versions of the same ids (readers keep the newest). Local files are written under a hidden
temporary name and renamed, so a reader never sees half a file; object stores publish an object
only when its upload completes.

:meth:`Lake.compact` merges each partition's files into one, keeping the newest row per id: it
writes the merged file first and deletes the old ones after, so a crash in between leaves
duplicates (which the views hide), never a loss.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.lake import TABLES, TIMESTAMP, TableSpec, table_spec
from tasks.fs import is_local
from tasks.lake.rows import LakeRows

__all__ = ["CompactionReport", "Lake", "LakeRows", "newest_per_id"]

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class CompactionReport:
    """What a compaction did, summed over the tables it looked at."""

    partitions_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    rows_before: int = 0
    rows_after: int = 0

    def __add__(self, other: CompactionReport) -> CompactionReport:
        return CompactionReport(
            self.partitions_compacted + other.partitions_compacted,
            self.files_before + other.files_before,
            self.files_after + other.files_after,
            self.rows_before + other.rows_before,
            self.rows_after + other.rows_after,
        )


def newest_per_id(table: pa.Table, id_column: str) -> pa.Table:
    """``table`` with one row per id: the one with the newest ``written_at``."""
    con = duckdb.connect()
    try:
        con.register("lake_rows", table)
        deduplicated = con.sql(
            f'SELECT * FROM lake_rows QUALIFY row_number() OVER (PARTITION BY "{id_column}" '  # noqa: S608
            "ORDER BY written_at DESC NULLS LAST) = 1"
        ).to_arrow_table()
    finally:
        con.close()
    return deduplicated.cast(table.schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns: missing ones null, extra ones dropped."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _partition_text(value: Any) -> str:
    if value is None:
        raise ValueError("a partition column is null; every lake row needs its partition value")
    return value.isoformat() if isinstance(value, date) else str(value)


def _split_partitions(table: pa.Table, spec: TableSpec) -> dict[str, pa.Table]:
    """Hive folder (``capture_month=2026-01``, or "" unpartitioned) -> that partition's rows."""
    if not spec.partition_by:
        return {"": table}
    keys = zip(*(table.column(c).to_pylist() for c in spec.partition_by), strict=True)
    positions: dict[str, list[int]] = defaultdict(list)
    for position, values in enumerate(keys):
        folder = "/".join(
            f"{c}={_partition_text(v)}" for c, v in zip(spec.partition_by, values, strict=True)
        )
        positions[folder].append(position)
    return {folder: table.take(rows) for folder, rows in positions.items()}


class Lake:
    """A lake of Parquet tables at a local path or fsspec URL."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.fs, root = fsspec.core.url_to_fs(url, **self.storage_options)
        self.root = root.rstrip("/") or root
        self.is_local = is_local(self.fs)

    def __repr__(self) -> str:
        return f"Lake({self.location()!r})"

    def location(self, *parts: str) -> str:
        """A path inside the lake as DuckDB and users see it: absolute path or URL."""
        path = posixpath.join(self.root, *parts)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def files(self, table: str) -> list[str]:
        """The table's Parquet files (filesystem paths), sorted."""
        folder = posixpath.join(self.root, table_spec(table).name)
        if not self.fs.exists(folder):
            return []
        found = self.fs.find(folder)
        return sorted(
            path
            for path in found
            if path.endswith(".parquet") and not posixpath.basename(path).startswith(".")
        )

    def write(self, rows: LakeRows, *, run_id: str) -> list[str]:
        """Write every table of ``rows``: one new file per table-partition; returns their paths."""
        written_at = pa.scalar(datetime.now(UTC), TIMESTAMP)
        stem = _UNSAFE_NAME.sub("_", run_id)[:80] or "run"
        paths = []
        for name, table in rows.tables().items():
            spec = TABLES[name]
            index = table.schema.get_field_index("written_at")
            stamp = pa.array([written_at.as_py()] * table.num_rows, TIMESTAMP)
            table = table.set_column(index, spec.schema.field("written_at"), stamp)
            for folder, part in _split_partitions(table, spec).items():
                file_name = f"{stem}-{uuid.uuid4().hex}.parquet"
                path = posixpath.join(self.root, name, folder, file_name)
                self._put(conform(part, spec.file_schema), path)
                paths.append(path)
        return paths

    def _put(self, table: pa.Table, path: str) -> None:
        if not self.is_local:
            with self.fs.open(path, "wb") as target:
                pq.write_table(table, target, compression="zstd")
            return
        folder, name = posixpath.split(path)
        self.fs.makedirs(folder, exist_ok=True)
        temporary = posixpath.join(folder, f".{name}.tmp")
        with self.fs.open(temporary, "wb") as target:
            pq.write_table(table, target, compression="zstd")
        self.fs.mv(temporary, path)

    def _read_file(self, path: str, spec: TableSpec) -> pa.Table:
        with self.fs.open(path, "rb") as source:
            table = pq.read_table(source)
        return conform(table, spec.file_schema)

    def compact(self, table: str | None = None) -> CompactionReport:
        """Merge each partition's files into one, keeping the newest row per id."""
        names = [table_spec(table).name] if table else list(TABLES)
        report = CompactionReport()
        for name in names:
            report += self._compact_table(TABLES[name])
        return report

    def _compact_table(self, spec: TableSpec) -> CompactionReport:
        by_folder: dict[str, list[str]] = defaultdict(list)
        for path in self.files(spec.name):
            by_folder[posixpath.dirname(path)].append(path)
        report = CompactionReport()
        for folder, paths in sorted(by_folder.items()):
            if len(paths) > 1:
                report += self._compact_partition(spec, folder, paths)
        return report

    def _compact_partition(
        self, spec: TableSpec, folder: str, paths: list[str]
    ) -> CompactionReport:
        merged = pa.concat_tables([self._read_file(path, spec) for path in paths])
        kept = newest_per_id(merged, spec.id_column)
        self._put(kept, posixpath.join(folder, f"compact-{uuid.uuid4().hex}.parquet"))
        self.fs.rm(paths)
        return CompactionReport(1, len(paths), 1, merged.num_rows, kept.num_rows)

    def read(self, table: str, *, deduplicate: bool = True) -> pa.Table:
        """A whole table (partition columns included), newest row per id unless told otherwise."""
        spec = table_spec(table)
        parts = [
            self._with_partitions(self._read_file(p, spec), p, spec) for p in self.files(table)
        ]
        if not parts:
            return spec.schema.empty_table()
        merged = pa.concat_tables(parts)
        return newest_per_id(merged, spec.id_column) if deduplicate else merged

    def _with_partitions(self, table: pa.Table, path: str, spec: TableSpec) -> pa.Table:
        values = dict(segment.split("=", 1) for segment in path.split("/") if "=" in segment)
        for name in spec.partition_by:
            field = spec.schema.field(name)
            table = table.append_column(
                field, pa.array([values.get(name)] * table.num_rows, pa.string()).cast(field.type)
            )
        return conform(table, spec.schema)

    def put_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (a filesystem path inside the lake, e.g. a report).

        Like :meth:`_put`: a local file is written aside and moved, so a file that is there is
        always whole; an object store publishes the object only once its upload completes.
        """
        if not self.is_local:
            with self.fs.open(path, "wb") as target:
                target.write(data)
            return
        folder, name = posixpath.split(path)
        self.fs.makedirs(folder, exist_ok=True)
        temporary = posixpath.join(folder, f".{name}.tmp")
        with self.fs.open(temporary, "wb") as target:
            target.write(data)
        self.fs.mv(temporary, path)
