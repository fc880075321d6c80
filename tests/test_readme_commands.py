"""Every ``hautflow ...`` command line in README.md parses against the real command line: the
commands exist, their options exist and take the values shown, and required arguments are given.

Lines of the README's code blocks and its inline code (a bare command named in a sentence, such
as `hautflow compact`, only has to exist). Pure parsing: no command runs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer import TyperException
from typer.main import get_command

from hautflow.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
PROGRAMS = ("hautflow", ".venv/bin/hautflow")
NUMBERS = {"ID": "7"}
"""Placeholders the README writes for a number (``tokens delete ID``), as the user would type."""


@dataclass(frozen=True)
class CommandLine:
    line: int  # in README.md, from 1
    words: list[str]  # after the program's name
    inline: bool  # written in a sentence, not in a code block

    def __str__(self) -> str:
        return f"README.md:{self.line}: hautflow {shlex.join(self.words)}"


def _code_block_lines(text: str) -> tuple[list[CommandLine], str]:
    """Command lines of the fenced blocks, and the text with the blocks blanked (lines kept)."""
    found, prose, fenced, pending, start = [], [], False, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
            prose.append("")
            continue
        if not fenced:
            prose.append(line)
            continue
        prose.append("")
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        written, pending = pending + line, ""
        if written.split()[:1] and written.split()[0] in PROGRAMS:
            words = shlex.split(written, comments=True)
            found.append(CommandLine(start, words[1:], inline=False))
    return found, "\n".join(prose)


def _inline_lines(prose: str) -> list[CommandLine]:
    """Inline code spans (which may wrap across lines) that start with the program's name;
    ``[--option value]`` brackets of an optional part are read as the option given."""
    found = []
    for span in re.finditer(r"`([^`]+)`", prose):
        written = span.group(1).replace("[", " ").replace("]", " ")
        # `hautflow` alone names the project (or the work pool), not a command.
        if len(written.split()) > 1 and written.split()[0] in PROGRAMS:
            words = shlex.split(written)
            line = prose.count("\n", 0, span.start()) + 1
            found.append(CommandLine(line, words[1:], inline=True))
    return found


def readme_command_lines() -> list[CommandLine]:
    blocks, prose = _code_block_lines(README.read_text())
    return blocks + _inline_lines(prose)


def _parse(command_line: CommandLine) -> None:
    """Resolve the subcommand and parse its arguments as click does before running it."""
    command: Any = get_command(app)
    words = [NUMBERS.get(word, word) for word in command_line.words if word != "--help"]
    path = ["hautflow"]
    while words and hasattr(command, "commands"):
        name = words.pop(0)
        assert name in command.commands, f"no command {' '.join([*path, name])}"
        command = command.commands[name]
        path.append(name)
    assert not hasattr(command, "commands"), f"{' '.join(path)} needs a subcommand"
    if command_line.inline and not words:
        return  # a command named in a sentence
    command.make_context(" ".join(path), words, resilient_parsing=False)


COMMAND_LINES = readme_command_lines()


def test_the_readme_is_read() -> None:
    """The extraction finds the examples of both kinds (an empty list would pass the rest)."""
    shown = {" ".join(c.words[:2]) for c in COMMAND_LINES}
    assert {"ingest PHOTOS/", "applications algorithms", "smoothing pull", "backfill"} <= shown
    assert any(c.inline for c in COMMAND_LINES)


@pytest.mark.parametrize("command_line", COMMAND_LINES, ids=str)
def test_each_readme_command_line_parses(command_line: CommandLine) -> None:
    try:
        _parse(command_line)
    except Exception as exc:  # click's usage errors, or an assertion above
        pytest.fail(f"{command_line} does not parse: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize(
    "words",
    [
        ["ingest", "PHOTOS/", "--no-such-option"],
        ["ingest", "PHOTOS/", "--wait", "carrier-pigeon"],
        ["smoothing", "pull", "--method", "median"],
        ["applications", "algorithms"],
        ["tokens", "delete", "ID", "again"],
        ["smoothing"],
        ["no-such-command"],
    ],
)
def test_a_wrong_command_line_is_caught(words: list[str]) -> None:
    # click's usage errors are typer's; a command that does not exist is an assertion above
    with pytest.raises((TyperException, AssertionError)):
        _parse(CommandLine(1, words, inline=False))
