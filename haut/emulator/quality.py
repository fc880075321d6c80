"""The two report-like payloads: image quality (id 43) and the face detector (id 40).

Quality follows the real capture (reference §6.5): six integer sub-scores in a dict, ~30 debug
metrics and a feedback block; the main score is 0.4 x the worst sub-score + 0.6 x their mean,
which reproduces the capture's 54 from its sub-scores. Every value comes from the photo: focus
from the aligned face's sharpness, lightness from the face's L*, detection from the detector's
confidence (lowered, with a warning, when the photo holds several faces), head rotation from the
upload's side and the face's roll. Resolution and focus follow the face's size in pixels, as
they should: a smaller copy of a photo is a lower-resolution photo. Pitch is not estimated (0).
The face detector's no-face payload is the real one (§6.6); its face-found payload (bbox, mesh,
transform) is our guess at the same shape.
"""

from __future__ import annotations

import math
from statistics import fmean
from typing import Any

from haut.emulator.geometry import LANDMARK_TEMPLATE, RESTORED_SIZE
from haut.emulator.photo import Photo
from haut.emulator.scoring import score
from haut.emulator.skin import AreaStats

_YAW_BY_SIDE = {"front": 0.0, "right": -35.0, "left": 35.0}
_NEGATIVE = {
    "lightness": "Unacceptable face illumination",
    "focus": "Image is out of focus",
    "resolution": "Low face resolution",
    "colortone": "Unnatural color tone",
    "detection": "Face is poorly detected",
    "head_rotation": "Head is rotated",
}
_WARN = {
    "lightness": "Insufficient face illumination",
    "focus": "Image is slightly blurred",
    "resolution": "Face resolution could be better",
    "colortone": "Color tone is slightly off",
    "detection": "Face is partly detected",
    "head_rotation": "Head is slightly rotated",
}
_POSITIVE = {
    "lightness": "Good face illumination",
    "focus": "Good focus",
    "resolution": "Good face resolution",
    "colortone": "Good color tone",
    "detection": "Face is well detected",
    "head_rotation": "Good head position",
}
SEVERAL_FACES = "Several faces detected: the largest is analysed"
NOT_FULL_FACE = "Face is not fully in the photo"
_GROUP_DETECTION_PENALTY = 25


def jsonb_ordered(mapping: dict[str, Any]) -> dict[str, Any]:
    """Keys in PostgreSQL jsonb order (shorter first, then bytewise), as the real API sends."""
    return {key: mapping[key] for key in sorted(mapping, key=lambda k: (len(k), k.encode()))}


def _sub_scores(photo: Photo, side: str) -> dict[str, int]:
    light = photo.brightness
    lightness = 100 - 3.5 * max(0.0, 40 - light) - 3.5 * max(0.0, light - 75)
    rotation = 98 - abs(_YAW_BY_SIDE.get(side, 0.0)) * 1.8 - 1.2 * abs(photo.roll)
    detection = 100 * photo.detection_confidence
    if photo.faces > 1:
        detection -= _GROUP_DETECTION_PENALTY
    return {
        "focus": score(100 * (1 - math.exp(-photo.sharpness / 8))),
        "colortone": score(100 - 1.5 * max(0.0, photo.colour_cast - 15)),
        "detection": score(detection),
        "lightness": score(lightness),
        "resolution": score(100 * photo.face_width / 400),
        "head_rotation": score(rotation),
    }


def _feedback(photo: Photo, sub_scores: dict[str, int], overall: int) -> dict[str, Any]:
    warn = [_WARN[k] for k, v in sub_scores.items() if 50 <= v < 75]
    if photo.faces > 1:
        warn.append(SEVERAL_FACES)
    return {
        "overlay": "Low quality image" if overall < 60 else "Good quality image",
        "tooltip": {
            "warn": warn,
            "negative": [_NEGATIVE[k] for k, v in sub_scores.items() if v < 50],
            "positive": [_POSITIVE[k] for k, v in sub_scores.items() if v >= 90],
        },
    }


def _eye_colortone(eye: AreaStats, face: AreaStats) -> int:
    """How close an eye area's colour is to the face's (a colour cast over the eyes is off)."""
    return score(
        100 - 1.5 * abs(eye.red_green - face.red_green) - abs(eye.yellow_blue - face.yellow_blue)
    )


def _debug_metrics(photo: Photo, side: str) -> dict[str, Any]:
    face, forehead = photo.area("face"), photo.area("forehead")
    left, top, right, bottom = photo.face_box or (0, 0, 1, 1)
    eye_width = round(0.17 * (right - left))

    eyes = {side_name: photo.area(f"{side_name}_eye_area") for side_name in ("left", "right")}

    def eye(side_name: str) -> dict[str, Any]:
        stats = eyes[side_name]
        # An open eye shows sclera, iris and lashes: less of its area is skin.
        openness = min(0.5, max(0.05, 0.08 + 0.5 * (1 - stats.skin_share)))
        return {
            f"{side_name}_eye_openness": round(openness, 2),
            f"{side_name}_eye_a_channel": round(stats.red_green - face.red_green, 1),
            f"{side_name}_eye_b_channel": round(stats.yellow_blue - face.yellow_blue, 1),
            f"{side_name}_eye_l_channel": round(stats.lightness, 2),
        }

    metrics = {
        "yaw_angle": _YAW_BY_SIDE.get(side, 0.0),
        "pitch_angle": 0.0,
        "eye_width_px": eye_width,
        "eye_height_px": round(eye_width * 0.23),
        "face_width_px": right - left,
        "raw_sharpness": round(photo.sharpness, 2),
        "detection_flag": True,
        "face_height_px": bottom - top,
        "full_face_flag": side == "front" and photo.full_face,
        "nose_height_px": round(0.2 * (bottom - top)),
        **eye("left"),
        **eye("right"),
        "eye_difference_score": score(
            100
            - 3 * abs(eyes["left"].lightness - eyes["right"].lightness)
            - 60 * abs(eyes["left"].skin_share - eyes["right"].skin_share)
        ),
        "eye_exposition_score": score(
            100 - 2.5 * abs(fmean(e.lightness for e in eyes.values()) - 62)
        ),
        "skin_overlap_forehead": score(100 * forehead.skin_share),
        "skin_overlap_left_cheek": score(100 * photo.area("left_cheek").skin_share),
        "skin_overlap_right_cheek": score(100 * photo.area("right_cheek").skin_share),
        "left_eye_colortone_score": _eye_colortone(eyes["left"], face),
        "right_eye_colortone_score": _eye_colortone(eyes["right"], face),
        "skin_uniformness_a_channel": round(face.blotchiness * 0.6, 2),
        "skin_uniformness_b_channel": round(face.blotchiness * 0.7, 2),
        "skin_uniformness_l_channel": round(face.blotchiness * 3, 2),
        "skin_overlap_left_eye_inner": score(100 * photo.area("left_eye_area").skin_share + 10),
        "skin_overlap_right_eye_inner": score(100 * photo.area("right_eye_area").skin_share + 10),
    }
    return jsonb_ordered(metrics)


def quality_result(photo: Photo, side: str) -> dict[str, Any]:
    """The ``result`` payload of selfie_v2.quality for a photo with a face."""
    sub_scores = _sub_scores(photo, side)
    overall = score(0.4 * min(sub_scores.values()) + 0.6 * fmean(sub_scores.values()))
    return {
        "feedback": _feedback(photo, sub_scores, overall),
        "image_type": "selfie",
        "area_results": [
            {
                "area_name": "face",
                "main_metric": {
                    "name": "Image Quality Score",
                    "value": overall,
                    "tech_name": "image_quality_score",
                    "widget_meta": None,
                    "widget_type": "bad_good_line",
                },
                "sub_metrics": sub_scores,
                "debug_metrics": _debug_metrics(photo, side),
            }
        ],
        "masks_original": None,
        "masks_restored": None,
        "algorithm_tech_name": "quality",
    }


def _no_face_detection(side: str, light: str) -> dict[str, Any]:
    return {
        "bbox": None,
        "mesh": None,
        "side": side,
        "light": light,
        "feedback": {
            "overlay": "No face detected",
            "tooltip": {"warn": [], "negative": ["Face is not detected"], "positive": []},
        },
        "detection_params": {
            "full_face": None,
            "yaw_angle": None,
            "roll_angle": None,
            "pitch_angle": None,
            "face_detected": False,
            "detection_confidence": 0.0,
        },
        "transform_sequence": {"sequence": []},
    }


def _alignment(photo: Photo) -> dict[str, Any]:
    """The affine map from the original photo to the 2380x2380 face-aligned image."""
    left, top, right, bottom = photo.geometry.restored_square()
    scale_x = RESTORED_SIZE / max(right - left, 1)
    scale_y = RESTORED_SIZE / max(bottom - top, 1)
    return {
        "type": "affine",
        "matrix": [
            [round(scale_x, 6), 0.0, round(-left * scale_x, 3)],
            [0.0, round(scale_y, 6), round(-top * scale_y, 3)],
        ],
        "output_size": [RESTORED_SIZE, RESTORED_SIZE],
    }


def face_detector_result(photo: Photo, side: str, light: str) -> dict[str, Any]:
    """The ``result`` payload of selfie_v2.face_detector (always an ok row)."""
    if not photo.face_found or photo.face_box is None:
        return _no_face_detection(side, light)
    geometry = photo.geometry
    yaw = _YAW_BY_SIDE.get(side, 0.0)
    left, top, right, bottom = photo.face_box
    bbox = [max(0, left), max(0, top), min(photo.width, right), min(photo.height, bottom)]
    warn = [SEVERAL_FACES] if photo.faces > 1 else []
    if photo.full_face:
        feedback = {
            "overlay": "Face detected",
            "tooltip": {"warn": warn, "negative": [], "positive": ["Face is detected"]},
        }
    else:
        feedback = {
            "overlay": "Not full face",
            "tooltip": {"warn": warn, "negative": [NOT_FULL_FACE], "positive": []},
        }
    return {
        "bbox": bbox,
        "mesh": [list(geometry.point(u, v)) for u, v in LANDMARK_TEMPLATE],
        "side": side,
        "light": light,
        "feedback": feedback,
        "detection_params": {
            "full_face": side == "front" and photo.full_face,
            "yaw_angle": yaw,
            "roll_angle": round(photo.roll, 1),
            "pitch_angle": 0.0,
            "face_detected": True,
            "detection_confidence": round(photo.detection_confidence, 3),
        },
        "transform_sequence": {"sequence": [_alignment(photo)]},
    }
