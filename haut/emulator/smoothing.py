"""``smoothed_results``: a subject's recent face-level scores smoothed (reference §13.12).

The sample: the target image and the subject's earlier images taken at most ``window_days``
days before it, newest first, at most ``max_size`` images. Per smoothable algorithm present in
the target image, its face-area main values over the sample are combined by one of three
methods:

* ``mean`` — the arithmetic mean;
* ``mean_without_outliers`` — the mean after dropping values outside
  [Q1 - 1.5 IQR, Q3 + 1.5 IQR]; quartiles by linear interpolation between order statistics
  (Hyndman & Fan type 7, numpy's default ``"linear"`` method: the p-quantile of n sorted values
  sits at position (n - 1) p);
* ``linear_approximation`` — the least-squares line of value over time through the sample, read
  at the target image's time (the mean when the sample has one point or one distinct time).

Results are rounded to the nearest integer, halves up, and listed in the order of the real
capture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import fmean
from typing import Any

import numpy as np

from haut.emulator.catalog import SMOOTHED_RESULTS_ORDER, algorithm_by_family


class SmoothingMethod(StrEnum):
    """The ``smoothing_method`` query values of smoothed_results."""

    MEAN = "mean"
    MEAN_WITHOUT_OUTLIERS = "mean_without_outliers"
    LINEAR_APPROXIMATION = "linear_approximation"


History = Sequence[tuple[datetime, Mapping[str, float]]]


def select_sample(
    target_time: datetime, history: History, *, window_days: int = 14, max_size: int = 10
) -> list[tuple[datetime, Mapping[str, float]]]:
    """The images smoothing uses: not after the target, within the window, newest first."""
    earliest = target_time - timedelta(days=window_days)
    in_window = [entry for entry in history if earliest <= entry[0] <= target_time]
    in_window.sort(key=lambda entry: entry[0], reverse=True)
    return in_window[: max(max_size, 0)]


def mean_without_outliers(values: Sequence[float]) -> float:
    """Mean of the values inside Tukey's fences (quartiles linearly interpolated)."""
    first, third = np.quantile(np.asarray(values, dtype=float), [0.25, 0.75], method="linear")
    spread = third - first
    low, high = first - 1.5 * spread, third + 1.5 * spread
    return fmean(value for value in values if low <= value <= high)


def linear_approximation(points: Sequence[tuple[datetime, float]], at: datetime) -> float:
    """The least-squares line of value over time, read at ``at``."""
    days = [(moment - at).total_seconds() / 86400 for moment, _ in points]
    values = [value for _, value in points]
    mean_day, mean_value = fmean(days), fmean(values)
    spread = sum((day - mean_day) ** 2 for day in days)
    if len(points) < 2 or spread == 0:
        return mean_value
    slope = sum((d - mean_day) * (v - mean_value) for d, v in zip(days, values, strict=True))
    return mean_value + slope / spread * (0.0 - mean_day)


def round_half_up(value: float) -> int:
    """Nearest integer, halves rounded up (58.5 -> 59)."""
    return math.floor(value + 0.5)


def _smooth(
    points: list[tuple[datetime, float]], method: SmoothingMethod, target_time: datetime
) -> float:
    values = [value for _, value in points]
    if method is SmoothingMethod.MEAN_WITHOUT_OUTLIERS:
        return mean_without_outliers(values)
    if method is SmoothingMethod.LINEAR_APPROXIMATION:
        return linear_approximation(points, target_time)
    return fmean(values)


def smoothed_results(
    target_time: datetime,
    history: History,
    *,
    method: SmoothingMethod,
    window_days: int = 14,
    max_size: int = 10,
) -> list[dict[str, Any]]:
    """Body of ``GET .../smoothed_results/`` for the image taken at ``target_time``.

    ``history`` holds every image of the subject (the target included) as (creation time,
    {family tech name: face main value}); the target's families are those of the entries at
    ``target_time``.
    """
    method = SmoothingMethod(method)
    sample = select_sample(target_time, history, window_days=window_days, max_size=max_size)
    present = {family for moment, values in sample if moment == target_time for family in values}
    body = []
    for family in SMOOTHED_RESULTS_ORDER:
        if family not in present:
            continue
        points = [(moment, float(values[family])) for moment, values in sample if family in values]
        body.append(
            {
                "value": round_half_up(_smooth(points, method, target_time)),
                "algorithm_name": algorithm_by_family(family).name,
                "algorithm_tech_name": family,
            }
        )
    return body
