"""Local smoothing by the lake's DuckDB macros, against the real capture and hand-computed cases.

Every expected number below is worked out by hand in the comment beside it (reference §13.12),
not by calling the emulator's code.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from haut.emulator.catalog import SMOOTHED_RESULTS_ORDER
from schemas.captures import Side
from tasks.lake import Lake, connect, flatten_image
from tasks.smoothing.local import LOCAL_COLUMNS, local_smoothed
from tests.smoothing.support import DAY, T0, Shot, captured_rows, tiny_lake
from tests.tasks.lake_support import FIXTURES, emulated_payload, uploaded_image

METHODS = ("mean", "mean_without_outliers", "linear_approximation")


def redness(
    con: duckdb.DuckDBPyConnection,
    method: str = "mean",
    *,
    window_days: int = 14,
    max_size: int = 10,
) -> dict[str, tuple[float, int]]:
    """session/side -> (smoothed redness, sample size)."""
    frame = local_smoothed(con, method=method, window_days=window_days, max_size=max_size)
    frame = frame[frame.algorithm == "redness"]
    return {
        f"{row.session_key}/{row.side}": (row.smoothed, row.sample_size)
        for row in frame.itertuples()
    }


@pytest.mark.parametrize("method", METHODS)
def test_one_image_smooths_to_its_own_scores_as_in_the_real_capture(
    tmp_path: Path, method: str
) -> None:
    image = uploaded_image()
    Lake(str(tmp_path)).write(
        flatten_image(image, captured_rows(image.image_id), [], run_id="t", status="complete"),
        run_id="t",
    )
    frame = local_smoothed(connect(str(tmp_path)), method=method)
    assert list(frame.columns) == list(LOCAL_COLUMNS)
    captured = json.loads((FIXTURES / "fsm2_smoothed_results.json").read_text())
    api = {item["algorithm_tech_name"]: item["value"] for item in captured}
    local = dict(zip(frame.algorithm_family, frame.smoothed, strict=True))
    assert local == api  # the same 12 families (widget bad_good_line), the same values
    assert set(local) == set(SMOOTHED_RESULTS_ORDER)
    assert (frame.smoothed == frame.value).all()
    assert set(frame.sample_size) == {1}


def test_an_image_without_a_face_has_no_smoothed_scores(tmp_path: Path) -> None:
    image = uploaded_image()
    payload = emulated_payload(image.image_id, face=False)
    rows = flatten_image(image, payload.rows, payload.aux, run_id="t", status="complete")
    Lake(str(tmp_path)).write(rows, run_id="t")
    assert local_smoothed(connect(str(tmp_path))).empty


def test_outliers_are_outside_tukeys_fences_on_linearly_interpolated_quartiles(
    tmp_path: Path,
) -> None:
    # 10, 20, 30, 100: Q1 at position 3 x 0.25 = 0.75 -> 10 + 0.75 x 10 = 17.5, Q3 at 2.25 ->
    # 30 + 0.25 x 70 = 47.5; IQR 30, fences [-27.5, 92.5]: 100 goes, mean(10, 20, 30) = 20.
    # (Quartiles at (n + 1)p would be 12.5 and 82.5 and keep 100: 40.)
    shots = [Shot(f"d{n}", T0 - n * DAY, value) for n, value in enumerate((10, 20, 30, 100))]
    con = tiny_lake(tmp_path, shots)
    assert redness(con, "mean_without_outliers")["d0/front"] == (20.0, 4)
    assert redness(con, "mean")["d0/front"] == (40.0, 4)  # 160 / 4


def test_a_value_on_a_fence_is_kept(tmp_path: Path) -> None:
    # 2, 4, 6, 8, 14: Q1 = 4 (position 1), Q3 = 8 (position 3), IQR 4, upper fence 8 + 6 = 14:
    # 14 stays, mean 34 / 5 = 6.8 (5.0 if the fence were exclusive).
    shots = [Shot(f"d{n}", T0 - n * DAY, value) for n, value in enumerate((2, 4, 6, 8, 14))]
    con = tiny_lake(tmp_path, shots)
    assert redness(con, "mean_without_outliers")["d0/front"] == (pytest.approx(6.8), 5)


def test_linear_approximation_reads_the_least_squares_line_at_the_images_time(
    tmp_path: Path,
) -> None:
    # (day, value): (0, 70), (-7, 61), (-14, 56). Means: day -7, value 187/3. Deviations of day
    # 7, 0, -7; of value 23/3, -4/3, -19/3. Slope = (7 x 23/3 + 7 x 19/3) / 98 = 98 / 98 = 1;
    # read at day 0: 187/3 + 1 x 7 = 208/3 = 69.33 (the mean would be 62.33).
    shots = [Shot("d0", T0, 70), Shot("d7", T0 - 7 * DAY, 61), Shot("d14", T0 - 14 * DAY, 56)]
    con = tiny_lake(tmp_path, shots)
    assert redness(con, "linear_approximation")["d0/front"] == (pytest.approx(208 / 3), 3)
    assert redness(con, "mean")["d0/front"] == (pytest.approx(187 / 3), 3)
    # one point: the line is its own value; two: the line through both, read at the newer one
    assert redness(con, "linear_approximation")["d14/front"] == (56.0, 1)
    assert redness(con, "linear_approximation")["d7/front"] == (pytest.approx(61.0), 2)


def test_rounding_is_half_up_as_the_api_does(tmp_path: Path) -> None:
    con = tiny_lake(tmp_path, [Shot("d0", T0, 71), Shot("d1", T0 - DAY, 70)])
    (rounded,) = (
        con.execute(
            "SELECT rounded FROM subject_smoothing('alice', 'mean', 14, 10) "
            "WHERE algorithm = 'redness' AND session_key = 'd0'"
        ).fetchone()
        or ()
    )
    assert rounded == 71  # 70.5 up (Python's round would say 70)


def test_the_window_counts_whole_seconds_as_the_api_keeps_them(tmp_path: Path) -> None:
    # The API keeps creation_time to the second: 14 days and 0.8 s back is exactly 14 days
    # there (inside the window, edges included); 14 days and 1.9 s back is outside.
    target = T0 + 14 * DAY + timedelta(milliseconds=900)
    shots = [
        Shot("target", target, 70),
        Shot("edge", T0 + timedelta(milliseconds=100), 60),
        Shot("before", T0 - timedelta(seconds=1), 0),
    ]
    con = tiny_lake(tmp_path, shots)
    assert redness(con, window_days=14)["target/front"] == (65.0, 2)
    assert redness(con, window_days=13)["target/front"] == (70.0, 1)
    assert redness(con, window_days=15)["target/front"] == (pytest.approx(130 / 3), 3)


def test_the_sample_holds_at_most_max_size_images_the_newest_first(tmp_path: Path) -> None:
    shots = [Shot(f"d{n}", T0 - n * DAY, 70 - 10 * n) for n in range(5)]  # 70, 60, ..., 30
    con = tiny_lake(tmp_path, shots)
    assert redness(con, max_size=3)["d0/front"] == (60.0, 3)  # 70, 60, 50
    assert redness(con, max_size=1)["d0/front"] == (70.0, 1)
    assert redness(con, max_size=10)["d0/front"] == (50.0, 5)


def test_images_without_a_face_take_no_place_in_the_sample(tmp_path: Path) -> None:
    shots = [Shot("d0", T0, 70), Shot("d2", T0 - 2 * DAY, 50)]
    con = tiny_lake(tmp_path / "lake", shots)
    no_face = uploaded_image("alice", "d1", Side.FRONT, T0 - DAY)
    payload = emulated_payload(no_face.image_id, face=False)
    rows = flatten_image(no_face, payload.rows, payload.aux, run_id="t", status="complete")
    Lake(str(tmp_path / "lake")).write(rows, run_id="t")
    con = connect(str(tmp_path / "lake"))
    assert redness(con, max_size=2)["d0/front"] == (60.0, 2)


def test_each_side_smooths_over_the_same_side_only(tmp_path: Path) -> None:
    triples = {"d7": (T0 - 7 * DAY, (50, 10, 20)), "d0": (T0, (70, 30, 40))}
    shots = [
        Shot(session, when, value, side=side)
        for session, (when, values) in triples.items()
        for side, value in zip((Side.FRONT, Side.RIGHT, Side.LEFT), values, strict=True)
    ]
    smoothed = redness(tiny_lake(tmp_path, shots))
    assert smoothed == {
        "d7/front": (50.0, 1),
        "d7/right": (10.0, 1),
        "d7/left": (20.0, 1),
        "d0/front": (60.0, 2),  # (70 + 50) / 2
        "d0/right": (20.0, 2),  # (30 + 10) / 2
        "d0/left": (30.0, 2),  # (40 + 20) / 2
    }


@pytest.mark.parametrize("method", METHODS)
def test_ties_in_time_go_by_upload_order(tmp_path: Path, method: str) -> None:
    # Two fronts taken at the same second: the later upload smooths over both, the earlier
    # over itself. One distinct time: the line is the mean.
    shots = [
        Shot("first", T0, 70, uploaded_after=timedelta(minutes=1)),
        Shot("second", T0, 80, uploaded_after=timedelta(minutes=2)),
    ]
    smoothed = redness(tiny_lake(tmp_path, shots), method)
    assert smoothed == {"first/front": (70.0, 1), "second/front": (75.0, 2)}


def test_an_unknown_method_names_the_choices(tmp_path: Path) -> None:
    con = tiny_lake(tmp_path, [Shot("d0", T0, 70)])
    with pytest.raises(ValueError, match="mean_without_outliers"):
        local_smoothed(con, method="median")
    with pytest.raises(Exception, match="choose one of"):
        con.execute("FROM smoothed_scores('median')").fetchall()


def test_subjects_are_smoothed_apart(tmp_path: Path) -> None:
    shots = [Shot("d0", T0, 70), Shot("d1", T0 - DAY, 50, subject="bob")]
    con = tiny_lake(tmp_path, shots)
    frame = local_smoothed(con, subject_key="alice")
    assert set(frame.subject_key) == {"alice"}
    assert redness(con)["d0/front"] == (70.0, 1)


def test_an_image_whose_family_failed_still_takes_its_place_in_the_sample(tmp_path: Path) -> None:
    # d1's redness row is not ok (its 10 is no point), but d1 has other face scores: it is a
    # sample point, so with at most 2 images d0's sample is d0 and d1 -> redness 70 alone.
    shots = [
        Shot("d0", T0, 70),
        Shot("d1", T0 - DAY, 10, failed=("redness",)),
        Shot("d2", T0 - 2 * DAY, 50),
    ]
    con = tiny_lake(tmp_path, shots)
    assert redness(con, max_size=2)["d0/front"] == (70.0, 1)
    assert redness(con, max_size=3)["d0/front"] == (60.0, 2)  # (70 + 50) / 2
    assert "d1/front" not in redness(con)  # the image lists no redness of its own
    acne = local_smoothed(con, max_size=2)
    assert set(acne[acne.algorithm == "acne"].sample_size) == {1, 2}


def test_the_same_subject_key_in_two_datasets_is_two_subjects(tmp_path: Path) -> None:
    # Two API subjects named alice: each smooths over its own images only.
    shots = [Shot("d0", T0, 70), Shot("d1", T0 - DAY, 50, dataset="other")]
    con = tiny_lake(tmp_path, shots)
    assert redness(con) == {"d0/front": (70.0, 1), "d1/front": (50.0, 1)}
    frame = local_smoothed(con, subject_key="alice")
    assert frame.subject_id.nunique() == 2
