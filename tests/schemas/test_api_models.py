"""The payload models read the real captured responses and every shape variant we tolerate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas.api import (
    AlgorithmInfo,
    Dataset,
    Image,
    Login,
    Profile,
    Subject,
    Webhook,
    page_items,
    parse_items,
)
from schemas.api_results import (
    AlgorithmResult,
    AlgorithmResultMessage,
    AreaResult,
    ErrorResult,
    FaceDetectorResult,
    PhotoCalculated,
    ResultsDecodeError,
    SmoothedValue,
    UnknownNotification,
    aux_images_from,
    decode_result_rows,
    parse_notification,
    result_row_from,
    result_rows_from,
    to_json_value,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def capture() -> list[dict[str, Any]]:
    return load("fsm2_image_results.json")


def test_every_captured_row_parses_with_its_values(capture: list[dict[str, Any]]) -> None:
    rows = decode_result_rows((FIXTURES / "fsm2_image_results.json").read_bytes())

    assert len(rows) == len(capture) == 17
    for row, raw in zip(rows, capture, strict=True):
        assert json.loads(row.raw) == raw
        assert row.id == raw["id"]
        assert row.algorithm_version_id == raw["algorithm_version_id"]
        assert isinstance(row.result, AlgorithmResult)
        assert row.creation_time is not None
        assert row.creation_time.tzinfo is not None
        raw_areas = raw["result"]["area_results"] or []
        for area, raw_area in zip(row.result.area_results, raw_areas, strict=True):
            assert area.area_name == raw_area["area_name"]
            assert area.main_metric is not None
            assert area.main_metric.value == raw_area["main_metric"]["value"]
            assert area.main_metric.tech_name == raw_area["main_metric"]["tech_name"]


def test_face_values_match_the_capture(capture: list[dict[str, Any]]) -> None:
    rows = {r.algorithm_family_tech_name: r for r in result_rows_from(capture)}

    assert rows["selfie_v2.redness"].face_value() == 70
    assert rows["selfie_v2.hydration"].face_value() == 75
    assert rows["selfie_v2.front_face_areas"].face_value() is None
    assert rows["selfie_v2.redness"].creation_time == datetime(2022, 3, 22, 7, 7, 45, tzinfo=UTC)


def test_quality_dict_sub_metrics_become_metric_list(capture: list[dict[str, Any]]) -> None:
    raw = next(r for r in capture if r["algorithm_family_tech_name"] == "selfie_v2.quality")
    row = result_row_from(raw)

    assert isinstance(row.result, AlgorithmResult)
    face = row.result.area("face")
    assert face is not None
    raw_sub = raw["result"]["area_results"][0]["sub_metrics"]
    assert {m.tech_name: m.value for m in face.sub_metrics} == raw_sub
    assert face.debug_metrics == raw["result"]["area_results"][0]["debug_metrics"]
    assert row.result.feedback is not None
    assert row.result.feedback.tooltip is not None
    assert row.result.feedback.tooltip.negative == ["Unacceptable face illumination"]


def test_masks_keep_their_geometry(capture: list[dict[str, Any]]) -> None:
    raw = next(r for r in capture if r["algorithm_family_tech_name"] == "selfie_v2.redness")
    row = result_row_from(raw)

    assert isinstance(row.result, AlgorithmResult)
    assert row.result.masks_original
    mask = row.result.masks_original[0]
    raw_mask = raw["result"]["masks_original"][0]
    assert mask.view_box == raw_mask["view_box"]
    assert mask.features[0].geometry is not None
    coordinates = json.loads(bytes(mask.features[0].geometry.coordinates))
    assert coordinates == raw_mask["features"][0]["geometry"]["coordinates"]


def test_a_row_dumps_as_it_came_and_reads_back(capture: list[dict[str, Any]]) -> None:
    row = result_row_from(capture[0])

    assert to_json_value(row) == capture[0]
    assert result_row_from(to_json_value(row)).face_value() == row.face_value() == 75


def test_pages_and_arrays_of_rows_decode_alike(capture: list[dict[str, Any]]) -> None:
    page = {"count": 2, "next": None, "previous": None, "results": capture[:2]}
    from_page = decode_result_rows(json.dumps(page).encode())

    assert [r.id for r in from_page] == [r["id"] for r in capture[:2]]
    assert [json.loads(r.raw) for r in from_page] == capture[:2]


@pytest.mark.parametrize(
    ("body", "not_json"),
    [(b"<html>busy</html>", True), (b'{"detail": "x"}', False), (b'[{"id": 1}]', False)],
)
def test_answers_that_are_not_rows_are_named(body: bytes, *, not_json: bool) -> None:
    with pytest.raises(ResultsDecodeError) as raised:
        decode_result_rows(body)
    assert raised.value.not_json is not_json
    assert ("not JSON" in str(raised.value)) is not_json


def test_smoothed_capture_parses() -> None:
    raw = load("fsm2_smoothed_results.json")
    values = parse_items(SmoothedValue, raw)

    assert [(v.algorithm_tech_name, v.value) for v in values] == [
        (r["algorithm_tech_name"], r["value"]) for r in raw
    ]


@pytest.mark.parametrize(
    ("sub_metrics", "expected"),
    [
        (None, []),
        ([], []),
        ([{"tech_name": "a", "value": 1, "name": "A", "widget_type": "numeric"}], [("a", 1)]),
        ({"focus": 97, "lightness": 16}, [("focus", 97), ("lightness", 16)]),
        ({"x": {"value": 3, "name": "X"}}, [("x", 3)]),
    ],
)
def test_sub_metrics_shapes(sub_metrics: Any, expected: list[tuple[str, Any]]) -> None:
    area = msgspec.convert({"area_name": "face", "sub_metrics": sub_metrics}, AreaResult)
    assert [(m.tech_name, m.value) for m in area.sub_metrics] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-03-22 07:07:46", datetime(2022, 3, 22, 7, 7, 46, tzinfo=UTC)),
        ("2025-10-08T20:00:33.223Z", datetime(2025, 10, 8, 20, 0, 33, 223000, tzinfo=UTC)),
        ("2025-10-08T22:00:33+02:00", datetime(2025, 10, 8, 20, 0, 33, tzinfo=UTC)),
        ("2024.01.02 03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    subject = Subject.model_validate({"id": "s", "name": "n", "creation_time": text})
    assert subject.creation_time == expected
    assert subject.creation_time is not None
    assert subject.creation_time.utcoffset() == timedelta(0)


def test_bare_arrays_and_pages_read_alike() -> None:
    items = [{"id": "d1", "name": "one"}, {"id": "d2", "name": "two"}]
    page = {"count": 2, "next": "http://h/api/v1/x/?page=2", "previous": None, "results": items}

    assert parse_items(Dataset, items) == parse_items(Dataset, page)
    assert page_items(page)[1] == "http://h/api/v1/x/?page=2"
    with pytest.raises(ValueError, match="paginated"):
        page_items({"detail": "nope"})


def test_error_and_face_detector_rows() -> None:
    error = result_row_from({"id": "r1", "is_ok": False, "result": {"error": "No face detected"}})
    detector = result_row_from(
        {
            "id": "r2",
            "is_ok": True,
            "result": {
                "bbox": None,
                "mesh": None,
                "side": "front",
                "feedback": {"overlay": "No face detected", "tooltip": {"warn": []}},
                "detection_params": {"face_detected": False, "detection_confidence": 0.0},
                "transform_sequence": {"sequence": []},
            },
        }
    )

    assert isinstance(error.result, ErrorResult)
    assert error.result.error == "No face detected"
    assert error.face_value() is None
    assert isinstance(detector.result, FaceDetectorResult)
    assert detector.result.detection_params is not None
    assert detector.result.detection_params.face_detected is False


def test_login_accepts_either_token_name_and_hides_it() -> None:
    a = Login.model_validate({"id": 7, "company_id": "c", "access_token": "tok-secret-1"})
    b = Login.model_validate({"id": 7, "company_id": "c", "token_access": "tok-secret-1"})

    assert a.access_token.get_secret_value() == b.access_token.get_secret_value() == "tok-secret-1"
    assert "tok-secret-1" not in repr(a)


def test_no_token_of_a_login_shows_in_its_repr_str_or_json_dump() -> None:
    login = Login.model_validate(
        {
            "id": 7,
            "access_token": "tok-acc-1234",
            "token_access": "tok-acc-1234",
            "refresh_token": "tok-ref-5678",
            "id_token": "tok-id-9012",  # an unknown field that is still a secret
            "expires_in": 3600,
        }
    )

    for shown in (repr(login), str(login), json.dumps(login.model_dump(mode="json"))):
        assert "tok-" not in shown
    assert login.model_dump()["expires_in"] == 3600
    assert login.access_token.get_secret_value() == "tok-acc-1234"


def test_image_urls_lose_their_tokens_in_repr_and_dump() -> None:
    image = Image.model_validate(
        {
            "id": "i1",
            "urls": {
                "original": "https://store.test/i1.jpg?X-Goog-Signature=sig-3456&w=2",
                "thumbs": {"small": "https://saas.haut.ai/images/i1.jpg?token=tok-7890"},
            },
        }
    )

    assert image.urls == {
        "original": "https://store.test/i1.jpg?w=2",
        "thumbs": {"small": "https://saas.haut.ai/images/i1.jpg"},
    }
    for shown in (repr(image), str(image), json.dumps(image.model_dump(mode="json"))):
        assert "sig-3456" not in shown
        assert "tok-7890" not in shown


def test_profile_finds_company_and_user_in_nested_shapes() -> None:
    nested = Profile.model_validate({"user": {"id": 12, "company_id": "c-1"}})
    listed = Profile.model_validate({"id": 3, "companies": [{"id": "c-2", "name": "x"}]})

    assert (nested.user_id(), nested.resolved_company_id()) == (12, "c-1")
    assert (listed.user_id(), listed.resolved_company_id()) == (3, "c-2")


def test_aux_image_urls_lose_their_tokens(capture: list[dict[str, Any]]) -> None:
    [aux] = aux_images_from(
        [
            {
                "id": "a1",
                "aux_image_type": {"id": 1, "name": "Forehead", "tech_name": "forehead"},
                "creation_time": "2022-03-22 07:07:46",
                "urls": {
                    "original": "https://saas.haut.ai/images/a1.jpg?token=eyJabc.def.ghi&size=2"
                },
                "results": capture[:2],
            }
        ]
    )

    assert aux.urls == {"original": "https://saas.haut.ai/images/a1.jpg?size=2"}
    assert [r.id for r in aux.results] == [capture[0]["id"], capture[1]["id"]]


def test_notifications_are_typed_and_unknown_ones_kept(capture: list[dict[str, Any]]) -> None:
    done = parse_notification(
        {
            "event": "photo_calculated_by_app",
            "image_id": "i",
            "batch_id": "b",
            "application_run_id": "r",
        }
    )
    row = parse_notification({"event": "algorithm_result", "dataset_id": "d", "result": capture[0]})
    other = parse_notification({"event": "something_new", "x": 1})

    assert isinstance(done, PhotoCalculated)
    assert done.image_id == "i"
    assert isinstance(row, AlgorithmResultMessage)
    assert json.loads(row.result.raw) == capture[0]
    assert isinstance(other, UnknownNotification)
    assert other.model_extra == {"x": 1}


def test_dictionary_and_webhook_models() -> None:
    algorithm = AlgorithmInfo.model_validate(
        {
            "id": 30,
            "tech_name": "selfie_v2.redness",
            "version": "2.0",
            "algorithm_family": {"id": 3, "name": "Redness", "tech_name": "redness"},
        }
    )
    hook = Webhook.model_validate(
        {
            "url": "http://h/x",
            "authorization": "bearer",
            "authorization_value": "hook-secret",
            "secret_key": "sk-1",
        }
    )

    assert algorithm.algorithm_family is not None
    assert algorithm.algorithm_family.name == "Redness"
    assert "hook-secret" not in repr(hook)
    assert "sk-1" not in repr(hook)
