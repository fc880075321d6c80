"""Scores of real photographs: from what is visible, the same for the same face re-saved."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from haut.emulator.analysis import Photo, algorithm_outcome, face_main_value, inspect_photo
from haut.emulator.catalog import ALGORITHMS, FACE_DETECTOR_ID
from tests.emulator.real_photos import (
    FACES_MARKED,
    PORTRAITS,
    jpeg,
    lfw_photos,
    portrait_variants,
)

# Families whose face value may follow the photo's size: image quality (its resolution and
# focus sub-scores are about the pixels, as they should be).
SIZE_BOUND = {"selfie_v2.quality"}
FAMILIES = [
    spec
    for spec in ALGORITHMS
    if spec.id != FACE_DETECTOR_ID
    and spec.family_tech_name not in SIZE_BOUND
    and spec.family_tech_name not in ("selfie_v2.front_face_areas", "selfie_v2.facial_landmarks")
]
RESAVED = ("colour", "q95", "q75", "q50", "60pc", "phone_12mp", "exif_rotated")


def face_values(photo: Photo) -> dict[str, float]:
    values = {}
    for spec in FAMILIES:
        is_ok, result = algorithm_outcome(photo, spec, face_detector_enabled=True)
        assert is_ok, spec.family_tech_name
        value = face_main_value(result)
        assert value is not None
        values[spec.family_tech_name] = value
    return values


@cache
def values_of(name: str, variant: str) -> dict[str, float]:
    return face_values(inspect_photo(portrait_variants(name)[variant]))


@pytest.mark.parametrize("name", list(PORTRAITS))
def test_the_same_photo_resaved_or_resized_scores_the_same(name: str) -> None:
    """JPEG quality 95 / 90 / 75 / 50, 60 % of the size, 12 MP, EXIF-rotated: within ±3."""
    rows = [values_of(name, variant) for variant in RESAVED]
    for family in rows[0]:
        values = [row[family] for row in rows]
        assert max(values) - min(values) <= 3, (family, values)


def test_no_value_depends_on_the_file_bytes() -> None:
    """The same pixels in two different files (a PNG text chunk apart) score identically."""
    image = Image.open(io.BytesIO(portrait_variants("astronaut")["colour"]))
    files = []
    for note in ("", "re-saved by another app"):
        info = PngImagePlugin.PngInfo()
        if note:
            info.add_text("Software", note)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", pnginfo=info)
        files.append(buffer.getvalue())
    first, second = (inspect_photo(data) for data in files)
    assert first.sha256 != second.sha256
    for spec in ALGORITHMS:
        assert algorithm_outcome(first, spec, face_detector_enabled=True) == algorithm_outcome(
            second, spec, face_detector_enabled=True
        )


def test_ages_are_plausible_for_the_sitters() -> None:
    """Eileen Collins was about 38 on the astronaut photo, Grace Hopper about 78 on hers."""
    assert 30 <= values_of("astronaut", "colour")["selfie_v2.age"] <= 48
    assert 65 <= values_of("grace_hopper", "colour")["selfie_v2.age"] <= 85


def test_scores_on_real_faces_are_not_piled_at_the_ends() -> None:
    """On the two portraits and 20 LFW faces; acne and pigmentation may be clear (100).

    Colour metrics are read on the colour portraits only (LFW is grey).
    """
    photos = [inspect_photo(portrait_variants(name)["colour"]) for name in PORTRAITS]
    photos += [inspect_photo(data) for data in lfw_photos()[0][:20]]
    rows = [face_values(photo) for photo in photos if photo.face_found]
    assert len(rows) >= 20
    colour = ("selfie_v2.redness", "selfie_v2.skin_tone")
    for family in rows[0]:
        if family in colour or family == "selfie_v2.age" or family == "selfie_v2.eyes_age":
            continue
        values = [row[family] for row in rows]
        assert min(values) > 0, family
        if family not in ("selfie_v2.acne", "selfie_v2.pigmentation"):
            assert max(values) < 100, family
            assert max(values) - min(values) >= 5, family
    for family in colour:
        assert all(-90 < row[family] < 100 for row in rows[:2]), family
    ages = [row["selfie_v2.age"] for row in rows]
    assert max(ages) - min(ages) >= 20


# --- response to what is visible ---------------------------------------------------------------


def _face_mask(name: str, size: tuple[int, int]) -> np.ndarray:
    """The hand-marked face as an ellipse, where a tint or spots go."""
    left, top, right, bottom = FACES_MARKED[name]
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    cx, cy, ax, ay = (left + right) / 2, (top + bottom) / 2, (right - left) / 2, (bottom - top) / 2
    return ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1


def redder_skin(name: str, amount: float) -> bytes:
    """The portrait with its face's red raised and green and blue lowered by ``amount``."""
    image = PORTRAITS[name]()
    pixels = np.asarray(image, dtype=np.float32).copy()
    face = _face_mask(name, image.size)
    pixels[face, 0] *= 1 + amount
    pixels[face, 1:] /= 1 + amount
    return jpeg(Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8)))


@pytest.mark.parametrize("name", list(PORTRAITS))
def test_a_redder_face_scores_worse_on_redness(name: str) -> None:
    values = [
        face_values(inspect_photo(redder_skin(name, amount)))["selfie_v2.redness"]
        for amount in (0.0, 0.08, 0.16)
    ]
    assert values[0] > values[1] + 5 > values[2] + 10


def spotted(name: str, colour: tuple[int, int, int] | None) -> bytes:
    """The portrait with eight spots on its cheeks: ``colour``, or darker skin when None."""
    image = PORTRAITS[name]().copy()
    left, top, right, bottom = FACES_MARKED[name]
    width, height = right - left, bottom - top
    radius = max(2, round(0.022 * width))
    draw = ImageDraw.Draw(image)
    for side in (0.24, 0.76):
        for du, dv in ((-0.05, 0.0), (0.05, 0.03), (0.0, 0.09), (0.06, 0.13)):
            x, y = left + (side + du) * width, top + (0.50 + dv) * height
            fill = colour
            if fill is None:
                r, g, b = image.getpixel((round(x), round(y)))[:3]
                fill = (round(r * 0.6), round(g * 0.6), round(b * 0.6))
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    return jpeg(image)


@pytest.mark.parametrize("name", list(PORTRAITS))
def test_red_spots_on_the_cheeks_score_worse_on_acne(name: str) -> None:
    clear = face_values(inspect_photo(portrait_variants(name)["colour"]))["selfie_v2.acne"]
    spots = face_values(inspect_photo(spotted(name, (200, 40, 45))))["selfie_v2.acne"]
    assert spots < clear - 15


@pytest.mark.parametrize("name", list(PORTRAITS))
def test_dark_spots_on_the_cheeks_score_worse_on_pigmentation(name: str) -> None:
    family = "selfie_v2.pigmentation"
    clear = face_values(inspect_photo(portrait_variants(name)["colour"]))[family]
    spots = face_values(inspect_photo(spotted(name, None)))[family]
    assert spots < clear - 10
