"""The lake's schema history: each schema version's tables, checked in, and the rule between them.

``schemas/lake_history.json`` records, for every :data:`schemas.lake.SCHEMA_VERSION` there has
been, each table's id column, partition columns and columns (name, Arrow type as text,
nullability): what a file of that version holds. Descriptions are left out: rewording one is no
change of schema. Two rules hold, and a test checks both:

- the tables of :mod:`schemas.lake` are the newest version recorded, under the current
  ``SCHEMA_VERSION``;
- each version only adds to the one before (:func:`changes`): new tables, new nullable columns.
  Old columns keep their name, type, nullability and order, and every table its id and
  partitions. A new column may sit anywhere among the old ones, since every reader of the lake
  matches columns by name (``union_by_name``).

After changing a table's columns, bump ``SCHEMA_VERSION`` in ``schemas/lake.py`` and record the
new version::

    .venv/bin/python -m schemas.lake_history --record

Without ``--record`` the command only checks. Recording never rewrites a version already
recorded, and refuses a change that is not additive.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.errors import HautflowError
from schemas.lake import SCHEMA_VERSION, TABLES, TableSpec

__all__ = [
    "HISTORY_PATH",
    "RECORD_COMMAND",
    "Change",
    "ColumnShape",
    "HistoryError",
    "SchemaVersion",
    "TableShape",
    "breaking_changes",
    "changes",
    "current_version",
    "load_history",
    "record",
    "render_history",
    "unrecorded_change",
]

HISTORY_PATH = Path(__file__).with_name("lake_history.json")
"""The recorded versions, oldest first."""
RECORD_COMMAND = ".venv/bin/python -m schemas.lake_history --record"
"""The command that records the current schemas as version ``SCHEMA_VERSION``."""


class HistoryError(HautflowError, ValueError):
    """The schemas cannot be recorded as they are; the message says why and what to do."""


@dataclass(frozen=True)
class ColumnShape:
    """One column as the history records it."""

    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class TableShape:
    """One table as the history records it: partition columns included, in schema order."""

    id_column: str
    partition_by: tuple[str, ...]
    columns: tuple[ColumnShape, ...]

    def column(self, name: str) -> ColumnShape | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class SchemaVersion:
    """Every table of one schema version."""

    version: int
    tables: Mapping[str, TableShape]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SchemaVersion:
        """A version as ``lake_history.json`` holds it."""
        tables = {
            name: TableShape(
                table["id_column"],
                tuple(table["partition_by"]),
                tuple(ColumnShape(c["name"], c["type"], c["nullable"]) for c in table["columns"]),
            )
            for name, table in data["tables"].items()
        }
        return cls(int(data["version"]), tables)


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a table, and whether it only adds."""

    table: str
    text: str
    additive: bool

    def __str__(self) -> str:
        return f"{self.table}: {self.text}"


def shape_of(spec: TableSpec) -> TableShape:
    """A table's shape as the history records it."""
    columns = tuple(ColumnShape(f.name, str(f.type), f.nullable) for f in spec.schema)
    return TableShape(spec.id_column, spec.partition_by, columns)


def current_version() -> SchemaVersion:
    """The tables of :mod:`schemas.lake` as they are now, under ``SCHEMA_VERSION``."""
    return SchemaVersion(SCHEMA_VERSION, {name: shape_of(spec) for name, spec in TABLES.items()})


def _table_changes(name: str, old: TableShape, new: TableShape) -> list[Change]:
    found: list[Change] = []
    if new.id_column != old.id_column:
        found.append(Change(name, f"id column {old.id_column} -> {new.id_column}", False))
    if new.partition_by != old.partition_by:
        found.append(Change(name, f"partitions {old.partition_by} -> {new.partition_by}", False))
    for before in old.columns:
        after = new.column(before.name)
        if after is None:
            found.append(Change(name, f"column {before.name} removed (or renamed)", False))
        elif after.type != before.type:
            text = f"column {before.name} retyped {before.type} -> {after.type}"
            found.append(Change(name, text, False))
        elif after.nullable != before.nullable:
            made = "nullable" if after.nullable else "never null"
            found.append(Change(name, f"column {before.name} made {made}", False))
    old_names = [c.name for c in old.columns]
    kept = [c.name for c in new.columns if c.name in old_names]
    if len(kept) == len(old_names) and kept != old_names:
        found.append(Change(name, "columns reordered", False))
    for column in new.columns:
        if column.name in old_names:
            continue
        if column.nullable:
            found.append(Change(name, f"column {column.name} added ({column.type})", True))
        else:
            text = f"column {column.name} added never null: files before it have no value for it"
            found.append(Change(name, text, False))
    return found


def changes(old: SchemaVersion, new: SchemaVersion) -> list[Change]:
    """Every difference from ``old`` to ``new``, each marked additive or not."""
    found: list[Change] = []
    for name, before in old.tables.items():
        after = new.tables.get(name)
        if after is None:
            found.append(Change(name, "table removed", False))
        else:
            found += _table_changes(name, before, after)
    found += [Change(name, "table added", True) for name in new.tables if name not in old.tables]
    return found


def breaking_changes(old: SchemaVersion, new: SchemaVersion) -> list[Change]:
    """The differences from ``old`` to ``new`` that do not only add: none is allowed."""
    return [change for change in changes(old, new) if not change.additive]


def load_history(path: Path = HISTORY_PATH) -> list[SchemaVersion]:
    """The recorded versions, oldest first ([] before the first is recorded)."""
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [SchemaVersion.from_json(version) for version in data["versions"]]


def _summary(found: Iterable[Change]) -> str:
    return "; ".join(map(str, found))


def unrecorded_change(history: Sequence[SchemaVersion], current: SchemaVersion) -> str | None:
    """What keeps ``current`` from being the newest recorded version, and the fix; None if it
    is."""
    if not history:
        return f"no schema version is recorded yet: run `{RECORD_COMMAND}`"
    newest = history[-1]
    if current.version == newest.version and current.tables == newest.tables:
        return None
    found = changes(newest, current)
    if current.version == newest.version:
        return (
            f"the lake's schemas changed since version {newest.version} was recorded "
            f"({_summary(found)}): set SCHEMA_VERSION in schemas/lake.py to "
            f"{newest.version + 1} and run `{RECORD_COMMAND}`"
        )
    if current.version == newest.version + 1:
        return f"version {current.version} is not recorded yet: run `{RECORD_COMMAND}`"
    return (
        f"SCHEMA_VERSION in schemas/lake.py is {current.version}, but the newest recorded "
        f"version is {newest.version}: set it to {newest.version + 1}"
    )


def render_history(history: Sequence[SchemaVersion]) -> str:
    """The history as JSON, one column a line, so a new version reads well in a diff."""
    lines = ['{"versions": [']
    for v, version in enumerate(history):
        lines += ["  {", f'    "version": {version.version},', '    "tables": {']
        for t, (name, table) in enumerate(version.tables.items()):
            lines += [
                f"      {json.dumps(name)}: {{",
                f'        "id_column": {json.dumps(table.id_column)},',
                f'        "partition_by": {json.dumps(list(table.partition_by))},',
                '        "columns": [',
            ]
            for c, column in enumerate(table.columns):
                text = json.dumps(
                    {"name": column.name, "type": column.type, "nullable": column.nullable}
                )
                lines.append(f"          {text}{',' if c < len(table.columns) - 1 else ''}")
            lines += ["        ]", f"      }}{',' if t < len(version.tables) - 1 else ''}"]
        lines += ["    }", f"  }}{',' if v < len(history) - 1 else ''}"]
    lines.append("]}")
    return "\n".join(lines) + "\n"


def record(path: Path = HISTORY_PATH) -> str:
    """Record the current schemas as version ``SCHEMA_VERSION``; says what was done. Raises
    :class:`HistoryError` when they cannot be (a recorded version changed, a version skipped,
    a change that is not additive)."""
    history = load_history(path)
    current = current_version()
    problem = unrecorded_change(history, current)
    if problem is None:
        return f"version {current.version} is recorded already, as the schemas are"
    expected = history[-1].version + 1 if history else 1
    if current.version != expected:
        raise HistoryError(problem if history else f"the first version is 1, not {current.version}")
    if history and (broken := breaking_changes(history[-1], current)):
        raise HistoryError(
            f"version {current.version} does not only add to version {history[-1].version}: "
            f"{_summary(broken)}. Add new columns as nullable, keep the old ones as they are."
        )
    path.write_text(render_history([*history, current]), encoding="utf-8")
    added = _summary(changes(history[-1], current)) if history else "the first version"
    return f"recorded version {current.version} in {path.name}: {added}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.lake_history",
        description="Check (or record) that the lake's schemas are the newest recorded version.",
    )
    parser.add_argument("--record", action="store_true", help="record them as SCHEMA_VERSION")
    args = parser.parse_args(argv)
    if args.record:
        try:
            print(record())
        except HistoryError as error:
            parser.exit(1, f"{error}\n")
        return 0
    problem = unrecorded_change(load_history(), current_version())
    if problem:
        parser.exit(1, f"{problem}\n")
    print(f"the lake's schemas are version {SCHEMA_VERSION}, as recorded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
