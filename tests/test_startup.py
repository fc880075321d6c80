"""What a command costs before it does anything: ``hautflow --help`` imports no command, and
the commands that run no flow import no Prefect and start no Prefect server.

Each check runs the commands in a fresh interpreter (what is imported is only visible there),
all of them in one, recording what each command added to ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from hautflow import prefect_server
from hautflow.cli import COMMANDS, app

FORBIDDEN = ("prefect", "flows.ingest", "flows.backfill", "flows.smoothing")
"""Modules a command that runs no flow must not import (Prefect, and the flows that bring it)."""

RUN_EACH = """
import json, sys
import haut.emulator.server
haut.emulator.server.serve = lambda *args, **kwargs: None  # `emulator` returns at once
from hautflow.cli import app
forbidden = json.loads(sys.argv[1])
found = {}
for words in json.loads(sys.argv[2]):
    try:
        app(words, prog_name="hautflow")
    except SystemExit:
        pass
    found[" ".join(words)] = sorted(
        name for name in sys.modules if name.split(".")[0] in forbidden or name in forbidden
    )
print(json.dumps(found))
"""


def _run_each(commands: list[list[str]], home: Path, cwd: Path) -> dict[str, list[str]]:
    """``commands`` run one after the other in a fresh interpreter; for each, the forbidden
    modules imported so far. hautflow's own server is allowed (so a command that wrongly
    asked for it would leave its record in ``home``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAUT_", "PREFECT_API"))}
    env.update(
        {
            "PREFECT_HOME": str(home),
            prefect_server.MODE_VARIABLE: prefect_server.BACKGROUND,
            prefect_server.IDLE_VARIABLE: "5",
        }
    )
    try:
        ran = subprocess.run(
            [sys.executable, "-c", RUN_EACH, json.dumps(FORBIDDEN), json.dumps(commands)],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=300,
            check=False,
        )
    finally:
        prefect_server.stop(home)
    assert ran.returncode == 0, ran.stderr
    found: dict[str, list[str]] = json.loads(ran.stdout.splitlines()[-1])
    return found


def test_help_builds_no_command_and_imports_no_options_model(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "from hautflow.cli import app\n"
        "try:\n"
        "    app(['--help'], prog_name='hautflow')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('prefect', 'pydantic', 'flows', 'tasks', 'haut', 'pandas', 'duckdb')\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in heavy))\n"
        "print(sorted(n for n in sys.modules if n.startswith('hautflow.')))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    heavy, own = ran.stdout.splitlines()[-2:]
    assert heavy == "[]"
    assert own == "['hautflow.cli', 'hautflow.lazy_commands']"
    for command in COMMANDS:
        assert command.name in ran.stdout


def test_commands_that_run_no_flow_import_no_prefect_and_start_no_server(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    lake_options = ["--lake", str(lake)]
    state_options = ["--state", str(state)]
    commands = [
        ["history", "alice", *lake_options],
        ["views", *lake_options, "--database", str(state / "lake.duckdb")],
        ["compact", *lake_options],
        ["datasets", "list", *state_options],
        ["tokens", "list", *state_options],
        ["applications", "list", *state_options],
        ["report", *lake_options, *state_options],
        ["emulator", "--port", "0"],
        ["docs", "lake", "--check", "--output", str(tmp_path / "lake.md")],
        ["server", "status"],
        ["server", "stop"],
        # the flow-running commands import their flow only when they run it
        ["ingest", "--help"],
        ["backfill", "--help"],
        ["smoothing", "pull", "--help"],
        ["smoothing", "compare", "--help"],
    ]
    home = tmp_path / "prefect-home"
    found = _run_each(commands, home, tmp_path)
    assert found == {" ".join(words): [] for words in commands}
    assert not prefect_server.state_path(home).exists(), "a command started hautflow's server"


def test_each_declared_summary_is_the_commands_own_short_help() -> None:
    """The root's help lists the declared summaries (so it imports no command): each is what
    the command itself would show."""
    root: Any = get_command(app)
    for command in COMMANDS:
        built = root.commands[command.name]
        assert command.summary == built.get_short_help_str(limit=1000), command.name


@pytest.mark.parametrize("words", [["ingest", "--help"], ["smoothing", "pull", "--help"]])
def test_a_lazy_command_shows_its_own_help(words: list[str]) -> None:
    from typer.testing import CliRunner

    shown = CliRunner().invoke(app, words)
    assert shown.exit_code == 0, shown.output
    assert "Usage: root " in shown.output or "Usage: hautflow " in shown.output
    assert "--lake" in shown.output
