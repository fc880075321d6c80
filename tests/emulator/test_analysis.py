"""The analysis engine: determinism, response to what the photo shows, no-face rule, masks, aux."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from haut.emulator.analysis import (
    AuxOutcome,
    Photo,
    UnreadableImage,
    algorithm_outcome,
    aux_outcomes,
    face_main_value,
    inspect_photo,
    render_aux_jpeg,
)
from haut.emulator.catalog import ALGORITHMS, FACE_DETECTOR_ID, algorithm
from haut.emulator.faces import render_face, render_no_face
from haut.emulator.photo import ANALYSIS_SIDE

METRIC_ALGORITHMS = [spec for spec in ALGORITHMS if spec.id != FACE_DETECTOR_ID]
ALL_IDS = [spec.id for spec in ALGORITHMS]


def outcomes(photo: Photo, **kwargs: Any) -> dict[str, tuple[bool, dict[str, Any]]]:
    return {
        spec.family_tech_name: algorithm_outcome(photo, spec, face_detector_enabled=True, **kwargs)
        for spec in ALGORITHMS
    }


def face_value(data: bytes, family: str) -> Any:
    is_ok, result = algorithm_outcome(
        inspect_photo(data),
        next(s for s in ALGORITHMS if s.family_tech_name == family),
        face_detector_enabled=True,
    )
    assert is_ok
    return face_main_value(result)


def face_area(result: dict[str, Any]) -> dict[str, Any]:
    return next(area for area in result["area_results"] if area["area_name"] == "face")


def subs_by_name(area: dict[str, Any]) -> dict[str, Any]:
    return {sub["tech_name"]: sub["value"] for sub in area["sub_metrics"]}


def jpeg(image: Image.Image, **save: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def face_bytes() -> bytes:
    return render_face(7, blemishes=4)


@pytest.fixture(scope="module")
def face(face_bytes: bytes) -> Photo:
    return inspect_photo(face_bytes)


# --- determinism -------------------------------------------------------------------------


def test_same_bytes_give_identical_payloads(face_bytes: bytes) -> None:
    first = json.dumps(outcomes(inspect_photo(face_bytes)), sort_keys=True)
    second = json.dumps(outcomes(inspect_photo(bytes(face_bytes))), sort_keys=True)
    assert first == second


def test_different_photos_of_similar_faces_get_different_values() -> None:
    values = {
        seed: [face_main_value(r) for _, r in outcomes(inspect_photo(render_face(seed))).values()]
        for seed in (1, 2)
    }
    assert values[1] != values[2]


def test_photo_knows_its_size_format_and_digest(face_bytes: bytes, face: Photo) -> None:
    assert (face.width, face.height, face.image_format) == (480, 640, "JPEG")
    assert len(face.sha256) == 64
    png = inspect_photo(render_face(7, image_format="PNG"))
    assert png.image_format == "PNG"
    assert png.face_found


# --- response to what the photo shows --------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redder_skin_scores_worse_on_redness(seed: int) -> None:
    calm = face_value(render_face(seed, redness=0.0), "selfie_v2.redness")
    flushed = face_value(render_face(seed, redness=0.8), "selfie_v2.redness")
    assert flushed < calm - 15


def flushed(data: bytes, k: float) -> bytes:
    """The photo with red scaled up and green and blue down by ``k``: a sunburn-like flush."""
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)
    pixels[..., 0] *= k
    pixels[..., 1:] /= k
    return jpeg(Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8)))


def test_a_sunburnt_face_is_still_a_face_and_scores_ever_worse_on_redness() -> None:
    """An audit found k 1.10 made every row "No face detected" (skin stopped at Cr 185)."""
    # data/make_sample.py's alice, first session, front: a fairly red face already.
    sample = render_face(1101, redness=0.65, tone=0.75, blemishes=9)
    photos = [inspect_photo(flushed(sample, k)) for k in (1.0, 1.1, 1.2, 1.25)]
    assert all(photo.face_found for photo in photos)
    calm_box = photos[0].face_box
    assert calm_box is not None
    for photo in photos[1:]:  # the face it finds is the same face, not a reddened background
        assert photo.face_box is not None
        assert max(abs(a - b) for a, b in zip(photo.face_box, calm_box, strict=True)) <= 20
    values = [face_value(flushed(sample, k), "selfie_v2.redness") for k in (1.0, 1.1, 1.2, 1.25)]
    assert values[0] > values[1] > values[2] >= values[3] > 0  # higher is calmer skin


@pytest.mark.parametrize(
    "sample",
    [
        render_face(1107, redness=0.22, tone=0.75, blemishes=3),
        render_face(4101, redness=0.2, tone=0.3, blemishes=2, size=(300, 400), image_format="PNG"),
    ],
    ids=["jpeg", "png"],
)
def test_a_flush_that_makes_the_background_skin_coloured_keeps_the_face(sample: bytes) -> None:
    """These greenish-grey backgrounds turn skin-coloured when the whole photo is reddened."""
    calm = inspect_photo(sample).face_box
    flush, strong = inspect_photo(flushed(sample, 1.1)), inspect_photo(flushed(sample, 1.2))
    assert calm is not None
    assert flush.face_box is not None
    assert strong.face_box is not None
    assert max(abs(a - b) for a, b in zip(flush.face_box, calm, strict=True)) <= 0.06 * calm[2]
    # Where the face meets a skin-coloured background its chin is lost, its top and sides kept.
    sides = zip(strong.face_box[:3], calm[:3], strict=True)
    assert max(abs(a - b) for a, b in sides) <= 0.06 * calm[2]


@pytest.mark.parametrize("tone", [0.1, 0.9])
def test_redness_falls_step_by_step_without_a_floor(tone: float) -> None:
    values = [
        face_value(render_face(6, tone=tone, redness=r), "selfie_v2.redness")
        for r in (0.0, 0.5, 1.0)
    ]
    assert values[0] > values[1] > values[2] > 0


@pytest.mark.parametrize("seed", [1, 2])
def test_darker_tone_gives_lower_ita(seed: int) -> None:
    assert face_value(render_face(seed, tone=0.1), "selfie_v2.skin_tone") < face_value(
        render_face(seed, tone=0.9), "selfie_v2.skin_tone"
    )


@pytest.mark.parametrize("tone", [0.0, 0.5, 1.0])
def test_ita_follows_its_own_l_and_b_channels(tone: float) -> None:
    _, result = outcomes(inspect_photo(render_face(4, tone=tone)))["selfie_v2.skin_tone"]
    for area in result["area_results"]:
        subs = subs_by_name(area)
        lightness, yellow = subs["skintone_l_channel"], subs["skintone_b_channel"]
        expected = math.degrees(math.atan((lightness - 50) / yellow))
        assert abs(area["main_metric"]["value"] - expected) <= 3


def test_blemishes_worsen_acne_and_pigmentation() -> None:
    clear = outcomes(inspect_photo(render_face(5)))
    spotted = outcomes(inspect_photo(render_face(5, blemishes=10)))
    for family in ("selfie_v2.acne", "selfie_v2.pigmentation"):
        clear_face, spotted_face = face_area(clear[family][1]), face_area(spotted[family][1])
        assert spotted_face["main_metric"]["value"] < clear_face["main_metric"]["value"]
        assert subs_by_name(spotted_face)["number_of_regions"] >= 4
        assert subs_by_name(clear_face)["number_of_regions"] == 0


def test_spots_become_acne_mask_polygons() -> None:
    _, result = outcomes(inspect_photo(render_face(5, blemishes=10)))["selfie_v2.acne"]
    (feature,) = result["masks_original"][0]["features"]
    regions = subs_by_name(face_area(result))["number_of_regions"]
    assert len(feature["geometry"]["coordinates"]) == regions


def _quality_subs(data: bytes, side: str = "front") -> dict[str, int]:
    _, result = outcomes(inspect_photo(data), side=side)["selfie_v2.quality"]
    return face_area(result)["sub_metrics"]


def test_quality_sees_dim_and_blurred_photos(face_bytes: bytes) -> None:
    original = Image.open(io.BytesIO(face_bytes))
    sharp = _quality_subs(face_bytes)
    dim = _quality_subs(jpeg(ImageEnhance.Brightness(original).enhance(0.5)))
    blurred = _quality_subs(jpeg(original.filter(ImageFilter.GaussianBlur(4))))
    assert dim["lightness"] < sharp["lightness"] - 20
    assert blurred["focus"] < sharp["focus"] - 20


def test_side_photos_report_head_rotation() -> None:
    front = _quality_subs(render_face(3))
    turned = _quality_subs(render_face(3, side="right"), side="right")
    assert turned["head_rotation"] < front["head_rotation"]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"redness": 1.0, "tone": 1.0}, {"tone": 0.0, "blemishes": 30}, {"side": "left"}],
)
def test_values_stay_within_their_ranges(kwargs: dict[str, Any]) -> None:
    for family, (is_ok, result) in outcomes(inspect_photo(render_face(9, **kwargs))).items():
        assert is_ok, family
        for area in result.get("area_results") or []:
            metrics = [area["main_metric"]]
            if isinstance(area["sub_metrics"], list):
                metrics += area["sub_metrics"]
            for metric in metrics:
                value, widget = metric["value"], metric["widget_type"]
                if widget == "category":
                    assert isinstance(value, str)
                    continue
                assert isinstance(value, int)
                assert not isinstance(value, bool)
                if widget == "bad_good_line":
                    assert 0 <= value <= 100
                elif widget == "ITA":
                    assert -90 <= value <= 90
                else:
                    assert value >= 0


# --- the no-face rule --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_rendered_faces_are_faces(seed: int) -> None:
    assert inspect_photo(render_face(seed, tone=seed / 5)).face_found


@pytest.mark.parametrize("side", ["right", "left"])
def test_turned_faces_and_landscape_photos_of_faces_are_faces(side: str) -> None:
    assert inspect_photo(render_face(2, side=side)).face_found
    assert inspect_photo(render_face(2, size=(640, 480))).face_found


@pytest.mark.parametrize("seed", range(4))
def test_landscapes_are_not_faces(seed: int) -> None:
    assert not inspect_photo(render_no_face(seed)).face_found


def test_tiny_and_plain_photos_are_not_faces() -> None:
    assert not inspect_photo(render_face(1, size=(96, 120))).face_found
    assert not inspect_photo(jpeg(Image.new("RGB", (400, 400), (128, 128, 128)))).face_found
    # A skin-coloured wall is all skin, not a face.
    assert not inspect_photo(jpeg(Image.new("RGB", (400, 400), (200, 160, 130)))).face_found


@pytest.mark.parametrize(
    "colour",
    [(220, 60, 60), (250, 110, 100), (60, 80, 200), (121, 100, 109)],
    ids=["red", "sunburn-coloured", "blue", "pinkish-grey"],
)
def test_flat_colours_are_not_faces(colour: tuple[int, int, int]) -> None:
    assert not inspect_photo(jpeg(Image.new("RGB", (400, 400), colour))).face_found


@pytest.mark.parametrize("seed", range(3))
def test_reddened_landscapes_are_not_faces(seed: int) -> None:
    assert not inspect_photo(flushed(render_no_face(seed), 1.25)).face_found


def test_no_face_rows_are_errors_and_the_detector_says_so() -> None:
    results = outcomes(inspect_photo(render_no_face(1)), side="left")
    detector = results.pop("selfie_v2.face_detector")
    assert all(row == (False, {"error": "No face detected"}) for row in results.values())
    assert detector == (
        True,
        {
            "bbox": None,
            "mesh": None,
            "side": "left",
            "light": "regular",
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
        },
    )


def test_without_the_face_detector_every_algorithm_fails(face: Photo) -> None:
    for spec in METRIC_ALGORITHMS:
        outcome = algorithm_outcome(face, spec, face_detector_enabled=False)
        assert outcome == (False, {"error": "Face is not detected"})


def test_detector_reports_the_face_it_found(face: Photo) -> None:
    is_ok, result = algorithm_outcome(face, algorithm(40), face_detector_enabled=True)
    assert is_ok
    params = result["detection_params"]
    assert params["face_detected"] is True
    assert 0.5 < params["detection_confidence"] <= 1
    left, top, right, bottom = result["bbox"]
    assert 0 <= left < right <= face.width
    assert 0 <= top < bottom <= face.height
    assert len(result["mesh"]) == 53


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"GIF89a" + bytes(100)],
    ids=["empty", "text", "gif"],
)
def test_unreadable_uploads_are_rejected(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        inspect_photo(data)


def test_truncated_jpeg_is_unreadable(face_bytes: bytes) -> None:
    with pytest.raises(UnreadableImage):
        inspect_photo(face_bytes[: len(face_bytes) // 3])


def test_exif_orientation_is_honoured(face_bytes: bytes) -> None:
    sideways = Image.open(io.BytesIO(face_bytes)).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns it 90° clockwise: upright again
    photo = inspect_photo(jpeg(sideways, exif=exif.tobytes()))
    assert (photo.width, photo.height) == (480, 640)
    assert photo.face_found


# --- masks -----------------------------------------------------------------------------------


def _points(geometry: dict[str, Any]) -> list[list[int]]:
    coordinates = geometry["coordinates"]
    if geometry["type"] == "MultiPoint":
        return coordinates
    if geometry["type"] == "MultiLineString":
        return [point for line in coordinates for point in line]
    return [point for polygon in coordinates for ring in polygon for point in ring]


def _all_masks(photo: Photo) -> list[dict[str, Any]]:
    masks: list[dict[str, Any]] = []
    for _, result in outcomes(photo).values():
        masks += (result.get("masks_original") or []) + (result.get("masks_restored") or [])
    return masks


def test_mask_coordinates_are_integers_inside_their_view_box(face: Photo) -> None:
    masks = _all_masks(face)
    assert masks
    for mask in masks:
        _, _, width, height = map(int, mask["view_box"].split())
        assert (width, height) in {(face.width, face.height), (2380, 2380)}
        points = [p for f in mask["features"] for p in _points(f["geometry"])]
        assert len(points) < 600, mask["tech_name"]
        for point in points:
            assert all(isinstance(c, int) for c in point)
            assert 0 <= point[0] < width
            assert 0 <= point[1] < height


def test_original_masks_lie_on_the_face(face: Photo) -> None:
    assert face.face_box is not None
    left, top, right, bottom = face.face_box
    margin = 0.1 * (right - left)
    for mask in _all_masks(face):
        if mask["view_box"] != f"0 0 {face.width} {face.height}":
            continue
        for feature in mask["features"]:
            for x, y, *_ in _points(feature["geometry"]):
                assert left - margin <= x <= right + margin
                assert top - margin <= y <= bottom + margin


def test_polygon_rings_are_closed_and_heatmaps_have_levels(face: Photo) -> None:
    for mask in _all_masks(face):
        geometry_types = {f["geometry"]["type"] for f in mask["features"]}
        if mask["mask_type"] == "heatmap_mask":
            intensities = {f["properties"]["intensity"] for f in mask["features"]}
            assert len(intensities) >= 2
        if geometry_types == {"MultiPolygon"}:
            for feature in mask["features"]:
                for polygon in feature["geometry"]["coordinates"]:
                    assert polygon[0][0] == polygon[0][-1]


def test_front_face_areas_and_landmarks(face: Photo) -> None:
    _, areas = outcomes(face)["selfie_v2.front_face_areas"]
    names = [mask["tech_name"] for mask in areas["masks_original"]]
    assert len(names) == len(set(names)) == 9
    for mask in areas["masks_original"]:
        assert mask["fill"] is None
        (feature,) = mask["features"]
        assert len(feature["geometry"]["coordinates"]) == 1
    _, landmarks = outcomes(face)["selfie_v2.facial_landmarks"]
    for mask in landmarks["masks_original"] + landmarks["masks_restored"]:
        (feature,) = mask["features"]
        assert len(feature["geometry"]["coordinates"]) == 53


# --- face_main_value -----------------------------------------------------------------------


def test_face_main_value_reads_the_face_area(face: Photo) -> None:
    results = outcomes(face)
    assert face_main_value(results["selfie_v2.redness"][1]) == float(
        face_area(results["selfie_v2.redness"][1])["main_metric"]["value"]
    )
    assert face_main_value(results["selfie_v2.front_face_areas"][1]) is None
    assert face_main_value(results["selfie_v2.hydration"][1]) is not None
    assert face_main_value({"error": "No face detected"}) is None
    category = {"area_results": [{"area_name": "face", "main_metric": {"value": "Light"}}]}
    assert face_main_value(category) is None


# --- aux images ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aux(face: Photo) -> list[AuxOutcome]:
    return aux_outcomes(face, ALL_IDS, face_detector_enabled=True)


def test_aux_images_are_the_five_areas_and_the_restored_face(aux: list[AuxOutcome]) -> None:
    assert [a.tech_name for a in aux] == [
        "forehead",
        "nose",
        "left_cheek",
        "right_cheek",
        "chin",
        "restored",
    ]
    assert len({a.type_id for a in aux}) == 6


def test_aux_rows_hold_only_their_area(aux: list[AuxOutcome]) -> None:
    for outcome in aux[:5]:
        families = {spec.family_tech_name for spec, _, _ in outcome.rows}
        assert "selfie_v2.redness" in families
        for _, is_ok, result in outcome.rows:
            assert is_ok
            assert [a["area_name"] for a in result["area_results"]] == [outcome.tech_name]
    restored = aux[5]
    assert len(restored.rows) == len(METRIC_ALGORITHMS)


def test_aux_jpegs_are_crops_inside_the_photo(
    face_bytes: bytes, face: Photo, aux: list[AuxOutcome]
) -> None:
    for outcome in aux:
        left, top, right, bottom = outcome.box
        assert 0 <= left < right <= face.width
        assert 0 <= top < bottom <= face.height
        image = Image.open(io.BytesIO(render_aux_jpeg(face_bytes, outcome)))
        assert image.format == "JPEG"
        if outcome.tech_name == "restored":
            assert image.size == (595, 595)
        else:
            assert image.size == (right - left, bottom - top)


def test_aux_rows_follow_the_enabled_algorithms(face: Photo) -> None:
    only_redness = aux_outcomes(face, [30, 40], face_detector_enabled=True)
    for outcome in only_redness:
        assert [spec.id for spec, _, _ in outcome.rows] == [30]


def test_aux_from_the_rows_already_computed_equal_aux_computed_afresh(
    face: Photo, aux: list[AuxOutcome]
) -> None:
    shuffled = [
        (spec, *algorithm_outcome(face, spec, face_detector_enabled=True))
        for spec in reversed(ALGORITHMS)
    ]
    assert aux_outcomes(face, ALL_IDS, face_detector_enabled=True, rows=shuffled) == aux


def test_aux_from_rows_leave_out_failed_rows(face: Photo) -> None:
    rows = [
        (spec, *algorithm_outcome(face, spec, face_detector_enabled=True))
        for spec in ALGORITHMS
        if spec.id in (30, 31, FACE_DETECTOR_ID)
    ]
    rows[0] = (rows[0][0], False, {"error": "Internal processing error"})
    failed_id = rows[0][0].id

    outcomes = aux_outcomes(face, [30, 31, 40], face_detector_enabled=True, rows=rows)

    assert outcomes
    assert all(failed_id not in [spec.id for spec, _, _ in o.rows] for o in outcomes)


def test_no_aux_images_without_a_face_or_a_detector(face: Photo) -> None:
    assert aux_outcomes(inspect_photo(render_no_face(2)), ALL_IDS, face_detector_enabled=True) == []
    assert aux_outcomes(face, ALL_IDS, face_detector_enabled=False) == []


# --- cost: what gets decoded ----------------------------------------------------------------


def _decoded_sizes(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image decoded while inspecting ``data`` (decoding is where the time
    goes; speed itself is the benchmarks' to measure, never a test's)."""
    sizes: list[tuple[int, int]] = []
    convert = Image.Image.convert

    def recording(self: Image.Image, *args: Any, **kwargs: Any) -> Image.Image:
        sizes.append(self.size)
        return convert(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(Image.Image, "convert", recording)
        inspect_photo(data)
    return sizes


def test_a_large_jpeg_is_decoded_at_a_fraction_of_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = Image.open(io.BytesIO(render_face(1, size=(600, 800))))
    large = jpeg(small.resize((3000, 4000), Image.Resampling.BILINEAR))
    sizes = _decoded_sizes(large, monkeypatch)
    assert sizes
    assert max(max(size) for size in sizes) <= 4 * ANALYSIS_SIDE < 4000
