"""The smoothing macros against a brute-force reference over a few hundred images.

The reference below is written from §13.12 directly (a sort and a slice per image, textbook
formulas), so a faster SQL plan that drops or adds a sample point, mis-ranks a tie or moves a
window edge disagrees with it somewhere among the images. No timing is asserted: the point is
that a long history of one subject finishes and stays exact.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pytest

from schemas.captures import Side
from tasks.smoothing.local import local_smoothed
from tests.smoothing.support import T0, Shot, tiny_lake

IMAGES = 300
SETTINGS = ((14, 10), (3, 4), (60, 25))


@dataclass(frozen=True)
class Point:
    image_id: str
    side: str
    taken_s: int  # what the API keeps: whole seconds
    uploaded_s: float
    redness: float | None  # None: the family failed, the image still takes its place


def history() -> list[Shot]:
    """One subject over about four months: fronts and lefts, same-second ties, sub-second
    capture times (truncated by the API), and some images whose redness failed."""
    rng = random.Random(4)
    shots = []
    when = T0
    for n in range(IMAGES):
        tie = n > 0 and rng.random() < 0.1  # taken in the same second as the previous one
        if not tie:
            when = T0 + timedelta(seconds=rng.randrange(0, 120 * 86400), milliseconds=0)
        shots.append(
            Shot(
                f"s{n:03d}",
                when + timedelta(milliseconds=rng.randrange(0, 1000) if not tie else 0),
                float(rng.randrange(20, 95)),
                side=Side.FRONT if rng.random() < 0.7 else Side.LEFT,
                uploaded_after=timedelta(minutes=rng.randrange(1, 600)),
                failed=("redness",) if rng.random() < 0.05 else (),
            )
        )
    return shots


def points(shots: list[Shot]) -> list[Point]:
    result = []
    for shot in shots:
        image = shot.image()
        result.append(
            Point(
                image.image_id,
                shot.side.value,
                math.floor(shot.captured_at.timestamp()),
                image.uploaded_at.timestamp(),
                None if "redness" in shot.failed else shot.redness,
            )
        )
    return result


def quantile7(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def reference(
    everyone: list[Point], window_days: int, max_size: int
) -> dict[str, tuple[float, float, float, int]]:
    """image id -> (mean, mean without outliers, linear approximation, sample size) of redness."""

    def order(p: Point) -> tuple[int, float, str]:
        return (p.taken_s, p.uploaded_s, p.image_id)

    answers = {}
    for target in everyone:
        if target.redness is None:
            continue
        earlier = [
            p
            for p in everyone
            if p.side == target.side
            and order(p) < order(target)
            and p.taken_s >= target.taken_s - window_days * 86400
        ]
        sample = [target, *sorted(earlier, key=order, reverse=True)][:max_size]
        pairs = [((p.taken_s - target.taken_s) / 86400, p.redness) for p in sample if p.redness]
        days = [day for day, _ in pairs]
        values = [value for _, value in pairs]
        n = len(values)
        mean = math.fsum(values) / n
        q1, q3 = quantile7(values, 0.25), quantile7(values, 0.75)
        kept = [v for v in values if q1 - 1.5 * (q3 - q1) <= v <= q3 + 1.5 * (q3 - q1)]
        mean_day = math.fsum(days) / n
        spread = math.fsum((d - mean_day) ** 2 for d in days)
        line = mean
        if n > 1 and spread > 0:
            slope = math.fsum((d - mean_day) * (v - mean) for d, v in pairs) / spread
            line = mean - slope * mean_day
        answers[target.image_id] = (mean, math.fsum(kept) / len(kept), line, n)
    return answers


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, list[Point]]:
    shots = history()
    # redness and one other family: an image whose redness failed still has a face score
    lake = tiny_lake(tmp_path_factory.mktemp("long"), shots, families=("redness", "acne"))
    return lake, points(shots)


@pytest.mark.parametrize(("window_days", "max_size"), SETTINGS)
def test_the_macros_agree_with_a_brute_force_reference(
    lake: tuple[duckdb.DuckDBPyConnection, list[Point]], window_days: int, max_size: int
) -> None:
    con, everyone = lake
    expected = reference(everyone, window_days, max_size)
    rows = con.execute(
        "SELECT image_id, mean, mean_without_outliers, linear_approximation, sample_size "
        "FROM smoothing_all(NULL, $window_days, $max_size) WHERE algorithm = 'redness'",
        {"window_days": window_days, "max_size": max_size},
    ).fetchall()
    got = {image_id: values for image_id, *values in rows}
    assert len(got) == len(expected) > IMAGES * 0.9
    for image_id, (mean, trimmed, line, n) in expected.items():
        assert got[image_id] == [
            pytest.approx(mean, rel=1e-9),
            pytest.approx(trimmed, rel=1e-9),
            pytest.approx(line, rel=1e-9, abs=1e-9),
            n,
        ], image_id
    # local_smoothed (the plot's and compare's entry) reads the same numbers
    frame = local_smoothed(
        con, method="linear_approximation", window_days=window_days, max_size=max_size
    )
    redness = frame[frame.algorithm == "redness"]
    lines = dict(zip(redness.image_id, redness.smoothed, strict=True))
    assert lines == {image_id: values[2] for image_id, values in got.items()}
    # the sizes reach the cap, and the window cuts samples short of it
    sizes = [n for *_, n in expected.values()]
    assert max(sizes) == max_size or window_days < 14
    assert min(sizes) == 1


def test_a_sample_of_no_images_smooths_nothing(
    lake: tuple[duckdb.DuckDBPyConnection, list[Point]],
) -> None:
    # The API refuses sample_max_size < 1 and so do the commands; the macro, called by hand,
    # has no sample to take: no rows, rather than DuckDB's "Invalid RANGE PRECEDING value".
    con, _ = lake
    assert con.execute("SELECT count(*) FROM smoothing_all(NULL, 14, 0)").fetchall() == [(0,)]
