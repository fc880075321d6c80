"""Flattening: the real capture and the emulator's payloads become the expected lake rows."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from haut.redaction import register_secret
from schemas.api_results import result_row_from, result_rows_from
from schemas.captures import Side
from tasks.lake import LakeRows
from tasks.lake.flatten import flatten_image, safe_json, split_value
from tasks.lake.rows import stable_id
from tests.tasks.lake_support import (
    AUX_TOKEN,
    FIXTURES,
    capture_rows,
    emulated_payload,
    uploaded_image,
)


def expected_metric_count(raw_rows: list[dict[str, Any]]) -> int:
    """Per area: one main metric, each sub metric (list or dict), each debug metric."""
    total = 0
    for row in raw_rows:
        for area in (row["result"] or {}).get("area_results") or []:
            total += area.get("main_metric") is not None
            total += len(area.get("sub_metrics") or [])
            total += len(area.get("debug_metrics") or {})
    return total


def by_key(table: pa.Table, *columns: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[c] for c in columns): row for row in table.to_pylist()}


@pytest.fixture(scope="module")
def capture() -> dict[str, pa.Table]:
    return flatten_image(
        uploaded_image(), capture_rows(), [], run_id="run-1", status="complete"
    ).tables()


def test_real_capture_gives_one_metric_row_per_area_metric(capture: dict[str, pa.Table]) -> None:
    raw = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    assert capture["metrics"].num_rows == expected_metric_count(raw) == 183
    assert capture["results"].num_rows == 17
    assert len(set(capture["metrics"].column("metric_id").to_pylist())) == 183


def test_quality_dict_subs_and_debug_metrics_are_rows(capture: dict[str, pa.Table]) -> None:
    quality = [r for r in capture["metrics"].to_pylist() if r["algorithm"] == "quality"]
    kinds = [r["kind"] for r in quality]
    assert kinds.count("main") == 1
    assert kinds.count("sub") == 6
    assert kinds.count("debug") == 30
    values = {(r["kind"], r["tech_name"]): (r["value"], r["value_text"]) for r in quality}
    assert values["sub", "lightness"] == (16.0, None)
    assert values["debug", "raw_sharpness"] == (577.51, None)
    assert values["debug", "detection_flag"] == (1.0, "true")


def test_values_are_typed_and_rows_carry_who_and_when(capture: dict[str, pa.Table]) -> None:
    metrics = by_key(capture["metrics"], "algorithm", "area_name", "kind", "tech_name")
    redness = metrics["redness", "face", "main", "redness_score"]
    assert redness["value"] == 70.0
    assert redness["widget_type"] == "bad_good_line"
    image = uploaded_image()
    assert (redness["subject_key"], redness["session_key"], redness["side"]) == (
        "alice",
        "2026-01-05",
        "front",
    )
    assert redness["batch_id"] == image.batch_id
    assert redness["captured_at"] == image.source.captured_at
    assert redness["capture_month"] == "2026-01"
    hydration = metrics["hydration", "face", "sub", "hydration_level"]
    assert (hydration["value"], hydration["value_text"]) == (None, "Normal Hydration")


def test_masks_carry_type_feature_count_and_view_box(capture: dict[str, pa.Table]) -> None:
    raw = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    expected = sum(
        len(r["result"].get(k) or []) for r in raw for k in ("masks_original", "masks_restored")
    )
    masks = capture["masks"].to_pylist()
    assert len(masks) == expected == 50
    redness = next(m for m in masks if m["tech_name"] == "redness_mask_original")
    raw_redness = next(
        m
        for r in raw
        for m in r["result"].get("masks_original") or []
        if m["tech_name"] == "redness_mask_original"
    )
    assert redness["feature_count"] == len(raw_redness["features"]) > 0
    assert (redness["mask_type"], redness["view_width"], redness["view_height"]) == (
        "heatmap_mask",
        2316,
        3088,
    )
    assert redness["coordinates_json"] is None
    areas = [m for m in masks if m["algorithm"] == "front_face_areas"]
    assert len(areas) == 16  # an area-less algorithm: masks only, no metrics
    assert not [r for r in capture["metrics"].to_pylist() if r["algorithm"] == "front_face_areas"]


def test_coordinates_are_kept_only_when_asked() -> None:
    tables = flatten_image(
        uploaded_image(),
        capture_rows(),
        [],
        run_id="r",
        status="complete",
        include_coordinates=True,
    ).tables()
    mask = next(m for m in tables["masks"].to_pylist() if m["tech_name"] == "pores_mask_original")
    features = json.loads(mask["coordinates_json"])
    assert features[0]["geometry"]["type"] == "MultiPoint"
    assert len(features) == mask["feature_count"]


def test_raw_json_replays_into_the_same_result(capture: dict[str, pa.Table]) -> None:
    originals = {row.id: row for row in capture_rows()}
    for stored in capture["results"].to_pylist():
        replayed = result_row_from(json.loads(stored["raw_json"]))
        assert replayed.face_value() == originals[stored["result_id"]].face_value()
        assert replayed.algorithm_family_tech_name == stored["algorithm_family"]


def test_ids_are_stable_across_reruns() -> None:
    first = flatten_image(uploaded_image(), capture_rows(), [], run_id="r1", status="complete")
    again = flatten_image(uploaded_image(), capture_rows(), [], run_id="r2", status="complete")
    for table in ("metrics", "masks", "results", "images"):
        id_column = {"metrics": "metric_id", "masks": "mask_id"}.get(table, f"{table[:-1]}_id")
        assert first.tables()[table].column(id_column) == again.tables()[table].column(id_column)
    other = flatten_image(
        uploaded_image(session_key="2026-02-01"), capture_rows(), [], run_id="r1", status="complete"
    )
    first_ids = set(first.tables()["metrics"].column("metric_id").to_pylist())
    assert first_ids.isdisjoint(other.tables()["metrics"].column("metric_id").to_pylist())


def test_no_face_payload_flattens_to_error_rows_and_detector_debug() -> None:
    image = uploaded_image()
    payload = emulated_payload(image.image_id, face=False)
    tables = flatten_image(image, payload.rows, payload.aux, run_id="r", status="complete").tables()
    results = tables["results"].to_pylist()
    errors = [r for r in results if not r["is_ok"]]
    assert len(results) == 18
    assert len(errors) == 17
    assert {r["error"] for r in errors} == {"No face detected"}
    assert {r["payload_kind"] for r in errors} == {"error"}
    detector = next(r for r in results if r["algorithm"] == "face_detector")
    assert detector["is_ok"]
    assert detector["feedback"] == "No face detected"
    metrics = tables["metrics"].to_pylist()
    assert {m["algorithm"] for m in metrics} == {"face_detector"}
    face_detected = next(m for m in metrics if m["tech_name"] == "face_detected")
    assert (face_detected["kind"], face_detected["value"], face_detected["value_text"]) == (
        "debug",
        0.0,
        "false",
    )
    image_row = tables["images"].to_pylist()[0]
    assert (image_row["results_ok"], image_row["aux_images_count"]) == (1, 0)
    assert "aux_images" not in tables


def test_aux_images_become_rows_without_their_token() -> None:
    image = uploaded_image()
    payload = emulated_payload(image.image_id)
    tables = flatten_image(image, payload.rows, payload.aux, run_id="r", status="complete").tables()
    aux = tables["aux_images"].to_pylist()
    assert sorted(a["aux_type"] for a in aux) == [
        "chin",
        "forehead",
        "left_cheek",
        "nose",
        "restored",
        "right_cheek",
    ]
    assert all(a["url"].endswith(".jpg") and "token" not in a["url"] for a in aux)
    expected = sum(expected_metric_count(json.loads(item.raw)["results"]) for item in payload.aux)
    aux_metrics = tables["aux_metrics"].to_pylist()
    assert len(aux_metrics) == expected > 0
    forehead = [m for m in aux_metrics if m["aux_type"] == "forehead"]
    assert forehead
    assert {m["area_name"] for m in forehead} == {"forehead"}
    for table in tables.values():
        text = json.dumps(table.to_pylist(), default=str)
        assert AUX_TOKEN not in text
        assert "token=" not in text


def test_batch_row_comes_from_the_front_image_only() -> None:
    right = flatten_image(
        uploaded_image(side=Side.RIGHT), capture_rows(), [], run_id="r", status="pending"
    )
    assert right.counts()["subjects"] == 1
    assert "batches" not in right.counts()
    assert right.tables()["images"].column("status").to_pylist() == ["pending"]
    assert right.tables()["images"].column("side_id").to_pylist() == [2]


def test_sub_metrics_null_dict_and_list_and_legacy_scalars() -> None:
    area = {"area_name": "face", "main_metric": {"tech_name": "x_score", "value": 5}}
    rows = [
        {
            "id": "a",
            "is_ok": True,
            "algorithm_family_tech_name": "v.null",
            "result": {"area_results": [{**area, "sub_metrics": None}]},
        },
        {
            "id": "b",
            "is_ok": True,
            "algorithm_family_tech_name": "v.dict",
            "result": {"area_results": [{**area, "sub_metrics": {"focus": 97, "tone": "Light"}}]},
        },
        {
            "id": "c",
            "is_ok": True,
            "algorithm_family_tech_name": "v.list",
            "result": {
                "area_results": [{**area, "sub_metrics": [{"tech_name": "n", "value": [1, 2]}]}]
            },
        },
        {"id": "d", "is_ok": True, "algorithm_family_tech_name": "legacy.score", "result": 41.0},
    ]
    parsed = result_rows_from(rows)
    metrics = flatten_image(uploaded_image(), parsed, [], run_id="r", status="complete")
    got = {
        (m["algorithm"], m["tech_name"]): (m["value"], m["value_text"])
        for m in metrics.tables()["metrics"].to_pylist()
    }
    assert got == {
        ("null", "x_score"): (5.0, None),
        ("dict", "x_score"): (5.0, None),
        ("dict", "focus"): (97.0, None),
        ("dict", "tone"): (None, "Light"),
        ("list", "x_score"): (5.0, None),
        ("list", "n"): (None, "[1,2]"),
        ("score", "score"): (41.0, None),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (70, (70.0, None)),
        (0.25, (0.25, None)),
        (True, (1.0, "true")),
        ("Normal Hydration", (None, "Normal Hydration")),
        ("38", (38.0, "38")),
        (None, (None, None)),
        (float("nan"), (None, None)),
        ({"a": 1}, (None, '{"a":1}')),
    ],
)
def test_split_value(value: Any, expected: tuple[float | None, str | None]) -> None:
    assert split_value(value) == expected


def test_safe_json_strips_url_tokens_and_secret_fields() -> None:
    text = safe_json(
        {
            "urls": {"original": "https://cdn.example/a.jpg?token=abc123xyz&size=2"},
            "note": "see https://x.example/b?X-Goog-Signature=deadbeef",
            "authorization_value": "hunter22",
            "author_id": 1103,
            "value": 7,
        }
    )
    assert "abc123xyz" not in text
    assert "token" not in text
    assert "deadbeef" not in text
    assert "hunter22" not in text
    assert json.loads(text)["urls"]["original"] == "https://cdn.example/a.jpg?size=2"
    assert json.loads(text)["author_id"] == 1103


@pytest.mark.parametrize(
    ("payload", "secret"),
    [
        # One secret each, each found by a different check: user info in a URL, a secret
        # parameter name, a registered value with no telltale word.
        ({"urls": {"original": "https://bob:s3cr3tpw@cdn.example/a.jpg"}}, "s3cr3tpw"),
        ({"urls": {"original": "https://cdn.example/a.jpg?sig=x&auth_k=Zq9Zq9"}}, "Zq9Zq9"),
        ({"comment": "opaque-7Hq2kWv9"}, "opaque-7Hq2kWv9"),
    ],
)
def test_safe_json_finds_each_kind_of_secret_before_skipping_the_walk(
    payload: dict[str, Any], secret: str
) -> None:
    register_secret("opaque-7Hq2kWv9")
    assert secret not in safe_json(payload)


def test_safe_json_keeps_a_clean_payload_byte_for_byte() -> None:
    payload = {"urls": {"original": "https://cdn.example/a.jpg"}, "b": [1, "two"], "a": None}
    assert (
        safe_json(payload)
        == '{"a":null,"b":[1,"two"],"urls":{"original":"https://cdn.example/a.jpg"}}'
    )


def test_a_write_holds_one_subject_and_batch_row_however_many_images_bring_them() -> None:
    rows = LakeRows()
    for session in ("2026-01-05", "2026-01-12"):
        for side in Side:
            image = uploaded_image(session_key=session, side=side)
            rows.extend(flatten_image(image, [], [], run_id="r", status="pending"))
    tables = rows.tables()
    assert tables["subjects"].num_rows == 1
    assert tables["batches"].num_rows == 2
    assert tables["images"].num_rows == 6
    assert rows.counts()["subjects"] == 1
    assert len(rows) == sum(table.num_rows for table in tables.values())


def test_a_row_added_again_under_its_id_replaces_the_earlier_one() -> None:
    image = uploaded_image()
    rows = flatten_image(image, [], [], run_id="r", status="pending")
    rows.extend(flatten_image(image, [], [], run_id="r", status="complete"))
    assert rows.tables()["images"].column("status").to_pylist() == ["complete"]


def test_an_image_flattened_twice_into_one_write_keeps_each_metric_once_the_newest() -> None:
    image = uploaded_image()
    rows = flatten_image(image, capture_rows(), [], run_id="first", status="complete")
    rows.extend(flatten_image(image, capture_rows(), [], run_id="second", status="complete"))
    metrics = rows.tables()["metrics"]
    ids = metrics.column("metric_id").to_pylist()
    assert len(ids) == len(set(ids)) == 183
    assert set(metrics.column("run_id").to_pylist()) == {"second"}


def test_metric_ids_are_the_ids_of_the_one_at_a_time_rule() -> None:
    image = uploaded_image()
    metrics = flatten_image(image, capture_rows(), [], run_id="r", status="complete")
    for row in metrics.tables()["metrics"].to_pylist():
        expected = stable_id(
            image.image_id, row["algorithm_family"], row["area_name"], row["kind"], row["tech_name"]
        )
        assert row["metric_id"] == expected
