"""Finding blemishes: small spots darker (pigmentation) or redder (acne) than the skin around.

Works on the aligned face of :mod:`.skin` (fixed size, upright), inside the face areas that hold
plain skin (forehead, nose, cheeks, chin), so eyes, brows and lips are never counted. A spot
must stand out from its neighbourhood by a fixed amount (the aligned face is averaged down from
the photo, so its grain and JPEG noise stay well below that), be a few pixels across, no more,
and lie on skin. Each spot's weight grows from 0 at the threshold, so a spot that re-saving the
photo pushes just over or under it hardly moves a score.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from haut.emulator.colour import box_mean

DARK = "dark"
RED = "red"
_LOCAL_RADIUS = 4
_SMOOTHING = 1.5  # Gaussian sigma, aligned-face pixels
_DARK_DROP = 7.0  # L* below the neighbourhood
_RED_RISE = 6.0  # a* above the neighbourhood
_MIN_PIXELS = 3
_MAX_PIXELS = 60  # larger: a shadow (a fold, a nostril), not a spot
_MIN_SKIN_AROUND = 0.5
_MAX_SPOTS_PER_AREA = 40

# Aligned-face pixel (column, row, radius) -> original-image pixel (x, y, radius).
Placer = Callable[[float, float, float], tuple[int, int, int]]


@dataclass(frozen=True)
class Spot:
    """One blemish, in original-image pixels."""

    x: int
    y: int
    radius: int
    kind: str  # DARK or RED
    intensity: float  # 0..1: how far it stands out beyond the threshold (0: just reaches it)
    area: str
    size: float = 0.0  # in aligned-face pixels (128 across the face), whatever the photo's size
    weight: float = 0.0  # its pixels' contrast beyond the threshold, in thresholds, summed


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
    on_skin: np.ndarray,
    threshold: float,
    kind: str,
    area: str,
    offset: tuple[int, int],
    place: Placer,
) -> list[Spot]:
    spots = []
    for group in _components((contrast > threshold) & on_skin):
        if not _MIN_PIXELS <= len(group) <= _MAX_PIXELS:
            continue
        ys, xs = zip(*group, strict=True)
        excess = [contrast[y, x] / threshold - 1 for y, x in group]
        x, y, radius = place(
            offset[1] + float(np.mean(xs)) + 0.5,
            offset[0] + float(np.mean(ys)) + 0.5,
            math.sqrt(len(group) / math.pi),
        )
        spots.append(
            Spot(
                x=x,
                y=y,
                radius=radius,
                kind=kind,
                intensity=round(min(1.0, float(np.mean(excess)) / 2), 3),
                area=area,
                size=float(len(group)),
                weight=round(float(np.sum(excess)), 3),
            )
        )
    spots.sort(key=lambda spot: -spot.intensity)
    return spots[:_MAX_SPOTS_PER_AREA]


@dataclass(frozen=True)
class SpotMaps:
    """How far each pixel of the aligned face stands out: darker (L*) and redder (a*)."""

    darker: np.ndarray  # 0 where the pixel is redder than the threshold: that is acne
    redder: np.ndarray
    skin_around: np.ndarray  # share of skin in the 9x9 window around each pixel

    def burden(self, kind: str, rows: slice, cols: slice) -> float:
        """Contrast beyond the threshold, in thresholds, summed over an area's skin.

        Unlike the spots, this is continuous in the pixels: the area's edges are soft (a
        5-pixel ramp) and every pixel counts by how far it passes the threshold, so a face a
        pixel off or a spot a little fainter moves it a little, never by a whole spot.
        """
        contrast, threshold = (self.redder, _RED_RISE) if kind == RED else (self.darker, _DARK_DROP)
        inside = np.zeros(contrast.shape, dtype=np.float32)
        inside[rows, cols] = 1.0
        soft = cv2.blur(inside, (5, 5), borderType=cv2.BORDER_REPLICATE)
        weights = soft * self.skin_around
        return float(np.sum(weights * np.maximum(0.0, contrast / threshold - 1)))


def blob_contrast(values: np.ndarray, radius: int = _LOCAL_RADIUS) -> np.ndarray:
    """How far each pixel lies below its surroundings in every direction (>= 0 means a pit).

    The smallest, over four directions, of the mean of the two pixels ``radius`` away minus
    the pixel: a round spot up to ~``radius`` across stands out in all four, while a line (a
    wrinkle, a fold, a glasses frame) or an edge (the nose's side, the jaw) does not stand out
    along itself, so it scores about 0.
    """
    padded = np.pad(values, radius, mode="edge")
    height, width = values.shape
    r = radius

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[r + dy : r + dy + height, r + dx : r + dx + width]

    directions = ((0, r), (r, 0), (r, r), (r, -r))
    rises = [(shifted(dy, dx) + shifted(-dy, -dx)) / 2 - values for dy, dx in directions]
    return np.minimum.reduce(rises)


def spot_maps(lab: np.ndarray, skin: np.ndarray) -> SpotMaps:
    """The contrast maps spots are found in (on the aligned face)."""
    # Smoothed first: a spot is a few pixels across, while pixel noise, JPEG blocks and the
    # fine crossings of wrinkles are smaller and would change with every re-save.
    lightness = cv2.GaussianBlur(lab[:, :, 0], (0, 0), _SMOOTHING)
    red_green = cv2.GaussianBlur(lab[:, :, 1], (0, 0), _SMOOTHING)
    darker = blob_contrast(lightness)
    redder = blob_contrast(-red_green)
    # A red spot is usually darker too: count it once, as red (acne), not as pigmentation.
    darker = np.where(redder > _RED_RISE, 0.0, darker)
    return SpotMaps(darker, redder, box_mean(skin.astype(np.float32), _LOCAL_RADIUS))


def find_spots(
    maps: SpotMaps, boxes: dict[str, tuple[slice, slice]], place: Placer
) -> tuple[Spot, ...]:
    """Dark and red spots in each area box of the aligned face, placed on the original."""
    on_skin = maps.skin_around >= _MIN_SKIN_AROUND
    found: list[Spot] = []
    for area, (rows, cols) in boxes.items():
        offset = (rows.start or 0, cols.start or 0)
        here = on_skin[rows, cols]
        found += _area_spots(maps.darker[rows, cols], here, _DARK_DROP, DARK, area, offset, place)
        found += _area_spots(maps.redder[rows, cols], here, _RED_RISE, RED, area, offset, place)
    return tuple(found)
