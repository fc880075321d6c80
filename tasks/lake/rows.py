"""Rows on their way to the lake: :class:`LakeRows` collects them per table, schema-exact.

Also the two tables that do not come from images: the run manifest (:func:`run_rows`) and the
quarantine list (:func:`quarantine_rows`). ``written_at`` is left empty here and stamped by
:meth:`tasks.lake.store.Lake.write`, so building rows stays pure and repeatable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from haut.redaction import redact
from schemas.captures import QuarantinedFile
from schemas.lake import TABLES, table_spec

Row = dict[str, Any]


def stable_id(*parts: object) -> str:
    """32 hex characters from the parts: the same parts always give the same id."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def capture_month(moment: datetime) -> str:
    """The ``capture_month`` partition value (UTC) of a capture time."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m")


@dataclass
class LakeRows:
    """Rows for several lake tables; appendable, and convertible to schema-exact Arrow tables.

    One row per id and table: a row added again under the same id (a subject or batch row
    comes with each of its images) replaces the earlier one, keeping the earlier one's place.
    """

    rows: dict[str, dict[Any, Row]] = field(default_factory=dict)
    """Per table: rows by their id column's value."""

    def add(self, table: str, row: Row) -> None:
        spec = table_spec(table)  # an unknown table name fails here, not at write time
        self.rows.setdefault(table, {})[row.get(spec.id_column)] = row

    def add_all(self, table: str, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(table, row)

    def extend(self, other: LakeRows) -> None:
        """Add every row of ``other`` (its rows replace ours of the same id)."""
        for table, rows in other.rows.items():
            self.rows.setdefault(table, {}).update(rows)

    def counts(self) -> dict[str, int]:
        """Rows per table (tables without rows left out)."""
        return {table: len(rows) for table, rows in self.rows.items() if rows}

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def tables(self) -> dict[str, pa.Table]:
        """One Arrow table per non-empty table, with exactly the schema of :mod:`schemas.lake`."""
        return {
            name: pa.Table.from_pylist(list(self.rows[name].values()), schema=spec.schema)
            for name, spec in TABLES.items()
            if self.rows.get(name)
        }


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
