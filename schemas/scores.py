"""How to read a face family's value: its unit, its range and which way is better.

FSM 2.0 (reference §6.2-6.3): the twelve ``bad_good_line`` families are scores from 0 to 100
where higher is better; perceived age and eye age are years; skin tone is the ITA angle in
degrees, -90 to 90, where higher is lighter and neither way is better. The docs' classes of a
score and of the ITA angle (reference §6.3) are here too, for the data dictionary
(``docs/lake.md``) and the plot's axes to say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "FACE_SCALES",
    "ITA_CLASSES",
    "SCORE_CLASSES",
    "SCORE_RANGE",
    "Better",
    "FaceScale",
    "face_scale",
]

SCORE_RANGE = (0.0, 100.0)
"""Every ``bad_good_line`` value lies here (the API's integers, the smoothing's means)."""


class Better(StrEnum):
    """Which way a value is better."""

    HIGHER = "higher"
    NEITHER = "neither"


@dataclass(frozen=True)
class FaceScale:
    """One face family's main metric on area ``face``: what its number means."""

    family: str
    metric: str
    """The main metric's tech name, as in ``metrics.tech_name``."""
    widget_type: str
    unit: str
    low: float | None
    high: float | None
    """The range the value lies in; None where the API fixes none (ages)."""
    better: Better
    meaning: str

    @property
    def is_score(self) -> bool:
        """A 0-100 bad-good score: the families the API smooths and the plot draws alike."""
        return self.widget_type == "bad_good_line"

    @property
    def range_text(self) -> str:
        """The range as the dictionary prints it, e.g. ``0-100`` or ``-90..90``."""
        if self.low is None or self.high is None:
            return "no fixed range"
        low, high = f"{self.low:g}", f"{self.high:g}"
        return f"{low}..{high}" if self.low < 0 else f"{low}-{high}"


def _score(family: str, metric: str, meaning: str) -> FaceScale:
    low, high = SCORE_RANGE
    return FaceScale(family, metric, "bad_good_line", "score", low, high, Better.HIGHER, meaning)


FACE_SCALES: tuple[FaceScale, ...] = (
    _score("redness", "redness_score", "Redness of the skin: higher, less of it"),
    _score("acne", "acne_score", "Acne: higher, less of it"),
    _score("pores", "Pores_score", "Pores: higher, less visible"),
    _score("pigmentation", "pigmentation_score", "Pigmentation spots: higher, fewer and fainter"),
    _score("uniformness", "uniformness_score", "Evenness of the skin tone: higher, more even"),
    _score("lines", "lines_score", "Lines: higher, fewer"),
    _score("wrinkles", "wrinkles_score", "Wrinkles: higher, fewer (a deprecated family)"),
    _score(
        "eye_bags",
        "eye_area_condition",
        "Eye area: dark circles, bags and grooves; higher, less of them",
    ),
    _score("sagging", "sagging_score", "Sagging: higher, less of it (a deprecated family)"),
    _score("translucency", "translucency_score", "Translucency of the skin (a deprecated family)"),
    _score(
        "hydration",
        "hydration_score",
        "Hydration: higher, better hydrated (an experimental family)",
    ),
    _score("quality", "image_quality_score", "The photo's quality for analysis, not the skin's"),
    FaceScale(
        "skin_tone",
        "ita_score",
        "ITA",
        "degrees (ITA)",
        -90.0,
        90.0,
        Better.NEITHER,
        "Individual Typology Angle of the skin: higher is lighter",
    ),
    FaceScale(
        "age",
        "perceived_age",
        "numeric",
        "years",
        None,
        None,
        Better.NEITHER,
        "Perceived age of the face (lower looks younger)",
    ),
    FaceScale(
        "eyes_age",
        "eye_age",
        "numeric",
        "years",
        None,
        None,
        Better.NEITHER,
        "Perceived age of the eye area (left_eye_age, right_eye_age per eye)",
    ),
)
"""Every face family of :data:`schemas.views.FACE_FAMILIES`, in that order."""

_BY_FAMILY = {scale.family: scale for scale in FACE_SCALES}


def face_scale(family: str) -> FaceScale | None:
    """The scale of a face family; None for a family the API added since (no scale known)."""
    return _BY_FAMILY.get(family)


SCORE_CLASSES: tuple[tuple[float, float, str], ...] = (
    (90, 100, "Excellent"),
    (80, 90, "Great"),
    (70, 80, "Good"),
    (50, 70, "Average"),
    (30, 50, "Poor"),
    (0, 30, "Bad"),
)
"""The docs' classes of a ``bad_good_line`` score: (above, up to and including, name); the
lowest class includes 0."""

ITA_CLASSES: tuple[tuple[float, float, str], ...] = (
    (55, 90, "very light"),
    (41, 55, "light"),
    (28, 41, "intermediate"),
    (-10, 28, "tan"),
    (-30, -10, "brown"),
    (-90, -30, "dark"),
)
"""The docs' skin-tone classes of the ITA angle, as :data:`SCORE_CLASSES`."""
