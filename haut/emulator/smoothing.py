"""``smoothed_results``: a subject's recent face-level scores smoothed (reference §13.12).

The sample: the target image and the subject's images taken *strictly earlier*, at most
``window_days`` days before it, newest first, at most ``max_size`` images in all (target
included). Two decisions the public record leaves open (our own, see the README):

* **Same side only.** A front image smooths over the subject's fronts, a left over lefts: the
  sides of one capture are different views of the skin, and all sides of a batch share the
  batch's time, so mixing them would average a front with its own capture's profiles (a fresh
  front/right/left triple must smooth to each image's own values, as the capture shows for one
  image).
* **Ties broken by upload order.** Images with the same ``creation_time`` (two fronts in one
  batch) count as earlier when they were uploaded earlier, so the later upload smooths over
  both and the earlier one over itself only.

Per smoothable algorithm present in the target image, its face-area main values over the
sample are combined by one of three methods:

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

import numpy as np

from haut.emulator.catalog import SMOOTHED_RESULTS_ORDER, algorithm_by_family
from schemas.api_results import SmoothingMethod as SmoothingMethod  # routes use it from here


@dataclass(frozen=True)
class ScoredImage:
    """One image of the subject as smoothing sees it."""

    image_id: str
    taken: datetime  # the image's creation_time
    values: Mapping[str, float]  # family tech name -> face-area main value (ok rows only)
    side: str = "front"


def select_sample(
    target_id: str,
    history: Sequence[ScoredImage],
    *,
    window_days: int = 14,
    max_size: int = 10,
) -> list[ScoredImage]:
    """The images smoothing uses for ``target_id``, newest first, the target itself first.

    ``history`` is the subject's images in upload order (which breaks creation-time ties).
    Empty when the target is not in the history.
    """
    position = {image.image_id: index for index, image in enumerate(history)}
    target = next((image for image in history if image.image_id == target_id), None)
    if target is None:
        return []
    target_key = (target.taken, position[target.image_id])
    earliest = target.taken - timedelta(days=window_days)
    earlier = [
        image
        for image in history
        if image.side == target.side
        and earliest <= image.taken
        and (image.taken, position[image.image_id]) < target_key
    ]
    earlier.sort(key=lambda image: (image.taken, position[image.image_id]), reverse=True)
    return [target, *earlier][: max(max_size, 0)]


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
    target_id: str,
    history: Sequence[ScoredImage],
    *,
    method: SmoothingMethod,
    window_days: int = 14,
    max_size: int = 10,
) -> list[dict[str, Any]]:
    """Body of ``GET .../smoothed_results/`` for the image ``target_id``.

    ``history`` holds the subject's images (the target included) in upload order; the
    algorithms listed are the smoothable ones with a value in the target image itself.
    """
    method = SmoothingMethod(method)
    sample = select_sample(target_id, history, window_days=window_days, max_size=max_size)
    if not sample:
        return []
    target = sample[0]
    body = []
    for family in SMOOTHED_RESULTS_ORDER:
        if family not in target.values:
            continue
        points = [
            (image.taken, float(image.values[family])) for image in sample if family in image.values
        ]
        body.append(
            {
                "value": round_half_up(_smooth(points, method, target.taken)),
                "algorithm_name": algorithm_by_family(family).name,
                "algorithm_tech_name": family,
            }
        )
    return body
