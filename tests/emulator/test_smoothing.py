"""smoothed_results as reference §13.12 defines it, checked by hand-computed cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from haut.emulator.analysis import face_main_value
from haut.emulator.smoothing import (
    ScoredImage,
    SmoothingMethod,
    linear_approximation,
    mean_without_outliers,
    round_half_up,
    select_sample,
    smoothed_results,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
TARGET = datetime(2024, 5, 20, 12, 0, 0)
REDNESS = "selfie_v2.redness"


def days_before(days: float) -> datetime:
    return TARGET - timedelta(days=days)


def scored(days: float, values: dict[str, float], *, side: str = "front") -> ScoredImage:
    """An image taken ``days`` before the target (id "d<days>-<side>")."""
    return ScoredImage(f"d{days}-{side}", days_before(days), values, side)


def redness(history: Sequence[tuple[float, float]], method: SmoothingMethod, **kwargs: Any) -> int:
    """Smoothed redness of the image taken at the target time, from (days before, value)."""
    body = smoothed_results(
        "d0-front",
        [scored(days, {REDNESS: value}) for days, value in history],
        method=method,
        **kwargs,
    )
    (row,) = body
    assert row["algorithm_tech_name"] == REDNESS
    assert row["algorithm_name"] == "Redness"
    return int(row["value"])


@pytest.mark.parametrize("method", list(SmoothingMethod))
def test_a_single_image_gives_its_own_face_values_in_capture_order(
    method: SmoothingMethod,
) -> None:
    rows = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    expected = json.loads((FIXTURES / "fsm2_smoothed_results.json").read_text())
    values = {
        row["algorithm_family_tech_name"]: value
        for row in rows
        if (value := face_main_value(row["result"])) is not None
    }
    assert smoothed_results("d0-front", [scored(0, values)], method=method) == expected


def test_mean() -> None:
    history = [(0, 60.0), (1, 70.0), (2, 80.0)]
    assert redness(history, SmoothingMethod.MEAN) == 70


def test_values_round_half_up() -> None:
    assert redness([(0, 58.0), (1, 59.0)], SmoothingMethod.MEAN) == 59
    assert round_half_up(58.5) == 59
    assert round_half_up(58.49) == 58
    assert round_half_up(-2.5) == -2


def test_mean_without_outliers_drops_a_far_value() -> None:
    # Sorted 10, 69, 70, 71, 72: Q1 = 69, Q3 = 71, fences [66, 74]; 10 goes, mean 70.5 -> 71.
    history = [(0, 70.0), (1, 72.0), (2, 71.0), (3, 69.0), (4, 10.0)]
    assert redness(history, SmoothingMethod.MEAN_WITHOUT_OUTLIERS) == 71
    assert redness(history, SmoothingMethod.MEAN) == 58


def test_quartiles_are_linearly_interpolated() -> None:
    # Sorted 10, 12, 14, 40: Q1 at position 0.75 = 11.5, Q3 at 2.25 = 20.5, IQR 9, fences
    # [-2, 34], so 40 is dropped (mean 12). Median-of-halves quartiles (11, 27) would keep it.
    assert mean_without_outliers([40, 12, 10, 14]) == pytest.approx(12.0)
    history = [(0, 40.0), (1, 12.0), (2, 10.0), (3, 14.0)]
    assert redness(history, SmoothingMethod.MEAN_WITHOUT_OUTLIERS) == 12


def test_values_on_the_fences_are_kept() -> None:
    # Sorted 0, 10, 10, 10, 20: Q1 = Q3 = 10, IQR 0: 0 and 20 are outliers, 10s stay.
    assert mean_without_outliers([0, 10, 10, 10, 20]) == 10
    # Sorted 1, 2, 3, 4: Q1 1.75, Q3 3.25, fences [-0.5, 5.5]: all kept.
    assert mean_without_outliers([1, 2, 3, 4]) == 2.5


def test_linear_approximation_reads_the_least_squares_line_at_the_target() -> None:
    # Days -3, -1, 0 with 50, 70, 66: slope 6 per day through (-4/3, 62) -> 70 at day 0.
    history = [(3, 50.0), (1, 70.0), (0, 66.0)]
    assert redness(history, SmoothingMethod.LINEAR_APPROXIMATION) == 70
    assert redness(history, SmoothingMethod.MEAN) == 62


def test_linear_approximation_follows_a_trend() -> None:
    history = [(2, 60.0), (1, 70.0), (0, 80.0)]
    assert redness(history, SmoothingMethod.LINEAR_APPROXIMATION) == 80


def test_linear_approximation_with_one_time_is_the_mean() -> None:
    same_time = [(TARGET, 60.0), (TARGET, 71.0)]
    assert linear_approximation(same_time, TARGET) == pytest.approx(65.5)
    assert linear_approximation([(days_before(3), 42.0)], TARGET) == 42.0


def test_window_keeps_images_up_to_its_edge_and_never_later_ones() -> None:
    history = [(0, 80.0), (14, 60.0), (14.01, 0.0), (-1, 0.0)]
    assert redness(history, SmoothingMethod.MEAN) == 70
    assert redness(history, SmoothingMethod.MEAN, window_days=30) == 47


def test_sample_takes_the_newest_images_up_to_max_size() -> None:
    history = [(day, 100.0 if day < 10 else 0.0) for day in range(12)]
    assert redness(history, SmoothingMethod.MEAN) == 100
    assert redness(history, SmoothingMethod.MEAN, max_size=12) == 83
    sample = select_sample("d0-front", [scored(d, {}) for d in (3, 0, 1)], max_size=2)
    assert [image.taken for image in sample] == [TARGET, days_before(1)]


def test_only_smoothable_algorithms_of_the_target_image_are_returned() -> None:
    history = [
        scored(0, {REDNESS: 70.0, "selfie_v2.age": 40.0, "selfie_v2.acne": 90.0}),
        scored(1, {REDNESS: 50.0, "selfie_v2.pores": 30.0}),
        scored(2, {"selfie_v2.acne": 80.0}),
    ]
    body = smoothed_results("d0-front", history, method=SmoothingMethod.MEAN)
    assert body == [
        {"value": 85, "algorithm_name": "Acne", "algorithm_tech_name": "selfie_v2.acne"},
        {"value": 60, "algorithm_name": "Redness", "algorithm_tech_name": REDNESS},
    ]


def test_method_may_be_given_by_its_query_value() -> None:
    history = [scored(0, {REDNESS: 61.0})]
    body = smoothed_results("d0-front", history, method="mean")  # type: ignore[arg-type]
    assert body[0]["value"] == 61
    with pytest.raises(ValueError, match="median"):
        smoothed_results("d0-front", history, method="median")  # type: ignore[arg-type]


def test_an_unknown_or_valueless_target_gives_an_empty_body() -> None:
    assert smoothed_results("d0-front", [], method=SmoothingMethod.MEAN) == []
    history = [scored(1, {REDNESS: 50.0}), scored(0, {})]
    assert smoothed_results("d0-front", history, method=SmoothingMethod.MEAN) == []
    assert smoothed_results("elsewhere", history, method=SmoothingMethod.MEAN) == []


def test_the_sides_of_one_capture_do_not_smooth_each_other() -> None:
    # A fresh triple: all three sides share the batch's time, each smooths to its own value.
    triple = [
        scored(0, {REDNESS: 80.0}),
        scored(0, {REDNESS: 60.0}, side="right"),
        scored(0, {REDNESS: 40.0}, side="left"),
    ]
    own = {
        image.image_id: smoothed_results(image.image_id, triple, method=SmoothingMethod.MEAN)
        for image in triple
    }
    assert [body[0]["value"] for body in own.values()] == [80, 60, 40]


def test_a_front_smooths_over_the_earlier_fronts_only() -> None:
    history = [
        scored(1, {REDNESS: 50.0}),
        scored(1, {REDNESS: 10.0}, side="right"),
        scored(0, {REDNESS: 70.0}),
        scored(0, {REDNESS: 90.0}, side="right"),
    ]
    assert smoothed_results("d0-front", history, method=SmoothingMethod.MEAN)[0]["value"] == 60
    assert smoothed_results("d0-right", history, method=SmoothingMethod.MEAN)[0]["value"] == 50
    assert smoothed_results("d1-front", history, method=SmoothingMethod.MEAN)[0]["value"] == 50


def test_images_taken_at_the_same_time_count_in_upload_order() -> None:
    first = ScoredImage("first", TARGET, {REDNESS: 40.0})
    second = ScoredImage("second", TARGET, {REDNESS: 60.0})
    later = ScoredImage("later", TARGET + timedelta(days=1), {REDNESS: 0.0})
    history = [later, first, second]  # upload order
    assert [i.image_id for i in select_sample("first", history)] == ["first"]
    assert [i.image_id for i in select_sample("second", history)] == ["second", "first"]
    assert [i.image_id for i in select_sample("later", history)] == ["later", "second", "first"]
