"""A lost or moved ``--state`` never re-analyses: a new ledger learns from the lake what was
analysed, so nothing is uploaded again and the lake is not doubled; images whose results were
still pending come back pending and are collected."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tasks.lake import connect
from tests.flows.support import (
    SMALL_CAPTURES,
    SMALL_IMAGES,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    options_in,
    run_flow,
    running_emulator,
    scalar,
    small_sample,
)

pytestmark = pytest.mark.server


def test_a_new_state_recovers_from_the_lake_and_uploads_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    small_sample(tmp_path / "photos")
    first = run_flow(options_in(tmp_path, emulator, state="state"))
    assert first.record.images_uploaded == SMALL_IMAGES

    moved = run_flow(options_in(tmp_path, emulator, state="new-state"))

    assert moved.record.images_uploaded == 0
    assert moved.record.captures_skipped == SMALL_CAPTURES
    assert moved.plan is not None
    assert (moved.plan.recovered.captures, moved.plan.recovered.images) == (3, SMALL_IMAGES)
    assert any("the ledger was new" in warning for warning in moved.warnings)
    stats = emulator.stats()
    assert_each_photo_uploaded_once(stats, SMALL_IMAGES)
    con = connect(str(tmp_path / "lake"))
    assert scalar(con, "SELECT count(*) FROM images") == SMALL_IMAGES
    assert_lake_complete(con, stats)
    con.close()

    # The rebuilt ledger is a ledger like any other: the next run plans against it.
    again = run_flow(options_in(tmp_path, emulator, state="new-state"))
    assert again.plan is not None
    assert (again.record.images_uploaded, again.plan.recovered.captures) == (0, 0)


def test_pending_results_come_back_pending_and_are_collected(tmp_path: Path) -> None:
    small_sample(tmp_path / "photos")
    with running_emulator(algorithm_delay=1000.0) as slow:
        first = run_flow(options_in(tmp_path, slow, state="state", results_timeout=0.5))
        assert first.record.images_pending == SMALL_IMAGES
        httpx.post(f"{slow.url}/_emulator/clock", json={"advance_seconds": 3000}).raise_for_status()

        moved = run_flow(options_in(tmp_path, slow, state="new-state", results_timeout=30))

        assert moved.plan is not None
        assert moved.plan.recovered.pending == SMALL_IMAGES
        assert (moved.record.images_uploaded, moved.record.images_complete) == (0, SMALL_IMAGES)
        stats = slow.stats()
        assert_each_photo_uploaded_once(stats, SMALL_IMAGES)
        con = connect(str(tmp_path / "lake"))
        assert_lake_complete(con, stats)
        con.close()


def test_another_dataset_in_the_lake_is_not_taken_for_this_one(
    tmp_path: Path, emulator: Emulator
) -> None:
    small_sample(tmp_path / "photos")
    run_flow(options_in(tmp_path, emulator, state="state", dataset="trial"))
    other = run_flow(options_in(tmp_path, emulator, state="new-state", dataset="clinic"))
    assert other.plan is not None
    assert other.plan.recovered.captures == 0
    # Not recovered, so not skipped: each photo goes to the other dataset (as a new state
    # asks), and the lake tells the two datasets apart.
    assert other.record.images_uploaded == SMALL_IMAGES


def test_a_new_state_and_a_new_lake_recover_from_the_api(
    tmp_path: Path, emulator: Emulator
) -> None:
    small_sample(tmp_path / "photos")
    first = run_flow(options_in(tmp_path, emulator, state="state"))
    assert first.record.images_uploaded == SMALL_IMAGES
    before = emulator.stats()

    # Both the ledger and the lake are gone: only the service remembers.
    lost = run_flow(options_in(tmp_path, emulator, state="new-state", lake="new-lake"))

    assert lost.record.images_uploaded == 0
    assert (lost.record.captures_new, lost.record.captures_skipped) == (0, SMALL_CAPTURES)
    assert lost.record.images_complete == SMALL_IMAGES
    assert lost.plan is not None
    assert (lost.plan.recovered.captures, lost.plan.recovered.at_the_api) == (0, SMALL_CAPTURES)
    assert any("at the service already holds 3" in warning for warning in lost.warnings)
    stats = emulator.stats()
    assert (stats["subjects"], stats["batches"]) == (before["subjects"], before["batches"])
    assert_each_photo_uploaded_once(stats, SMALL_IMAGES)
    con = connect(str(tmp_path / "new-lake"))
    assert scalar(con, "SELECT count(*) FROM images") == SMALL_IMAGES
    assert_lake_complete(con, stats)
    con.close()
