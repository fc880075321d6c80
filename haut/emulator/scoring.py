"""Metric values of an emulated FSM 2.0 run, from a photo's measured statistics.

Each family's values follow something visible in the photo (skin a* for redness, CIELAB L* and
b* for ITA, dark and red spots for pigmentation and acne, fine texture for wrinkles, pores and
lines, lightness spread for uniformness) plus a small per-photo jitter drawn from a hash of the
bytes, so two photos of the same face do not score identically. The formulas are ours; only
ranges and types follow the real service (0-100 ints for bad_good_line, years for ages, ITA
-90..90, CIELAB channels, counts).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from statistics import fmean, pstdev

from haut.emulator.photo import Photo
from haut.emulator.spots import DARK, RED, Spot

Value = int | str
AreaValues = dict[str, tuple[Value, tuple[Value, ...]]]
_SPOT_AREAS_OF_FACE = ("nose", "left_cheek", "right_cheek", "forehead", "chin")


def jitter(photo: Photo, key: str, spread: float) -> float:
    """A stable pseudo-random offset in [-spread, spread] for this photo and key."""
    digest = hashlib.blake2b(f"{photo.sha256}:{key}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") / 2**64 * 2 - 1) * spread


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


def perceived_age(photo: Photo) -> int:
    """Perceived age in years: finer texture and fewer spots read younger."""
    face = photo.area("face")
    raw = 27 + 10 * (face.texture - 0.7) + 0.8 * len(photo.spots) + jitter(photo, "age", 9)
    return int(min(80, max(16, round(raw))))


class _Scorer:
    """Values of every metric family for one photo (areas in the layout's order)."""

    def __init__(self, photo: Photo) -> None:
        self.photo = photo
        self.age = perceived_age(photo)

    def _j(self, key: str, spread: float) -> float:
        return jitter(self.photo, key, spread)

    def _spots(self, kind: str, area: str) -> list[Spot]:
        areas = _SPOT_AREAS_OF_FACE if area == "face" else (area,)
        return [s for s in self.photo.spots if s.kind == kind and s.area in areas]

    def _texture_score(self, key: str, area: str, base: float, weight: float) -> int:
        stats = self.photo.area(area)
        return score(
            base
            - weight * max(0.0, stats.texture - 0.6)
            - 0.3 * (self.age - 30)
            + self._j(f"{key}:{area}", 8)
        )

    def redness(self, areas: tuple[str, ...]) -> AreaValues:
        """Higher is calmer skin. Both parts fall smoothly with redness and never reach a floor.

        Global: skin a* above a calm 8 lowers the score exponentially (a* 15 -> 79, 30 -> 48,
        45 -> 29, 60 -> 18), so a sunburnt face keeps scoring worse the redder it gets instead of
        stopping at 0. Local: red spots and blotchiness (L* spread) take a share of that. The
        per-photo jitter is a share too, so it cannot undo a real change in redness.
        """
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            calm = math.exp(-max(0.0, stats.red_green - 8) / 30)
            global_value = 100 * calm * (1 + self._j(f"rg:{area}", 0.02))
            blotches = 0.07 * len(self._spots(RED, area)) + 0.06 * max(0.0, stats.lightness_std - 3)
            local_value = global_value * math.exp(-blotches) * (1 + self._j(f"rl:{area}", 0.04))
            local_score, global_score = score(local_value), score(global_value)
            out[area] = (score((global_value + local_value) / 2), (local_score, global_score))
        return out

    def skin_tone(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            lightness = stats.lightness + self._j(f"L:{area}", 0.8)
            ita = math.degrees(math.atan2(lightness - 50, max(stats.yellow_blue, 1e-6)))
            channels = (round(lightness), round(stats.red_green), round(stats.yellow_blue))
            out[area] = (round(max(-90.0, min(90.0, ita))), channels)
        return out

    def _spot_values(self, kind: str, area: str) -> tuple[int, tuple[int, ...]]:
        """Score and (count, density, intensity, mean size, size spread) of one spot kind."""
        spots = self._spots(kind, area)
        penalty = sum(2 + 10 * spot.intensity for spot in spots)
        # Spot sizes as if the face were 300 px wide, so they do not grow with resolution.
        sizes = [math.pi * (spot.radius * 300 / self.photo.face_width) ** 2 for spot in spots]
        density = min(100, round(sum(sizes) / 400))
        intensity = round(100 * fmean(s.intensity for s in spots)) if spots else 0
        main = score(100 - penalty + (self._j(f"{kind}:{area}", 1.5) if spots else 0))
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
            spots = len(self._spots(DARK, area)) + len(self._spots(RED, area))
            value = 96 - 6 * max(0.0, stats.lightness_std - 2.5) - 2 * spots
            out[area] = (score(value + self._j(f"uni:{area}", 6)), ())
        return out

    def eye_bags(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas[1:]:
            side = area.split("_", 1)[0]
            cheek = self.photo.area(f"{side}_cheek")
            under_eye = self.photo.area(f"{side}_under_eye_area")
            shadow = max(0.0, cheek.lightness - under_eye.lightness)
            subs = (
                score(88 - 4 * shadow + self._j(f"dc:{side}", 6)),
                score(90 - 0.4 * (self.age - 25) + self._j(f"eb:{side}", 7)),
                score(88 - 0.3 * (self.age - 25) + self._j(f"lg:{side}", 7)),
            )
            out[area] = (score(fmean(subs)), subs)
        both = [out[area][1] for area in areas[1:]]
        face_subs = tuple(score(fmean(values)) for values in zip(*both, strict=True))
        return {"face": (score(fmean(face_subs)), face_subs), **out}

    def _per_area(self, key: str, areas: tuple[str, ...], base: float, weight: float) -> AreaValues:
        out: AreaValues = {a: (self._texture_score(key, a, base, weight), ()) for a in areas[1:]}
        face = score(fmean(int(v[0]) for v in out.values()) + self._j(f"{key}:face", 3))
        return {"face": (face, ()), **out}

    def wrinkles(self, areas: tuple[str, ...]) -> AreaValues:
        out = self._per_area("wrinkles", areas, 92, 14)
        for area in areas[1:]:
            value = int(out[area][0])
            out[area] = (value, (max(0, (85 - value) // 8), max(0, (95 - value) // 12)))
        return out

    def pores(self, areas: tuple[str, ...]) -> AreaValues:
        out = self._per_area("pores", areas, 70, 30)
        face = int(out["face"][0])
        number = max(0, round((100 - face) * 17 + self._j("pores:n", 120)))
        out["face"] = (face, (number, max(0, round((100 - face) / 30))))
        return out

    def lines(self, areas: tuple[str, ...]) -> AreaValues:
        return self._per_area("lines", areas, 90, 12)

    def sagging(self, areas: tuple[str, ...]) -> AreaValues:
        return self._per_area("sagging", areas, 78, 6)

    def translucency(self, areas: tuple[str, ...]) -> AreaValues:
        out: AreaValues = {}
        for area in areas:
            stats = self.photo.area(area)
            value = 45 + 0.7 * (stats.lightness - 40) - 2 * stats.lightness_std
            out[area] = (score(value + self._j(f"tr:{area}", 10)), ())
        return out

    def hydration(self, areas: tuple[str, ...]) -> AreaValues:
        face = self.photo.area("face")
        value = score(
            84
            - 10 * max(0.0, face.texture - 0.6)
            - 0.3 * (self.age - 30)
            + self._j("hydration", 10)
        )
        return {"face": (value, (hydration_level(value),))}

    def age_values(self, areas: tuple[str, ...]) -> AreaValues:
        return {"face": (self.age, ())}

    def eyes_age(self, areas: tuple[str, ...]) -> AreaValues:
        eyes = int(min(85, max(16, round(self.age + self._j("eyes_age", 4)))))
        return {
            "face": (eyes, ()),
            areas[1]: (max(16, round(eyes + self._j("eyes_age:l", 3))), ()),
            areas[2]: (max(16, round(eyes + self._j("eyes_age:r", 3))), ()),
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
