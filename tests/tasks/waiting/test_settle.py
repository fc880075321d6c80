"""When an image is complete, on real captured rows: the 17-row capture of a photo with a face
has no face-detector row, yet it is complete; the 18-row no-face answer is complete with its
finding, and any part of it already carries the finding (which settles the image if the wait
ends before the rest arrives); a partial answer is not complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.api_results import (
    FACE_DETECTOR_ID,
    ResultRow,
    result_rows_from,
    unanalysable_reason,
)
from tasks.waiting.tracker import expected_set, settle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FSM2_ALGORITHMS = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 50, 51, 52, 69]
"""What attaching Face Skin Metrics 2.0 enables: the capture's 17 families and the detector."""

NO_FACE_DETECTOR: dict[str, Any] = json.loads((FIXTURES / "fsm2_no_face_detector.json").read_text())
"""The no-face capture's detector payload, as the reference (§6.6) gives it."""


def captured() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    return rows


def parse(rows: list[dict[str, Any]]) -> list[ResultRow]:
    return result_rows_from(rows)


def no_face_answer() -> list[dict[str, Any]]:
    """The §6.6 no-face answer built on the capture's envelopes: every metric row an error, and
    the detector's row ok with ``face_detected: false``."""
    rows = [{**row, "is_ok": False, "result": {"error": "No face detected"}} for row in captured()]
    detector = {
        **captured()[0],
        "id": "0c2f4f0e-9e0e-4d8e-8a5e-2b1f3f7c9d40",
        "algorithm_version_id": FACE_DETECTOR_ID,
        "algorithm_family_tech_name": "selfie_v2.face_detector",
        "result": NO_FACE_DETECTOR,
    }
    return [*rows, detector]


def test_the_real_capture_has_no_detector_row_and_is_complete() -> None:
    rows = parse(captured())
    assert len(rows) == 17
    assert FACE_DETECTOR_ID not in {row.algorithm_version_id for row in rows}
    assert {row.algorithm_version_id for row in rows} | {FACE_DETECTOR_ID} == set(FSM2_ALGORITHMS)
    assert settle(rows, expected_set(FSM2_ALGORITHMS)) == (True, None)


def test_one_row_missing_is_not_complete() -> None:
    rows = parse(captured())
    for dropped in range(len(rows)):
        partial = rows[:dropped] + rows[dropped + 1 :]
        assert settle(partial, expected_set(FSM2_ALGORITHMS)) == (False, None)


def test_the_detector_alone_saying_no_face_is_the_finding_before_the_rest() -> None:
    detector_only = parse(no_face_answer()[-1:])
    assert settle(detector_only, expected_set(FSM2_ALGORITHMS)) == (False, "No face detected")


@pytest.mark.parametrize("error", ["No face detected", "Not full face", "Face is not detected"])
def test_an_error_row_saying_the_photo_cannot_be_analysed_is_the_finding(error: str) -> None:
    first = {**captured()[0], "is_ok": False, "result": {"error": error}}
    assert settle(parse([first]), expected_set(FSM2_ALGORITHMS)) == (False, error)


def test_the_whole_no_face_answer_is_settled_with_its_finding() -> None:
    rows = parse(no_face_answer())
    assert len(rows) == 18
    assert unanalysable_reason(rows) == "No face detected"
    assert settle(rows, expected_set(FSM2_ALGORITHMS)) == (True, "No face detected")


def test_another_algorithms_failure_is_no_verdict_on_the_photo() -> None:
    rows = captured()
    rows[3] = {**rows[3], "is_ok": False, "result": {"error": "Internal processing error"}}
    parsed = parse(rows)
    assert unanalysable_reason(parsed) is None
    assert settle(parsed, expected_set(FSM2_ALGORITHMS)) == (True, None)
    assert settle(parsed[:5], expected_set(FSM2_ALGORITHMS)) == (False, None)


def test_a_detector_that_found_a_face_is_no_finding() -> None:
    found = {**NO_FACE_DETECTOR, "detection_params": {"face_detected": True}}
    detector = {**no_face_answer()[-1], "result": found}
    assert settle(parse([detector]), expected_set(FSM2_ALGORITHMS)) == (False, None)


def test_the_detector_is_awaited_only_when_nothing_else_is_enabled() -> None:
    assert expected_set(FSM2_ALGORITHMS) == frozenset(FSM2_ALGORITHMS) - {FACE_DETECTOR_ID}
    assert expected_set([FACE_DETECTOR_ID]) == frozenset({FACE_DETECTOR_ID})
    with pytest.raises(ValueError, match="empty"):
        expected_set([])
