"""Choosing the face to analyse and placing the face template of :mod:`.geometry` on it.

With both eyes found the template's eyes are put on them: their midpoint, their distance and the
line through them fix the face box's place, size and roll. Without them (glasses, closed eyes, a
blurred or small face, a profile) the eyes are assumed where they sit in a frontal cascade's box
(the medians measured on the real faces of the tests), turned by the search's roll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from haut.emulator.detection import (
    DETECTION_SIDE,
    EyePair,
    FaceFinding,
    Rect,
    find_eyes,
    search_faces,
)
from haut.emulator.geometry import FaceGeometry

# The template's eyes (see geometry.LANDMARK_TEMPLATE): centres at u 0.28 / 0.72, v 0.32.
EYE_SPAN = 0.44
EYE_LINE = 0.32
FACE_ASPECT = 1.05  # face box height / width, brows' top to chin over cheek to cheek
# Eye centres in a frontal cascade's square box, as fractions of its side.
BOX_EYES_U = (0.315, 0.675)
BOX_EYES_V = 0.393
# Eyes this far from where the box puts them are a wrong pair (a brow, a nostril, a frame).
_MAX_SPAN_RATIO = 1.35
_MAX_MIDPOINT_SHIFT = 0.18  # of the box side


def box_eyes(box: Rect, roll: float) -> EyePair:
    """Where the eyes of a cascade's face box are expected, turned by ``roll`` about its centre."""
    x, y, side, _ = box
    cx, cy = x + side / 2, y + side / 2
    angle = math.radians(roll)
    cos, sin = math.cos(angle), math.sin(angle)

    def placed(u: float) -> tuple[float, float]:
        du, dv = (u - 0.5) * side, (BOX_EYES_V - 0.5) * side
        return cx + cos * du - sin * dv, cy + sin * du + cos * dv

    return EyePair(placed(BOX_EYES_U[0]), placed(BOX_EYES_U[1]))


def plausible(eyes: EyePair, box: Rect, roll: float) -> bool:
    """Whether a found pair of eyes agrees with the face box it was found in."""
    expected = box_eyes(box, roll)
    ratio = eyes.span / expected.span
    mid = ((eyes.left[0] + eyes.right[0]) / 2, (eyes.left[1] + eyes.right[1]) / 2)
    expected_mid = (
        (expected.left[0] + expected.right[0]) / 2,
        (expected.left[1] + expected.right[1]) / 2,
    )
    return (
        1 / _MAX_SPAN_RATIO <= ratio <= _MAX_SPAN_RATIO
        and math.dist(mid, expected_mid) <= _MAX_MIDPOINT_SHIFT * box[2]
    )


def face_geometry(eyes: EyePair, image_size: tuple[int, int]) -> FaceGeometry:
    """The face box (as if upright) and roll that put the template's eyes on ``eyes``."""
    width = eyes.span / EYE_SPAN
    height = width * FACE_ASPECT
    angle = math.radians(eyes.roll)
    below = (0.5 - EYE_LINE) * height  # from the eye line down to the box centre
    cx = (eyes.left[0] + eyes.right[0]) / 2 - math.sin(angle) * below
    cy = (eyes.left[1] + eyes.right[1]) / 2 + math.cos(angle) * below
    box = (
        round(cx - width / 2),
        round(cy - height / 2),
        round(cx + width / 2),
        round(cy + height / 2),
    )
    return FaceGeometry(box, image_size, round(eyes.roll, 1))


@dataclass(frozen=True)
class LocatedFace:
    """The face the analysis reads, where its template lies, and what else the search saw."""

    geometry: FaceGeometry
    confidence: float  # 0..1
    eyes_found: bool
    view: str  # "frontal" or "profile"
    faces: int  # faces in the photo, this one included


def _detection_copy(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """The grey photo scaled so its long side is at most ``DETECTION_SIDE``; and that scale."""
    scale = min(1.0, DETECTION_SIDE / max(grey.shape))
    if scale == 1.0:
        return grey, 1.0
    size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA), scale


def _eyes_of(grey: np.ndarray, box: Rect, roll: float) -> EyePair | None:
    eyes = find_eyes(grey, box, roll)
    return eyes if eyes is not None and plausible(eyes, box, roll) else None


def _located(
    finding: FaceFinding,
    rect: Rect,
    eyes: EyePair | None,
    scale: float,
    faces: int,
    grey_shape: tuple[int, ...],
) -> LocatedFace:
    image_size = (round(grey_shape[1] / scale), round(grey_shape[0] / scale))
    placed = eyes if eyes is not None else box_eyes(rect, finding.roll)
    in_original = EyePair(
        (placed.left[0] / scale, placed.left[1] / scale),
        (placed.right[0] / scale, placed.right[1] / scale),
    )
    confidence = 0.55 + 0.12 * finding.votes + (0.08 if eyes is not None else 0.0)
    return LocatedFace(
        geometry=face_geometry(in_original, image_size),
        confidence=round(min(0.99, confidence), 3),
        eyes_found=eyes is not None,
        view=finding.view,
        faces=faces,
    )


def locate_face(grey: np.ndarray, scale: float) -> LocatedFace | None:
    """The face to analyse in a grey photo, or None when there is none.

    ``grey`` is the decoded copy, ``scale`` its size over the original's; the geometry is in
    original pixels. Group rule: a face that all three frontal cascades found, or whose eyes
    were found too, is a sure face; a weaker finding (two cascades and no eyes, or the profile
    cascade) counts only where there is no sure face. The largest face counted (by its face
    box, as reported) is analysed, and ``faces`` says how many were counted. A face found only
    on the turned photo needs its eyes.
    """
    small, small_scale = _detection_copy(grey)
    sure: list[tuple[FaceFinding, Rect, EyePair | None]] = []
    weak: list[tuple[FaceFinding, Rect, EyePair | None]] = []
    for finding in search_faces(small):
        box = tuple(v / small_scale for v in finding.box)
        rect: Rect = (box[0], box[1], box[2], box[3])
        turned = finding.roll != 0.0
        strong = finding.view == "frontal" and finding.votes >= 3 and not turned
        eyes = _eyes_of(grey, rect, finding.roll)
        if turned and eyes is None:
            continue
        (sure if strong or eyes is not None else weak).append((finding, rect, eyes))
    counted = sure or weak
    if not counted:
        return None
    located = [_located(*face, scale, len(counted), grey.shape) for face in counted]
    return max(located, key=lambda face: face.geometry.box[2] - face.geometry.box[0])
