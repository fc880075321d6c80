"""Reading an uploaded photo once: decoding, colour statistics and the no-face rule.

The photo is decoded at reduced size (JPEG draft mode, then a box downscale to at most
``ANALYSIS_SIDE`` pixels), turned upright by its EXIF orientation, and measured on that copy.
Pixel sizes and every coordinate the emulator reports are in the upright original image.

No-face rule (documented in :mod:`haut.emulator.analysis` too): a face is found when the
upright photo is at least ``MIN_PHOTO_SIDE`` pixels on its short side and its skin-coloured
pixels (:func:`~haut.emulator.colour.skin_mask`) form one central blob: leaving out skin that
runs in from the left or right edge, the rows at least 45 % as wide as the widest skin row (a
9-row average) make a box that is 12 %+ of the short side wide, centred in the middle 70 % of
the photo, taller than 0.7x its width and at least half filled with skin; and the skin is
between 3 % and 85 % of the photo.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, UnidentifiedImageError

from haut.emulator.colour import box_mean, rgb_to_lab, skin_mask
from haut.emulator.geometry import AREA_FRACTIONS, SPOT_AREAS, FaceGeometry
from haut.emulator.spots import Spot, find_spots

ANALYSIS_SIDE = 256
MIN_PHOTO_SIDE = 128
_READABLE_FORMATS = ("JPEG", "PNG")
EXIF_ORIENTATION = 0x0112
_TRANSPOSE_BY_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class UnreadableImage(ValueError):
    """The bytes are not a decodable JPEG or PNG image."""


@dataclass(frozen=True)
class AreaStats:
    """Colour and texture of the skin inside one face area."""

    lightness: float  # CIELAB L* mean
    red_green: float  # CIELAB a* mean
    yellow_blue: float  # CIELAB b* mean
    lightness_std: float
    texture: float  # mean absolute fine detail of L*
    skin_share: float  # share of the area's pixels that are skin-coloured


@dataclass(frozen=True)
class Photo:
    """What the analysis knows about one uploaded photo, computed once by :func:`inspect_photo`."""

    sha256: str
    width: int
    height: int
    image_format: str
    face_found: bool
    face_box: tuple[int, int, int, int] | None = None
    detection_confidence: float = 0.0
    brightness: float = 0.0  # L* mean of the whole photo
    sharpness: float = 0.0  # variance of the Laplacian of L* on the analysis copy
    colour_cast: float = 0.0  # chroma of the photo's mean colour
    areas: tuple[tuple[str, AreaStats], ...] = ()
    spots: tuple[Spot, ...] = ()

    @property
    def geometry(self) -> FaceGeometry:
        """Face geometry in original pixels; only meaningful when ``face_found``."""
        box = self.face_box or (0, 0, self.width, self.height)
        return FaceGeometry(box, (self.width, self.height))

    @property
    def face_width(self) -> int:
        """Width of the face box in original pixels (at least 1)."""
        left, _, right, _ = self.face_box or (0, 0, 1, 1)
        return max(1, right - left)

    @property
    def face_height(self) -> int:
        """Height of the face box in original pixels (at least 1)."""
        _, top, _, bottom = self.face_box or (0, 0, 1, 1)
        return max(1, bottom - top)

    def area(self, name: str) -> AreaStats:
        """Statistics of a face area (the whole face when the area has no skin)."""
        stats = dict(self.areas)
        found = stats.get(name)
        if found is None or found.skin_share < 0.05:
            return stats["face"]
        return found


def turn_upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image as the camera meant it to be seen (EXIF orientation applied)."""
    transpose = _TRANSPOSE_BY_ORIENTATION.get(orientation)
    return image if transpose is None else image.transpose(transpose)


def _open_upright(data: bytes) -> tuple[Image.Image, str, tuple[int, int]]:
    """Decode at reduced size; returns the RGB copy, its format and the upright full size."""
    try:
        image = Image.open(io.BytesIO(data))
        image_format = image.format or ""
        if image_format not in _READABLE_FORMATS:
            raise UnreadableImage(f"not a JPEG or PNG image (found {image_format or 'unknown'})")
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        full_size = image.size
        if image_format == "JPEG":
            image.draft("RGB", (ANALYSIS_SIDE, ANALYSIS_SIDE))
        small = image.convert("RGB")
        small.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BOX)
    except UnreadableImage:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise UnreadableImage("not a decodable JPEG or PNG image") from exc
    if orientation in _TRANSPOSE_BY_ORIENTATION and orientation >= 5:
        full_size = (full_size[1], full_size[0])
    return turn_upright(small, orientation), image_format, full_size


def _face_rows_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The face blob's box on the analysis copy: rows nearly as wide as the widest skin row."""
    row_counts = mask.sum(axis=1)
    # The widest row over a 9-row average, so a thin line of scattered skin-coloured pixels
    # (where a background just reaches the skin colour) cannot pose as the face's widest row.
    averaged = np.convolve(row_counts, np.ones(9) / 9, mode="same")
    peak = int(np.argmax(averaged))
    widest = float(averaged[peak])
    if widest == 0:
        return None
    rows = np.flatnonzero(row_counts >= 0.45 * widest)
    if not rows.size:
        return None
    # Keep the contiguous run of wide rows around the widest one (none: no blob).
    breaks = np.flatnonzero(np.diff(rows) > 2)
    starts = np.concatenate(([rows[0]], rows[breaks + 1]))
    ends = np.concatenate((rows[breaks], [rows[-1]]))
    run = next((i for i in range(len(starts)) if starts[i] <= peak <= ends[i]), None)
    if run is None:
        return None
    top, bottom = int(starts[run]), int(ends[run]) + 1
    # Percentiles rather than extremes, so stray skin-coloured pixels do not widen the face.
    left, right = np.percentile(np.nonzero(mask[top:bottom])[1], [2, 98])
    return int(left), top, int(right) + 1, bottom


def _off_the_sides(mask: np.ndarray) -> np.ndarray:
    """The skin mask without the row runs that reach the photo's left or right edge.

    A centred face never touches the side edges, but a skin-coloured wall, shirt or tinted
    background does, and its full-width rows would otherwise be the "widest skin row". Only
    skin in a 5x5 majority of skin is kept, so scattered pixels where such a background just
    reaches the skin colour neither count nor break its runs.
    """
    solid = box_mean(mask, 2) >= 0.5
    from_left = np.logical_and.accumulate(solid, axis=1)
    from_right = np.logical_and.accumulate(solid[:, ::-1], axis=1)[:, ::-1]
    return mask & solid & ~from_left & ~from_right


def _face_blob(mask: np.ndarray) -> tuple[tuple[int, int, int, int], float] | None:
    """Apply the no-face rule to the skin mask: the blob's box and a confidence, or None."""
    height, width = mask.shape
    share = float(mask.mean())
    mask = _off_the_sides(mask)
    box = _face_rows_box(mask) if 0.03 <= share <= 0.85 else None
    if box is None:
        return None
    left, top, right, bottom = box
    box_w, box_h = right - left, bottom - top
    centre_x, centre_y = (left + right) / 2 / width, (top + bottom) / 2 / height
    fill = float(mask[top:bottom, left:right].mean()) if box_w > 0 and box_h > 0 else 0.0
    if (
        box_w < 0.12 * min(width, height)
        or not (0.15 <= centre_x <= 0.85 and 0.15 <= centre_y <= 0.85)
        or box_h < 0.7 * box_w
        or fill < 0.5
    ):
        return None
    confidence = min(0.999, 0.6 + 0.4 * fill)
    return box, confidence


def _area_stats(lab: np.ndarray, detail: np.ndarray, mask: np.ndarray) -> AreaStats:
    skin = mask if mask.sum() >= 4 else np.ones_like(mask)
    values = lab[skin]
    return AreaStats(
        lightness=float(values[:, 0].mean()),
        red_green=float(values[:, 1].mean()),
        yellow_blue=float(values[:, 2].mean()),
        lightness_std=float(values[:, 0].std()),
        texture=float(np.abs(detail[skin]).mean()),
        skin_share=float(mask.mean()),
    )


def _small_box(geometry: FaceGeometry, area: str, scale: float) -> tuple[slice, slice]:
    left, top, right, bottom = geometry.area_box(area)
    return (
        slice(int(top * scale), max(int(top * scale) + 1, int(bottom * scale))),
        slice(int(left * scale), max(int(left * scale) + 1, int(right * scale))),
    )


def inspect_photo(data: bytes) -> Photo:
    """Decode and measure a photo; raises :class:`UnreadableImage` for anything else."""
    sha256 = hashlib.sha256(data).hexdigest()
    small, image_format, (width, height) = _open_upright(data)
    pixels = np.asarray(small)
    rgb = pixels.astype(np.float32)
    lab = rgb_to_lab(pixels)
    lightness = lab[:, :, 0]
    detail = lightness - box_mean(lightness, 1)
    laplacian = 4 * lightness[1:-1, 1:-1] - (
        lightness[:-2, 1:-1] + lightness[2:, 1:-1] + lightness[1:-1, :-2] + lightness[1:-1, 2:]
    )
    mean_a, mean_b = float(lab[:, :, 1].mean()), float(lab[:, :, 2].mean())
    photo = Photo(
        sha256=sha256,
        width=width,
        height=height,
        image_format=image_format,
        face_found=False,
        brightness=float(lightness.mean()),
        sharpness=float(laplacian.var()) if laplacian.size else 0.0,
        colour_cast=float(np.hypot(mean_a, mean_b)),
    )
    mask = skin_mask(rgb)
    blob = _face_blob(mask) if min(width, height) >= MIN_PHOTO_SIDE else None
    if blob is None:
        return photo
    (left, top, right, bottom), confidence = blob
    scale = small.width / width
    face_box = (
        int(left / scale),
        int(top / scale),
        min(width, int(right / scale)),
        min(height, int(bottom / scale)),
    )
    geometry = FaceGeometry(face_box, (width, height))
    areas = []
    for area in AREA_FRACTIONS:
        rows, cols = _small_box(geometry, area, scale)
        areas.append((area, _area_stats(lab[rows, cols], detail[rows, cols], mask[rows, cols])))
    boxes = {area: _small_box(geometry, area, scale) for area in SPOT_AREAS}
    return replace(
        photo,
        face_found=True,
        face_box=face_box,
        detection_confidence=confidence,
        areas=tuple(areas),
        spots=find_spots(lab, boxes, scale),
    )
