"""Waiting for results by websocket and by webhook, end to end: every photo complete, and the
same lake as waiting by polling.

The emulator takes a moment per photo, so results are really awaited. Each test also proves
its channel carried the news: the emulator saw a results websocket open during the run, or
delivered a webhook to the flow's receiver for every photo.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.options import IngestOptions
from tasks.lake import connect
from tasks.reporting.summary import RunSummary
from tasks.waiting import WaiterName
from tests.flows.conftest import haut_environment
from tests.flows.support import (
    SMALL_IMAGES,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    run_flow,
    running_emulator,
    small_sample,
)

pytestmark = pytest.mark.server

ALGORITHM_DELAY = 0.5
RESULTS_TIMEOUT = 60.0

Snapshot = list[tuple[Any, ...]]


def lake_snapshot(lake: str) -> Snapshot:
    """Every metric of the lake by who, when, which side and what: no ids, no paths."""
    con = connect(lake)
    try:
        return con.execute(
            "SELECT subject_key, session_key, side, captured_at, algorithm, area_name, kind, "
            "tech_name, value, value_text FROM metrics ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def ingest_small_sample(
    root: Path, emulator: Emulator, wait: WaiterName, wait_options: dict[str, Any]
) -> tuple[IngestOptions, RunSummary]:
    options = IngestOptions(
        source=str(small_sample(root / "photos")),
        lake=str(root / "lake"),
        state_dir=str(root / "state"),
        api_url=emulator.url,
        wait=wait,
        wait_options=wait_options,
        results_timeout=RESULTS_TIMEOUT,
    )
    summary = run_flow(options)
    assert summary.ok, summary.markdown()
    assert summary.record.images_complete == SMALL_IMAGES
    stats = emulator.stats()
    assert_each_photo_uploaded_once(stats, SMALL_IMAGES)
    con = connect(options.lake)
    assert_lake_complete(con, stats)
    con.close()
    return options, summary


@pytest.fixture(scope="module")
def polled_lake(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    root = tmp_path_factory.mktemp("poll")
    with haut_environment(), running_emulator(algorithm_delay=ALGORITHM_DELAY) as emulator:
        options, _ = ingest_small_sample(root, emulator, "poll", {})
    return lake_snapshot(options.lake)


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    with running_emulator(algorithm_delay=ALGORITHM_DELAY) as emulator:
        yield emulator


class ListenerWatch:
    """Samples the emulator's count of open results websockets while a run goes on."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._stop = threading.Event()
        self.most = 0
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.most = max(self.most, int(self._emulator.stats()["websocket_listeners"]))
            self._stop.wait(0.02)

    def __enter__(self) -> ListenerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_waiting_by_websocket_fills_the_same_lake(
    tmp_path: Path, slow_emulator: Emulator, polled_lake: Snapshot
) -> None:
    with ListenerWatch(slow_emulator) as watch:
        # no periodic reads: only the socket's messages (and one read at the timeout) finish it
        options, _ = ingest_small_sample(
            tmp_path, slow_emulator, "websocket", {"reconcile_interval": None}
        )
    assert watch.most >= 1, "no results websocket was open during the run"
    assert slow_emulator.stats()["websocket_listeners"] == 0, "the socket was left open"
    assert lake_snapshot(options.lake) == polled_lake


def test_waiting_by_webhook_fills_the_same_lake(
    tmp_path: Path, slow_emulator: Emulator, polled_lake: Snapshot
) -> None:
    options, _ = ingest_small_sample(
        tmp_path,
        slow_emulator,
        "webhook",
        {"host": "127.0.0.1", "port": 0, "reconcile_interval": None},
    )
    deliveries = slow_emulator.webhook_deliveries()
    delivered = {d["image_id"] for d in deliveries if d["state"] == "delivered"}
    con = connect(options.lake)
    photos = {image_id for (image_id,) in con.execute("SELECT image_id FROM images").fetchall()}
    con.close()
    assert delivered == photos
    assert all(d["url"].startswith("http://127.0.0.1:") for d in deliveries)
    assert lake_snapshot(options.lake) == polled_lake
