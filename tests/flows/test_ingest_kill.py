"""A run killed with SIGKILL resumes on the next run: no duplicate at the API, nothing missing
from the lake.

``hautflow ingest`` runs as a subprocess against an emulator this test owns (every API request
slowed down, so a run takes seconds). It is killed twice: first while photos are being uploaded,
then, in the next run, once every photo is at the API but while their results are still being
awaited (nothing is in the lake yet). A third run finishes. The emulator's counts prove each
photo, subject and batch was created once; the lake holds every photo with all its results.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tasks.lake import connect
from tasks.ledger import ImageState
from tests.flows.support import (
    SAMPLE_CAPTURES,
    SAMPLE_IMAGES,
    SAMPLE_NO_FACE,
    SAMPLE_SUBJECTS,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    copy_sample,
    running_emulator,
    scalar,
    wait_until,
)

# Three cold interpreters importing Prefect: on a busy 2-core machine that alone is a minute.
pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(300)]

ALGORITHM_DELAY = 2.0  # seconds from upload until the slowest algorithm's result is ready
START_TIMEOUT = 90.0  # a cold interpreter importing Prefect on a busy machine


class Ingest:
    """``hautflow ingest`` in a subprocess, its output in files (a pipe could fill and block)."""

    def __init__(self, tmp_path: Path, args: list[str], env: dict[str, str], name: str) -> None:
        self.log = tmp_path / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hautflow.cli", "ingest", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=tmp_path,
            )

    def alive(self) -> bool:
        if self.process.poll() is None:
            return True
        raise AssertionError(
            f"ingest exited ({self.process.returncode}) before it was killed:\n{self.output()}"
        )

    def kill_when(self, condition: Callable[[], bool], what: str) -> None:
        wait_until(lambda: self.alive() and condition(), timeout=START_TIMEOUT, what=what)
        self.process.kill()  # SIGKILL: no cleanup of any kind
        self.process.wait(timeout=10)
        assert self.process.returncode == -9

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=START_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def subprocess_env(prefect_server: str, tmp_path: Path) -> dict[str, str]:
    """The test's environment minus any Haut.AI settings, on the session's Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAUT_", "PREFECT_"))}
    env.update(
        PREFECT_API_URL=prefect_server,  # no temporary server: it would outlive a SIGKILL
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        HAUT_REQUESTS_PER_SECOND="1000",
        COLUMNS="200",
    )
    return env


def images_in_lake(lake: Path) -> int:
    if not lake.exists():
        return 0
    con = connect(str(lake))
    try:
        return int(scalar(con, "SELECT count(*) FROM images"))
    finally:
        con.close()


def images_in_doubt(state: Path) -> int:
    """Images the ledger records as being created: sent, with no answer recorded."""
    con = sqlite3.connect(state / "ledger.sqlite")
    try:
        query = "SELECT count(*) FROM ledger_images WHERE state = ?"
        return int(con.execute(query, (ImageState.CREATING.value,)).fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def slow_emulator(tmp_path: Path) -> Any:
    with running_emulator(algorithm_delay=ALGORITHM_DELAY, latency=0.05) as emulator:
        yield emulator


def test_a_run_killed_twice_resumes_without_duplicates(
    tmp_path: Path, prefect_server: str, slow_emulator: Emulator
) -> None:
    source = copy_sample(tmp_path / "sample")
    lake = tmp_path / "lake"
    args = [str(source), "--lake", str(lake), "--state", str(tmp_path / "state")]
    args += ["--api-url", slow_emulator.url, "--chunk-size", "9", "--concurrency", "1"]
    args += ["--fail-on", "failure"]
    env = subprocess_env(prefect_server, tmp_path)

    def uploaded() -> int:
        return int(slow_emulator.stats()["images"])

    first = Ingest(tmp_path, args, env, "first")
    first.kill_when(lambda: 10 <= uploaded() < 40, "some photos uploaded, not all")
    assert 0 < uploaded() < SAMPLE_IMAGES
    assert images_in_lake(lake) == 0

    second = Ingest(tmp_path, args, env, "second")
    second.kill_when(lambda: uploaded() == SAMPLE_IMAGES, "every photo at the API")
    images_written_before = images_in_lake(lake)
    assert images_written_before < SAMPLE_IMAGES, "killed too late: the lake was complete"
    # An image sent just before the kill may be at the API while its ledger row still says
    # "creating": the next run finds it by name (it is not sent again) and counts it as its own.
    in_doubt = images_in_doubt(tmp_path / "state")

    third = Ingest(tmp_path, args, env, "third")
    assert third.finish() == 0, third.output()

    stats = slow_emulator.stats()
    assert_each_photo_uploaded_once(stats, SAMPLE_IMAGES)
    assert (stats["datasets"], stats["subjects"], stats["batches"]) == (
        1,
        SAMPLE_SUBJECTS,
        SAMPLE_CAPTURES,
    )
    con = connect(str(lake))
    assert_lake_complete(con, stats, no_face=SAMPLE_NO_FACE)
    assert scalar(con, "SELECT count(*) FROM batches") == SAMPLE_CAPTURES
    assert scalar(con, "SELECT count(*) FROM subjects") == SAMPLE_SUBJECTS
    # the killed runs are in the manifest as died (each marked by the run after it); the last
    # one only finished their work
    runs = con.execute(
        "SELECT status, images_uploaded, images_complete + images_no_face FROM runs"
    ).fetchall()
    assert sorted(status for status, _, _ in runs) == [
        "completed_with_quarantine",
        "died",
        "died",
    ]
    ((uploaded_last, settled_last),) = [(u, c) for s, u, c in runs if s != "died"]
    assert uploaded_last == in_doubt
    # every photo not yet in the lake was awaited and written by the last run
    assert SAMPLE_IMAGES - images_written_before <= settled_last <= SAMPLE_IMAGES
    con.close()
