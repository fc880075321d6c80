"""DuckDB views over the lake: one per table, deduplicated by id, plus a wide view and macros.

Each table view reads every Parquet file of its table (``read_parquet`` with hive partitioning
and ``union_by_name``, so files written before a column was added still read) and keeps the
newest row per id (``written_at``, then file name): a rerun or a backfill never doubles a row.

``image_metrics_wide`` has one row per image with the face-area main metric of each algorithm
family as its own column (``redness``, ``acne``, ...), beside subject, session, side and time.
Macros: ``subject_diary(subject_key)`` (the front images of a subject, oldest first) and
``metric_series(subject_key, algorithm)`` (one family's face score over time).

Smoothing (reference §13.12, as the API and its emulator do it): ``smoothing_points`` (view: every
image's face-area main value per family, ok rows only, with the time the API keeps),
``smoothing_sample(subject_key, window_days, max_size)`` (which images each image's sample holds),
``smoothed_scores(method, window_days, max_size)`` (every image x smoothable family) and
``subject_smoothing(subject_key, method, window_days, max_size)`` (one subject over time). E.g.
``FROM subject_smoothing('alice', 'linear_approximation', 14, 10) WHERE algorithm = 'redness'``.
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


SMOOTHABLE_WIDGET = "bad_good_line"
"""The widget type of the face main metrics the API smooths: every FSM 2.0 family whose face
score is a bad-to-good line (12 of them; not age, eyes age or skin tone's ITA)."""

SMOOTHING_POINTS = "smoothing_points"

# The API keeps an image's creation_time to the second ("YYYY-MM-DD HH:MM:SS", schemas.wire_time
# truncates), so window edges and ties are judged on whole seconds, as epoch seconds: day
# arithmetic on TIMESTAMPTZ would follow the session's time zone across DST.
_POINTS_SQL = f"""
CREATE OR REPLACE VIEW {SMOOTHING_POINTS} AS
SELECT i.image_id, i.subject_id, i.subject_key, i.session_key, i.side, i.captured_at,
       i.uploaded_at, CAST(floor(epoch_us(i.captured_at) / 1000000.0) AS BIGINT) AS taken_s,
       m.algorithm_family, m.algorithm, m.widget_type, m.value
FROM images AS i
JOIN metrics AS m ON m.image_id = i.image_id
JOIN results AS r ON r.result_id = m.result_id
WHERE m.kind = 'main' AND m.area_name = 'face' AND r.is_ok AND m.value IS NOT NULL
"""  # noqa: S608 (our own constants)

# An image with any face value is a sample point; the sample of a target is itself and the
# same subject's same-side images strictly before it (ties of time broken by upload, then id)
# at most window_days before, newest first, at most max_size in all.
_SAMPLE_SQL = f"""
CREATE OR REPLACE MACRO smoothing_sample(key, window_days := 14, max_size := 10) AS TABLE
WITH scored AS (
  SELECT DISTINCT image_id, subject_id, side, taken_s, uploaded_at FROM {SMOOTHING_POINTS}
  WHERE key IS NULL OR subject_key = key
), paired AS (
  SELECT t.image_id AS target_id, s.image_id AS sample_id, s.taken_s - t.taken_s AS offset_s,
    row_number() OVER (PARTITION BY t.image_id
                       ORDER BY s.taken_s DESC, s.uploaded_at DESC, s.image_id DESC) AS position
  FROM scored AS t JOIN scored AS s
    ON s.subject_id = t.subject_id AND s.side = t.side
   AND s.taken_s BETWEEN t.taken_s - window_days * 86400 AND t.taken_s
   AND (s.image_id = t.image_id OR s.taken_s < t.taken_s
        OR s.uploaded_at < t.uploaded_at
        OR (s.uploaded_at = t.uploaded_at AND s.image_id < t.image_id))
)
SELECT target_id, sample_id, position, offset_s FROM paired WHERE position <= max_size
"""  # noqa: S608 (our own constants)

# Sums and means in the emulator's order of operations (fmean, Tukey's fences on type-7
# quartiles, the least-squares line through the sample read at the target's own time), so that
# rounding half up gives the API's integers.
_SMOOTHING_SQL = f"""
CREATE OR REPLACE MACRO smoothing_for(key, method := 'mean', window_days := 14, max_size := 10)
AS TABLE
WITH target AS (
  SELECT * FROM {SMOOTHING_POINTS}
  WHERE widget_type = '{SMOOTHABLE_WIDGET}' AND (key IS NULL OR subject_key = key)
), points AS (
  SELECT t.image_id, t.algorithm_family, p.value, s.offset_s / 86400.0 AS day
  FROM target AS t
  JOIN smoothing_sample(key, window_days, max_size) AS s ON s.target_id = t.image_id
  JOIN {SMOOTHING_POINTS} AS p
    ON p.image_id = s.sample_id AND p.algorithm_family = t.algorithm_family
), moments AS (
  SELECT *, count(*) OVER w AS n, fsum(value) OVER w / count(*) OVER w AS mean_value,
         fsum(day) OVER w / count(*) OVER w AS mean_day,
         quantile_cont(value, 0.25) OVER w AS q1, quantile_cont(value, 0.75) OVER w AS q3
  FROM points WINDOW w AS (PARTITION BY image_id, algorithm_family)
), fences AS (
  SELECT *, q1 - 1.5 * (q3 - q1) AS low, q3 + 1.5 * (q3 - q1) AS high FROM moments
), fits AS (
  SELECT image_id, algorithm_family, any_value(n) AS n, any_value(mean_value) AS mean_value,
         fsum(value) FILTER (WHERE value BETWEEN low AND high)
           / count(*) FILTER (WHERE value BETWEEN low AND high) AS trimmed,
         sum((day - mean_day) * (day - mean_day)) AS spread,
         sum((day - mean_day) * (value - mean_value)) AS covariation,
         any_value(mean_day) AS mean_day
  FROM fences GROUP BY image_id, algorithm_family
), smoothed AS (
  SELECT image_id, algorithm_family, n,
    CASE method
      WHEN 'mean' THEN mean_value
      WHEN 'mean_without_outliers' THEN trimmed
      WHEN 'linear_approximation' THEN
        CASE WHEN n < 2 OR spread = 0 THEN mean_value
             ELSE mean_value + covariation / spread * (0.0 - mean_day) END
      ELSE CAST(error('no smoothing method ' || method || '; choose one of: mean, '
                      || 'mean_without_outliers, linear_approximation') AS DOUBLE)
    END AS smoothed
  FROM fits
)
SELECT t.image_id, t.subject_id, t.subject_key, t.session_key, t.side, t.captured_at,
       t.algorithm_family, t.algorithm, t.value, s.smoothed,
       CAST(floor(s.smoothed + 0.5) AS BIGINT) AS rounded, CAST(s.n AS INTEGER) AS sample_size,
       CAST(method AS VARCHAR) AS method, CAST(window_days AS INTEGER) AS window_days,
       CAST(max_size AS INTEGER) AS max_size
FROM target AS t JOIN smoothed AS s USING (image_id, algorithm_family)
"""  # noqa: S608 (our own constants)

SMOOTHING_MACROS_SQL = (
    _POINTS_SQL,
    _SAMPLE_SQL,
    _SMOOTHING_SQL,
    "CREATE OR REPLACE MACRO smoothed_scores(method := 'mean', window_days := 14, "
    "max_size := 10) AS TABLE FROM smoothing_for(NULL, method, window_days, max_size) "
    "ORDER BY subject_key, captured_at, side, algorithm_family",
    "CREATE OR REPLACE MACRO subject_smoothing(key, method := 'mean', window_days := 14, "
    "max_size := 10) AS TABLE FROM smoothing_for(key, method, window_days, max_size) "
    "ORDER BY captured_at, side, algorithm_family",
)
"""The smoothing view and macros; ``rounded`` is ``smoothed`` rounded half up, as the API does."""


def view_statements(locations: dict[str, str | None]) -> list[str]:
    """Every statement that sets up the views: table name -> its folder (None when empty)."""
    statements = [table_view_sql(spec, locations.get(name)) for name, spec in TABLES.items()]
    return [*statements, wide_view_sql(), *MACROS_SQL, *SMOOTHING_MACROS_SQL]
