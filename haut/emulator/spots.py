"""Finding blemishes: small spots darker (pigmentation) or redder (acne) than the skin around.

Works on the CIELAB analysis copy of a photo, inside the face areas that hold plain skin
(forehead, nose, cheeks, chin), so eyes, brows and lips are never counted.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from haut.emulator.colour import box_mean

DARK = "dark"
RED = "red"
_LOCAL_RADIUS = 4
_DARK_DROP = 7.0  # L* below the neighbourhood
_RED_RISE = 6.0  # a* above the neighbourhood
_MIN_PIXELS = 2
_MAX_SPOTS_PER_AREA = 40


@dataclass(frozen=True)
class Spot:
    """One blemish, in original-image pixels."""

    x: int
    y: int
    radius: int
    kind: str  # DARK or RED
    intensity: float  # 0..1, how far it stands out
    area: str


def _components(candidates: np.ndarray) -> list[list[tuple[int, int]]]:
    """4-connected groups of True pixels (the candidate sets are small)."""
    remaining = {(int(y), int(x)) for y, x in zip(*np.nonzero(candidates), strict=True)}
    groups = []
    while remaining:
        start = min(remaining)
        remaining.discard(start)
        queue, group = deque([start]), [start]
        while queue:
            y, x = queue.popleft()
            for near in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if near in remaining:
                    remaining.discard(near)
                    queue.append(near)
                    group.append(near)
        groups.append(group)
    return groups


def _area_spots(
    contrast: np.ndarray,
    threshold: float,
    kind: str,
    area: str,
    offset: tuple[int, int],
    scale: float,
) -> list[Spot]:
    spots = []
    for group in _components(contrast > threshold):
        if len(group) < _MIN_PIXELS:
            continue
        ys, xs = zip(*group, strict=True)
        strength = float(np.mean([contrast[y, x] for y, x in group]))
        spots.append(
            Spot(
                x=round((offset[1] + float(np.mean(xs)) + 0.5) / scale),
                y=round((offset[0] + float(np.mean(ys)) + 0.5) / scale),
                radius=max(1, round(math.sqrt(len(group) / math.pi) / scale)),
                kind=kind,
                intensity=round(min(1.0, strength / (4 * threshold)), 2),
                area=area,
            )
        )
    spots.sort(key=lambda spot: -spot.intensity)
    return spots[:_MAX_SPOTS_PER_AREA]


def find_spots(
    lab: np.ndarray, boxes: dict[str, tuple[slice, slice]], scale: float
) -> tuple[Spot, ...]:
    """Dark and red spots in each area box of the analysis copy (``scale`` = copy / original)."""
    lightness, red_green = lab[:, :, 0], lab[:, :, 1]
    darker = box_mean(lightness, _LOCAL_RADIUS) - lightness
    redder = red_green - box_mean(red_green, _LOCAL_RADIUS)
    found: list[Spot] = []
    # A red spot is usually darker too: count it once, as red (acne), not as pigmentation.
    darker = np.where(redder > _RED_RISE, 0.0, darker)
    for area, (rows, cols) in boxes.items():
        offset = (rows.start or 0, cols.start or 0)
        found += _area_spots(darker[rows, cols], _DARK_DROP, DARK, area, offset, scale)
        found += _area_spots(redder[rows, cols], _RED_RISE, RED, area, offset, scale)
    return tuple(found)
