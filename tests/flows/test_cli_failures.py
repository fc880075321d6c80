"""``hautflow ingest`` and ``backfill`` as a script or a person reads them when things go wrong:
a login refused mid-run, 429s at setup, a manifest missing a column each end in one line with
the fix and exit code 2, with no Prefect error or traceback on the terminal before it, and the
failed run's ``runs`` row naming the error; ``--json`` puts the run's summary on stdout as one
JSON object and nothing else."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.emulator.config import EmulatorConfig, FaultConfig
from haut.emulator.faces import render_no_face
from haut.emulator.server import EmulatorServer
from hautflow.cli import app
from tasks.lake import connect
from tests.flows.support import (
    SMALL_IMAGES,
    Emulator,
    running_emulator,
    small_sample,
    wait_until,
)

pytestmark = pytest.mark.server

TOKEN_OWNER = PasswordCredentials("owner@clinic.example", "owner-password")


@pytest.fixture
def prefect_terminal(monkeypatch: pytest.MonkeyPatch) -> StringIO:
    """What Prefect's console handler prints during the test (it writes to the process's real
    stderr, which typer's CliRunner does not capture)."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    printed = StringIO()
    consoles = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    assert consoles, "Prefect's console handler is not on the root logger"
    for handler in consoles:
        monkeypatch.setattr(handler, "console", Console(file=printed, width=200))
    return printed


def hautflow(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def ingest_args(source: Path, tmp_path: Path, url: str) -> list[str | Path]:
    return ["ingest", source, "--lake", tmp_path / "lake", "--state", tmp_path / "state",
            "--api-url", url]  # fmt: skip


def failed_runs(lake: Path) -> list[tuple[str, str]]:
    con = connect(str(lake))
    try:
        rows = con.execute("SELECT status, error FROM runs").fetchall()
    finally:
        con.close()
    return [(str(status), str(error)) for status, error in rows]


def assert_one_line_then_nothing_from_prefect(result: Result, terminal: StringIO) -> str:
    """The failure's line is the command's last word on stderr, and Prefect said no error."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    prefect_said = terminal.getvalue()
    for noise in ("ERROR", "Traceback", "Encountered exception", "ExceptionGroup"):
        assert noise not in prefect_said, prefect_said
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("hautflow ingest: "), result.stderr
    return line


# --- failures ---------------------------------------------------------------------------------


def private_token(url: str) -> tuple[int, str]:
    async def create() -> tuple[int, str]:
        async with HautClient(url, TOKEN_OWNER) as client:
            token = await client.create_private_token("ci", datetime.now(UTC) + timedelta(days=1))
            assert token.data is not None
            return token.id, token.data.get_secret_value()

    return asyncio.run(create())


def delete_token_after_the_first_upload(emulator: Emulator, token_id: int) -> threading.Thread:
    """Revoke the run's token as soon as it has uploaded a photo: its next call is refused."""

    async def delete() -> None:
        async with HautClient(emulator.url, TOKEN_OWNER) as client:
            await client.delete_private_token(token_id)

    def revoke() -> None:
        wait_until(lambda: emulator.stats()["images"] >= 1, timeout=60, what="a first upload")
        asyncio.run(delete())

    thread = threading.Thread(target=revoke, daemon=True)
    thread.start()
    return thread


def test_a_token_revoked_mid_run_ends_it_in_one_line(
    tmp_path: Path, haut_env: pytest.MonkeyPatch, prefect_terminal: StringIO
) -> None:
    # Results take a second, so the run is awaiting them when its token goes.
    with running_emulator(algorithm_delay=1.0) as emulator:
        token_id, token = private_token(emulator.url)
        haut_env.setenv("HAUT_API_TOKEN", token)
        revoking = delete_token_after_the_first_upload(emulator, token_id)
        result = hautflow(*ingest_args(small_sample(tmp_path / "photos"), tmp_path, emulator.url))
        revoking.join(timeout=10)

    line = assert_one_line_then_nothing_from_prefect(result, prefect_terminal)
    assert f"the service at {emulator.url} refused the login" in line
    assert "status 401" in line
    assert "HAUT_API_TOKEN" in line
    assert "run the same ingest again" in line
    assert token not in result.output
    ((status, error),) = failed_runs(tmp_path / "lake")
    assert status == "failed"
    assert error.startswith("AuthError: not authorised"), error


def test_429s_at_setup_end_the_run_in_one_line_and_a_json_failure(
    tmp_path: Path, prefect_terminal: StringIO
) -> None:
    config = EmulatorConfig(
        algorithm_delay_seconds=0,
        rate_limit_per_second=10_000,
        faults=FaultConfig(rate_429=1.0, retry_after_seconds=0.01),
    )
    began = datetime.now(UTC)
    with EmulatorServer(config) as server:
        args = ingest_args(small_sample(tmp_path / "photos"), tmp_path, server.url)
        result = hautflow(*args, "--json")

    line = assert_one_line_then_nothing_from_prefect(result, prefect_terminal)
    assert "kept answering 429 Too Many Requests" in line
    assert "--requests-per-second" in line
    assert json.loads(result.stdout) == {"status": "failed", "error": line.split(": ", 1)[1]}
    ((status, error),) = failed_runs(tmp_path / "lake")
    assert status == "failed"
    assert error.startswith("RateLimitedError: rate limited"), error
    # Kept off the terminal, not out of Prefect: the run's page has the error and its traceback.
    recorded = prefect_logs_of_the_run(began, source=str(args[1]))
    assert "Encountered exception during execution" in recorded
    assert "RateLimitedError" in recorded


def prefect_logs_of_the_run(began: datetime, *, source: str) -> str:
    """The messages Prefect recorded for the one ingest run of ``source`` started after
    ``began`` (the session's server holds every test's runs)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    asyncio.run(APILogHandler.aflush())  # the run's last records are sent in the background
    since = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=began))
    with get_client(sync_client=True) as prefect:
        runs = prefect.read_flow_runs(flow_run_filter=since, limit=200)
        (ours,) = [r for r in runs if r.parameters.get("options", {}).get("source") == source]
        logs = prefect.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[ours.id])))
    return "\n".join(log.message for log in logs)


def test_a_manifest_missing_a_column_is_one_line_with_the_fix(
    tmp_path: Path, emulator: Emulator, prefect_terminal: StringIO
) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,subject,side\namy/2026-01-05/front.jpg,amy,front\n")
    args = ingest_args(small_sample(tmp_path / "photos"), tmp_path, emulator.url)
    result = hautflow(*args, "--manifest", manifest)

    line = assert_one_line_then_nothing_from_prefect(result, prefect_terminal)
    assert "has no session column" in line
    assert "Fix: make the first line path,subject,session," in line
    assert emulator.stats()["images"] == 0


# --- --json -----------------------------------------------------------------------------------


def test_json_puts_the_summary_on_stdout_and_nothing_else(
    tmp_path: Path, emulator: Emulator
) -> None:
    photos = small_sample(tmp_path / "photos")
    (photos / "ben" / "2026-01-12").mkdir(parents=True)
    (photos / "ben" / "2026-01-12" / "front.jpg").write_bytes(b"")  # quarantined: empty
    landscape = photos / "cal" / "2026-01-05" / "front.jpg"
    landscape.parent.mkdir(parents=True)
    landscape.write_bytes(render_no_face(7))  # analysed: no face

    ran = hautflow(*ingest_args(photos, tmp_path, emulator.url), "--json")
    assert ran.exit_code == 1, ran.output  # quarantine and a finding: the default --fail-on
    summary: dict[str, Any] = json.loads(ran.stdout)  # the whole of stdout is one object
    con = connect(str(tmp_path / "lake"))
    ((run_id, status),) = con.execute("SELECT run_id, status FROM runs").fetchall()
    con.close()
    assert (summary["run_id"], summary["status"]) == (run_id, status)
    assert summary["ok"] is False
    counts = summary["counts"]
    assert (counts["images_uploaded"], counts["images_no_face"]) == (SMALL_IMAGES + 1, 1)
    assert counts["quarantined"] == 1
    ((held,),) = [summary["quarantined"]]
    assert (held["file"], held["reason"]) == (str(photos / "ben/2026-01-12/front.jpg"), "empty")
    assert held["fix"]
    ((finding,),) = [summary["no_face"]]
    assert (finding["file"], finding["finding"]) == (str(landscape), "No face detected")
    assert finding["fix"]
    assert summary["lake"] == str(tmp_path / "lake")

    backfill = hautflow(
        "backfill", "--lake", tmp_path / "lake", "--state", tmp_path / "state",
        "--api-url", emulator.url, "--method", "mean", "--json",
    )  # fmt: skip
    assert backfill.exit_code == 0, backfill.output
    rewritten: dict[str, Any] = json.loads(backfill.stdout)
    assert rewritten["status"] == "completed"
    assert rewritten["counts"]["images"] == SMALL_IMAGES + 1
    assert rewritten["counts"]["images_no_face"] == 1
