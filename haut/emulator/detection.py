"""Finding faces and eyes in a photo with OpenCV's Haar cascades.

The cascades ship inside the ``opencv-python-headless`` wheel (``cv2.data.haarcascades``), so
nothing is downloaded at run time. They are old and small, but they are real detectors trained
on real faces: they find faces in colour and grey-scale photos alike, and refuse textures,
landscapes, food, animals and medical images far better than any colour rule.

How a face is accepted (measured on real photos: see ``tests/emulator/test_detection.py``):

- **frontal**: the ``frontalface_alt2`` cascade proposes a face and at least one of
  ``frontalface_default`` and ``frontalface_alt`` finds the same face again in the region
  around it (boxes overlapping by 40 %+); where ``alt2`` proposes nothing, ``default`` proposes
  and the other two confirm. A single cascade alone is not enough, which is what keeps patches
  of texture, badges and coins out;
- **rolled**: when nothing is found upright, the search is repeated on the photo turned by
  ±22° (faces rolled up to ~±15° are found upright already); such a face must show both eyes;
- **profile**: when still nothing, the ``profileface`` cascade, on the photo and on its mirror
  image (it only knows one direction). It has no second cascade to agree with; measured, it
  finds no face in any of the non-face photos of the tests, and finds the side-turned face of
  scikit-image's cameraman.

The search runs on a grey copy ``DETECTION_SIDE`` px long with its local contrast evened out
(CLAHE), so dark skin on a light background shows its features as well as light skin does.
Faces smaller than ``MIN_FACE_SHARE`` of the photo's short side are not looked for (the service
wants a face that fills a good part of a selfie, and small windows are where Haar cascades
spend their time and make their mistakes). Eyes are looked for in the upper half of a found
face, turned upright and scaled so an eye spans ~40 px, with ``eye`` then
``eye_tree_eyeglasses``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import cv2.data
import numpy as np

# One thread per photo: the emulator analyses uploads side by side, and OpenCV's own thread pool
# only adds CPU (thread start-up and hand-over) on images this small.
cv2.setNumThreads(1)

DETECTION_SIDE = 256  # long side of the grey copy the face search runs on
MIN_FACE_SHARE = 0.18
_SCALE_STEP = 1.1
_ROLLED_SEARCH = (22.0, -22.0)
_CONFIRM_OVERLAP = 0.4
# Which cascade proposes faces and which two confirm them: alt2 first (the fewest false
# alarms), and only where it proposes nothing, default (it still sees faces alt2 misses, such
# as a face covered in spots).
_PROPOSERS = (
    ("frontalface_alt2", ("frontalface_default", "frontalface_alt")),
    ("frontalface_default", ("frontalface_alt2", "frontalface_alt")),
)
_SAME_FACE_OVERLAP = 0.3
_PROFILE_NEIGHBOURS = 3
_EYE_SEARCH_WIDTH = 150  # face width the eye search is run at, in pixels

Rect = tuple[float, float, float, float]  # x, y, width, height
Point = tuple[float, float]


@dataclass(frozen=True)
class FaceFinding:
    """One face found by the cascades, in the coordinates of the image searched.

    ``box`` is the cascade's square face box (brows to mouth, cheek to cheek) as if the face
    were upright, centred on the face; ``roll`` (degrees, clockwise as seen) is how the face is
    turned in the image as far as the search knows (0, or the turned search's angle); ``votes``
    counts the cascades that found it (2-3 frontal, 1 profile).
    """

    box: Rect
    roll: float
    votes: int
    view: str  # "frontal" or "profile"

    @property
    def size(self) -> float:
        return self.box[2]


def _even_contrast(grey: np.ndarray) -> np.ndarray:
    """Local contrast evened out (CLAHE, 4x4 tiles), so a dark face on a light ground, or a
    face half in shadow, shows its features as clearly as a well-lit one."""
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(grey)


@cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(f"{cv2.data.haarcascades}haarcascade_{name}.xml")
    if cascade.empty():  # a broken wheel: say so instead of finding no face anywhere
        raise RuntimeError(f"OpenCV's {name} cascade could not be loaded")
    return cascade


def _detect(
    cascade: str, grey: np.ndarray, neighbours: int, min_side: int, max_side: int = 0
) -> list[Rect]:
    found = _cascade(cascade).detectMultiScale(
        grey,
        scaleFactor=_SCALE_STEP,
        minNeighbors=neighbours,
        minSize=(min_side, min_side),
        maxSize=(max_side, max_side) if max_side else (0, 0),
    )
    return [(float(x), float(y), float(w), float(h)) for x, y, w, h in found]


def overlap(a: Rect, b: Rect) -> float:
    """Intersection over union of two boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    shared = width * height
    return shared / (a[2] * a[3] + b[2] * b[3] - shared)


def _confirmations(grey: np.ndarray, box: Rect, others: tuple[str, str]) -> list[Rect]:
    """The boxes of the ``others`` cascades that find ``box`` again in the region around it."""
    x, y, side, _ = box
    margin = 0.25 * side
    x0, y0 = max(0, int(x - margin)), max(0, int(y - margin))
    x1 = min(grey.shape[1], int(x + side + margin))
    y1 = min(grey.shape[0], int(y + side + margin))
    region = grey[y0:y1, x0:x1]
    agreeing = []
    for cascade in others:
        found = _detect(cascade, region, 3, int(0.75 * side), int(1.35 * side) + 1)
        shifted = [(fx + x0, fy + y0, fw, fh) for fx, fy, fw, fh in found]
        best = max(shifted, key=lambda other: overlap(box, other), default=None)
        if best is not None and overlap(box, best) >= _CONFIRM_OVERLAP:
            agreeing.append(best)
    return agreeing


def _frontal(
    grey: np.ndarray, min_side: int, proposers: int = len(_PROPOSERS)
) -> list[tuple[Rect, int]]:
    """Faces two or three frontal cascades agree on: their mean box, and how many agreed.

    ``proposers``: how many of ``_PROPOSERS`` may propose (the turned search uses alt2 only).
    The mean of the cascades' boxes moves less from one copy of a photo to the next than any
    one of them (each snaps to its own scale steps), which keeps the face areas in place.
    """
    accepted = []
    for proposer, others in _PROPOSERS[:proposers]:
        for box in _detect(proposer, grey, 3, min_side):
            agreeing = _confirmations(grey, box, others)
            if agreeing:
                boxes = np.array([box, *agreeing])
                x, y, side, _ = (float(v) for v in boxes.mean(axis=0))
                accepted.append(((x, y, side, side), 1 + len(agreeing)))
        if accepted:
            break
    return accepted


def _turned(grey: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``grey`` turned by ``degrees`` (clockwise as seen) about its centre, and the inverse map."""
    height, width = grey.shape
    centre = (width / 2, height / 2)
    # OpenCV's positive angle turns counter-clockwise as seen (y down): negate for clockwise.
    forward = cv2.getRotationMatrix2D(centre, -degrees, 1.0)
    turned = cv2.warpAffine(grey, forward, (width, height), borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(forward)


def _unturned(box: Rect, inverse: np.ndarray) -> Rect:
    """The box found on a turned image, re-centred on the original image (same size)."""
    x, y, side, _ = box
    cx, cy = inverse @ np.array([x + side / 2, y + side / 2, 1.0])
    return (float(cx - side / 2), float(cy - side / 2), side, side)


def _profile(grey: np.ndarray, min_side: int) -> list[tuple[Rect, int]]:
    width = grey.shape[1]
    found = _detect("profileface", grey, _PROFILE_NEIGHBOURS, min_side)
    mirrored = _detect("profileface", cv2.flip(grey, 1), _PROFILE_NEIGHBOURS, min_side)
    found += [(width - x - w, y, w, h) for x, y, w, h in mirrored]
    return [(box, 1) for box in found]


def _distinct(findings: list[FaceFinding]) -> list[FaceFinding]:
    """One finding per face (the best-voted, then the largest), largest face first."""
    ordered = sorted(findings, key=lambda f: (-f.votes, -f.size))
    kept: list[FaceFinding] = []
    for finding in ordered:
        if all(overlap(finding.box, k.box) < _SAME_FACE_OVERLAP for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: -f.size)


def search_faces(grey: np.ndarray) -> list[FaceFinding]:
    """Every face in a grey image (uint8, long side about ``DETECTION_SIDE``), largest first."""
    equalised = _even_contrast(grey)
    min_side = max(24, round(MIN_FACE_SHARE * min(grey.shape)))
    findings = [
        FaceFinding(box, 0.0, votes, "frontal") for box, votes in _frontal(equalised, min_side)
    ]
    if not findings:
        for degrees in _ROLLED_SEARCH:
            turned, inverse = _turned(equalised, degrees)
            findings += [
                FaceFinding(_unturned(box, inverse), -degrees, votes, "frontal")
                for box, votes in _frontal(turned, min_side, proposers=1)
            ]
    if not findings:
        findings = [FaceFinding(box, 0.0, 1, "profile") for box, _ in _profile(equalised, min_side)]
    return _distinct(findings)


@dataclass(frozen=True)
class EyePair:
    """The centres of both eyes in image pixels: the image's left one first."""

    left: Point
    right: Point

    @property
    def span(self) -> float:
        return math.dist(self.left, self.right)

    @property
    def roll(self) -> float:
        """Degrees, clockwise as seen, of the line from the left eye to the right one."""
        return math.degrees(math.atan2(self.right[1] - self.left[1], self.right[0] - self.left[0]))


def _best_pair(eyes: list[Rect], width: float) -> tuple[Rect, Rect] | None:
    """The two detections that look most like a pair of eyes, one in each half of the face."""
    best, best_cost = None, math.inf
    for a in eyes:
        for b in eyes:
            ax, bx = a[0] + a[2] / 2, b[0] + b[2] / 2
            if not (ax < width / 2 <= bx):
                continue
            dx, dy = bx - ax, (b[1] + b[3] / 2) - (a[1] + a[3] / 2)
            sizes = max(a[2], b[2]) / min(a[2], b[2])
            if not (0.25 * width <= dx <= 0.62 * width) or abs(dy) > 0.45 * dx or sizes > 1.7:
                continue
            # Closest to where eyes sit in a cascade's face box (centre, span 0.36 of the box).
            cost = abs((ax + bx) / 2 - width / 2) / width + abs(dx / width - 0.36) + sizes / 10
            if cost < best_cost:
                best, best_cost = (a, b), cost
    return best


def find_eyes(grey: np.ndarray, box: Rect, roll: float) -> EyePair | None:
    """Both eyes of the face in ``box`` whose roll is ``roll`` degrees, or None.

    ``grey`` is the photo at any resolution, ``box`` in its pixels. The band from 10 % to 62 %
    down the face is turned upright and scaled so the face is ``_EYE_SEARCH_WIDTH`` wide.
    """
    x, y, side, _ = box
    zoom = _EYE_SEARCH_WIDTH / side
    band_height = round(0.52 * _EYE_SEARCH_WIDTH)
    # Search pixel (sx, sy) -> face frame (sx / zoom - side / 2, sy / zoom - 0.4 side) about the
    # box centre -> the photo, turned by the face's roll.
    angle = math.radians(roll)
    cos, sin = math.cos(angle), math.sin(angle)
    fx, fy = -0.5 * side, -0.4 * side
    to_photo = np.array(
        [
            [cos / zoom, -sin / zoom, x + side / 2 + cos * fx - sin * fy],
            [sin / zoom, cos / zoom, y + side / 2 + sin * fx + cos * fy],
        ]
    )
    flags = cv2.WARP_INVERSE_MAP | (cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR)
    band = cv2.warpAffine(
        grey,
        to_photo,
        (_EYE_SEARCH_WIDTH, band_height),
        flags=flags,
        borderMode=cv2.BORDER_REPLICATE,
    )
    band = _even_contrast(band)
    eye_min, eye_max = round(0.12 * _EYE_SEARCH_WIDTH), round(0.36 * _EYE_SEARCH_WIDTH)
    for cascade in ("eye", "eye_tree_eyeglasses"):
        pair = _best_pair(_detect(cascade, band, 3, eye_min, eye_max), _EYE_SEARCH_WIDTH)
        if pair is not None:
            centres = [to_photo @ np.array([e[0] + e[2] / 2, e[1] + e[3] / 2, 1.0]) for e in pair]
            return EyePair(
                (float(centres[0][0]), float(centres[0][1])),
                (float(centres[1][0]), float(centres[1][1])),
            )
    return None
