"""The face as the analysis reads it: an upright crop at a fixed size and its skin statistics.

Every statistic is measured on the face box turned upright and resampled to ``FACE_WIDTH`` x
``FACE_HEIGHT`` pixels (shrunk by area averaging, so JPEG noise and the photo's resolution
average out), so the same face photographed larger, smaller, re-saved or rolled gives the same
numbers. Skin is told from eyes, brows, hair, glasses and background by its closeness to the
face's own skin colour (the median of the cheeks, nose and forehead), which works for every
skin tone, for flushed skin and for grey-scale photos alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from haut.emulator.colour import rgb_to_lab
from haut.emulator.geometry import AREA_FRACTIONS, SPOT_AREAS, FaceGeometry
from haut.emulator.landmarks import FACE_ASPECT
from haut.emulator.spots import DARK, RED, SpotMaps, spot_maps

FACE_WIDTH = 128
FACE_HEIGHT = round(FACE_WIDTH * FACE_ASPECT)
_REFERENCE_AREAS = ("nose", "left_cheek", "right_cheek", "forehead")
# How far from the face's own skin colour a pixel may be and still be skin (CIELAB units):
# redder is allowed further, so a flush or a spot of acne is still skin.
_LIGHTNESS_RANGE = 22.0
_RED_RANGE = (-12.0, 25.0)
_YELLOW_RANGE = 14.0
_MIN_SKIN_PIXELS = 12


@dataclass(frozen=True)
class AreaStats:
    """Colour and texture of the skin inside one face area (on the aligned face)."""

    lightness: float  # CIELAB L* mean
    red_green: float  # CIELAB a* mean
    yellow_blue: float  # CIELAB b* mean
    blotchiness: float  # spread of L* around its neighbourhood (shading and fine grain removed)
    texture: float  # mean absolute fine detail of L*
    relief: float  # mean absolute coarser detail of L* (folds, contours)
    skin_share: float  # share of the area's pixels that are skin
    # Spot areas only (0 elsewhere): dark spots' contrast, summed (spots.SpotMaps.burden).
    dark_burden: float = 0.0
    red_burden: float = 0.0  # red spots' contrast, summed


def area_slices(area: str) -> tuple[slice, slice]:
    """Rows and columns of an area on the aligned face (never empty)."""
    u0, v0, u1, v1 = AREA_FRACTIONS[area]
    top, left = round(v0 * FACE_HEIGHT), round(u0 * FACE_WIDTH)
    bottom = max(top + 1, round(v1 * FACE_HEIGHT))
    right = max(left + 1, round(u1 * FACE_WIDTH))
    return slice(top, bottom), slice(left, right)


def aligned_face(rgb: np.ndarray, geometry: FaceGeometry, scale: float) -> np.ndarray:
    """The face box of ``rgb`` (a copy ``scale`` times the original's size), upright, fixed size.

    Pixels outside the photo repeat its edge.
    """
    corners = np.array(
        [geometry.exact_point(u, v) for u, v in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))],
        dtype=np.float64,
    )
    corners *= scale
    face_width = float(np.hypot(*(corners[1] - corners[0])))
    shrink = FACE_WIDTH / max(face_width, 1.0)
    source = rgb
    if shrink < 1.0:
        # Average down first (warpAffine only samples), over the region the face box covers.
        everything = np.array(
            [geometry.exact_point(u, v) for u, v in ((0, 0), (1, 0), (0, 1), (1, 1))]
        )
        everything *= scale
        x0 = max(0, int(everything[:, 0].min()) - 2)
        y0 = max(0, int(everything[:, 1].min()) - 2)
        x1 = min(rgb.shape[1], int(everything[:, 0].max()) + 3)
        y1 = min(rgb.shape[0], int(everything[:, 1].max()) + 3)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            region = rgb[y0:y1, x0:x1]
            size = (
                max(1, round(region.shape[1] * shrink)),
                max(1, round(region.shape[0] * shrink)),
            )
            source = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
            factor = np.array([size[0] / region.shape[1], size[1] / region.shape[0]])
            corners = (corners - [x0, y0]) * factor
    # Pixel centres: an edge-based position p is pixel p - 0.5 in OpenCV's convention.
    target = np.array([[0, 0], [FACE_WIDTH, 0], [0, FACE_HEIGHT]], dtype=np.float32) - 0.5
    matrix = cv2.getAffineTransform((corners - 0.5).astype(np.float32), target)
    return cv2.warpAffine(
        np.ascontiguousarray(source),
        matrix,
        (FACE_WIDTH, FACE_HEIGHT),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def skin_pixels(lab: np.ndarray) -> np.ndarray:
    """Pixels of the aligned face close to its own skin colour (see the module's note)."""
    reference = np.concatenate([lab[area_slices(area)].reshape(-1, 3) for area in _REFERENCE_AREAS])
    lightness, red, yellow = np.median(reference, axis=0)
    return (
        (np.abs(lab[..., 0] - lightness) <= _LIGHTNESS_RANGE)
        & (lab[..., 1] - red >= _RED_RANGE[0])
        & (lab[..., 1] - red <= _RED_RANGE[1])
        & (np.abs(lab[..., 2] - yellow) <= _YELLOW_RANGE)
    )


@dataclass(frozen=True)
class FaceSkin:
    """The aligned face in CIELAB, its skin, and the per-pixel measures the areas average."""

    lab: np.ndarray
    skin: np.ndarray
    blotches: np.ndarray
    detail: np.ndarray
    relief: np.ndarray
    spots: SpotMaps

    def stats(self, area: str) -> AreaStats:
        rows, cols = area_slices(area)
        skin = self.skin[rows, cols]
        chosen = skin if skin.sum() >= _MIN_SKIN_PIXELS else np.ones_like(skin)
        values = self.lab[rows, cols][chosen]
        blotches = self.blotches[rows, cols][chosen]
        return AreaStats(
            lightness=float(values[:, 0].mean()),
            red_green=float(values[:, 1].mean()),
            yellow_blue=float(values[:, 2].mean()),
            blotchiness=float(np.sqrt(np.mean(blotches**2))),
            texture=float(np.abs(self.detail[rows, cols][chosen]).mean()),
            relief=float(np.abs(self.relief[rows, cols][chosen]).mean()),
            skin_share=float(skin.mean()),
            dark_burden=self.spots.burden(DARK, rows, cols) if area in SPOT_AREAS else 0.0,
            red_burden=self.spots.burden(RED, rows, cols) if area in SPOT_AREAS else 0.0,
        )

    @property
    def sharpness(self) -> float:
        """Variance of the Laplacian of L* over the aligned face."""
        lightness = self.lab[..., 0]
        laplacian = 4 * lightness[1:-1, 1:-1] - (
            lightness[:-2, 1:-1] + lightness[2:, 1:-1] + lightness[1:-1, :-2] + lightness[1:-1, 2:]
        )
        return float(laplacian.var())


def _blurred(values: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(values, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def _skin_blurred(values: np.ndarray, skin: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur over skin pixels only (normalised convolution).

    So the dark edge of a brow, a glasses frame, a hat or the background never leaks into the
    skin's measures around it, however far the blur reaches.
    """
    weights = skin.astype(np.float32)
    return _blurred(values * weights, sigma) / np.maximum(_blurred(weights, sigma), 1e-3)


def face_skin(face_rgb: np.ndarray) -> FaceSkin:
    """Measure the aligned face once.

    Detail (lines, pores, grain), relief (folds, contours) and blotches (uneven tone) are
    bands of the skin's L*: differences of Gaussian blurs over skin at 1.5 / 4, 3 / 8 and
    4 / 12 aligned-face pixels (about 1-3 %, 2-6 % and 3-10 % of the face width). Below 1.5 px
    lie JPEG noise and resampling; above 12 px lies shading.
    """
    lab = rgb_to_lab(face_rgb)
    lightness = lab[..., 0]
    skin = skin_pixels(lab)
    fine, small, medium, large, coarse = (
        _skin_blurred(lightness, skin, sigma) for sigma in (1.5, 3.0, 4.0, 8.0, 12.0)
    )
    return FaceSkin(
        lab=lab,
        skin=skin,
        blotches=medium - coarse,
        detail=fine - medium,
        relief=small - large,
        spots=spot_maps(lab, skin),
    )
