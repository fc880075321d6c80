"""The ingest with its ledger on a real PostgreSQL (pgserver), the ledger several workers share:
``IngestOptions.ledger_url`` for the flow, ``--ledger-url`` for the command line.

Both runs keep their state folder free of a SQLite ledger, so a run that ignored the URL would
find no ledger and upload everything again: the emulator's counts say it did not. The ledger
URL carries a password, which must reach neither the terminal, the run manifest nor Prefect.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from flows.options import IngestOptions
from hautflow.cli import app
from tasks.lake import connect
from tasks.ledger import Ledger
from tasks.ledger.location import ledger_path
from tests.flows.support import (
    SMALL_CAPTURES,
    SMALL_IMAGES,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    run_flow,
    small_sample,
)
from tests.tasks.upload_support import postgres

__all__ = ["postgres"]  # fixture, imported for pytest

pytestmark = pytest.mark.server

PASSWORD = "pg-ledger-secret-7431"  # a test role's: it must show up nowhere


def ledger_url(server: Any, database: str) -> str:
    """A fresh database of ``server`` owned by a role with a password, as a SQLAlchemy URL."""
    server.psql(f"CREATE ROLE hautflow_ledger LOGIN PASSWORD '{PASSWORD}';")
    server.psql(f'CREATE DATABASE "{database}" OWNER hautflow_ledger;')
    url = make_url(server.get_uri(database)).set(
        drivername="postgresql+psycopg", username="hautflow_ledger", password=PASSWORD
    )
    return url.render_as_string(hide_password=False)


def test_two_runs_on_a_postgresql_ledger_upload_each_photo_once(
    postgres: Any, emulator: Emulator, tmp_path: Path
) -> None:
    began = datetime.now(UTC)
    source = small_sample(tmp_path / "photos")
    lake, state = tmp_path / "lake", tmp_path / "state"
    url = ledger_url(postgres, "flow_ledger")

    options = IngestOptions(
        source=str(source),
        lake=str(lake),
        state_dir=str(state),
        api_url=emulator.url,
        ledger_url=url,  # pydantic makes it a SecretStr
        report_plots=0,  # plots are not what this test is about, and take seconds
    )
    first = run_flow(options)
    assert first.record.images_uploaded == first.record.images_complete == SMALL_IMAGES
    assert first.record.status == "completed"
    stats = emulator.stats()
    assert_each_photo_uploaded_once(stats, SMALL_IMAGES)
    assert not ledger_path(state).exists()  # the ledger is the PostgreSQL one

    args = ["ingest", source, "--lake", lake, "--state", state, "--api-url", emulator.url]
    again = CliRunner().invoke(app, [*map(str, args), "--ledger-url", url], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert re.search(r"images uploaded\W+0\b", again.output), again.output
    assert PASSWORD not in again.output
    assert not ledger_path(state).exists()
    assert emulator.stats() == stats  # the second run uploaded nothing

    con = connect(str(lake))
    assert_lake_complete(con, stats)
    lake_images = {row[0] for row in con.execute("SELECT image_id FROM images").fetchall()}
    runs = con.execute(
        "SELECT captures_new, captures_skipped, images_uploaded, options_json FROM runs "
        "WHERE status = 'completed' ORDER BY started_at"
    ).fetchall()
    con.close()
    assert [run[:3] for run in runs] == [(SMALL_CAPTURES, 0, SMALL_IMAGES), (0, SMALL_CAPTURES, 0)]
    assert not any(PASSWORD in run[3] for run in runs)

    ledger = Ledger(url)
    try:
        recorded = ledger.images_on_the_api(dataset_name=options.dataset)
    finally:
        ledger.close()
    assert {image.image_id for image, _ in recorded} == lake_images
    assert len(lake_images) == SMALL_IMAGES

    # The session's Prefect server holds every test's runs: ours started during this test and
    # name this test's own photo folder (a tmp_path) as their source.
    since = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=began))
    with get_client(sync_client=True) as prefect:
        recent = prefect.read_flow_runs(flow_run_filter=since, limit=200)
    parameters = [run.parameters for run in recent]
    ours = [p for p in parameters if p.get("options", {}).get("source") == str(source)]
    assert len(ours) == 2
    assert PASSWORD not in json.dumps(ours, default=str)
