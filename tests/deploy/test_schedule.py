"""The README's "Run on a schedule", done on loopback: a real `prefect server start`, the work
pool, `prefect deploy --all` from prefect.yaml, a worker, and the nightly ingest deployment
triggered on a copy of data/sample with no Haut.AI credentials: first as deployed, when it must
fail saying what to set (a deployment never falls back to the emulator by itself), then with
``emulator: true`` in its options, when it starts its embedded emulator and must end Completed
with the lake filled where its parameters said, not in the project's data/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasks.lake import connect
from tests.deploy.conftest import PrefectServer
from tests.deploy.support import PREFECT, REPO, Process, run
from tests.flows.support import (
    SAMPLE_IMAGES,
    SAMPLE_NO_FACE,
    SAMPLE_QUARANTINE,
    copy_sample,
    scalar,
)
from tests.support import wait_until

README = REPO / "README.md"
SECTION = "## Run on a schedule"
# The commands of the README's section as typed there; the test below runs these.
POOL = ["work-pool", "create", "hautflow", "--type", "process"]
DEPLOY = ["--no-prompt", "deploy", "--all"]
WORKER = ["worker", "start", "--pool", "hautflow"]
TRIGGER = ["deployment", "run", "ingest/nightly", "--params"]
SERVER = ["server", "start"]

RUN_TIMEOUT = 240.0  # worker start, flow-run process start, 52 photos through the emulator
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def readme_section() -> str:
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def test_the_readme_shows_the_commands_this_test_runs() -> None:
    section = readme_section()
    for command in (SERVER, POOL, DEPLOY, WORKER, TRIGGER):
        typed = " ".join([".venv/bin/prefect", *command])
        assert typed in section, f"the README's {SECTION!r} does not show {typed!r}"
    assert "PREFECT_API_URL" in section


def flow_run_id(trigger_output: str) -> str:
    found = re.search(r"UUID: ([0-9a-f-]{36})", trigger_output)
    assert found, f"no flow run id in the output of `prefect deployment run`:\n{trigger_output}"
    return found.group(1)


def final_state(api_url: str, run_id: str, worker: Process) -> dict[str, Any]:
    """The flow run's state once it is final (the worker must stay alive meanwhile)."""

    def state() -> dict[str, Any] | None:
        worker.alive()
        response = httpx.get(f"{api_url}/flow_runs/{run_id}", timeout=10)
        response.raise_for_status()
        current: dict[str, Any] = response.json()["state"] or {}
        return current if current.get("type") in FINAL_STATES else None

    found: dict[str, Any] = {}

    def ended() -> bool:
        found.update(state() or {})
        return bool(found)

    try:
        wait_until(ended, "the flow run to end", RUN_TIMEOUT, interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the worker's output:\n{worker.output()}") from None
    return found


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_the_nightly_ingest_deployment_runs_on_a_worker_and_fills_the_lake(
    real_prefect_server: PrefectServer, tmp_path: Path
) -> None:
    photos = copy_sample(tmp_path / "photos")
    lake, state = tmp_path / "lake", tmp_path / "state"
    env = real_prefect_server.env()

    run([PREFECT, *POOL], env)
    # The worker polls every second, not every 10 s; its environment reaches the flow run, and
    # the client's rate stays just under the embedded emulator's 20 requests/s (default 10/s).
    # It needs only the pool: it starts up (seconds of imports) while `prefect deploy` runs.
    worker_env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "1", "HAUT_REQUESTS_PER_SECOND": "18"}
    worker = Process([PREFECT, *WORKER], worker_env, tmp_path / "worker.log")
    try:
        # `prefect deploy` fills the pull step's {{ $PWD }} in: a shell sets PWD, Popen does not.
        run([PREFECT, *DEPLOY], {**env, "PWD": str(REPO)})
        api_url = real_prefect_server.api_url
        deployment = httpx.get(f"{api_url}/deployments/name/ingest/nightly").json()
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
        ]
        assert deployment["schedules"][0]["schedule"]["cron"] == "0 2 * * *"

        options = {"source": str(photos), "lake": str(lake), "state_dir": str(state)}
        # With no credentials, a deployment's run never falls back to the emulator by itself:
        # it fails at once, saying what to set, and leaves no lake or ledger behind.
        output = run([PREFECT, *TRIGGER, json.dumps({"options": options})], env)
        ended = final_state(real_prefect_server.api_url, flow_run_id(output), worker)
        assert ended["type"] == "FAILED", f"{ended}\n{worker.output()}"
        assert "no Haut.AI credentials" in ended["message"], ended
        assert "emulator: true" in ended["message"], ended
        assert not lake.exists()
        assert not state.exists()
        # Asked for explicitly, the run starts its embedded emulator.
        options["emulator"] = True
        output = run([PREFECT, *TRIGGER, json.dumps({"options": options})], env)
        ended = final_state(real_prefect_server.api_url, flow_run_id(output), worker)
        assert ended["type"] == "COMPLETED", f"{ended}\n{worker.output()}"
    finally:
        worker.stop()

    # The embedded emulator kept its state, and the views file went, into the run's state_dir.
    assert (state / "emulator.sqlite").is_file()
    assert (state / "lake.duckdb").is_file()
    con = connect(str(lake))
    complete = SAMPLE_IMAGES - SAMPLE_NO_FACE
    assert scalar(con, "SELECT count(*) FROM images WHERE status = 'complete'") == complete
    assert scalar(con, "SELECT count(DISTINCT image_id) FROM results") == SAMPLE_IMAGES
    assert scalar(con, "SELECT count(*) FROM metrics") > 0
    assert scalar(con, "SELECT count(*) FROM quarantine") == sum(SAMPLE_QUARANTINE.values())
    runs = con.execute("SELECT status, source, images_complete, service FROM runs").fetchall()
    assert runs == [("completed_with_quarantine", str(photos), complete, "emulator")]
