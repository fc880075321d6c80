"""The face detector on real photographs: faces found where they are, everything else refused."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import pytest
from PIL import Image

from haut.emulator.analysis import (
    NO_FACE_ERROR,
    NOT_FULL_FACE_ERROR,
    Photo,
    algorithm_outcome,
    aux_outcomes,
    inspect_photo,
)
from haut.emulator.catalog import ALGORITHMS, FACE_DETECTOR_ID, algorithm
from haut.emulator.quality import SEVERAL_FACES
from tests.emulator.real_photos import (
    FACES_MARKED,
    PHONE_SIZE,
    PORTRAITS,
    astronaut,
    grace_hopper,
    jpeg,
    lfw_photos,
    non_face_photos,
    portrait_variants,
    side_face,
)

Box = tuple[float, float, float, float]
VARIANTS = list(portrait_variants("astronaut"))


@cache
def photo_of(name: str, variant: str) -> Photo:
    return inspect_photo(portrait_variants(name)[variant])


def marked_face(name: str, variant: str) -> Box:
    """The hand-marked face of a portrait, carried into the variant's own pixels."""
    left, top, right, bottom = FACES_MARKED[name]
    width, height = PORTRAITS[name]().size
    if variant == "60pc":
        return left * 0.6, top * 0.6, right * 0.6, bottom * 0.6
    if variant == "mirrored":
        return width - right, top, width - left, bottom
    if variant == "phone_12mp":
        scale = PHONE_SIZE[0] / width
        shift = (PHONE_SIZE[1] - round(height * scale)) // 2
        return left * scale, top * scale + shift, right * scale, bottom * scale + shift
    if variant.startswith("rolled_"):
        degrees = math.radians(int(variant.split("_")[1]))  # PIL turns counter-clockwise
        cx, cy, x, y = width / 2, height / 2, (left + right) / 2, (top + bottom) / 2
        x, y = (
            cx + math.cos(degrees) * (x - cx) + math.sin(degrees) * (y - cy),
            cy - math.sin(degrees) * (x - cx) + math.cos(degrees) * (y - cy),
        )
        half_w, half_h = (right - left) / 2, (bottom - top) / 2
        return x - half_w, y - half_h, x + half_w, y + half_h
    return left, top, right, bottom


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", list(PORTRAITS))
def test_real_portraits_are_faces_found_on_the_face(name: str, variant: str) -> None:
    """Colour, grey, EXIF-rotated, 12 MP, mirrored, rolled ±10-15°, re-saved and resized."""
    photo = photo_of(name, variant)
    assert photo.face_found
    assert photo.full_face
    assert photo.face_box is not None
    left, top, right, bottom = photo.face_box
    m_left, m_top, m_right, m_bottom = marked_face(name, variant)
    marked_width = m_right - m_left
    centre = ((left + right) / 2, (top + bottom) / 2)
    marked_centre = ((m_left + m_right) / 2, (m_top + m_bottom) / 2)
    assert math.dist(centre, marked_centre) <= 0.15 * marked_width
    assert 0.75 <= (right - left) / marked_width <= 1.35


@pytest.mark.parametrize("mirrored", [False, True], ids=["facing-right", "facing-left"])
def test_a_face_seen_from_the_side_is_found_by_the_profile_cascade(mirrored: bool) -> None:
    image = side_face()
    if mirrored:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    photo = inspect_photo(jpeg(image))
    assert photo.face_found
    assert photo.view == "profile"
    assert photo.face_box is not None
    left, top, right, bottom = photo.face_box
    # His face (brow to chin, ear to nose tip), marked by hand in the crop's pixels.
    m_left, m_top, m_right, m_bottom = (125, 55, 200, 160) if mirrored else (60, 55, 135, 160)
    assert m_left <= (left + right) / 2 <= m_right
    assert m_top <= (top + bottom) / 2 <= m_bottom


def test_exif_rotated_photos_are_read_upright_in_original_coordinates() -> None:
    upright, rotated = photo_of("astronaut", "colour"), photo_of("astronaut", "exif_rotated")
    assert (rotated.width, rotated.height) == (upright.width, upright.height)
    assert upright.face_box is not None
    assert rotated.face_box is not None
    assert max(abs(a - b) for a, b in zip(upright.face_box, rotated.face_box, strict=True)) <= 4


@pytest.mark.parametrize("degrees", [-15, -10, 10, 15])
def test_a_rolled_face_reports_its_roll(degrees: int) -> None:
    """The astronaut's eyes are found: the roll is theirs (her head is ~3° clockwise already)."""
    upright = photo_of("astronaut", "colour").roll
    rolled = photo_of("astronaut", f"rolled_{degrees:+d}")
    # PIL turns counter-clockwise; the emulator reports clockwise as seen.
    assert abs(rolled.roll - (upright - degrees)) <= 5
    _, result = algorithm_outcome(rolled, algorithm(FACE_DETECTOR_ID), face_detector_enabled=True)
    assert result["detection_params"]["roll_angle"] == round(rolled.roll, 1)


def _points(geometry: dict[str, Any]) -> list[list[int]]:
    coordinates = geometry["coordinates"]
    if geometry["type"] == "MultiPoint":
        return coordinates
    if geometry["type"] == "MultiLineString":
        return [point for line in coordinates for point in line]
    return [point for polygon in coordinates for ring in polygon for point in ring]


@pytest.mark.parametrize("variant", ["colour", "rolled_+15", "phone_12mp", "grey"])
def test_areas_and_masks_lie_on_the_face_inside_the_view_box(variant: str) -> None:
    photo = photo_of("grace_hopper", variant)
    m_left, m_top, m_right, m_bottom = marked_face("grace_hopper", variant)
    margin = 0.25 * (m_right - m_left)
    for outcome in aux_outcomes(photo, [s.id for s in ALGORITHMS], face_detector_enabled=True):
        left, top, right, bottom = outcome.box
        assert 0 <= left < right <= photo.width
        assert 0 <= top < bottom <= photo.height
        if outcome.tech_name != "restored":
            x, y = (left + right) / 2, (top + bottom) / 2
            assert m_left - margin <= x <= m_right + margin
            assert m_top - margin <= y <= m_bottom + margin
    for spec in ALGORITHMS:
        _, result = algorithm_outcome(photo, spec, face_detector_enabled=True)
        for mask in (result.get("masks_original") or []) + (result.get("masks_restored") or []):
            _, _, width, height = map(int, mask["view_box"].split())
            for feature in mask["features"]:
                for x, y, *_ in _points(feature["geometry"]):
                    assert 0 <= x < width
                    assert 0 <= y < height
                    if (width, height) == (photo.width, photo.height):
                        assert m_left - margin <= x <= m_right + margin
                        assert m_top - margin <= y <= m_bottom + margin


def test_the_detector_row_comes_from_the_detection() -> None:
    photo = photo_of("astronaut", "colour")
    _, result = algorithm_outcome(photo, algorithm(FACE_DETECTOR_ID), face_detector_enabled=True)
    assert result["bbox"] == list(photo.face_box or ())
    assert result["detection_params"]["detection_confidence"] == photo.detection_confidence > 0.9
    mesh_x = [x for x, _ in result["mesh"]]
    left, _, right, _ = FACES_MARKED["astronaut"]
    assert left - 15 <= min(mesh_x)
    assert max(mesh_x) <= right + 15


# --- rates on many faces and non-faces -----------------------------------------------------------


def test_most_of_the_lfw_faces_are_found_and_none_of_its_non_faces() -> None:
    """Every fourth photo of scikit-image's LFW subset (25 faces, 25 non-faces)."""
    faces, non_faces = lfw_photos()
    found = sum(inspect_photo(data).face_found for data in faces[::4])
    false_alarms = sum(inspect_photo(data).face_found for data in non_faces[::4])
    assert found >= 23  # 99 of all 100 when measured
    assert false_alarms <= 1  # 0 of all 100 when measured


@pytest.mark.parametrize("name", list(non_face_photos()))
def test_real_photos_without_a_face_are_refused(name: str) -> None:
    photo = inspect_photo(non_face_photos()[name])
    assert not photo.face_found
    spec = next(s for s in ALGORITHMS if s.id != FACE_DETECTOR_ID)
    assert algorithm_outcome(photo, spec, face_detector_enabled=True) == (
        False,
        {"error": NO_FACE_ERROR},
    )


# --- groups and faces cut by the frame -----------------------------------------------------------


def group_photo(grace_scale: float) -> bytes:
    """The astronaut with Grace Hopper beside her, Grace scaled by ``grace_scale``."""
    left, right = astronaut(), grace_hopper()
    right = right.resize((round(right.width * grace_scale), round(right.height * grace_scale)))
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "grey")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return jpeg(canvas)


@pytest.mark.parametrize(("grace_scale", "analysed"), [(0.45, "astronaut"), (0.8, "grace")])
def test_in_a_group_the_largest_face_is_analysed_and_quality_says_so(
    grace_scale: float, analysed: str
) -> None:
    photo = inspect_photo(group_photo(grace_scale))
    assert photo.faces == 2
    assert photo.face_box is not None
    on_the_left = photo.face_box[2] <= astronaut().width
    assert on_the_left == (analysed == "astronaut")
    _, quality = algorithm_outcome(photo, algorithm(43), face_detector_enabled=True)
    assert SEVERAL_FACES in quality["feedback"]["tooltip"]["warn"]
    alone = photo_of("astronaut" if analysed == "astronaut" else "grace_hopper", "colour")
    _, alone_quality = algorithm_outcome(alone, algorithm(43), face_detector_enabled=True)
    detection = quality["area_results"][0]["sub_metrics"]["detection"]
    assert detection < alone_quality["area_results"][0]["sub_metrics"]["detection"]


def test_a_face_cut_by_the_top_of_the_frame_is_not_full() -> None:
    photo = inspect_photo(jpeg(astronaut().crop((0, 80, 512, 512))))
    assert photo.face_found
    assert not photo.full_face
    for spec in ALGORITHMS:
        is_ok, result = algorithm_outcome(photo, spec, face_detector_enabled=True)
        if spec.id == FACE_DETECTOR_ID:
            assert is_ok
            assert result["detection_params"]["full_face"] is False
            assert result["feedback"]["overlay"] == NOT_FULL_FACE_ERROR
            assert result["bbox"][1] >= 0
        else:
            assert (is_ok, result) == (False, {"error": NOT_FULL_FACE_ERROR})
    assert aux_outcomes(photo, [s.id for s in ALGORITHMS], face_detector_enabled=True) == []
