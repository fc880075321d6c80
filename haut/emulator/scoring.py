"""Metric values of an emulated FSM 2.0 run, from a photo's measured statistics.

Each family's values follow something visible on the aligned face (:mod:`.skin`): skin a* for
redness, CIELAB L* and b* for ITA, dark and red spots for pigmentation and acne, fine detail for
wrinkles, pores, lines and age, blotchiness (uneven tone) for uniformness. Nothing is drawn from
the file's bytes: the same face re-saved or resized scores the same (within rounding), and two
photos differ where their faces differ. The formulas are ours; only ranges and types follow the
real service (0-100 ints for bad_good_line, years for ages, ITA -90..90, CIELAB channels, counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import fmean, pstdev

from haut.emulator.photo import Photo
from haut.emulator.skin import AreaStats
from haut.emulator.spots import DARK, RED, Spot

Value = int | str
AreaValues = dict[str, tuple[Value, tuple[Value, ...]]]
_SPOT_AREAS_OF_FACE = ("nose", "left_cheek", "right_cheek", "forehead", "chin")
# Where lines and grain show with age and skin is sure to be seen: cheeks and under the eyes
# (the forehead is often under a fringe, the eye corners share their area with hair,
# background or glasses).
_AGEING_AREAS = ("left_cheek", "right_cheek", "left_under_eye_area", "right_under_eye_area")
# Fineness (fine detail over relief, see fineness()) of smooth skin; at 38 years; years per unit;
# and the least relief divided by (so smooth, featureless skin reads smooth, not noisy).
_SMOOTH_FINENESS = 0.3
_FINENESS_AT_38 = 0.6
_YEARS_PER_FINENESS = 61.0
_LEAST_RELIEF = 2.5
# Spot burden (pixels x contrast beyond the threshold) that takes a score from 100 to 37.
_SPOT_BURDEN = {DARK: 40.0, RED: 80.0}


def score(value: float) -> int:
    """A bad_good_line value: rounded and kept within 0..100."""
    return int(min(100, max(0, round(value))))


def hydration_level(hydration_score: int) -> str:
    """The hydration category the real service pairs with a hydration score (our bands)."""
    if hydration_score >= 70:
        return "Normal Hydration"
    if hydration_score >= 50:
        return "Mild Dehydration"
    if hydration_score >= 30:
        return "Moderate Dehydration"
    return "Severe Dehydration"


def area_fineness(stats: AreaStats) -> float:
    """One area's fine detail over its relief (see :func:`fineness`)."""
    return stats.texture / max(_LEAST_RELIEF, stats.relief)


def fineness(photo: Photo) -> float:
    """Fine detail (lines, creases) over coarser relief (folds, contours) where age shows.

    A ratio, because a re-save at a low JPEG quality or a smaller copy softens both bands
    alike: the ratio stays put where either alone would drift by years.
    """
    areas = [photo.area(area) for area in _AGEING_AREAS]
    relief = max(_LEAST_RELIEF, fmean(a.relief for a in areas))
    return fmean(a.texture for a in areas) / relief


def perceived_age(photo: Photo) -> int:
    """Perceived age in years: skin without fine lines reads younger.

    About 38 for scikit-image's astronaut photo and about 75 for matplotlib's Grace Hopper
    portrait (their sitters were about 38 and 78); 18 at the least for a smooth drawn face.
    """
    raw = 38 + _YEARS_PER_FINENESS * (fineness(photo) - _FINENESS_AT_38)
    return int(min(85, max(18, round(raw))))


class _Scorer:
    """Values of every metric family for one photo (areas in the layout's order)."""

    def __init__(self, photo: Photo) -> None:
        self.photo = photo
        self.age = perceived_age(photo)

    def _spots(self, kind: str, area: str) -> list[Spot]:
        areas = _SPOT_AREAS_OF_FACE if area == "face" else (area,)
        return [s for s in self.photo.spots if s.kind == kind and s.area in areas]

    def _texture_score(self, area: str, base: float, weight: float) -> float:
        lined = max(0.0, area_fineness(self.photo.area(area)) - _SMOOTH_FINENESS)
        return base - weight * lined - 0.25 * (self.age - 30)

    def redness(self, areas: tuple[str, ...]) -> AreaValues:
        """Higher is calmer skin. Both parts fall smoothly with redness and never reach a floor.

        Global: skin a* above a calm 3 lowers the score exponentially (a* 8 -> 85, 15 -> 67,
        30 -> 41, 45 -> 25, 60 -> 15), so a sunburnt face keeps scoring worse the redder it gets
        instead of stopping at 0. Local: red spots and blotchiness take a share of that.
        """
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            calm = math.exp(-max(0.0, stats.red_green - 3) / 30)
            global_value = 100 * calm
            red_spots = sum(spot.intensity for spot in self._spots(RED, area))
            blotches = 0.08 * red_spots + 0.03 * max(0.0, stats.blotchiness - 3)
            local_value = global_value * math.exp(-blotches)
            local_score, global_score = score(local_value), score(global_value)
            out[area] = (score((global_value + local_value) / 2), (local_score, global_score))
        return out

    def skin_tone(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            lightness = stats.lightness
            ita = math.degrees(math.atan2(lightness - 50, max(stats.yellow_blue, 1e-6)))
            channels = (round(lightness), round(stats.red_green), round(stats.yellow_blue))
            out[area] = (round(max(-90.0, min(90.0, ita))), channels)
        return out

    def _spot_values(self, kind: str, area: str) -> tuple[int, tuple[int, ...]]:
        """Score and (count, density, intensity, mean size, size spread) of one spot kind.

        The score falls with each spot's intensity and size (a spot that only just stands out
        weighs nothing), exponentially, so many spots keep lowering it without a floor.
        """
        spots = self._spots(kind, area)
        areas = _SPOT_AREAS_OF_FACE if area == "face" else (area,)
        stats = [self.photo.area(a) for a in areas]
        burden = sum(s.red_burden if kind == RED else s.dark_burden for s in stats)
        # Spot sizes as if the face were 300 px wide, so they do not grow with resolution.
        sizes = [spot.size * (300 / 128) ** 2 for spot in spots]
        density = min(100, round(sum(sizes) / 400))
        intensity = round(100 * fmean(s.intensity for s in spots)) if spots else 0
        main = score(100 * math.exp(-burden / _SPOT_BURDEN[kind]))
        size_stats = (round(fmean(sizes)), round(pstdev(sizes))) if sizes else (0, 0)
        return main, (len(spots), density, intensity, *size_stats)

    def acne(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas:
            main, subs = self._spot_values(RED, area)
            out[area] = (main, subs[:3])
        return out

    def pigmentation(self, areas: tuple[str, ...]) -> AreaValues:
        return {area: self._spot_values(DARK, area) for area in areas}

    def uniformness(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            spots = sum(s.intensity for s in self._spots(DARK, area) + self._spots(RED, area))
            value = 100 - 6 * max(0.0, stats.blotchiness - 1.0) - 2 * spots
            out[area] = (score(value), ())
        return out

    def eye_bags(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas[1:]:
            side = area.split("_", 1)[0]
            cheek = self.photo.area(f"{side}_cheek")
            under_eye = self.photo.area(f"{side}_under_eye_area")
            shadow = max(0.0, cheek.lightness - under_eye.lightness)
            creases = 5 * max(0.0, area_fineness(under_eye) - _SMOOTH_FINENESS)
            subs = (
                score(90 - 3 * shadow),
                score(92 - 0.4 * (self.age - 25) - 4 * creases),
                score(90 - 0.3 * (self.age - 25) - 3 * creases),
            )
            out[area] = (score(fmean(subs)), subs)
        both = [out[area][1] for area in areas[1:]]
        face_subs = tuple(score(fmean(values)) for values in zip(*both, strict=True))
        return {"face": (score(fmean(face_subs)), face_subs), **out}

    def _per_area(self, areas: tuple[str, ...], base: float, weight: float) -> AreaValues:
        values = {a: self._texture_score(a, base, weight) for a in areas[1:]}
        out: AreaValues = {a: (score(v), ()) for a, v in values.items()}
        return {"face": (score(fmean(values.values())), ()), **out}

    def wrinkles(self, areas: tuple[str, ...]) -> AreaValues:
        out = self._per_area(areas, 95, 25)
        for area in areas[1:]:
            value = int(out[area][0])
            out[area] = (value, (max(0, (85 - value) // 8), max(0, (95 - value) // 12)))
        return out

    def pores(self, areas: tuple[str, ...]) -> AreaValues:
        out = self._per_area(areas, 85, 30)
        face = int(out["face"][0])
        number = max(0, round((100 - face) * 17))
        out["face"] = (face, (number, max(0, round((100 - face) / 30))))
        return out

    def lines(self, areas: tuple[str, ...]) -> AreaValues:
        return self._per_area(areas, 92, 22)

    def sagging(self, areas: tuple[str, ...]) -> AreaValues:
        return self._per_area(areas, 82, 8)

    def translucency(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            value = 50 + 0.8 * (stats.lightness - 45) - 2.5 * stats.blotchiness
            out[area] = (score(value), ())
        return out

    def hydration(self, areas: tuple[str, ...]) -> AreaValues:
        lined = max(0.0, fineness(self.photo) - _SMOOTH_FINENESS)
        value = score(90 - 15 * lined - 0.3 * (self.age - 30))
        return {"face": (value, (hydration_level(value),))}

    def age_values(self, areas: tuple[str, ...]) -> AreaValues:
        return {"face": (self.age, ())}

    def eyes_age(self, areas: tuple[str, ...]) -> AreaValues:
        # The eyes read older than the face where the skin under them is more lined than the rest.
        face = fineness(self.photo)

        def eye_age(area: str) -> float:
            under_eye = self.photo.area(area.replace("_eye_area", "_under_eye_area"))
            return self.age + 10 * (area_fineness(under_eye) - face)

        sides = {area: eye_age(area) for area in areas[1:3]}
        eyes = int(min(85, max(18, round(fmean(sides.values())))))
        return {
            "face": (eyes, ()),
            **{area: (int(min(85, max(18, round(value)))), ()) for area, value in sides.items()},
        }


_FAMILY_METHOD: dict[str, Callable[[_Scorer, tuple[str, ...]], AreaValues]] = {
    "selfie_v2.redness": _Scorer.redness,
    "selfie_v2.skin_tone": _Scorer.skin_tone,
    "selfie_v2.acne": _Scorer.acne,
    "selfie_v2.pigmentation": _Scorer.pigmentation,
    "selfie_v2.uniformness": _Scorer.uniformness,
    "selfie_v2.eye_bags": _Scorer.eye_bags,
    "selfie_v2.wrinkles": _Scorer.wrinkles,
    "selfie_v2.pores": _Scorer.pores,
    "selfie_v2.lines": _Scorer.lines,
    "selfie_v2.sagging": _Scorer.sagging,
    "selfie_v2.translucency": _Scorer.translucency,
    "selfie_v2.hydration": _Scorer.hydration,
    "selfie_v2.age": _Scorer.age_values,
    "selfie_v2.eyes_age": _Scorer.eyes_age,
}


def family_values(photo: Photo, family_tech_name: str, areas: tuple[str, ...]) -> AreaValues:
    """Per area: the main value and the sub-metric values, in the layout's order."""
    return _FAMILY_METHOD[family_tech_name](_Scorer(photo), areas)
