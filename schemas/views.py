"""DuckDB views over the lake: one per table, deduplicated by id, plus a wide view and macros.

Each table view reads every Parquet file of its table (``read_parquet`` with hive partitioning
and ``union_by_name``, so files written before a column was added still read) and keeps the
newest row per id (``written_at``, then file name): a rerun or a backfill never doubles a row.

``image_metrics_wide`` has one row per image with the face-area main metric of each algorithm
family as its own column (``redness``, ``acne``, ...), beside subject, session, side and time.
Macros: ``subject_diary(subject_key)`` (the front images of a subject, oldest first) and
``metric_series(subject_key, algorithm)`` (one family's face score over time).
"""

from __future__ import annotations

import pyarrow as pa

from schemas.lake import TABLES, TableSpec

FACE_FAMILIES = (
    "redness",
    "acne",
    "pores",
    "pigmentation",
    "uniformness",
    "lines",
    "wrinkles",
    "eye_bags",
    "sagging",
    "translucency",
    "hydration",
    "quality",
    "skin_tone",
    "age",
    "eyes_age",
)
"""FSM 2.0 families with a numeric face-area main metric (reference §6.3): the wide view's
columns. A fixed list keeps the view's shape stable whatever the lake holds."""

WIDE_VIEW = "image_metrics_wide"
IMAGE_COLUMNS = (
    "image_id",
    "subject_key",
    "subject_id",
    "session_key",
    "batch_id",
    "side",
    "captured_at",
    "capture_month",
    "status",
)

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
}


def duckdb_type(type_: pa.DataType) -> str:
    """The DuckDB type of a lake column."""
    if pa.types.is_timestamp(type_):
        return "TIMESTAMPTZ" if type_.tz else "TIMESTAMP"
    return _DUCKDB_TYPES[type_]


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_pattern(table_location: str, spec: TableSpec) -> str:
    """The glob of a table's files: one folder level per partition column."""
    return table_location.rstrip("/") + "/*" * len(spec.partition_by) + "/*.parquet"


def table_view_sql(spec: TableSpec, table_location: str | None) -> str:
    """``CREATE VIEW`` of one table; a typed empty view when the table has no files yet."""
    if table_location is None:
        columns = ", ".join(
            f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in spec.schema
        )
        return f"CREATE OR REPLACE VIEW {spec.name} AS SELECT {columns} WHERE false"
    hive_types = ", ".join(
        f"'{name}': '{duckdb_type(spec.schema.field(name).type)}'" for name in spec.partition_by
    )
    options = "union_by_name = true, filename = true"
    if spec.partition_by:
        options += f", hive_partitioning = true, hive_types = {{{hive_types}}}"
    else:
        options += ", hive_partitioning = false"
    source = f"read_parquet({quote_literal(file_pattern(table_location, spec))}, {options})"
    # Identifiers come from schemas.lake, the only literal (the path) is quoted.
    return (
        f"CREATE OR REPLACE VIEW {spec.name} AS SELECT * EXCLUDE (filename) FROM {source} "  # noqa: S608
        f'QUALIFY row_number() OVER (PARTITION BY "{spec.id_column}" '
        "ORDER BY written_at DESC NULLS LAST, filename DESC) = 1"
    )


def wide_view_sql() -> str:
    """``image_metrics_wide``: every image, its face main metric per family as columns."""
    pivots = ",\n  ".join(
        f"max(value) FILTER (WHERE algorithm = '{family}') AS {family}" for family in FACE_FAMILIES
    )
    image_columns = ", ".join(f"i.{name}" for name in IMAGE_COLUMNS)
    family_columns = ", ".join(f"f.{family}" for family in FACE_FAMILIES)
    return (
        f"CREATE OR REPLACE VIEW {WIDE_VIEW} AS\n"  # noqa: S608 (our own constants)
        f"WITH face AS (\n  SELECT image_id,\n  {pivots}\n  FROM metrics\n"
        "  WHERE kind = 'main' AND area_name = 'face' GROUP BY image_id)\n"
        f"SELECT {image_columns}, {family_columns}\n"
        "FROM images AS i LEFT JOIN face AS f ON f.image_id = i.image_id"
    )


MACROS_SQL = (
    f"CREATE OR REPLACE MACRO subject_diary(key) AS TABLE SELECT * FROM {WIDE_VIEW} "  # noqa: S608
    "WHERE subject_key = key AND side = 'front' ORDER BY captured_at",
    "CREATE OR REPLACE MACRO metric_series(key, family) AS TABLE "
    "SELECT captured_at, session_key, side, value FROM metrics "
    "WHERE subject_key = key AND algorithm = family AND kind = 'main' AND area_name = 'face' "
    "ORDER BY captured_at, side",
)


def view_statements(locations: dict[str, str | None]) -> list[str]:
    """Every statement that sets up the views: table name -> its folder (None when empty)."""
    statements = [table_view_sql(spec, locations.get(name)) for name, spec in TABLES.items()]
    return [*statements, wide_view_sql(), *MACROS_SQL]
