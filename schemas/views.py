"""DuckDB views over the lake: one per table, plus a wide view and macros.

Each table view reads every Parquet file of its table (``read_parquet`` with hive partitioning;
by name, ``union_by_name``, when files written before a column was added are among them), as
they are: the lake keeps each id once at rest (:mod:`tasks.lake.store` merges a run's rows into
the partitions it touched), so a rerun or a backfill never doubles a row, a filter on any
column reaches the Parquet scan, and a whole-lake question costs what it costs on the raw files.

``image_metrics_wide`` has one row per image with the face-area main metric of each algorithm
family as its own column (``redness``, ``acne``, ...), beside subject, session, side and time;
``image_metrics_wide_of(subject_key)`` is the same for one subject, read without touching the
others' rows. Macros: ``subject_diary(subject_key)`` (the front images of a subject, oldest
first) and ``metric_series(subject_key, algorithm)`` (one family's face score over time).

Smoothing (reference §13.12, as the API and its emulator do it): ``smoothing_points`` (view: every
image's face-area main value per family, ok rows only, with the time the API keeps),
``smoothing_sample(subject_key, window_days, max_size)`` (which images each image's sample holds),
``smoothed_scores(method, window_days, max_size)`` (every image x smoothable family) and
``subject_smoothing(subject_key, method, window_days, max_size)`` (one subject over time), and
``smoothing_all(subject_key or NULL, window_days, max_size)`` (the three methods as columns, one
pass). E.g. ``FROM subject_smoothing('alice', 'linear_approximation', 14, 10) WHERE algorithm =
'redness'``. ``smoothed_results_latest`` (view): the API's smoothed values pulled into the lake,
only the newest fetch of each image and setting (``smoothed_results`` keeps every fetch).

One known gap in ties: two same-side images of a subject taken in the same second are ordered
by the API by its own upload order (insertion order), here by the lake's ``uploaded_at`` (when
the ingest recorded the upload), then image id. They agree for one ingest uploading one
image at a time per subject; concurrent uploads of two such images, or an image uploaded again
(re-created under a new id) can make the API's order differ, and then the two images' smoothed
values may disagree with the API's by which of them counts as earlier. ``hautflow smoothing
compare`` shows such images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

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


FileLayout = Literal["mixed", "complete", "uniform"]
"""What a table's files hold: ``uniform``, every file every column (the same columns); ``complete``,
the files together every column, some files fewer (written before a column was added); ``mixed``,
some column in no file yet."""


def table_source(spec: TableSpec, table_location: str, *, by_name: bool = True) -> str:
    """The ``read_parquet`` of every file of a table, as its view reads them; ``by_name`` reads
    files of different columns together (the union of their columns, missing ones null)."""
    hive_types = ", ".join(
        f"'{name}': '{duckdb_type(spec.schema.field(name).type)}'" for name in spec.partition_by
    )
    options = "union_by_name = true" if by_name else "union_by_name = false"
    if spec.partition_by:
        options += f", hive_partitioning = true, hive_types = {{{hive_types}}}"
    else:
        options += ", hive_partitioning = false"
    return f"read_parquet({quote_literal(file_pattern(table_location, spec))}, {options})"


def table_view_sql(spec: TableSpec, table_location: str | None, files: FileLayout = "mixed") -> str:
    """``CREATE VIEW`` of one table; a typed empty view when the table has no files yet.

    The files are read as they are: the lake keeps each id once at rest. Files written before a
    column was added are read by name together with the others (``union_by_name``), and when no
    file has some column yet the typed empty row set is joined by name, so the view always has
    every column of the table's schema (read as null) and queries never depend on the files' age.
    Uniform files are read as a plain scan, which binds from one file's footer (by name too).
    """
    columns = ", ".join(f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in spec.schema)
    typed_empty = f"SELECT {columns} WHERE false"
    if table_location is None:
        return f"CREATE OR REPLACE VIEW {spec.name} AS {typed_empty}"
    source = table_source(spec, table_location, by_name=files != "uniform")
    # Identifiers come from schemas.lake, the only literal (the path) is quoted.
    view = f"CREATE OR REPLACE VIEW {spec.name} AS SELECT * FROM {source}"  # noqa: S608
    return view if files != "mixed" else f"{view} UNION ALL BY NAME {typed_empty}"


def wide_view_sql() -> tuple[str, str]:
    """``image_metrics_wide``: every image, its face main metric per family as columns; and
    ``image_metrics_wide_of(subject_key)``, the same for one subject (the view is it for NULL).

    The macro filters images and metrics each on the subject: a filter on the view's result
    reaches only the images scan, and every metric of the lake would be read and grouped.
    """
    pivots = ",\n  ".join(
        f"max(value) FILTER (WHERE algorithm = '{family}') AS {family}" for family in FACE_FAMILIES
    )
    image_columns = ", ".join(f"i.{name}" for name in IMAGE_COLUMNS)
    family_columns = ", ".join(f"f.{family}" for family in FACE_FAMILIES)
    macro = (
        f"CREATE OR REPLACE MACRO {WIDE_VIEW}_of(key) AS TABLE\n"  # noqa: S608 (our own constants)
        f"WITH face AS (\n  SELECT image_id,\n  {pivots}\n  FROM metrics\n"
        "  WHERE kind = 'main' AND area_name = 'face' AND (key IS NULL OR subject_key = key)\n"
        "  GROUP BY image_id)\n"
        f"SELECT {image_columns}, {family_columns}\n"
        "FROM (FROM images WHERE key IS NULL OR subject_key = key) AS i\n"
        "LEFT JOIN face AS f ON f.image_id = i.image_id"
    )
    view = f"CREATE OR REPLACE VIEW {WIDE_VIEW} AS FROM {WIDE_VIEW}_of(NULL)"
    return macro, view


MACROS_SQL = (
    f"CREATE OR REPLACE MACRO subject_diary(key) AS TABLE FROM {WIDE_VIEW}_of(key) "
    "WHERE side = 'front' ORDER BY captured_at",
    "CREATE OR REPLACE MACRO metric_series(key, family) AS TABLE "
    "SELECT captured_at, session_key, side, value FROM metrics "
    "WHERE subject_key = key AND algorithm = family AND kind = 'main' AND area_name = 'face' "
    "ORDER BY captured_at, side",
)


SMOOTHABLE_WIDGET = "bad_good_line"
"""The widget type of the face main metrics the API smooths: every FSM 2.0 family whose face
score is a bad-to-good line (12 of them; not age, eyes age or skin tone's ITA)."""

SMOOTHING_POINTS = "smoothing_points"

SMOOTHED_LATEST = "smoothed_results_latest"

# The API keeps an image's creation_time to the second ("YYYY-MM-DD HH:MM:SS", schemas.wire_time
# truncates), so window edges and ties are judged on whole seconds, as epoch seconds: day
# arithmetic on TIMESTAMPTZ would follow the session's time zone across DST. Only numbers are
# sample points (value_text null: not a boolean or a numeric string), as the emulator counts them.
# One subject's points (key) or everyone's (NULL). Each table is filtered on its own
# subject_key: a filter on the join's result would reach only one of the three tables, and the
# other two would be read and deduplicated whole.
_POINTS_SQL = f"""
CREATE OR REPLACE MACRO {SMOOTHING_POINTS}_of(key) AS TABLE
SELECT i.image_id, i.subject_id, i.subject_key, i.session_key, i.side, i.captured_at,
       i.uploaded_at, CAST(floor(epoch_us(i.captured_at) / 1000000.0) AS BIGINT) AS taken_s,
       m.algorithm_family, m.algorithm, m.widget_type, m.value
FROM (FROM images WHERE key IS NULL OR subject_key = key) AS i
JOIN (FROM metrics WHERE key IS NULL OR subject_key = key) AS m ON m.image_id = i.image_id
JOIN (FROM results WHERE key IS NULL OR subject_key = key) AS r ON r.result_id = m.result_id
WHERE m.kind = 'main' AND m.area_name = 'face' AND r.is_ok
  AND m.value IS NOT NULL AND m.value_text IS NULL
"""  # noqa: S608 (our own constants)

_POINTS_VIEW_SQL = f"CREATE OR REPLACE VIEW {SMOOTHING_POINTS} AS FROM {SMOOTHING_POINTS}_of(NULL)"

# The points of the subject (or of everyone), read once: every other step joins them.
_PTS_CTE = f"""pts AS MATERIALIZED (FROM {SMOOTHING_POINTS}_of(key))"""

# An image with any face value is a sample point (one whose only failures are some families
# still takes its place); the sample of a target is itself and the same subject's same-side
# images strictly before it (ties of time broken by upload, then id) at most window_days before,
# newest first, at most max_size in all. Linear in the images: each point is ranked in its
# (subject, side) once, and a target looks back at most max_size ranks by an equi-join on the
# rank (a self-join on time ranges would pair every two images of a window).
# Each image's rank in its (subject, side), oldest first: the order samples are taken in.
_SCORED_CTE = """scored AS MATERIALIZED (
  SELECT image_id, subject_id, side, taken_s,
         row_number() OVER (PARTITION BY subject_id, side
                            ORDER BY taken_s, uploaded_at, image_id) AS rk
  FROM (SELECT DISTINCT image_id, subject_id, side, taken_s, uploaded_at FROM pts)
)"""

_SAMPLE_CTES = f"""{_SCORED_CTE}, looks AS (
  SELECT image_id, subject_id, side, taken_s, rk, unnest(range(least(max_size, rk))) AS back
  FROM scored
), sample AS (
  SELECT l.image_id AS target_id, s.image_id AS sample_id, l.back + 1 AS position,
         s.taken_s - l.taken_s AS offset_s
  FROM looks AS l
  JOIN scored AS s ON s.subject_id = l.subject_id AND s.side = l.side AND s.rk = l.rk - l.back
  WHERE s.taken_s >= l.taken_s - window_days * 86400::BIGINT
)"""  # noqa: S608 (our own constants)

_SAMPLE_SQL = f"""
CREATE OR REPLACE MACRO smoothing_sample(key, window_days := 14, max_size := 10) AS TABLE
WITH {_PTS_CTE}, {_SAMPLE_CTES}
SELECT target_id, sample_id, position, offset_s FROM sample
"""  # noqa: S608 (our own constants)

# All three methods in one pass, in the emulator's order of operations (fmean: an exact sum
# divided by the count; Tukey's fences on type-7 quartiles; the least-squares line through the
# sample read at the target's own time), so that rounding half up gives the API's integers.
# Join-free and linear in the lake: each image is ranked in its (subject, side) once; a window
# over each (subject, side, family) gathers the values of the max_size ranks up to the target's
# (a rank without this family's value still takes its place, as in the sample), the window's
# days are cut by list_filter, and every figure is computed on the sample's list. (A join of
# targets, samples and points lets the optimizer cross samples family by family.)
_SMOOTHING_ALL_SQL = f"""
CREATE OR REPLACE MACRO smoothing_all(key, window_days := 14, max_size := 10) AS TABLE
WITH {_PTS_CTE}, {_SCORED_CTE}, framed AS (
  SELECT p.*, list({{'v': p.value, 't': p.taken_s}}) OVER (
           PARTITION BY p.subject_id, p.side, p.algorithm_family ORDER BY r.rk
           RANGE BETWEEN greatest(max_size, 1) - 1 PRECEDING AND CURRENT ROW) AS frame
  FROM pts AS p JOIN scored AS r USING (image_id)
), samples AS (
  SELECT * EXCLUDE (frame),
         list_filter(frame, lambda x: x.t >= taken_s - window_days * 86400::BIGINT) AS kept
  FROM framed WHERE widget_type = '{SMOOTHABLE_WIDGET}' AND max_size >= 1  -- none: no sample
), moments AS (
  SELECT *, len(kept) AS n,
         list_aggregate(list_transform(kept, lambda x: x.v), 'fsum') / len(kept) AS mean_value,
         list_aggregate(list_transform(kept, lambda x: (x.t - taken_s) / 86400.0), 'fsum')
           / len(kept) AS mean_day,
         list_aggregate(list_transform(kept, lambda x: x.v), 'quantile_cont', [0.25, 0.75])
           AS quartiles
  FROM samples
), fences AS (
  SELECT *, quartiles[1] - 1.5 * (quartiles[2] - quartiles[1]) AS low,
         quartiles[2] + 1.5 * (quartiles[2] - quartiles[1]) AS high
  FROM moments
), fits AS (
  SELECT *,
         list_aggregate(list_filter(list_transform(kept, lambda x: x.v),
                                    lambda v: v BETWEEN low AND high), 'fsum')
           / len(list_filter(kept, lambda x: x.v BETWEEN low AND high)) AS trimmed,
         list_aggregate(list_transform(kept, lambda x: ((x.t - taken_s) / 86400.0 - mean_day)
                                                       * ((x.t - taken_s) / 86400.0 - mean_day)),
                        'fsum') AS spread,
         list_aggregate(list_transform(kept, lambda x: ((x.t - taken_s) / 86400.0 - mean_day)
                                                       * (x.v - mean_value)),
                        'fsum') AS covariation
  FROM fences
)
SELECT image_id, subject_id, subject_key, session_key, side, captured_at,
       algorithm_family, algorithm, value, CAST(n AS INTEGER) AS sample_size,
       mean_value AS mean, trimmed AS mean_without_outliers,
       CASE WHEN n < 2 OR spread = 0 THEN mean_value
            ELSE mean_value + covariation / spread * (0.0 - mean_day)
       END AS linear_approximation,
       CAST(window_days AS INTEGER) AS window_days, CAST(max_size AS INTEGER) AS max_size
FROM fits
"""  # noqa: S608 (our own constants)

_SMOOTHING_SQL = """
CREATE OR REPLACE MACRO smoothing_for(key, method := 'mean', window_days := 14, max_size := 10)
AS TABLE
WITH smoothed AS (
  SELECT * EXCLUDE (mean, mean_without_outliers, linear_approximation, window_days, max_size),
    CASE method
      WHEN 'mean' THEN mean
      WHEN 'mean_without_outliers' THEN mean_without_outliers
      WHEN 'linear_approximation' THEN linear_approximation
      ELSE CAST(error('no smoothing method ' || method || '; choose one of: mean, '
                      || 'mean_without_outliers, linear_approximation') AS DOUBLE)
    END AS smoothed
  FROM smoothing_all(key, window_days, max_size)
)
SELECT image_id, subject_id, subject_key, session_key, side, captured_at, algorithm_family,
       algorithm, value, smoothed, round_half_up(smoothed) AS rounded,
       sample_size, CAST(method AS VARCHAR) AS method, CAST(window_days AS INTEGER) AS window_days,
       CAST(max_size AS INTEGER) AS max_size
FROM smoothed
"""

# A pull repeated after the API's answer changed (fewer families, or [] once a result was
# withdrawn) leaves the older rows under their own ids: only the newest fetch of each image and
# setting is the API's current answer.
_LATEST_SQL = f"""
CREATE OR REPLACE VIEW {SMOOTHED_LATEST} AS
FROM smoothed_results
QUALIFY fetched_at = max(fetched_at) OVER (PARTITION BY image_id, method, window_days, max_size)
"""

SMOOTHING_MACROS_SQL = (
    # The API rounds smoothed values to the nearest integer, halves up (70.5 -> 71): SQL's
    # round() would too, but says so nowhere; one definition for the macros and the compare.
    "CREATE OR REPLACE MACRO round_half_up(x) AS CAST(floor(x + 0.5) AS BIGINT)",
    _POINTS_SQL,
    _POINTS_VIEW_SQL,
    _SAMPLE_SQL,
    _SMOOTHING_ALL_SQL,
    _SMOOTHING_SQL,
    "CREATE OR REPLACE MACRO smoothed_scores(method := 'mean', window_days := 14, "
    "max_size := 10) AS TABLE FROM smoothing_for(NULL, method, window_days, max_size) "
    "ORDER BY subject_key, captured_at, side, algorithm_family",
    "CREATE OR REPLACE MACRO subject_smoothing(key, method := 'mean', window_days := 14, "
    "max_size := 10) AS TABLE FROM smoothing_for(key, method, window_days, max_size) "
    "ORDER BY captured_at, side, algorithm_family",
    _LATEST_SQL,
)
"""The smoothing views and macros; ``rounded`` is ``smoothed`` rounded half up, as the API does.
``smoothing_all`` gives the three methods' unrounded values as columns in one pass."""


def view_statements(
    locations: dict[str, str | None], layouts: Mapping[str, FileLayout] | None = None
) -> list[str]:
    """Every statement that sets up the views: table name -> its folder (None when empty), and
    what its files hold (``mixed`` unless said)."""
    statements = [
        table_view_sql(spec, locations.get(name), (layouts or {}).get(name, "mixed"))
        for name, spec in TABLES.items()
    ]
    return [*statements, *wide_view_sql(), *MACROS_SQL, *SMOOTHING_MACROS_SQL]
