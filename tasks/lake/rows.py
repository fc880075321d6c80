"""Rows on their way to the lake: :class:`LakeRows` collects them per table, schema-exact.

Also the two tables that do not come from images: the run manifest (:func:`run_rows`) and the
quarantine list (:func:`quarantine_rows`). ``written_at`` is left empty here and stamped by
:meth:`tasks.lake.store.Lake.write`, so building rows stays pure and repeatable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from haut.redaction import redact
from schemas.captures import QuarantinedFile
from schemas.lake import TABLES, table_spec

Row = dict[str, Any]


def _joined(parts: Iterable[object]) -> str:
    return "\x1f".join("" if part is None else str(part) for part in parts)


def stable_id(*parts: object) -> str:
    """32 hex characters from the parts: the same parts always give the same id."""
    return hashlib.sha256(_joined(parts).encode()).hexdigest()[:32]


def stable_ids_under(*prefix: object) -> Callable[..., str]:
    """``stable_id(*prefix, *rest)`` as a function of ``rest`` (text parts only), the prefix
    hashed once: for the many ids that share their first parts (every metric of one row)."""
    head = hashlib.sha256((_joined(prefix) + "\x1f").encode())
    copy = head.copy

    def stable_id_of(*rest: str) -> str:
        digest = copy()
        digest.update("\x1f".join(rest).encode())
        return digest.hexdigest()[:32]

    return stable_id_of


def capture_month(moment: datetime) -> str:
    """The ``capture_month`` partition value (UTC) of a capture time."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m")


@dataclass
class ColumnBlock:
    """Many rows of one table as columns: what every row shares once, the rest as lists.

    The bulk of an image's rows (its metrics) are built this way: appending to a few lists
    costs a fraction of a dict per row, and Arrow takes lists whole."""

    shared: Row
    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))


def _block_table(blocks: Sequence[ColumnBlock], schema: pa.Schema) -> pa.Table:
    """One table of these blocks: column lists joined, shared values repeated per row."""
    lengths = np.fromiter((len(block) for block in blocks), dtype=np.int64, count=len(blocks))
    owner = pa.array(np.repeat(np.arange(len(blocks)), lengths))
    arrays = []
    for schema_field in schema:
        name = schema_field.name
        if name in blocks[0].columns:
            values = [value for block in blocks for value in block.columns[name]]
            arrays.append(pa.array(values, schema_field.type))
        else:
            shared = [block.shared.get(name) for block in blocks]
            arrays.append(pa.array(shared, schema_field.type).take(owner))
    return pa.Table.from_arrays(arrays, schema=schema)


def _newest_per_id(table: pa.Table, id_column: str) -> pa.Table:
    """The table with each id once, its last row kept (rows come in the order added)."""
    ids = table.column(id_column)
    if pc.count_distinct(ids, mode="all").as_py() == table.num_rows:
        return table
    last = pa.table({"id": ids, "at": pa.array(np.arange(table.num_rows))})
    keep = last.group_by("id", use_threads=False).aggregate([("at", "max")]).column("at_max")
    return table.take(keep.take(pc.sort_indices(keep)))  # the kept positions, in order


@dataclass
class LakeRows:
    """Rows for several lake tables; appendable, and convertible to schema-exact Arrow tables.

    One row per id and table: a row added again under the same id (a subject or batch row
    comes with each of its images) replaces the earlier one, keeping the earlier one's place.
    Rows come one by one (:meth:`add`) or many at once as columns (:meth:`add_block`); where
    both hold an id, the block's row wins.
    """

    rows: dict[str, dict[Any, Row]] = field(default_factory=dict)
    """Per table: rows by their id column's value."""
    blocks: dict[str, list[ColumnBlock]] = field(default_factory=dict)
    """Per table: blocks of rows, in the order added."""

    def add(self, table: str, row: Row) -> None:
        spec = table_spec(table)  # an unknown table name fails here, not at write time
        self.rows.setdefault(table, {})[row.get(spec.id_column)] = row

    def add_all(self, table: str, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(table, row)

    def add_block(self, table: str, block: ColumnBlock) -> None:
        """Add the rows of ``block`` (nothing when it has none)."""
        table_spec(table)
        if len(block):
            self.blocks.setdefault(table, []).append(block)

    def extend(self, other: LakeRows) -> None:
        """Add every row of ``other`` (its rows replace ours of the same id)."""
        for table, rows in other.rows.items():
            self.rows.setdefault(table, {}).update(rows)
        for table, blocks in other.blocks.items():
            self.blocks.setdefault(table, []).extend(blocks)

    def counts(self) -> dict[str, int]:
        """Rows per table (tables without rows left out); an id in several blocks counts
        once per block until :meth:`tables` keeps one."""
        counts = {table: len(rows) for table, rows in self.rows.items() if rows}
        for table, blocks in self.blocks.items():
            counts[table] = counts.get(table, 0) + sum(len(block) for block in blocks)
        return {table: count for table, count in counts.items() if count}

    def __len__(self) -> int:
        return sum(self.counts().values())

    def tables(self) -> dict[str, pa.Table]:
        """One Arrow table per non-empty table, with exactly the schema of :mod:`schemas.lake`."""
        tables = {}
        for name, spec in TABLES.items():
            parts = []
            if self.rows.get(name):
                parts.append(pa.Table.from_pylist(list(self.rows[name].values()), spec.schema))
            if self.blocks.get(name):
                parts.append(_block_table(self.blocks[name], spec.schema))
            if len(parts) == 1 and not self.blocks.get(name):
                tables[name] = parts[0]
            elif parts:
                tables[name] = _newest_per_id(pa.concat_tables(parts), spec.id_column)
        return tables


@dataclass(frozen=True)
class RunRecord:
    """What one ingest run read, did and wrote: the ``runs`` table's row."""

    run_id: str
    started_at: datetime
    source: str
    status: str
    finished_at: datetime | None = None
    files_seen: int = 0
    captures_discovered: int = 0
    quarantined: int = 0
    captures_new: int = 0
    captures_resumed: int = 0
    captures_skipped: int = 0
    images_uploaded: int = 0
    images_failed: int = 0
    images_complete: int = 0
    images_pending: int = 0
    images_no_face: int = 0
    rows_written: int = 0
    error: str | None = None
    service: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def run_date(moment: datetime) -> date:
    """The ``run_date`` partition value of a run start (its UTC day)."""
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def run_rows(run: RunRecord) -> LakeRows:
    """The run's manifest row; written again at the end of the run, the newest one wins."""
    row = {
        name: getattr(run, name) for name in table_spec("runs").schema.names if hasattr(run, name)
    }
    row["error"] = redact(run.error) if run.error else None
    row["options_json"] = redact(json.dumps(dict(run.options), sort_keys=True, default=str))
    row["run_date"] = run_date(run.started_at)
    rows = LakeRows()
    rows.add("runs", row)
    return rows


def quarantine_rows(
    files: Sequence[QuarantinedFile], *, run_id: str, started_at: datetime
) -> LakeRows:
    """One row per quarantined file and reason; the same file seen again keeps its id."""
    rows = LakeRows()
    for item in files:
        rows.add(
            "quarantine",
            {
                "quarantine_id": stable_id(item.uri, item.reason.value),
                "uri": redact(item.uri),
                "reason": item.reason.value,
                "detail": redact(item.detail),
                "fix": item.fix,
                "subject_key": item.subject_key,
                "session_key": item.session_key,
                "run_id": run_id,
                "run_date": run_date(started_at),
            },
        )
    return rows
