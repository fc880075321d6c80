"""The smoothed_results table: rows of the API's answer, stable ids, the empty answer's marker."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from schemas.api_results import SmoothedValue
from tasks.lake import create_views
from tasks.smoothing.rows import smoothed_rows
from tests.smoothing.support import T0, Shot, tiny_lake
from tests.tasks.lake_support import FIXTURES, uploaded_image


def captured_values() -> list[SmoothedValue]:
    items = json.loads((FIXTURES / "fsm2_smoothed_results.json").read_text())
    return [SmoothedValue.model_validate(item) for item in items]


def test_one_row_per_family_with_the_settings_and_the_image_context() -> None:
    image = uploaded_image()
    rows = smoothed_rows(
        image, captured_values(), method="mean", window_days=14, max_size=10, run_id="r"
    )
    table = rows.tables()["smoothed_results"].to_pylist()
    assert len(table) == 12
    redness = next(row for row in table if row["algorithm"] == "redness")
    assert redness["algorithm_family"] == "selfie_v2.redness"
    assert redness["algorithm_name"] == "Redness"
    assert (redness["value"], redness["values_returned"]) == (70.0, 12)
    assert (redness["method"], redness["window_days"], redness["max_size"]) == ("mean", 14, 10)
    assert (redness["image_id"], redness["subject_key"]) == (image.image_id, "alice")
    assert redness["capture_month"] == "2026-01"


def test_ids_are_stable_and_differ_by_setting() -> None:
    image = uploaded_image()

    def ids(window_days: int, max_size: int) -> set[str]:
        rows = smoothed_rows(
            image,
            captured_values(),
            method="mean",
            run_id="r",
            window_days=window_days,
            max_size=max_size,
        )
        return set(rows.rows["smoothed_results"])

    assert ids(window_days=14, max_size=10) == ids(window_days=14, max_size=10)
    assert ids(window_days=14, max_size=10).isdisjoint(ids(window_days=7, max_size=10))


def test_an_empty_answer_leaves_a_marker_so_pulled_differs_from_never_pulled() -> None:
    rows = smoothed_rows(
        uploaded_image(), [], method="mean", window_days=14, max_size=10, run_id="r"
    )
    (marker,) = rows.tables()["smoothed_results"].to_pylist()
    assert marker["algorithm_family"] is None
    assert marker["value"] is None
    assert marker["values_returned"] == 0


def test_the_views_file_has_the_smoothing_macros_for_the_duckdb_shell(tmp_path: Path) -> None:
    tiny_lake(tmp_path / "lake", [Shot("d0", T0, 70), Shot("d1", T0.replace(day=1), 60)])
    path = create_views(str(tmp_path / "lake"), tmp_path / "lake.duckdb")
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        "SELECT session_key, rounded FROM subject_smoothing('alice', 'mean', 14, 10) "
        "WHERE algorithm = 'redness'"
    ).fetchall()
    assert rows == [("d1", 60), ("d0", 65)]
