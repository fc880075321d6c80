"""The ``duckdb`` shell installed with the project runs every query the project prints (the
views command, the end of an ingest, the README and the data dictionary) against a real views
file, and the answers are the lake's."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.options import IngestOptions
from hautflow.cli import app
from hautflow.ingest_cli import try_lines
from tasks.lake import Lake, LakeRows, RunRecord, create_views, flatten_image
from tasks.reporting.summary import RunSummary
from tests.tasks.lake_support import emulated_payload, uploaded_image

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SHELL = BIN / "duckdb"
DOCUMENTED_VIEWS = "data/state/lake.duckdb"


@pytest.fixture(scope="module")
def lake_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two weekly front photos of alice, so the smoothing macros have a sample."""
    rows = LakeRows()
    for week in range(2):
        image = uploaded_image(
            session_key=f"2026-w{week}",
            captured_at=datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(weeks=week),
        )
        payload = emulated_payload(image.image_id, seed=week + 1)
        rows.extend(flatten_image(image, payload.rows, payload.aux, run_id="r1", status="complete"))
    url = str(tmp_path_factory.mktemp("shell") / "lake")
    Lake(url).write(rows, run_id="r1")
    return url


def run_printed(command: str, cwd: Path = ROOT, *, activated: bool = True) -> str:
    """Run a printed command line as a user would: with the project's ``.venv/bin`` on PATH
    (an activated venv, or a command written with its ``.venv/bin/`` prefix), or, not
    ``activated``, with a PATH that holds no duckdb shell (``make run``, then copy and paste)."""
    argv = shlex.split(command)
    assert Path(argv[0]).name == "duckdb", command
    path = os.environ.get("PATH", "").split(os.pathsep)
    if activated:
        path.insert(0, str(BIN))
    else:
        path = [p for p in path if not (Path(p) / "duckdb").exists()]
    env = {**os.environ, "PATH": os.pathsep.join(path)}
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_shell_is_installed_with_the_project_at_the_pinned_version() -> None:
    assert SHELL.exists(), "no duckdb shell in the venv: `uv sync` installs duckdb-cli"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = (d for d in dependencies if d.replace(" ", "").startswith("duckdb-cli=="))
    version = pin.split("==")[1]
    shown = subprocess.run(
        [str(SHELL), "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert shown.stdout.startswith(f"v{version} "), shown.stdout


def test_the_views_command_prints_a_query_the_shell_runs(lake_url: str, tmp_path: Path) -> None:
    views = tmp_path / "lake.duckdb"
    printed = CliRunner().invoke(app, ["views", "--lake", lake_url, "--database", str(views)])
    assert printed.exit_code == 0, printed.output
    command = printed.output.split("try: ", 1)[1].strip()
    answer = run_printed(command, activated=False)  # where hautflow ran
    assert "alice" in answer
    assert "metric_id" in answer  # SELECT * FROM metrics: its header


def test_the_end_of_an_ingest_prints_a_query_the_shell_runs(lake_url: str, tmp_path: Path) -> None:
    options = IngestOptions(source="/photos", lake=lake_url, state_dir=str(tmp_path / "state"))
    create_views(lake_url, options.views_path)
    record = RunRecord(
        run_id="r1",
        started_at=datetime(2026, 3, 1, tzinfo=UTC),
        source="/photos",
        status="completed",
    )
    (line,) = [x for x in try_lines(RunSummary(record=record), options) if "duckdb shell" in x]
    command = line.split("or:", 1)[1].rsplit("(duckdb shell)", 1)[0]
    answer = run_printed(command, activated=False)  # where hautflow ran
    assert "redness" in answer  # the wide view's header
    assert answer.count("alice") == 2  # both photos


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) of every duckdb shell command in the README and the data dictionary."""
    found = []
    for name in ("README.md", "docs/lake.md"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            if re.match(r"(\.venv/bin/)?duckdb ", line):
                found.append((name, line))
    return found


def test_the_documents_show_shell_commands() -> None:
    names = [name for name, _ in documented_commands()]
    assert names.count("README.md") >= 2
    assert "docs/lake.md" in names


@pytest.mark.parametrize(("document", "command"), documented_commands())
def test_every_documented_query_runs_in_the_shell(
    document: str, command: str, lake_url: str, tmp_path: Path
) -> None:
    views = create_views(lake_url, tmp_path / "lake.duckdb")
    assert DOCUMENTED_VIEWS in command, f"{document}: {command}"
    answer = run_printed(command.replace(DOCUMENTED_VIEWS, shlex.quote(str(views))))
    assert "alice" in answer or "redness" in answer, f"{document}: {command}\n{answer}"
    assert "Error" not in answer
