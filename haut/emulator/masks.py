"""GeoJSON masks of an emulated run, shaped like the real ones (reference §6.4).

Shapes are drawn in face-box fractions (u across, v down) and then mapped either onto the
original photo (view box "0 0 W H") or onto the face-aligned 2380x2380 image, so the original
and restored masks show the same shapes. Spots found in the photo become the acne and
pigmentation polygons; the other shapes are templates placed where the real masks lie (under the
eyes, at the eye corners, along the nasolabial folds...) with a wobble seeded by the face's
perceptual hash (so a different face gets different shapes, and a re-saved photo mostly the same).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from typing import Any

from haut.emulator.geometry import AREA_FRACTIONS, LANDMARK_TEMPLATE, RESTORED_SIZE
from haut.emulator.layout_model import GEOMETRY_BY_MASK_TYPE, POINT, POLYLINE, MaskSpec
from haut.emulator.photo import Photo
from haut.emulator.spots import DARK, RED

Fraction = tuple[float, float]
# A closed ring or an open line of (u, v); for point masks a [(u, v), (radius, 0)] pair.
Part = list[Fraction]
Feature = tuple[float, list[Part]]  # intensity, parts
_HEAT_PLACES = ("left_cheek", "right_cheek", "nose", "forehead", "chin")


def _rng(photo: Photo, key: str) -> random.Random:
    digest = hashlib.blake2b(f"{photo.face_hash}:mask:{key}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _blob(rng: random.Random, centre: Fraction, radius: Fraction, vertices: int = 10) -> Part:
    """An irregular closed ring around ``centre``."""
    ring = []
    for step in range(vertices):
        angle = math.tau * step / vertices
        wobble = rng.uniform(0.75, 1.0)
        ring.append(
            (
                centre[0] + radius[0] * wobble * math.cos(angle),
                centre[1] + radius[1] * wobble * math.sin(angle),
            )
        )
    return [*ring, ring[0]]


def _area_centre(area: str, rng: random.Random) -> Fraction:
    u0, v0, u1, v1 = AREA_FRACTIONS[area]
    return rng.uniform(u0 + 0.25 * (u1 - u0), u1 - 0.25 * (u1 - u0)), rng.uniform(
        v0 + 0.25 * (v1 - v0), v1 - 0.25 * (v1 - v0)
    )


def _heatmap(photo: Photo, rng: random.Random) -> list[Feature]:
    """Three intensity levels, each a few blobs on cheeks, nose, forehead or chin."""
    features = []
    for level, base in enumerate((0.1, 0.3, 0.6)):
        places = rng.sample(_HEAT_PLACES, 3 - level)
        size = 0.05 - 0.012 * level
        parts = [_blob(rng, _area_centre(p, rng), (size, size * 0.8)) for p in places]
        features.append((round(base + rng.uniform(0, 0.1), 2), parts))
    return features


def _pair_of_blobs(rng: random.Random, v: float, u_offset: float, size: Fraction) -> list[Part]:
    return [_blob(rng, (0.5 + sign * u_offset, v), size) for sign in (-1, 1)]


def _spot_blobs(photo: Photo, kind: str, rng: random.Random) -> list[Feature]:
    geometry = photo.geometry
    width, height = photo.face_width, photo.face_height
    parts = [
        _blob(
            rng,
            geometry.to_fractions(s.x, s.y),
            (1.3 * s.radius / width, 1.3 * s.radius / height),
            8,
        )
        for s in photo.spots
        if s.kind == kind
    ]
    return [(1.0, parts)]


def _eye_corner_lines(rng: random.Random) -> list[Feature]:
    lines = []
    for sign in (-1, 1):
        for k in range(2):
            start = (0.5 + sign * (0.3 + 0.01 * k), 0.30 + 0.03 * k)
            lines.append(
                [
                    (
                        start[0] + sign * 0.03 * i,
                        start[1] + rng.uniform(-0.01, 0.01) + 0.008 * i * k,
                    )
                    for i in range(4)
                ]
            )
    return [(1.0, lines)]


def _forehead_lines(rng: random.Random) -> list[Feature]:
    lines = []
    for k in range(3):
        v = 0.06 + 0.03 * k
        lines.append([(0.3 + 0.1 * i, v + rng.uniform(-0.006, 0.006)) for i in range(5)])
    return [(1.0, lines)]


def _nasolabial(rng: random.Random) -> list[Feature]:
    lines = []
    for sign in (-1, 1):
        lines.append(
            [
                (0.5 + sign * (0.09 + 0.035 * i), 0.52 + 0.055 * i + rng.uniform(-0.005, 0.005))
                for i in range(5)
            ]
        )
    return [(1.0, lines)]


def _pores(rng: random.Random) -> list[Feature]:
    points = []
    for _ in range(40):
        u0, v0, u1, v1 = AREA_FRACTIONS[rng.choice(("nose", "left_cheek", "right_cheek"))]
        points.append([(rng.uniform(u0, u1), rng.uniform(v0, v1)), (rng.randint(1, 3), 0.0)])
    return [(1.0, points)]


def _landmarks() -> list[Feature]:
    return [(1.0, [[point, (0, 0.0)] for point in LANDMARK_TEMPLATE])]


def _face_area(area: str, rng: random.Random) -> list[Feature]:
    u0, v0, u1, v1 = AREA_FRACTIONS[area]
    centre, radius = ((u0 + u1) / 2, (v0 + v1) / 2), ((u1 - u0) / 2, (v1 - v0) / 2)
    ring = [
        (centre[0] + radius[0] * math.cos(a), centre[1] + radius[1] * math.sin(a))
        for a in (math.tau * k / 12 for k in range(12))
    ]
    return [(1.0, [[*ring, ring[0]]])]


def _features(photo: Photo, region: str, rng: random.Random) -> list[Feature]:
    """The shapes of one mask region, in face fractions."""
    builders: dict[str, Callable[[], list[Feature]]] = {
        "skin": lambda: _heatmap(photo, rng),
        "under_eyes": lambda: [(1.0, _pair_of_blobs(rng, 0.40, 0.21, (0.07, 0.025)))],
        "eye_bags": lambda: [(1.0, _pair_of_blobs(rng, 0.44, 0.22, (0.08, 0.025)))],
        "lacrimal": lambda: [(1.0, _pair_of_blobs(rng, 0.43, 0.12, (0.03, 0.03)))],
        "eye_corners": lambda: _eye_corner_lines(rng),
        "acne": lambda: _spot_blobs(photo, RED, rng),
        "pigmentation": lambda: _spot_blobs(photo, DARK, rng),
        "nasolabial": lambda: _nasolabial(rng),
        "forehead_lines": lambda: _forehead_lines(rng),
        "pores": lambda: _pores(rng),
        "landmarks": _landmarks,
    }
    build = builders.get(region)
    return build() if build is not None else _face_area(region, rng)


def _as_polygons(line_features: list[Feature], rng: random.Random) -> list[Feature]:
    """Thin polygons along lines (deep wrinkles and deep lines are drawn as areas)."""
    out = []
    for intensity, lines in line_features:
        rings = []
        for line in lines:
            there = [(u, v - 0.006) for u, v in line]
            back = [(u, v + 0.006) for u, v in reversed(line)]
            rings.append([*there, *back, there[0]])
        out.append((intensity, rings))
    return out


def _geometry(
    mask_type: str, parts: list[Part], to_pixel: Callable[[float, float], tuple[int, int]]
) -> dict[str, Any]:
    if mask_type == POINT:
        coordinates: list[Any] = [[*to_pixel(*part[0]), int(part[1][0])] for part in parts]
    elif mask_type == POLYLINE:
        coordinates = [[list(to_pixel(u, v)) for u, v in part] for part in parts]
    else:
        coordinates = [[[list(to_pixel(u, v)) for u, v in part]] for part in parts]
    return {"type": GEOMETRY_BY_MASK_TYPE[mask_type], "coordinates": coordinates}


Drawn = dict[tuple[str, str], list[Feature]]  # (region, mask type) -> shapes


def _shapes(photo: Photo, spec: MaskSpec, family: str, drawn: Drawn) -> list[Feature]:
    """A mask's shapes in face fractions, drawn once for the original and restored mask."""
    key = (spec.region, spec.mask_type)
    if key not in drawn:
        rng = _rng(photo, f"{family}:{spec.region}:{spec.mask_type}")
        features = _features(photo, spec.region, rng)
        if spec.region == "eye_corners" and spec.mask_type != POLYLINE:
            features = _as_polygons(features, rng)
        drawn[key] = features
    return drawn[key]


def build_mask(
    photo: Photo, spec: MaskSpec, family: str, *, restored: bool, drawn: Drawn | None = None
) -> dict[str, Any]:
    """One mask object for ``spec``: original-photo or face-aligned coordinates."""
    features = _shapes(photo, spec, family, {} if drawn is None else drawn)
    geometry = photo.geometry
    to_pixel = geometry.restored_point if restored else geometry.point
    view_box = (
        f"0 0 {RESTORED_SIZE} {RESTORED_SIZE}" if restored else f"0 0 {photo.width} {photo.height}"
    )
    return {
        "fill": spec.fill,
        "name": spec.name,
        "type": "FeatureCollection",
        "features": [
            {
                "type": "feature",
                "geometry": _geometry(spec.mask_type, parts, to_pixel),
                "properties": {"intensity": intensity},
            }
            for intensity, parts in features
        ],
        "view_box": view_box,
        "mask_type": spec.mask_type,
        "tech_name": spec.tech_name,
    }


def build_layout_masks(
    photo: Photo,
    family: str,
    original: tuple[MaskSpec, ...] | None,
    restored: tuple[MaskSpec, ...] | None,
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """A family's ``masks_original`` and ``masks_restored`` (None where it has none).

    The two lists show the same shapes, so each shape is drawn once and mapped twice.
    """
    drawn: Drawn = {}
    return (
        None
        if original is None
        else [build_mask(photo, spec, family, restored=False, drawn=drawn) for spec in original],
        None
        if restored is None
        else [build_mask(photo, spec, family, restored=True, drawn=drawn) for spec in restored],
    )
