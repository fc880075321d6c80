"""Where the parts of a detected face lie: area boxes, landmarks and the face-aligned square.

Everything is placed in face fractions (u across, v down) of the face box (hairline to chin,
cheek to cheek) with fixed proportions of a frontal face, the box turned with the face's roll
about its centre; the real service uses a landmark model, we use a template placed on the eyes
(or on the detector's box where the eyes were not found, see :mod:`.landmarks`).
"left" is the subject's left, which is the image's right, as in the real capture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)

RESTORED_SIZE = 2380

# Area boxes as fractions (u0, v0, u1, v1) of the face box.
AREA_FRACTIONS: dict[str, tuple[float, float, float, float]] = {
    "face": (0.0, 0.0, 1.0, 1.0),
    "forehead": (0.22, 0.04, 0.78, 0.15),
    "forehead_n_bridge": (0.25, 0.04, 0.75, 0.40),
    "nose": (0.42, 0.33, 0.58, 0.50),
    "left_cheek": (0.64, 0.41, 0.88, 0.65),
    "right_cheek": (0.12, 0.41, 0.36, 0.65),
    "chin": (0.36, 0.83, 0.64, 0.97),
    "left_eye_area": (0.56, 0.22, 0.90, 0.43),
    "right_eye_area": (0.10, 0.22, 0.44, 0.43),
    "left_under_eye_area": (0.58, 0.37, 0.86, 0.45),
    "right_under_eye_area": (0.14, 0.37, 0.42, 0.45),
    "left_eye_corner": (0.82, 0.24, 0.96, 0.38),
    "right_eye_corner": (0.04, 0.24, 0.18, 0.38),
}

# Areas whose skin is analysed for spots (eyes, brows and mouth are left out).
SPOT_AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")

# Template of 53 landmarks (u, v): jaw 17, brows 5 + 5, nose 9, eyes 6 + 6, mouth 5.
_JAW = tuple(
    (0.5 - 0.5 * math.cos(math.pi * i / 16), 0.36 + 0.62 * math.sin(math.pi * i / 16))
    for i in range(17)
)
_BROWS = tuple(
    (u, 0.22 - 0.03 * math.sin(math.pi * k / 4))
    for k, u in enumerate((0.16, 0.22, 0.28, 0.34, 0.40))
) + tuple(
    (u, 0.22 - 0.03 * math.sin(math.pi * k / 4))
    for k, u in enumerate((0.60, 0.66, 0.72, 0.78, 0.84))
)
_NOSE = (
    (0.5, 0.32),
    (0.5, 0.38),
    (0.5, 0.44),
    (0.5, 0.50),
    *((u, 0.55) for u in (0.42, 0.46, 0.5, 0.54, 0.58)),
)


def _eye(cu: float) -> tuple[tuple[float, float], ...]:
    return (
        (cu - 0.08, 0.32),
        (cu - 0.03, 0.30),
        (cu + 0.03, 0.30),
        (cu + 0.08, 0.32),
        (cu + 0.03, 0.34),
        (cu - 0.03, 0.34),
    )


_MOUTH = ((0.38, 0.73), (0.5, 0.70), (0.62, 0.73), (0.5, 0.77), (0.5, 0.735))
LANDMARK_TEMPLATE: tuple[tuple[float, float], ...] = (
    _JAW + _BROWS + _NOSE + _eye(0.28) + _eye(0.72) + _MOUTH
)


@dataclass(frozen=True)
class FaceGeometry:
    """The face box in original-image pixels, its roll, and the places derived from them.

    ``box`` is the face box as if the face were upright; ``roll`` (degrees, clockwise as seen)
    turns it about its centre to lie on the face in the photo.
    """

    box: Box
    image_size: tuple[int, int]
    roll: float = 0.0

    def exact_point(self, u: float, v: float) -> tuple[float, float]:
        """The original-image position of face-box fractions (u, v), not rounded or clipped."""
        left, top, right, bottom = self.box
        du, dv = (u - 0.5) * (right - left), (v - 0.5) * (bottom - top)
        cos, sin = self._turn
        return (left + right) / 2 + cos * du - sin * dv, (top + bottom) / 2 + sin * du + cos * dv

    @cached_property
    def _turn(self) -> tuple[float, float]:
        angle = math.radians(self.roll)
        return math.cos(angle), math.sin(angle)

    def point(self, u: float, v: float) -> tuple[int, int]:
        """The original-image pixel at face-box fractions (u, v), kept inside the image."""
        x, y = self.exact_point(u, v)
        width, height = self.image_size
        return min(max(round(x), 0), width - 1), min(max(round(y), 0), height - 1)

    def restored_point(self, u: float, v: float) -> tuple[int, int]:
        """The pixel of the face-aligned 2380x2380 image at face-box fractions (u, v).

        The face-aligned image is :meth:`restored_square` scaled to 2380 px.
        """
        x, y = self.exact_point(u, v)
        sq_left, sq_top, sq_right, sq_bottom = self.restored_square()
        x = (x - sq_left) * RESTORED_SIZE / (sq_right - sq_left)
        y = (y - sq_top) * RESTORED_SIZE / (sq_bottom - sq_top)
        return (
            min(max(round(x), 0), RESTORED_SIZE - 1),
            min(max(round(y), 0), RESTORED_SIZE - 1),
        )

    def area_box(self, area: str) -> Box:
        """An area's box in original pixels: around the turned area, non-empty, in the image."""
        u0, v0, u1, v1 = AREA_FRACTIONS[area]
        corners = [self.exact_point(u, v) for u in (u0, u1) for v in (v0, v1)]
        width, height = self.image_size
        x0 = min(max(round(min(x for x, _ in corners)), 0), width - 1)
        y0 = min(max(round(min(y for _, y in corners)), 0), height - 1)
        x1 = min(max(round(max(x for x, _ in corners)), x0 + 1), width)
        y1 = min(max(round(max(y for _, y in corners)), y0 + 1), height)
        return x0, y0, x1, y1

    def inside_share(self) -> float:
        """How much of the (turned) face box lies inside the photo, 0..1 (sampled on a grid)."""
        width, height = self.image_size
        steps = [i / 10 for i in range(11)]
        inside = sum(
            0 <= x < width and 0 <= y < height
            for x, y in (self.exact_point(u, v) for u in steps for v in steps)
        )
        return inside / len(steps) ** 2

    def restored_square(self) -> Box:
        """The original-image square that the face-aligned image shows (clipped to the image)."""
        return self._restored_square

    @cached_property
    def _restored_square(self) -> Box:
        # Cached: every restored mask point needs it (tens of thousands per upload).
        left, top, right, bottom = self.box
        side = max(right - left, bottom - top) * 1.5
        cx, cy = (left + right) / 2, (top + bottom) / 2
        width, height = self.image_size
        x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
        x1, y1 = min(width, round(cx + side / 2)), min(height, round(cy + side / 2))
        return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)

    def to_fractions(self, x: float, y: float) -> tuple[float, float]:
        """Face-box fractions of an original-image pixel (inverse of :meth:`exact_point`)."""
        left, top, right, bottom = self.box
        cos, sin = self._turn
        dx, dy = x - (left + right) / 2, y - (top + bottom) / 2
        du, dv = cos * dx + sin * dy, -sin * dx + cos * dy
        return 0.5 + du / max(right - left, 1), 0.5 + dv / max(bottom - top, 1)
