"""SIGTERM (``kill``, a scheduler, ``docker stop``) stops an ingest as Ctrl-C does: at once,
with one line and exit 130, its runs row ``stopped``; the next run resumes it and nothing is
uploaded twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hautflow.cli import app
from hautflow.interrupts import EXIT_STOPPED
from tasks.lake import connect
from tests.flows.support import (
    SMALL_IMAGES,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    options_in,
    run_flow,
    running_emulator,
    small_sample,
)

pytestmark = pytest.mark.server


def _terminate_once_uploaded(emulator: Emulator, done: threading.Event) -> threading.Thread:
    """SIGTERM to this process once every photo is up (the run then waits for results), unless
    the command ended first."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline:
            if emulator.stats()["images"] == SMALL_IMAGES:
                time.sleep(0.5)  # into the wait for results
                if not done.is_set():
                    os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(240)
def test_sigterm_stops_an_ingest_recorded_and_the_next_run_resumes_it(tmp_path: Path) -> None:
    photos = small_sample(tmp_path / "photos")
    lake, state = tmp_path / "lake", tmp_path / "state"
    with running_emulator(algorithm_delay=1000.0) as slow:
        args = ["ingest", photos, "--lake", lake, "--state", state, "--api-url", slow.url]
        done = threading.Event()
        watcher = _terminate_once_uploaded(slow, done)
        try:
            stopped = CliRunner().invoke(app, [str(a) for a in [*args, "--timeout", "600"]])
        finally:
            done.set()
            watcher.join()

        assert stopped.exit_code == EXIT_STOPPED, stopped.output
        assert "hautflow ingest: stopped by SIGTERM" in stopped.output
        assert "Traceback" not in stopped.output
        con = connect(str(lake))
        ((status, finished, error),) = con.execute(
            "SELECT status, finished_at, error FROM runs"
        ).fetchall()
        con.close()
        assert (status, finished is not None) == ("stopped", True)
        assert "SIGTERM" in error

        httpx.post(f"{slow.url}/_emulator/clock", json={"advance_seconds": 3000}).raise_for_status()
        resumed = run_flow(options_in(tmp_path, slow, results_timeout=60))

        assert (resumed.record.images_uploaded, resumed.record.images_complete) == (
            0,
            SMALL_IMAGES,
        )
        stats = slow.stats()
        assert_each_photo_uploaded_once(stats, SMALL_IMAGES)
        con = connect(str(lake))
        assert_lake_complete(con, stats)
        con.close()
