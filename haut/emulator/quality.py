"""The two report-like payloads: image quality (id 43) and the face detector (id 40).

Quality follows the real capture (reference §6.5): six integer sub-scores in a dict, ~30 debug
metrics and a feedback block; the main score is 0.4 x the worst sub-score + 0.6 x their mean,
which reproduces the capture's 54 from its sub-scores. The face detector's no-face payload is the
real one (§6.6); its face-found payload (bbox, mesh, transform) is our guess at the same shape.
"""

from __future__ import annotations

import math
from statistics import fmean
from typing import Any

from haut.emulator.geometry import LANDMARK_TEMPLATE, RESTORED_SIZE
from haut.emulator.photo import Photo
from haut.emulator.scoring import jitter, score

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


def jsonb_ordered(mapping: dict[str, Any]) -> dict[str, Any]:
    """Keys in PostgreSQL jsonb order (shorter first, then bytewise), as the real API sends."""
    return {key: mapping[key] for key in sorted(mapping, key=lambda k: (len(k), k.encode()))}


def _sub_scores(photo: Photo, side: str) -> dict[str, int]:
    light = photo.brightness
    lightness = 100 - 3.5 * max(0.0, 40 - light) - 3.5 * max(0.0, light - 72)
    rotation = 98 - abs(_YAW_BY_SIDE.get(side, 0.0)) * 1.8
    return {
        "focus": score(100 * (1 - math.exp(-photo.sharpness / 15)) + jitter(photo, "focus", 2)),
        "colortone": score(100 - 1.5 * max(0.0, photo.colour_cast - 15)),
        "detection": score(100 * photo.detection_confidence),
        "lightness": score(lightness + jitter(photo, "lightness", 2)),
        "resolution": score(100 * photo.face_width / 400),
        "head_rotation": score(rotation + jitter(photo, "rotation", 2)),
    }


def _feedback(sub_scores: dict[str, int], overall: int) -> dict[str, Any]:
    return {
        "overlay": "Low quality image" if overall < 60 else "Good quality image",
        "tooltip": {
            "warn": [_WARN[k] for k, v in sub_scores.items() if 50 <= v < 75],
            "negative": [_NEGATIVE[k] for k, v in sub_scores.items() if v < 50],
            "positive": [_POSITIVE[k] for k, v in sub_scores.items() if v >= 90],
        },
    }


def _debug_metrics(photo: Photo, side: str) -> dict[str, Any]:
    face, forehead = photo.area("face"), photo.area("forehead")
    left, top, right, bottom = photo.face_box or (0, 0, 1, 1)
    eye_width = round(0.17 * (right - left))

    def eye(side_name: str) -> dict[str, Any]:
        stats = photo.area(f"{side_name}_eye_area")
        return {
            f"{side_name}_eye_openness": round(0.25 + jitter(photo, f"open:{side_name}", 0.04), 2),
            f"{side_name}_eye_a_channel": round(stats.red_green - face.red_green, 1),
            f"{side_name}_eye_b_channel": round(stats.yellow_blue - face.yellow_blue, 1),
            f"{side_name}_eye_l_channel": round(stats.lightness, 2),
        }

    metrics = {
        "yaw_angle": _YAW_BY_SIDE.get(side, 0.0),
        "pitch_angle": round(jitter(photo, "pitch", 6.0), 1),
        "eye_width_px": eye_width,
        "eye_height_px": round(eye_width * 0.23),
        "face_width_px": right - left,
        "raw_sharpness": round(photo.sharpness, 2),
        "detection_flag": True,
        "face_height_px": bottom - top,
        "full_face_flag": side == "front",
        "nose_height_px": round(0.2 * (bottom - top)),
        **eye("left"),
        **eye("right"),
        "eye_difference_score": score(50 + jitter(photo, "eye_diff", 20)),
        "eye_exposition_score": score(60 + jitter(photo, "eye_exp", 20)),
        "skin_overlap_forehead": score(100 * forehead.skin_share),
        "skin_overlap_left_cheek": score(100 * photo.area("left_cheek").skin_share),
        "skin_overlap_right_cheek": score(100 * photo.area("right_cheek").skin_share),
        "left_eye_colortone_score": score(98 + jitter(photo, "eye_ct:l", 2)),
        "right_eye_colortone_score": score(98 + jitter(photo, "eye_ct:r", 2)),
        "skin_uniformness_a_channel": round(face.lightness_std * 0.6, 2),
        "skin_uniformness_b_channel": round(face.lightness_std * 0.7, 2),
        "skin_uniformness_l_channel": round(face.lightness_std * 3, 2),
        "skin_overlap_left_eye_inner": score(100 * photo.area("left_eye_area").skin_share + 10),
        "skin_overlap_right_eye_inner": score(100 * photo.area("right_eye_area").skin_share + 10),
    }
    return jsonb_ordered(metrics)


def quality_result(photo: Photo, side: str) -> dict[str, Any]:
    """The ``result`` payload of selfie_v2.quality for a photo with a face."""
    sub_scores = _sub_scores(photo, side)
    overall = score(0.4 * min(sub_scores.values()) + 0.6 * fmean(sub_scores.values()))
    return {
        "feedback": _feedback(sub_scores, overall),
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
    return {
        "bbox": list(photo.face_box),
        "mesh": [list(geometry.point(u, v)) for u, v in LANDMARK_TEMPLATE],
        "side": side,
        "light": light,
        "feedback": {
            "overlay": "Face detected",
            "tooltip": {"warn": [], "negative": [], "positive": ["Face is detected"]},
        },
        "detection_params": {
            "full_face": side == "front",
            "yaw_angle": yaw,
            "roll_angle": round(jitter(photo, "roll", 3.0), 1),
            "pitch_angle": round(jitter(photo, "pitch", 6.0), 1),
            "face_detected": True,
            "detection_confidence": round(photo.detection_confidence, 3),
        },
        "transform_sequence": {"sequence": [_alignment(photo)]},
    }
