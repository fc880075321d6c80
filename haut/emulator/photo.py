"""Reading an uploaded photo once: decoding, finding the face, and measuring its skin.

The photo is decoded at reduced size (JPEG draft mode: at least ``ANALYSIS_SIDE`` pixels on
each side) and turned upright by its EXIF orientation. The face is looked for on that copy by
OpenCV's Haar cascades (:mod:`.detection`, :mod:`.landmarks`), and its skin measured on the face
turned upright at a fixed size (:mod:`.skin`), so no statistic depends on the photo's
resolution or file bytes. Pixel sizes and every coordinate the emulator reports are in the
upright original image.

No-face rule (documented in :mod:`haut.emulator.analysis` too): a photo has a face when its
upright size is at least ``MIN_PHOTO_SIDE`` pixels on its short side and the cascades find one
(see :func:`~haut.emulator.landmarks.locate_face` for the rules, the group rule included). A face
whose box runs more than ``MAX_FACE_OUTSIDE`` out of the photo is found but "not full".
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from haut.emulator.colour import rgb_to_lab
from haut.emulator.geometry import AREA_FRACTIONS, SPOT_AREAS, FaceGeometry
from haut.emulator.landmarks import locate_face
from haut.emulator.skin import (
    FACE_HEIGHT,
    FACE_WIDTH,
    AreaStats,
    aligned_face,
    area_slices,
    face_skin,
)
from haut.emulator.spots import Placer, Spot, find_spots

ANALYSIS_SIDE = 320
MIN_PHOTO_SIDE = 128
MAX_FACE_OUTSIDE = 0.1  # share of the face box outside the photo before it is "not full"
_OVERVIEW_SIDE = 128  # the copy whole-photo brightness and colour cast are measured on
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
class Photo:
    """What the analysis knows about one uploaded photo, computed once by :func:`inspect_photo`."""

    sha256: str  # identifies the upload (caches, statistics); no value is drawn from it
    width: int
    height: int
    image_format: str
    face_found: bool
    face_box: tuple[int, int, int, int] | None = None  # as if upright; see ``roll``
    roll: float = 0.0  # degrees, clockwise as seen
    full_face: bool = True  # False: the face box runs out of the photo
    detection_confidence: float = 0.0
    eyes_found: bool = False  # the template sits on found eyes (else on the detector's box)
    view: str = "frontal"  # which cascade found the face: "frontal" or "profile"
    faces: int = 0  # faces found in the photo; the largest is analysed
    face_hash: int = 0  # perceptual hash of the aligned face: seeds the masks' template wobble
    brightness: float = 0.0  # L* mean of the face (of the whole photo without a face)
    sharpness: float = 0.0  # variance of the Laplacian of L* on the aligned face
    colour_cast: float = 0.0  # chroma of the photo's mean colour
    areas: tuple[tuple[str, AreaStats], ...] = ()
    spots: tuple[Spot, ...] = ()

    @property
    def geometry(self) -> FaceGeometry:
        """Face geometry in original pixels; only meaningful when ``face_found``."""
        box = self.face_box or (0, 0, self.width, self.height)
        return FaceGeometry(box, (self.width, self.height), self.roll)

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


def _open_upright(
    data: bytes, least_scale: float | None = None
) -> tuple[Image.Image, str, tuple[int, int]]:
    """Decode at reduced size; returns the upright RGB copy, its format and the full size.

    By default the copy is at least ``ANALYSIS_SIDE`` on each side (at most twice that); with
    ``least_scale`` it is at least that fraction of the original's size instead.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image_format = image.format or ""
        if image_format not in _READABLE_FORMATS:
            raise UnreadableImage(f"not a JPEG or PNG image (found {image_format or 'unknown'})")
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        full_size = image.size
        if least_scale is None:
            wanted = (ANALYSIS_SIDE, ANALYSIS_SIDE)
        else:
            wanted = (math.ceil(full_size[0] * least_scale), math.ceil(full_size[1] * least_scale))
        if image_format == "JPEG":
            image.draft("RGB", wanted)
        small = image.convert("RGB")
        if least_scale is None:
            # PNGs (and JPEGs draft mode could not shrink enough) are shrunk to at most twice
            # the analysis side: enough for the face search and the aligned face, and cheap.
            small.thumbnail((2 * ANALYSIS_SIDE, 2 * ANALYSIS_SIDE), Image.Resampling.BOX)
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


def _overview(pixels: np.ndarray) -> tuple[float, float]:
    """Whole-photo L* mean and the chroma of its mean colour, on a small copy."""
    scale = min(1.0, _OVERVIEW_SIDE / max(pixels.shape[:2]))
    small = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lab = rgb_to_lab(small)
    mean_a, mean_b = float(lab[..., 1].mean()), float(lab[..., 2].mean())
    return float(lab[..., 0].mean()), float(np.hypot(mean_a, mean_b))


def _spot_placer(geometry: FaceGeometry) -> Placer:
    """Aligned-face pixels to original-image pixels."""
    left, _, right, _ = geometry.box
    original_per_face_pixel = (right - left) / FACE_WIDTH

    def place(column: float, row: float, radius: float) -> tuple[int, int, int]:
        x, y = geometry.point(column / FACE_WIDTH, row / FACE_HEIGHT)
        return x, y, max(1, round(radius * original_per_face_pixel))

    return place


def _sharp_enough(
    data: bytes, pixels: np.ndarray, scale: float, geometry: FaceGeometry
) -> tuple[np.ndarray, float]:
    """A copy where the face is at least ``FACE_WIDTH`` across, decoding again if need be.

    Draft mode reads a 12 MP JPEG at 1/8 of its size: plenty for a selfie's face, but a face
    a fifth of the photo wide would be read at ~75 px, below the photo's own sharpness.
    """
    left, _, right, _ = geometry.box
    face_width = (right - left) * scale
    if face_width >= FACE_WIDTH or scale >= 1.0:
        return pixels, scale
    least = min(1.0, scale * FACE_WIDTH / max(face_width, 1.0))
    larger, _, (width, _) = _open_upright(data, least)
    return np.asarray(larger), larger.width / width


def perceptual_hash(face_rgb: np.ndarray) -> int:
    """A 64-bit difference hash of a face: the same for the face re-saved or resized, mostly."""
    grey = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    tiny = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (tiny[:, 1:] > tiny[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def inspect_photo(data: bytes) -> Photo:
    """Decode and measure a photo; raises :class:`UnreadableImage` for anything else."""
    sha256 = hashlib.sha256(data).hexdigest()
    small, image_format, (width, height) = _open_upright(data)
    pixels = np.asarray(small)
    brightness, colour_cast = _overview(pixels)
    photo = Photo(
        sha256=sha256,
        width=width,
        height=height,
        image_format=image_format,
        face_found=False,
        brightness=brightness,
        colour_cast=colour_cast,
    )
    if min(width, height) < MIN_PHOTO_SIDE:
        return photo
    scale = small.width / width
    located = locate_face(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), scale)
    if located is None:
        return photo
    geometry = located.geometry
    pixels, scale = _sharp_enough(data, pixels, scale, geometry)
    face = aligned_face(pixels, geometry, scale)
    skin = face_skin(face)
    areas = tuple((area, skin.stats(area)) for area in AREA_FRACTIONS)
    boxes = {area: area_slices(area) for area in SPOT_AREAS}
    return replace(
        photo,
        face_found=True,
        face_box=geometry.box,
        roll=geometry.roll,
        full_face=geometry.inside_share() >= 1 - MAX_FACE_OUTSIDE,
        detection_confidence=located.confidence,
        eyes_found=located.eyes_found,
        view=located.view,
        faces=located.faces,
        face_hash=perceptual_hash(face),
        brightness=dict(areas)["face"].lightness,
        sharpness=skin.sharpness,
        areas=areas,
        spots=find_spots(skin.spots, boxes, _spot_placer(geometry)),
    )
