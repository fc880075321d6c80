"""``--help`` of every command reads at 80 columns: each option's name whole, no line too long.

Pure parsing: no command runs, nothing is started.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from hautflow.cli import app

WIDTH = 80
Words = tuple[str, ...]
"""The words after ``hautflow`` that name a command, e.g. ``("smoothing", "pull")``."""


def _commands(command: object, path: Words = ()) -> Iterator[tuple[Words, object]]:
    """Every command and subcommand of ``hautflow``, with the words that reach it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(get_command(app)))


def _flags(command: object) -> list[str]:
    return [
        flag
        for param in getattr(command, "params", [])
        for flag in (*param.opts, *param.secondary_opts)
        if flag.startswith("-")
    ]


def _help(path: Words) -> str:
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)})
    assert shown.exit_code == 0, shown.output
    return shown.output


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "hautflow")
def test_help_at_80_columns_shows_every_option_name_whole(path: Words) -> None:
    shown = _help(path)
    cut = [
        flag
        for flag in [*_flags(COMMANDS[path]), "--help"]
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", shown)
    ]
    assert not cut, f"hautflow {' '.join(path)} --help at {WIDTH} columns cuts {cut}:\n{shown}"
    too_long = [line for line in shown.splitlines() if len(line) > WIDTH]
    assert not too_long, f"lines wider than {WIDTH} columns: {too_long}"


def test_every_command_is_checked() -> None:
    """The walk reaches the subcommands too (a group's help lists them, not their options)."""
    assert {("ingest",), ("smoothing", "pull"), ("applications", "algorithms")} <= set(COMMANDS)
