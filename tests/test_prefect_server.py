"""hautflow's local Prefect server: who decides which server flows use, one server started and
reused, held while a run uses it, gone when idle or stopped; Prefect's own console lines kept
quiet unless asked."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hautflow import prefect_server
from hautflow.cli import app
from hautflow.prefect_session import QuietPrefect


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Prefect home of the test's own, no server configured; any server started in it is
    stopped at the end, whatever the test did."""
    folder = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(folder))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv(prefect_server.MODE_VARIABLE, prefect_server.BACKGROUND)
    yield folder
    prefect_server.stop(folder)


def _wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


# --- who decides ----------------------------------------------------------------------------


def test_the_users_api_url_wins_from_the_environment_or_the_active_profile(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert prefect_server.configured_api_url() is None
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "work"\n'
        '[profiles.work]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
        '[profiles.other]\nPREFECT_API_URL = "http://127.0.0.1:4300/api"\n'
    )
    assert prefect_server.configured_api_url() == "http://127.0.0.1:4200/api"
    monkeypatch.setenv("PREFECT_PROFILE", "other")
    assert prefect_server.configured_api_url() == "http://127.0.0.1:4300/api"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4400/api")
    assert prefect_server.configured_api_url() == "http://127.0.0.1:4400/api"
    with prefect_server.server_lease() as url:
        assert url == "http://127.0.0.1:4400/api"
    assert not prefect_server.state_path(home).exists()


def test_temporary_keeps_prefects_server_per_command(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prefect_server.MODE_VARIABLE, "Temporary")
    with prefect_server.server_lease() as url:
        assert url is None
        assert "PREFECT_API_URL" not in os.environ
    assert not prefect_server.state_path(home).exists()


def test_an_unknown_mode_is_refused_naming_the_choices(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prefect_server.MODE_VARIABLE, "always")
    with pytest.raises(prefect_server.ServerError, match=r"background.*temporary.*PREFECT_API_URL"):
        prefect_server.mode()


def test_status_and_stop_with_no_server(home: Path) -> None:
    status = CliRunner().invoke(app, ["server", "status", "--json"])
    assert status.exit_code == 1, status.output
    shown = json.loads(status.output)
    assert (shown["running"], shown["mode"], shown["configured_api_url"]) == (
        False,
        "background",
        None,
    )
    stopped = CliRunner().invoke(app, ["server", "stop"])
    assert stopped.exit_code == 0
    assert "No local Prefect server was running" in stopped.output


def test_a_stale_record_is_not_a_server(home: Path) -> None:
    home.mkdir()
    dead = prefect_server.ServerRecord(
        pid=2**22 + 17, port=9, started_at=0.0, idle_seconds=1.0, log="x"
    )
    prefect_server.state_path(home).write_text(json.dumps(dead.__dict__))
    assert prefect_server.read_record(home) is None
    assert not prefect_server.state_path(home).exists()


# --- the server itself --------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.timeout(300)  # a first start took up to a minute on a busy 2-core machine
def test_one_server_started_reused_held_by_a_run_then_gone_when_idle(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prefect_server.IDLE_VARIABLE, "2")
    shown = CliRunner().invoke(app, ["server", "start"])
    assert shown.exit_code == 0, shown.output
    first = prefect_server.read_record(home)
    assert first is not None
    assert f"Started the local Prefect server on {first.url}" in shown.output
    assert first.url.startswith("http://127.0.0.1:")
    assert prefect_server.healthy(first)

    again, started = prefect_server.ensure_running()
    assert (again.pid, again.url, started) == (first.pid, first.url, False)
    status = CliRunner().invoke(app, ["server", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["url"] == first.url

    with prefect_server.server_lease() as url:
        assert url == os.environ["PREFECT_API_URL"] == first.url
        assert prefect_server.live_leases(home) == [os.getpid()]
        time.sleep(3)  # longer than the idle time (not a wait): the lease keeps it
        assert prefect_server.healthy(first)
    assert "PREFECT_API_URL" not in os.environ

    _wait_until(lambda: prefect_server.read_record(home) is None, 30, "the idle server stops")
    assert not prefect_server.healthy(first, timeout=0.5)


PAUSE = "import time; print('up', flush=True); time.sleep(120)"


def test_server_stop_stops_the_recorded_process(home: Path) -> None:
    """``server stop`` ends the recorded process and removes the record (a stand-in process
    with the server's command line: starting a real one takes seconds)."""
    stand_in = subprocess.Popen(
        [sys.executable, "-c", PAUSE, "hautflow.prefect_server"], stdout=subprocess.PIPE, text=True
    )
    try:
        home.mkdir()
        record = prefect_server.ServerRecord(
            pid=stand_in.pid, port=9, started_at=time.time(), idle_seconds=60.0, log="log"
        )
        prefect_server.state_path(home).write_text(json.dumps(record.__dict__))
        assert stand_in.stdout is not None
        assert stand_in.stdout.readline() == "up\n"  # its command line is its own from now
        assert prefect_server.read_record(home) == record

        stopped = CliRunner().invoke(app, ["server", "stop"])

        assert stopped.exit_code == 0
        assert f"pid {stand_in.pid}" in stopped.output
        with pytest.raises(ProcessLookupError):  # ended, and reaped: no zombie left
            os.kill(stand_in.pid, 0)
        assert prefect_server.read_record(home) is None
    finally:
        stand_in.kill()
        stand_in.wait()


# --- the console ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logger", "level", "shown"),
    [
        ("prefect.flow_runs", logging.WARNING, True),  # the flow's own "run had died"
        ("prefect.task_runs", logging.ERROR, True),
        ("prefect.flow_runs", logging.INFO, False),  # "Beginning flow run", states
        ("prefect.server.api.server", logging.INFO, False),  # "Starting temporary server"
        ("prefect.EventsWorker", logging.WARNING, False),  # "Still processing items"
        ("httpx", logging.WARNING, True),  # not Prefect's
    ],
)
def test_quiet_prefect_shows_the_runs_warnings_only(logger: str, level: int, shown: bool) -> None:
    record = logging.LogRecord(logger, level, __file__, 1, "message", None, None)
    assert QuietPrefect().filter(record) is shown
