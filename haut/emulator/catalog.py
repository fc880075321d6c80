"""The emulator's catalogue of Face Skin Metrics 2.0: algorithms, dictionaries and applications.

Ids, family tech names and the application id come from the real 2022 capture
(reference §6.3); the dictionary bodies follow reference §13.1 / §13.2. Family ids, family
display names of the non-smoothable algorithms, delay factors and the dictionary fields beyond
those named in §13 are our guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haut.paths import FSM2_APPLICATION_ID
from schemas.api_results import FACE_DETECTOR_ID

FSM2_APPLICATION_NAME = "Face Skin Metrics 2.0"
FSM2_APPLICATION_TECH_NAME = "face_skin_metrics_2.0"
FSM2_APPLICATION_DESCRIPTION = (
    "Use this application to analyze the skin’s overall condition.<br>This app will check the "
    "selfie’s image quality and assess visual skin features, such as:<ol> <li>perceived age</li> "
    "<li>eye age</li> <li>skin tone</li> <li>eye bags</li> <li>uniformness</li> <li>redness</li> "
    "<li>wrinkles</li> <li>pores</li> <li>sagging</li> <li>acne</li> <li>pigmentation</li> "
    "<li>translucency</li> <li>hydration</li> <li>facial landmarks</li> <li>lines</li></ol>For "
    "the calculated metrics, the application will produce analytics, which is available in the "
    "interface. You can use this application to compare subjects, track skin dynamics over time, "
    "and get skin metric reports."
)
# The application's author and creation time are not in the public record.
_APPLICATION_AUTHOR_ID = 1
_APPLICATION_CREATION_TIME = "2021-09-01 00:00:00"


@dataclass(frozen=True)
class AlgorithmSpec:
    """One FSM 2.0 algorithm version as the API names it."""

    id: int
    family_tech_name: str
    name: str
    version: str
    family_id: int
    smoothable: bool
    delay_factor: float

    @property
    def short_tech_name(self) -> str:
        """The family tech name without the ``selfie_v2.`` prefix (``redness``)."""
        return self.family_tech_name.rsplit(".", 1)[-1]


def _spec(
    algorithm_id: int, short: str, name: str, family_id: int, smoothable: bool, delay: float
) -> AlgorithmSpec:
    return AlgorithmSpec(
        id=algorithm_id,
        family_tech_name=f"selfie_v2.{short}",
        name=name,
        version="2.0",
        family_id=family_id,
        smoothable=smoothable,
        delay_factor=delay,
    )


# Delay factors follow the capture's row creation times: the detector first, landmarks and
# sagging next, hydration, wrinkles, pores and translucency last.
ALGORITHMS: tuple[AlgorithmSpec, ...] = (
    _spec(30, "redness", "Redness", 3, True, 0.55),
    _spec(31, "age", "Age", 1, False, 0.5),
    _spec(32, "uniformness", "Uniformness", 2, True, 0.6),
    _spec(33, "eye_bags", "Eye Bags", 4, True, 0.6),
    _spec(34, "wrinkles", "Wrinkles", 5, True, 0.9),
    _spec(35, "pores", "Pores", 6, True, 0.95),
    _spec(36, "acne", "Acne", 7, True, 0.65),
    _spec(37, "sagging", "Sagging", 8, True, 0.35),
    _spec(38, "front_face_areas", "Front Face Areas", 9, False, 0.45),
    _spec(39, "pigmentation", "Pigmentation", 10, True, 0.65),
    _spec(FACE_DETECTOR_ID, "face_detector", "Face Detector", 11, False, 0.2),
    _spec(41, "eyes_age", "Eyes Age", 12, False, 0.5),
    _spec(42, "skin_tone", "Skin Tone", 13, False, 0.55),
    _spec(43, "quality", "Quality", 14, True, 0.45),
    _spec(50, "translucency", "Translucency", 15, True, 1.0),
    _spec(51, "hydration", "Hydration", 16, True, 0.85),
    _spec(52, "facial_landmarks", "Facial Landmarks", 17, False, 0.3),
    _spec(69, "lines", "Lines", 18, True, 0.6),
)

_BY_ID = {spec.id: spec for spec in ALGORITHMS}
_BY_FAMILY = {spec.family_tech_name: spec for spec in ALGORITHMS}

# The order of the real smoothed_results capture (tests/fixtures/fsm2_smoothed_results.json).
SMOOTHED_RESULTS_ORDER: tuple[str, ...] = tuple(
    f"selfie_v2.{short}"
    for short in (
        "translucency",
        "uniformness",
        "wrinkles",
        "pores",
        "eye_bags",
        "quality",
        "sagging",
        "hydration",
        "acne",
        "lines",
        "redness",
        "pigmentation",
    )
)


def algorithm(algorithm_id: int) -> AlgorithmSpec:
    """The algorithm with this ``algorithm_version_id``; KeyError if the emulator has none."""
    return _BY_ID[algorithm_id]


def algorithm_by_family(family_tech_name: str) -> AlgorithmSpec:
    """The algorithm of this family tech name (``selfie_v2.redness``); KeyError if unknown."""
    return _BY_FAMILY[family_tech_name]


def algorithms_dict() -> list[dict[str, Any]]:
    """Body of ``GET /api/v1/dicts/algorithms/`` (reference §13.1)."""
    return [
        {
            "id": spec.id,
            "name": spec.name,
            "tech_name": spec.family_tech_name,
            "version": spec.version,
            "algorithm_family": {
                "id": spec.family_id,
                "name": spec.name,
                "tech_name": spec.short_tech_name,
            },
            "application_id": FSM2_APPLICATION_ID,
        }
        for spec in ALGORITHMS
    ]


def _named(item_id: int, tech_name: str) -> dict[str, Any]:
    return {"id": item_id, "name": tech_name.replace("_", " ").title(), "tech_name": tech_name}


def _image_type(type_id: int, tech_name: str, sides: list[tuple[int, str]]) -> dict[str, Any]:
    return {
        **_named(type_id, tech_name),
        "sides": [_named(side_id, side) for side_id, side in sides],
        "lights": [_named(1, "regular")],
    }


def image_types_dict() -> list[dict[str, Any]]:
    """Body of ``GET /api/v1/dicts/image_types/`` (reference §13.2).

    Skin and visia images have a single side; we give it the front side's id 1 (a guess).
    """
    return [
        _image_type(1, "selfie", [(1, "front"), (2, "right"), (3, "left")]),
        _image_type(2, "skin", [(1, "front")]),
        _image_type(3, "visia", [(1, "front")]),
    ]


def applications() -> list[dict[str, Any]]:
    """Items of ``GET {C}/applications/`` (reference §4.2): Face Skin Metrics 2.0."""
    selfie = image_types_dict()[0]
    return [
        {
            "id": FSM2_APPLICATION_ID,
            "name": FSM2_APPLICATION_NAME,
            "tech_name": FSM2_APPLICATION_TECH_NAME,
            "author_id": _APPLICATION_AUTHOR_ID,
            "creation_time": _APPLICATION_CREATION_TIME,
            "image_type": selfie,
            "algorithms_versions": [
                {
                    "id": spec.id,
                    "name": spec.name,
                    "tech_name": spec.family_tech_name,
                    "html_description": f"<p>{spec.name} {spec.version}</p>",
                }
                for spec in ALGORITHMS
            ],
            "description": FSM2_APPLICATION_DESCRIPTION,
            "preview": None,
            "promote_image_url": None,
            "is_enabled": True,
            "algorithms_flags": None,
        }
    ]
