"""DuckDB over the lake: deduplicated views, the wide view, the skin diary, the .duckdb file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.captures import Side
from schemas.lake import TABLES
from schemas.views import FACE_FAMILIES
from tasks.lake import (
    Lake,
    LakeRows,
    connect,
    create_views,
    flatten_image,
    format_history,
    subject_history,
)
from tests.tasks.lake_support import capture_rows, emulated_payload, uploaded_image

SESSIONS = (  # alice: three sessions over five weeks, the middle one a triple
    ("2026-01-05", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    ("2026-01-19", datetime(2026, 1, 19, 9, tzinfo=UTC)),
    ("2026-02-09", datetime(2026, 2, 9, 9, tzinfo=UTC)),
)


def diary_rows() -> LakeRows:
    rows = LakeRows()
    for session, when in SESSIONS:
        sides = (Side.FRONT, Side.RIGHT, Side.LEFT) if session == "2026-01-19" else (Side.FRONT,)
        for side in sides:
            image = uploaded_image(session_key=session, side=side, captured_at=when)
            rows.extend(
                flatten_image(
                    image, capture_rows(image.image_id), [], run_id="r1", status="complete"
                )
            )
    bob = uploaded_image(subject_key="bob", session_key="s1")
    no_face = emulated_payload(bob.image_id, face=False)
    rows.extend(flatten_image(bob, no_face.rows, no_face.aux, run_id="r1", status="complete"))
    return rows


@pytest.fixture(scope="module")
def lake_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(tmp_path_factory.mktemp("query") / "lake")
    rows = diary_rows()
    Lake(url).write(rows, run_id="r1")
    Lake(url).write(rows, run_id="r2")  # a rerun writes every row again
    return url


def count(url: str, table: str) -> int:
    ((n,),) = connect(url).execute(f"SELECT count(*) FROM {table}").fetchall()  # noqa: S608
    return int(n)


def test_views_show_each_row_once_after_a_rerun(lake_url: str) -> None:
    assert len(Lake(lake_url).files("metrics")) == 2  # the second write merged into each month
    assert count(lake_url, "images") == 6
    assert count(lake_url, "metrics") == 5 * 183 + 1 * 6  # bob: face detector debug only
    assert count(lake_url, "results") == 5 * 17 + 18
    assert count(lake_url, "subjects") == 2
    assert count(lake_url, "batches") == 4


def test_the_newest_version_of_a_row_wins(tmp_path: Path) -> None:
    url = str(tmp_path / "lake")
    image = uploaded_image()
    for status in ("pending", "complete"):
        Lake(url).write(
            flatten_image(image, capture_rows(image.image_id), [], run_id=status, status=status),
            run_id=status,
        )
    rows = connect(url).execute("SELECT status, run_id FROM images").fetchall()
    assert rows == [("complete", "complete")]


def test_an_empty_lake_has_typed_empty_views(tmp_path: Path) -> None:
    con = connect(str(tmp_path / "nothing-yet"))
    for name, spec in TABLES.items():
        columns = [row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()]
        assert sorted(columns) == sorted(spec.schema.names)
        assert con.execute(f"SELECT count(*) FROM {name}").fetchall() == [(0,)]  # noqa: S608
    assert con.execute("SELECT count(*) FROM image_metrics_wide").fetchall() == [(0,)]


def test_wide_view_has_one_row_per_image_with_family_columns(lake_url: str) -> None:
    con = connect(lake_url)
    wide = con.execute(
        "SELECT subject_key, side, redness, acne, hydration, age FROM image_metrics_wide "
        "ORDER BY subject_key, captured_at, side"
    ).fetchall()
    assert len(wide) == 6
    assert wide[0] == ("alice", "front", 70.0, 99.0, 75.0, 42.0)
    assert wide[-1] == ("bob", "front", None, None, None, None)  # no face: the image, no scores


def test_files_from_an_older_schema_still_read(tmp_path: Path) -> None:
    url = str(tmp_path / "lake")
    lake = Lake(url)
    lake.write(
        flatten_image(uploaded_image(), capture_rows(), [], run_id="r", status="complete"),
        run_id="r",
    )
    (path,) = lake.files("images")
    pq.write_table(pq.read_table(path).drop_columns(["aux_images_count"]), path)
    rows = connect(url).execute("SELECT count(*), count(aux_images_count) FROM images").fetchall()
    assert rows == [(1, 0)]
    later = uploaded_image(session_key="2026-01-19", captured_at=datetime(2026, 1, 19, tzinfo=UTC))
    lake.write(
        flatten_image(later, capture_rows(later.image_id), [], run_id="s", status="complete"),
        run_id="s",
    )
    (merged,) = lake.files("images")  # the old file and the new rows, in one file
    assert "aux_images_count" in pq.read_schema(merged).names
    rows = connect(url).execute("SELECT count(*), count(aux_images_count) FROM images").fetchall()
    assert rows == [(2, 1)]


def test_subject_history_is_one_row_per_session(lake_url: str) -> None:
    con = connect(lake_url)
    history = subject_history(con, "alice")
    assert list(history["session_key"]) == [s for s, _ in SESSIONS]
    assert list(history["date"].astype(str)) == ["2026-01-05", "2026-01-19", "2026-02-09"]
    assert list(history["redness"]) == [70.0] * 3
    assert set(FACE_FAMILIES) <= set(history.columns)
    window = subject_history(con, "alice", since=date(2026, 1, 6), until=date(2026, 1, 31))
    assert list(window["session_key"]) == ["2026-01-19"]
    assert subject_history(con, "nobody").empty


def test_format_history_prints_a_readable_diary(lake_url: str) -> None:
    con = connect(lake_url)
    text = format_history(subject_history(con, "alice"), "alice")
    assert "Skin diary of alice (3 sessions)" in text
    assert "2026-02-09" in text
    assert "redness" in text
    assert " 70 " in text
    bob = format_history(subject_history(con, "bob"), "bob")
    assert "redness" not in bob  # never measured: left out, not a column of dashes
    assert "No captures" in format_history(subject_history(con, "nobody"), "nobody")


def test_created_database_file_opens_fresh_with_the_views(lake_url: str, tmp_path: Path) -> None:
    database = create_views(lake_url, tmp_path / "lake.duckdb")
    assert database.is_absolute()
    assert database.exists()
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(con.execute('SELECT count(*) FROM metrics').fetchall()[0][0])\n"
        "print(con.execute(\"SELECT count(*) FROM subject_diary('alice')\").fetchall()[0][0])\n"
        "acne = \"SELECT count(*) FROM metric_series('alice', 'acne')\"\n"
        "print(con.execute(acne).fetchall()[0][0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(database)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=60,
    ).stdout.split()
    assert out == [str(5 * 183 + 6), "3", "5"]


def test_explicit_types_survive_to_the_view(lake_url: str) -> None:
    con = connect(lake_url)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE masks)").fetchall())
    assert types["coordinates_json"] == "VARCHAR"  # all null, still text
    assert types["feature_count"] == "INTEGER"
    table = con.sql("SELECT * FROM results LIMIT 1").to_arrow_table()
    assert table.schema.field("is_ok").type == pa.bool_()


def test_files_that_predate_a_column_still_give_the_view_every_column(
    lake_url: str, tmp_path: Path
) -> None:
    # The same lake as an older hautflow would have left it: every metrics file without
    # value_text (no file has the column yet), one results file without error (the others
    # have it), the images files as they are.
    old = tmp_path / "lake"
    result_files = sorted(Path(lake_url, "results").rglob("*.parquet"))
    assert len(result_files) >= 2
    for table in ("images", "metrics", "results"):
        for path in Path(lake_url, table).rglob("*.parquet"):
            target = old / path.relative_to(lake_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = pq.read_table(path, partitioning=None)
            if table == "metrics":
                data = data.drop_columns(["value_text"])
            if path == result_files[0]:
                data = data.drop_columns(["error"])
            pq.write_table(data, target)

    con = connect(str(old))
    try:
        views = dict(
            con.execute(
                "SELECT view_name, sql FROM duckdb_views() "
                "WHERE view_name IN ('images', 'metrics', 'results')"
            ).fetchall()
        )
        new = connect(lake_url)
        try:
            for table in ("images", "metrics", "results"):
                assert sorted(con.table(table).columns) == sorted(new.table(table).columns)
                id_column = TABLES[table].id_column
                counts = f"SELECT count(*), count(DISTINCT {id_column}) FROM {table}"  # noqa: S608
                assert con.execute(counts).fetchall() == new.execute(counts).fetchall(), table
        finally:
            new.close()
        assert con.execute("SELECT count(value_text) FROM metrics").fetchall() == [(0,)]
    finally:
        con.close()
    # No file has the column: joined by name with the typed empty rows.
    assert "UNION ALL BY NAME" in views["metrics"]
    # Some files lack it: read by name, no typed empty rows needed.
    assert "union_by_name = true" in views["results"]
    assert "UNION ALL BY NAME" not in views["results"]
    # Every file the same: the plain scan, whose count(*) comes from the footers.
    assert "union_by_name = false" in views["images"]
    assert "UNION ALL BY NAME" not in views["images"]
