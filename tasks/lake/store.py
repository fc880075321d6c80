"""The lake: hive-partitioned Parquet under a local path or any fsspec URL (``s3://...``).

Every id is in the lake once: each table partition (``metrics/capture_month=2026-01/``) holds
files that together hold each id once, so readers (the views, Spark, Polars, pandas) take the
files as they are, with no de-duplication step.

Writing is two steps. :meth:`Lake.stage` writes new rows (stamped ``written_at``) to the
staging area, ``<lake>/_staging/<table>/<partition>/``, one file per table-partition with a
unique name (run id + uuid): any number of writers can stage at once, nothing is read or
rewritten. :meth:`Lake.publish` then merges each partition that has staged rows with its
published files, keeping the newest row per id (``written_at``, then file name), into new files
(``part-<token>-<n>.parquet``, about 128 MB each, sorted by subject and time), and deletes the
inputs after the outputs are in place. :meth:`Lake.write` is both: rows are published when it
returns. The ingest's writer stages as it goes and publishes once at the end of the run (each
run also starts by publishing what a killed run staged), so a partition is rewritten once per
run, not once per flush.

Crashes: a staged file is published by the next publish. Local files are written under a hidden
temporary name and renamed, so a reader never sees half a file; object stores publish an object
only when its upload completes. A publish killed between putting its new files in place and
deleting the old ones leaves both versions in the partition (rows doubled, none lost) until
the next publish, which merges any partition whose files are not of one publish. Publishes of
one local lake take turns (a ``flock``); on a bucket, one publisher at a time is the caller's
to keep (every ingest publishes under its ledger's run lock); two at once would leave such a
doubled partition, never lose a row.

Files written before this scheme (one per write, ``<run>-<uuid>.parquet``) are merged by the
first publish or :meth:`Lake.compact`.
"""

from __future__ import annotations

import contextlib
import fcntl
import posixpath
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.lake import TABLES, TIMESTAMP, TableSpec, table_spec
from tasks.fs import is_local
from tasks.lake.merge import merge_files
from tasks.lake.rows import LakeRows

__all__ = ["STAGING", "CompactionReport", "Lake", "LakeRows", "newest_per_id"]

STAGING = "_staging"
"""The folder (under the lake) of rows written but not yet published. Its leading underscore
hides it from Spark and Hive; the views read only the tables' own folders."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_PUBLISHED = re.compile(r"part-([0-9a-f]{16})-\d+\.parquet")
_STALE_TEMPORARY_SECONDS = 3600.0


@dataclass(frozen=True)
class CompactionReport:
    """What a publish or compaction did, summed over the partitions it merged."""

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


def at_rest(paths: Iterable[str]) -> bool:
    """Whether a partition's files hold each id once: one file, or the files of one publish."""
    names = [posixpath.basename(path) for path in paths]
    if len(names) <= 1:
        return True
    tokens = {found.group(1) if (found := _PUBLISHED.fullmatch(n)) else None for n in names}
    return len(tokens) == 1 and None not in tokens


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
        """The table's published Parquet files (filesystem paths), sorted."""
        return self._parquet_under(posixpath.join(self.root, table_spec(table).name))

    def staged_files(self, table: str) -> list[str]:
        """The table's staged files, not yet published (filesystem paths), sorted."""
        return self._parquet_under(posixpath.join(self.root, STAGING, table_spec(table).name))

    def _parquet_under(self, folder: str) -> list[str]:
        if not self.fs.exists(folder):
            return []
        return sorted(
            path
            for path in self.fs.find(folder)
            if path.endswith(".parquet") and not posixpath.basename(path).startswith(".")
        )

    def write(self, rows: LakeRows, *, run_id: str, publish: bool = True) -> list[str]:
        """Stage every table of ``rows`` and (unless told not to) publish; returns the staged
        files' paths (gone once published)."""
        paths = self.stage(rows, run_id=run_id)
        if publish:
            self.publish()
        return paths

    def stage(self, rows: LakeRows, *, run_id: str) -> list[str]:
        """Write every table of ``rows`` to the staging area: one new file per table-partition.

        Rows staged are in the lake for good (the next :meth:`publish` merges them), but readers
        of the tables see them only once published."""
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
                path = posixpath.join(self.root, STAGING, name, folder, file_name)
                self._put(conform(part, spec.file_schema), path)
                paths.append(path)
        return paths

    def publish(self, tables: Iterable[str] | None = None) -> CompactionReport:
        """Merge every partition that has staged rows, or whose files are not of one publish,
        into files holding each id once. Returns what was merged (nothing: all at rest)."""
        names = [table_spec(t).name for t in tables] if tables is not None else list(TABLES)
        report = CompactionReport()
        with self._publish_lock():
            for name in names:
                report += self._publish_table(TABLES[name])
        return report

    def compact(self, table: str | None = None) -> CompactionReport:
        """Bring every partition (of ``table``, or of all tables) to rest: :meth:`publish`."""
        return self.publish([table] if table else None)

    @contextlib.contextmanager
    def _publish_lock(self) -> Iterator[None]:
        """Publishes of one local lake take turns; the kernel lets go if the holder dies."""
        if not self.is_local:
            yield
            return
        folder = posixpath.join(self.root, STAGING)
        self.fs.makedirs(folder, exist_ok=True)
        with open(posixpath.join(folder, ".publish.lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._remove_stale_temporaries()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_stale_temporaries(self) -> None:
        """Delete the hidden half-written files of writers killed an hour ago or more."""
        if not self.fs.exists(self.root):
            return
        cutoff = time.time() - _STALE_TEMPORARY_SECONDS
        for path in self.fs.find(self.root):
            name = posixpath.basename(path)
            if name.startswith(".") and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if self.fs.modified(path).timestamp() < cutoff:
                        self.fs.rm(path)

    def _publish_table(self, spec: TableSpec) -> CompactionReport:
        table_root = posixpath.join(self.root, spec.name)
        staging_root = posixpath.join(self.root, STAGING, spec.name)
        published = _by_folder(self.files(spec.name), table_root)
        staged = _by_folder(self.staged_files(spec.name), staging_root)
        report = CompactionReport()
        for folder in sorted(set(published) | set(staged)):
            current, new = published.get(folder, []), staged.get(folder, [])
            if new or not at_rest(current):
                report += self._merge_partition(spec, folder, current, new)
        return report

    def _merge_partition(
        self, spec: TableSpec, folder: str, published: list[str], staged: list[str]
    ) -> CompactionReport:
        target_folder = posixpath.join(self.root, spec.name, folder)
        token = uuid.uuid4().hex[:16]
        outputs: list[tuple[str, str]] = []  # (where it is written, where it is published)

        def open_target(n: int) -> IO[bytes]:
            final = posixpath.join(target_folder, f"part-{token}-{n}.parquet")
            if not self.is_local:
                outputs.append((final, final))
                return self.fs.open(final, "wb")
            self.fs.makedirs(target_folder, exist_ok=True)
            temporary = posixpath.join(target_folder, f".part-{token}-{n}.parquet.tmp")
            outputs.append((temporary, final))
            return self.fs.open(temporary, "wb")

        inputs = [*published, *staged]
        try:
            merged = merge_files(
                [p if self.is_local else self.fs.unstrip_protocol(p) for p in inputs],
                spec,
                open_target,
                filesystem=None if self.is_local else self.fs,
            )
        except BaseException:
            for written, _ in outputs:
                with contextlib.suppress(OSError):
                    self.fs.rm(written)
            raise
        for written, final in outputs:
            if written != final:
                self.fs.mv(written, final)
        # Only now are the inputs redundant: a crash before this line leaves rows doubled (the
        # next publish merges them again), never lost.
        self.fs.rm(inputs)
        return CompactionReport(1, len(inputs), merged.files_out, merged.rows_in, merged.rows_out)

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

    def read(self, table: str, *, deduplicate: bool = True) -> pa.Table:
        """A whole published table (partition columns included), newest row per id unless told
        otherwise (at rest, the files hold each id once already)."""
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


def _by_folder(paths: Iterable[str], root: str) -> dict[str, list[str]]:
    """Partition folder relative to ``root`` ("" unpartitioned) -> its files."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        grouped[posixpath.relpath(posixpath.dirname(path), root).removeprefix(".")].append(path)
    return grouped
