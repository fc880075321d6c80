"""The emulator's analysis engine: what a Face Skin Metrics 2.0 run returns for a photo.

Pure and deterministic in the photo's pixels: :func:`inspect_photo` measures a photo once;
:func:`algorithm_outcome` gives each algorithm's ``(is_ok, result)`` shaped exactly like the real
capture (reference §6.2-6.6); :func:`aux_outcomes` and :func:`render_aux_jpeg` give the per-area
aux images (§13.9). Values follow what is visible in the photo (see :mod:`.scoring`).

No-face rule: a photo has a face when its upright size is at least 128 px on its short side
and OpenCV's Haar cascades (shipped in the opencv-python-headless wheel) find one at least 18 %
of the short side across: two frontal cascades agreeing, or found on the photo turned by ±22°
with both eyes visible, or the profile cascade on the photo or its mirror image with strong
evidence. Landscapes, textures, food, animals, medical images, flat colours and tiny photos are
no-face; the synthetic portraits of :mod:`.faces` are faces. Groups: the largest face is
analysed (a weak finding counts only where no face is sure, see
:func:`~haut.emulator.landmarks.locate_face`) and the quality row warns that there are several.

Error rows: with no face every algorithm but the detector is ``(False, {"error": "No face
detected"})`` and the detector row is ok with ``face_detected: false`` (§6.6); a face whose box
runs more than 10 % out of the photo gives ``(False, {"error": "Not full face"})`` (the other
error string real clients check for; when the service says it is our guess) and a detector row
with the face and ``full_face: false``; when the dataset
runs without the face detector (id 40) every other algorithm is ``(False, {"error": "Face is not
detected"})`` (§13.4), and there are no aux images.
"""

from __future__ import annotations

import io
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from haut.emulator.catalog import ALGORITHMS, FACE_DETECTOR_ID, AlgorithmSpec
from haut.emulator.geometry import Box
from haut.emulator.layout_model import Metric, ResultLayout
from haut.emulator.layouts import LAYOUTS
from haut.emulator.masks import build_layout_masks
from haut.emulator.photo import (
    EXIF_ORIENTATION,
    Photo,
    UnreadableImage,
    inspect_photo,
    turn_upright,
)
from haut.emulator.quality import face_detector_result, quality_result
from haut.emulator.scoring import Value, family_values

__all__ = [
    "NOT_FULL_FACE_ERROR",
    "NO_FACE_ERROR",
    "AuxOutcome",
    "Photo",
    "Row",
    "UnreadableImage",
    "algorithm_outcome",
    "aux_outcomes",
    "face_main_value",
    "inspect_photo",
    "render_aux_jpeg",
]

NO_FACE_ERROR = "No face detected"
NOT_FULL_FACE_ERROR = "Not full face"
NO_DETECTOR_ERROR = "Face is not detected"
_QUALITY = "selfie_v2.quality"
# Aux image types: (tech name, name, type id); the ids are our guess.
_AUX_TYPES = (
    ("forehead", "Forehead", 1),
    ("nose", "Nose", 2),
    ("left_cheek", "Left Cheek", 3),
    ("right_cheek", "Right Cheek", 4),
    ("chin", "Chin", 5),
    ("restored", "Restored", 6),
)
_RESTORED_JPEG_SIDE = 595  # a quarter of the 2380 px face-aligned image
_AUX_MAX_SIDE = 1024


def _metric(metric: Metric, value: Value) -> dict[str, Any]:
    return {
        "name": metric.name,
        "value": value,
        "tech_name": metric.tech_name,
        "widget_meta": None,
        "widget_type": metric.widget_type,
    }


def _area_results(
    photo: Photo, spec: AlgorithmSpec, layout: ResultLayout
) -> list[dict[str, Any]] | None:
    if layout.area_results_null:
        return None
    if not layout.areas:
        return []
    values = family_values(photo, spec.family_tech_name, layout.areas)
    results = []
    for area in layout.areas:
        main, subs = values[area]
        sub_metrics = layout.sub_metrics(area)
        results.append(
            {
                "area_name": area,
                "main_metric": _metric(layout.main_metric(area), main),
                "sub_metrics": None
                if sub_metrics is None
                else [_metric(m, v) for m, v in zip(sub_metrics, subs, strict=True)],
            }
        )
    return results


def algorithm_outcome(
    photo: Photo,
    spec: AlgorithmSpec,
    *,
    face_detector_enabled: bool,
    side: str = "front",
    light: str = "regular",
) -> tuple[bool, dict[str, Any]]:
    """``(is_ok, result)`` of one algorithm row for this photo (see the module's rules)."""
    if spec.id == FACE_DETECTOR_ID:
        return True, face_detector_result(photo, side, light)
    if not face_detector_enabled:
        return False, {"error": NO_DETECTOR_ERROR}
    if not photo.face_found:
        return False, {"error": NO_FACE_ERROR}
    if not photo.full_face:
        return False, {"error": NOT_FULL_FACE_ERROR}
    if spec.family_tech_name == _QUALITY:
        return True, quality_result(photo, side)
    layout = LAYOUTS[spec.family_tech_name]
    masks_original, masks_restored = build_layout_masks(
        photo, spec.family_tech_name, layout.masks_original, layout.masks_restored
    )
    return True, {
        "image_type": "selfie",
        "area_results": _area_results(photo, spec, layout),
        "masks_original": masks_original,
        "masks_restored": masks_restored,
        "algorithm_tech_name": layout.algorithm_tech_name,
    }


def face_main_value(result: dict[str, Any]) -> float | None:
    """The face-area main metric value of a result payload (None if absent or not a number)."""
    for area in result.get("area_results") or []:
        if isinstance(area, dict) and area.get("area_name") == "face":
            value = (area.get("main_metric") or {}).get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            return None
    return None


Row = tuple[AlgorithmSpec, bool, dict[str, Any]]


@dataclass(frozen=True)
class AuxOutcome:
    """One aux image: a face-area crop (or the face-aligned image) and its result rows."""

    tech_name: str
    name: str
    type_id: int
    box: Box
    rows: list[Row]


def _area_rows(full_rows: list[Row], area: str) -> list[Row]:
    """The rows of the algorithms that report ``area``, cut down to that area."""
    rows: list[Row] = []
    for spec, is_ok, result in full_rows:
        entries = [a for a in result.get("area_results") or [] if a["area_name"] == area]
        if is_ok and entries:
            area_result = {**result, "area_results": entries}
            area_result.update(masks_original=None, masks_restored=None)
            rows.append((spec, is_ok, area_result))
    return rows


def aux_outcomes(
    photo: Photo,
    enabled: Collection[int],
    *,
    face_detector_enabled: bool,
    rows: Collection[Row] | None = None,
) -> list[AuxOutcome]:
    """Aux images of a photo: five area crops plus the face-aligned image ([] when no full face).

    ``rows``: the image's result rows when the caller has them (the emulator has just computed
    them); otherwise they are computed here, masks and all, which doubles the work.
    """
    if not photo.face_found or not photo.full_face or not face_detector_enabled:
        return []
    if rows is None:
        rows = [
            (spec, *algorithm_outcome(photo, spec, face_detector_enabled=True))
            for spec in ALGORITHMS
            if spec.id in enabled and spec.id != FACE_DETECTOR_ID
        ]
    full_rows = [row for row in rows if row[0].id in enabled and row[0].id != FACE_DETECTOR_ID]
    full_rows.sort(key=lambda row: ALGORITHMS.index(row[0]))
    geometry = photo.geometry
    outcomes = []
    for tech_name, name, type_id in _AUX_TYPES:
        if tech_name == "restored":
            box, rows = geometry.restored_square(), [r for r in full_rows if r[1]]
        else:
            box, rows = geometry.area_box(tech_name), _area_rows(full_rows, tech_name)
        outcomes.append(AuxOutcome(tech_name, name, type_id, box, rows))
    return outcomes


def _open_for_crop(data: bytes, box: Box, target_side: int) -> tuple[Image.Image, float]:
    """The upright photo, decoded no larger than the crop needs, and its scale to the original."""
    try:
        image = Image.open(io.BytesIO(data))
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        upright_width = image.size[1] if orientation >= 5 else image.size[0]
        crop_side = max(box[2] - box[0], box[3] - box[1], 1)
        if image.format == "JPEG" and crop_side > 2 * target_side:
            ratio = target_side / crop_side
            image.draft("RGB", (math.ceil(image.size[0] * ratio), math.ceil(image.size[1] * ratio)))
        upright = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage("not a decodable JPEG or PNG image") from exc
    upright = turn_upright(upright, orientation)
    return upright, upright.width / max(upright_width, 1)


def render_aux_jpeg(data: bytes, outcome: AuxOutcome) -> bytes:
    """The aux image as JPEG: the area crop, or the face-aligned square scaled to 595 px."""
    restored = outcome.tech_name == "restored"
    target = _RESTORED_JPEG_SIDE if restored else _AUX_MAX_SIDE
    image, scale = _open_for_crop(data, outcome.box, target)
    left, top, right, bottom = (round(c * scale) for c in outcome.box)
    crop = image.crop((left, top, max(right, left + 1), max(bottom, top + 1)))
    if restored:
        crop = crop.resize((target, target), Image.Resampling.BILINEAR)
    else:
        crop.thumbnail((target, target))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
