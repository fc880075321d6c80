"""Local smoothing against the API's: every image, family and setting, side by side, in DuckDB.

The API's rows go into a DuckDB table as they are pulled (chunk by chunk, Arrow in), and one
FULL JOIN per window and sample size sets them beside the lake's own smoothing
(``smoothing_all``: the three methods in one pass, rounded half up by the views' own
``round_half_up`` macro as the API rounds): no image x setting x family is held as Python
objects, so a comparison of a large lake costs DuckDB memory, not Python's. Any difference,
and any family one side has and the other lacks, is a disagreement. On the emulator they agree
for every image and method: a disagreement means the lake and the API no longer hold the same
scores (an image analysed again, results missing from the lake), or the two implementations of
§13.12 have drifted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.smoothing.rows import TABLE
from tasks.smoothing.settings import Smoothing, SmoothingMethod

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from tasks.lake.rows import LakeRows

API_TABLE = "api_smoothed"
"""The session's temporary table of the API's answers."""

_API_COLUMNS = (
    "image_id",
    "subject_key",
    "session_key",
    "side",
    "algorithm_family",
    "method",
    "window_days",
    "max_size",
    "value",
)

_CREATE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {API_TABLE} (
  image_id VARCHAR, subject_key VARCHAR, session_key VARCHAR, side VARCHAR,
  algorithm_family VARCHAR, method VARCHAR, window_days INTEGER, max_size INTEGER, value DOUBLE)
"""

_INSERT_SQL = (
    f"INSERT INTO {API_TABLE} ({', '.join(_API_COLUMNS)}) "  # noqa: S608 (our own constants)
    f"SELECT {', '.join(_API_COLUMNS)} FROM api_chunk"
)
_IMAGES_SQL = f"SELECT count(DISTINCT image_id) FROM {API_TABLE}"  # noqa: S608

# One window and sample size: the images the API answered (a marker row of an empty answer
# included) with the methods asked, the API's values and the local ones, matched by family.
_COMPARE_SQL = f"""
WITH asked AS (
  SELECT DISTINCT image_id, subject_key, session_key, side, method FROM {API_TABLE}
  WHERE window_days = $window_days AND max_size = $max_size
    AND ($subject IS NULL OR subject_key = $subject)
), api AS (
  SELECT image_id, method, algorithm_family, value FROM {API_TABLE}
  WHERE window_days = $window_days AND max_size = $max_size AND algorithm_family IS NOT NULL
    AND ($subject IS NULL OR subject_key = $subject)
), wide AS (
  SELECT image_id, algorithm_family, mean, mean_without_outliers, linear_approximation
  FROM smoothing_all($subject, $window_days, $max_size)
), local AS (
  SELECT image_id, method, algorithm_family, round_half_up(smoothed) AS rounded
  FROM (UNPIVOT wide ON mean, mean_without_outliers, linear_approximation
        INTO NAME method VALUE smoothed)
  SEMI JOIN asked USING (image_id, method)
), paired AS (
  SELECT image_id, method, algorithm_family, l.rounded AS local, a.value AS api
  FROM api AS a FULL JOIN local AS l USING (image_id, method, algorithm_family)
)
SELECT image_id, k.subject_key, k.session_key, k.side, p.algorithm_family, method, p.local,
       p.api, p.local IS NOT DISTINCT FROM p.api AS agree
FROM paired AS p JOIN asked AS k USING (image_id, method)
"""  # noqa: S608 (our own constants; the values are bound parameters)

COMPARED_TABLE = "compared_smoothing"
"""The session's temporary table of one window and size's pairs: counted, then listed."""

_SUMMARY_SQL = f"SELECT count(*), count(*) FILTER (WHERE NOT agree) FROM {COMPARED_TABLE}"  # noqa: S608

_DISAGREEMENTS_SQL = f"""
SELECT image_id, subject_key, session_key, side, algorithm_family, method, local, api
FROM {COMPARED_TABLE} WHERE NOT agree
ORDER BY subject_key, session_key, side, image_id, method, algorithm_family
"""  # noqa: S608 (our own constants)


@dataclass(frozen=True)
class Disagreement:
    """One image x family x setting where local and API smoothing differ (None: absent)."""

    image_id: str
    subject_key: str
    session_key: str
    side: str
    algorithm: str
    setting: Smoothing
    local: int | None
    api: float | None

    def describe(self) -> str:
        local = "-" if self.local is None else str(self.local)
        api = "-" if self.api is None else f"{self.api:g}"
        return (
            f"{self.image_id}  {self.subject_key}/{self.session_key} {self.side:<5}  "
            f"{self.algorithm:<12} {self.setting.method.value:<21}  local {local:>4}  api {api:>4}"
        )


@dataclass
class Comparison:
    """The outcome of comparing local and API smoothing over a set of images."""

    settings: Sequence[Smoothing]
    images: int = 0
    values: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Images the API did not know (404): not compared."""

    @property
    def agree(self) -> bool:
        return not self.disagreements

    def verdict(self) -> str:
        """One line: agreement, or how many values disagree."""
        methods = ", ".join(dict.fromkeys(s.method.value for s in self.settings))
        windows = "; ".join(
            dict.fromkeys(f"{s.window_days} days, at most {s.max_size}" for s in self.settings)
        )
        scope = f"{self.values} values of {self.images} images ({methods}; {windows})"
        skipped = f"; {len(self.missing)} images unknown to the API" if self.missing else ""
        if self.agree:
            return f"Local and API smoothing agree on all {scope}{skipped}."
        return f"{len(self.disagreements)} disagreements among {scope}{skipped}."


class ApiAnswers:
    """The API's smoothed rows of a comparison, kept in a DuckDB temporary table.

    :meth:`add` takes one pulled chunk at a time (its Arrow table goes straight in), so the
    Python side never holds more than a chunk.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        con.execute(_CREATE_SQL)
        self.missing: set[str] = set()

    def add(self, rows: LakeRows, missing: Iterable[str] = ()) -> None:
        """One chunk's rows (``smoothed_results`` of :func:`~tasks.smoothing.rows.smoothed_rows`)
        and the images the API answered 404 for."""
        self.missing.update(missing)
        tables = rows.tables()
        if TABLE not in tables:
            return
        chunk: pa.Table = tables[TABLE].select(list(_API_COLUMNS))
        self._con.register("api_chunk", chunk)
        try:
            self._con.execute(_INSERT_SQL)
        finally:
            self._con.unregister("api_chunk")

    def images(self) -> int:
        """How many images the API answered (under any setting)."""
        (count,) = self._con.execute(_IMAGES_SQL).fetchone() or (0,)
        return int(count)


def compare(
    con: duckdb.DuckDBPyConnection,
    answers: ApiAnswers,
    settings: Sequence[Smoothing],
    *,
    subjects: Sequence[str] | None = None,
) -> Comparison:
    """Compare the API's answers with the lake's own smoothing, on ``con`` (the lake's views).

    Only images the API was asked about are compared (every image in ``answers``, the marker
    rows of images it smoothed to nothing included), under the settings they were asked with.
    """
    result = Comparison(settings=settings, missing=sorted(answers.missing))
    result.images = answers.images()
    for window_days, max_size in dict.fromkeys((s.window_days, s.max_size) for s in settings):
        for subject in list(subjects) if subjects else [None]:
            params = {"window_days": window_days, "max_size": max_size, "subject": subject}
            con.execute(f"CREATE OR REPLACE TEMP TABLE {COMPARED_TABLE} AS {_COMPARE_SQL}", params)
            values, _ = con.execute(_SUMMARY_SQL).fetchone() or (0, 0)
            result.values += int(values)
            cursor = con.execute(_DISAGREEMENTS_SQL)
            while batch := cursor.fetchmany(10_000):
                result.disagreements.extend(
                    _disagreement(row, window_days, max_size) for row in batch
                )
    con.execute(f"DROP TABLE IF EXISTS {COMPARED_TABLE}")
    return result


def _disagreement(row: tuple[Any, ...], window_days: int, max_size: int) -> Disagreement:
    image_id, subject_key, session_key, side, family, method, local, api = row
    return Disagreement(
        image_id=image_id,
        subject_key=subject_key,
        session_key=session_key,
        side=side,
        algorithm=str(family or "").rsplit(".", 1)[-1],
        setting=Smoothing(SmoothingMethod(method), window_days, max_size),
        local=None if local is None else int(local),
        api=None if api is None else float(api),
    )
