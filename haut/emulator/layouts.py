"""How each FSM 2.0 result payload is laid out, copied from the real 2022 capture.

One ``ResultLayout`` (:mod:`haut.emulator.layout_model`) per algorithm family: the
``algorithm_tech_name`` inside ``result``, the areas in capture order, the main metric and
sub-metrics of each area (``None`` is JSON null, an empty tuple is ``[]``, as the capture
distinguishes them) and the masks of the original and the face-aligned ("restored") image.
Values are not here: :mod:`haut.emulator.scoring` computes them. tests/emulator/test_catalog.py
checks every table against the capture.
"""

from __future__ import annotations

from haut.emulator.layout_model import (
    HEATMAP,
    POINT,
    POLYGON,
    POLYLINE,
    MaskSpec,
    ResultLayout,
    mask_pair,
    masks,
    metric,
)

_SAGGING_LINES = mask_pair(
    "sagging_mask_original",
    "sagging_mask_restored",
    "Skin sagging lines mask",
    POLYLINE,
    "#da52e4",
    "nasolabial",
)
_DENSITY = "density"
_NUMERIC = "numeric"
_CHEEKS_ETC = ("face", "nose", "left_cheek", "right_cheek", "forehead", "chin")

# Front face areas: the restored image reports no under-eye areas in the capture.
FACE_AREA_MASKS: tuple[tuple[str, str], ...] = (
    ("forehead", "Forehead"),
    ("left_cheek", "Left Cheek"),
    ("right_cheek", "Right Cheek"),
    ("nose", "Nose"),
    ("chin", "Chin"),
    ("left_eye_area", "Left Eye Area"),
    ("right_eye_area", "Right Eye Area"),
    ("left_under_eye_area", "Left Under Eye Area"),
    ("right_under_eye_area", "Right Under Eye Area"),
)
_FACE_AREAS_ORIGINAL = tuple(MaskSpec(t, n, POLYGON, None, t) for t, n in FACE_AREA_MASKS)
_FACE_AREAS_RESTORED = _FACE_AREAS_ORIGINAL[:7]

_REDNESS_SUBS = (
    metric("redness_local_score", "Redness Local Score"),
    metric("redness_global_score", "Redness Global Score"),
)
_EYE_BAGS_SUBS = (
    metric("dark_circles_score", "Dark Circle Score"),
    metric("eye_bags_score", "Eye Bags Score"),
    metric("lacrimal_grooves_score", "Lacrimal Grooves Score"),
)
_ACNE_SUBS = (
    metric("number_of_regions", "Number of acne regions", _NUMERIC),
    metric("density_score", "Acne regions density score", _DENSITY),
    metric("average_intensity_score", "Average intensity of acne regions", _DENSITY),
)
_PIGMENTATION_SUBS = (
    metric("number_of_regions", "Number of pigmentation spots", _NUMERIC),
    metric("density_score", "Pigmentation density score", _DENSITY),
    metric("average_intensity_score", "Average intensity of pigmentation", _DENSITY),
    metric("average_region_size", "Average size of pigmentation spots", _DENSITY),
    metric("region_size_std", "Standard deviation of pigmentation spots size", _DENSITY),
)
_SKIN_TONE_SUBS = (
    metric("skintone_l_channel", "SkinTone L channel", _NUMERIC),
    metric("skintone_a_channel", "SkinTone a channel", _NUMERIC),
    metric("skintone_b_channel", "SkinTone b channel", _NUMERIC),
)

LAYOUTS: dict[str, ResultLayout] = {
    "selfie_v2.redness": ResultLayout(
        "redness",
        ("face", "nose", "forehead", "right_cheek", "left_cheek", "chin"),
        metric("redness_score", "Redness Score"),
        face_subs=_REDNESS_SUBS,
        area_subs=_REDNESS_SUBS,
        **masks(
            mask_pair(
                "redness_mask_original", "redness_mask", "Redness Mask", HEATMAP, "#0000FF", "skin"
            )
        ),
    ),
    "selfie_v2.age": ResultLayout(
        "age", ("face",), metric("perceived_age", "Perceived Age", _NUMERIC)
    ),
    "selfie_v2.uniformness": ResultLayout(
        "uniformness",
        ("face", "forehead_n_bridge", "right_cheek", "left_cheek"),
        metric("uniformness_score", "Uniformness Score"),
        **masks(
            mask_pair(
                "uniformness_mask_original",
                "uniformness_mask_restored",
                "Uniformness Mask",
                HEATMAP,
                "#d42461",
                "skin",
            )
        ),
    ),
    "selfie_v2.eye_bags": ResultLayout(
        "eye_bags",
        ("face", "left_eye_area", "right_eye_area"),
        metric("eye_area_condition", "Eye Area Condition"),
        face_subs=_EYE_BAGS_SUBS,
        area_subs=_EYE_BAGS_SUBS,
        **masks(
            mask_pair(
                "dark_circles_original_mask",
                "dark_circles_mask",
                "Dark Circles Mask",
                POLYGON,
                "#fcff54",
                "under_eyes",
            ),
            mask_pair(
                "eye_bags_original",
                "eye_bags_mask",
                "Eye Bags Mask",
                POLYGON,
                "#fcff54",
                "eye_bags",
            ),
            mask_pair(
                "lacrimal_grooves_original_mask",
                "lacrimal_grooves_mask",
                "Lacrimal Grooves Mask",
                POLYGON,
                "#ffffff",
                "lacrimal",
            ),
        ),
    ),
    "selfie_v2.wrinkles": ResultLayout(
        "wrinkles",
        ("face", "forehead", "right_eye_area", "left_eye_area"),
        metric("wrinkles_score", "Wrinkles Score"),
        face_subs=None,
        area_subs=(
            metric("deep_wrinkles_density", "Deep Wrinkles Density", _DENSITY),
            metric("fine_wrinkles_density", "Fine Wrinkles Density", _DENSITY),
        ),
        **masks(
            mask_pair(
                "wrinkles_polygon_mask_original",
                "wrinkles_polygon_mask_restored",
                "Wrinkles Mask",
                POLYGON,
                "#ffffff",
                "eye_corners",
            ),
            mask_pair(
                "wrinkles_polyline_mask_original",
                "wrinkles_polyline_mask_restored",
                "Wrinkles Mask",
                POLYLINE,
                "#ffffff",
                "eye_corners",
            ),
        ),
    ),
    "selfie_v2.pores": ResultLayout(
        "pores",
        ("face", "nose", "forehead", "right_cheek", "left_cheek"),
        metric("Pores_score", "Pores Score"),
        face_subs=(
            metric("pores_number", "Pores Number", _NUMERIC),
            metric("pores_density", "Pores Density", _DENSITY),
        ),
        area_subs=None,
        **masks(
            mask_pair("pores_mask_original", "pores_mask", "Pores Mask", POINT, "#0000FF", "pores")
        ),
    ),
    "selfie_v2.acne": ResultLayout(
        "acne",
        _CHEEKS_ETC,
        metric("acne_score", "Acne score"),
        face_subs=_ACNE_SUBS,
        area_subs=_ACNE_SUBS,
        **masks(
            mask_pair(
                "acne_mask_origin", "acne_mask", "Acne regions mask", POLYGON, "#ffffff", "acne"
            )
        ),
    ),
    "selfie_v2.sagging": ResultLayout(
        "sagging",
        ("face", "left_cheek", "right_cheek"),
        metric("sagging_score", "Sagging Score"),
        **masks(_SAGGING_LINES),
    ),
    "selfie_v2.front_face_areas": ResultLayout(
        "front_face_areas",
        (),
        None,
        masks_original=_FACE_AREAS_ORIGINAL,
        masks_restored=_FACE_AREAS_RESTORED,
        area_results_null=True,
    ),
    "selfie_v2.pigmentation": ResultLayout(
        "pigmentation",
        _CHEEKS_ETC,
        metric("pigmentation_score", "Pigmentation score"),
        face_subs=_PIGMENTATION_SUBS,
        area_subs=_PIGMENTATION_SUBS,
        **masks(
            mask_pair(
                "pigmentation_mask_origin",
                "pigmentation_mask",
                "Pigmentation spots mask",
                POLYGON,
                "#ffffff",
                "pigmentation",
            )
        ),
    ),
    "selfie_v2.eyes_age": ResultLayout(
        "eyes_age",
        ("face", "left_eye_area", "right_eye_area"),
        metric("eye_age", "Eye Age", _NUMERIC),
        main_by_area={
            "left_eye_area": metric("left_eye_age", "Left Eye Age", _NUMERIC),
            "right_eye_area": metric("right_eye_age", "Right Eye Age", _NUMERIC),
        },
    ),
    "selfie_v2.skin_tone": ResultLayout(
        "skin_tone",
        ("face", "forehead", "right_cheek", "left_cheek"),
        metric("ita_score", "ITA score", "ITA"),
        face_subs=_SKIN_TONE_SUBS,
        area_subs=_SKIN_TONE_SUBS,
    ),
    "selfie_v2.quality": ResultLayout(
        "quality", ("face",), metric("image_quality_score", "Image Quality Score")
    ),
    "selfie_v2.translucency": ResultLayout(
        "translucency",
        ("face", "forehead", "right_cheek", "left_cheek"),
        metric("translucency_score", "Translucency score"),
        face_subs=(),
        area_subs=(),
        **masks(
            mask_pair(
                "translucency_mask_origin",
                "translucency_mask",
                "Translucency mask",
                HEATMAP,
                "#66ccff",
                "skin",
            )
        ),
    ),
    "selfie_v2.hydration": ResultLayout(
        "Hydration",
        ("face",),
        metric("hydration_score", "Hydration Score"),
        face_subs=(metric("hydration_level", "Hydration Level", "category"),),
        **masks(
            (
                MaskSpec(
                    "dehydration_mask_original",
                    "Dehydration Mask Original",
                    HEATMAP,
                    "#FF00F5",
                    "skin",
                ),
                MaskSpec("dehydration_mask", "Dehydration Mask", HEATMAP, "#FF00F5", "skin"),
            )
        ),
    ),
    "selfie_v2.facial_landmarks": ResultLayout(
        "facial_landmarks",
        (),
        None,
        **masks(
            (
                MaskSpec(
                    "facial_landmarks_mask_original",
                    "Facial Landmarks Mask",
                    POINT,
                    "#0000ff",
                    "landmarks",
                ),
                MaskSpec(
                    "facial_landmarks_mask_restored",
                    "Facial Landmarks Mask",
                    POINT,
                    "#0000ff",
                    "landmarks",
                ),
            )
        ),
    ),
    "selfie_v2.lines": ResultLayout(
        "lines",
        ("face", "forehead", "right_eye_corner", "left_eye_corner", "left_cheek", "right_cheek"),
        metric("lines_score", "Lines Score"),
        face_subs=(),
        area_subs=(),
        **masks(
            mask_pair(
                "fine_lines_mask_original",
                "fine_lines_mask_restored",
                "Fine Lines Mask",
                POLYLINE,
                "#15d0ef",
                "forehead_lines",
            ),
            mask_pair(
                "deep_lines_mask_original",
                "deep_lines_mask_restored",
                "Deep Lines Mask",
                POLYGON,
                "#7ff31c",
                "eye_corners",
            ),
            _SAGGING_LINES,
        ),
    ),
}
