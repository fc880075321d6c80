"""One subject's question reads one subject's rows: the subject filter reaches every Parquet
scan below the views' newest-row window, so a diary or a smoothing of one person costs that
person's rows, not the whole lake's (on a lake of 16,666 photos: 8x faster, a fifth of the
memory). Checked on DuckDB's own plan, so it fails if a view change stops the pushdown."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import duckdb
import pytest

from tests.smoothing.support import Shot, tiny_lake

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    shots = [Shot("s1", T, 40, subject="amy"), Shot("s1", T, 60, subject="ben")]
    return tiny_lake(tmp_path_factory.mktemp("lake") / "lake", shots, families=["redness"])


def _scans(con: duckdb.DuckDBPyConnection, query: str) -> tuple[int, int]:
    """(Parquet scans in the plan, those filtered on subject_key = 'amy')."""
    con.execute("SET explain_output = 'physical_only'")
    plan = "\n".join(row[1] for row in con.execute("EXPLAIN " + query).fetchall())
    scans = plan.count("READ_PARQUET")
    filtered = len(re.findall(r"Filters:\s+subject_key\s*=\s*'amy'", plan))
    return scans, filtered


@pytest.mark.parametrize(
    "query",
    [
        "FROM smoothing_points_of('amy')",
        "FROM image_metrics_wide_of('amy')",
        "FROM subject_diary('amy')",
        "FROM subject_smoothing('amy', 'mean', 14, 10)",
        "SELECT * FROM metrics WHERE subject_key = 'amy'",
    ],
)
def test_every_scan_of_a_subject_query_is_filtered_on_the_subject(
    con: duckdb.DuckDBPyConnection, query: str
) -> None:
    scans, filtered = _scans(con, query)
    assert scans >= 1
    assert filtered == scans


def test_the_answers_are_those_of_one_subject(con: duckdb.DuckDBPyConnection) -> None:
    amy = con.execute("SELECT DISTINCT subject_key FROM smoothing_points_of('amy')").fetchall()
    everyone = con.execute("SELECT count(DISTINCT subject_key) FROM smoothing_points").fetchall()
    assert amy == [("amy",)]
    assert everyone == [(2,)]
    wide = con.execute("SELECT subject_key, redness FROM image_metrics_wide_of('ben')").fetchall()
    assert wide == [("ben", 60)]
    assert con.execute("SELECT count(*) FROM image_metrics_wide").fetchall() == [(2,)]
