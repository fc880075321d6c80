"""The emulator's catalogue and result shapes against the real FSM 2.0 capture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from haut.emulator import catalog
from haut.emulator.analysis import algorithm_outcome, inspect_photo
from haut.emulator.faces import render_face

FIXTURES = Path(__file__).parents[1] / "fixtures"
CAPTURE: list[dict[str, Any]] = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
SMOOTHED: list[dict[str, Any]] = json.loads((FIXTURES / "fsm2_smoothed_results.json").read_text())


def _metric_shape(metric: dict[str, Any]) -> tuple[Any, ...]:
    return (
        tuple(metric),
        metric["tech_name"],
        metric["name"],
        metric["widget_type"],
        metric["widget_meta"],
        type(metric["value"]).__name__,
    )


def _subs_shape(subs: Any) -> Any:
    if subs is None:
        return None
    if isinstance(subs, dict):
        return ("dict", tuple(subs), tuple(type(v).__name__ for v in subs.values()))
    return [_metric_shape(sub) for sub in subs]


def _mask_shape(mask: dict[str, Any]) -> tuple[Any, ...]:
    view_box = mask["view_box"].split()
    return (
        tuple(mask),
        mask["tech_name"],
        mask["name"],
        mask["mask_type"],
        mask["fill"],
        mask["type"],
        "restored" if view_box[2:] == ["2380", "2380"] else "original",
        {(f["type"], f["geometry"]["type"], tuple(f["properties"])) for f in mask["features"]},
    )


def result_shape(result: dict[str, Any]) -> dict[str, Any]:
    """Everything about a result payload except its values and coordinates."""
    areas = result["area_results"]
    return {
        "keys": tuple(result),
        "algorithm_tech_name": result["algorithm_tech_name"],
        "image_type": result["image_type"],
        "areas": None
        if areas is None
        else [
            (
                tuple(area),
                area["area_name"],
                _metric_shape(area["main_metric"]),
                _subs_shape(area["sub_metrics"]),
                tuple(area.get("debug_metrics", {})),
            )
            for area in areas
        ],
        "masks_original": None
        if result["masks_original"] is None
        else [_mask_shape(m) for m in result["masks_original"]],
        "masks_restored": None
        if result["masks_restored"] is None
        else [_mask_shape(m) for m in result["masks_restored"]],
        "feedback": None
        if "feedback" not in result
        else (tuple(result["feedback"]), tuple(result["feedback"]["tooltip"])),
    }


@pytest.fixture(scope="module")
def emulated_face() -> Any:
    return inspect_photo(render_face(11, blemishes=6))


def test_every_captured_algorithm_is_in_the_catalogue_with_its_id() -> None:
    for row in CAPTURE:
        spec = catalog.algorithm(row["algorithm_version_id"])
        assert spec.family_tech_name == row["algorithm_family_tech_name"]
    captured = {row["algorithm_version_id"] for row in CAPTURE}
    assert {spec.id for spec in catalog.ALGORITHMS} == captured | {catalog.FACE_DETECTOR_ID}
    assert catalog.algorithm(40).family_tech_name == "selfie_v2.face_detector"


def test_unknown_algorithm_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        catalog.algorithm(999)


def test_application_identity_matches_the_capture() -> None:
    row = CAPTURE[0]
    assert row["application_id"] == catalog.FSM2_APPLICATION_ID
    assert row["application_name"] == catalog.FSM2_APPLICATION_NAME
    assert row["application_description"] == catalog.FSM2_APPLICATION_DESCRIPTION


def test_smoothable_algorithms_are_those_of_the_smoothed_capture() -> None:
    smoothable = {s.family_tech_name: s.name for s in catalog.ALGORITHMS if s.smoothable}
    assert smoothable == {row["algorithm_tech_name"]: row["algorithm_name"] for row in SMOOTHED}
    assert list(catalog.SMOOTHED_RESULTS_ORDER) == [r["algorithm_tech_name"] for r in SMOOTHED]


def test_delay_factors_are_fractions_and_the_detector_comes_first() -> None:
    factors = {spec.id: spec.delay_factor for spec in catalog.ALGORITHMS}
    assert all(0 < factor <= 1 for factor in factors.values())
    assert min(factors, key=factors.__getitem__) == catalog.FACE_DETECTOR_ID


def test_algorithms_dict_serves_the_quick_start_lookup() -> None:
    body = catalog.algorithms_dict()
    by_id = {item["id"]: item for item in body}
    assert set(by_id) == {spec.id for spec in catalog.ALGORITHMS}
    redness = by_id[30]
    assert redness["tech_name"] == "selfie_v2.redness"
    assert redness["version"] == "2.0"
    assert redness["algorithm_family"]["name"] == "Redness"
    assert redness["algorithm_family"]["tech_name"] == "redness"
    json.dumps(body)


def test_image_types_dict_has_selfie_skin_and_visia() -> None:
    types = {item["tech_name"]: item for item in catalog.image_types_dict()}
    assert {name: item["id"] for name, item in types.items()} == {
        "selfie": 1,
        "skin": 2,
        "visia": 3,
    }
    sides = {side["tech_name"]: side["id"] for side in types["selfie"]["sides"]}
    assert sides == {"front": 1, "right": 2, "left": 3}
    assert types["selfie"]["lights"] == [{"id": 1, "name": "Regular", "tech_name": "regular"}]
    assert len(types["skin"]["sides"]) == len(types["visia"]["sides"]) == 1


def test_applications_list_face_skin_metrics_2_with_every_algorithm() -> None:
    (app,) = catalog.applications()
    assert app["id"] == catalog.FSM2_APPLICATION_ID
    assert app["tech_name"] == "face_skin_metrics_2.0"
    assert app["image_type"]["tech_name"] == "selfie"
    versions = [version["id"] for version in app["algorithms_versions"]]
    assert versions == [spec.id for spec in catalog.ALGORITHMS]
    json.dumps(app)


@pytest.mark.parametrize("row", CAPTURE, ids=lambda row: row["algorithm_family_tech_name"])
def test_emulated_result_has_the_captured_shape(row: dict[str, Any], emulated_face: Any) -> None:
    spec = catalog.algorithm(row["algorithm_version_id"])
    is_ok, result = algorithm_outcome(emulated_face, spec, face_detector_enabled=True)
    assert is_ok is row["is_ok"] is True
    assert result_shape(result) == result_shape(row["result"])
