"""Option parsing shared by the command modules (in its own module: ``hautflow.cli`` imports
the command modules, so they cannot import it back)."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel


def model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s defaults by field (required fields have none): an option shows and uses the
    options' own default, never a copy of it."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }


def field_values(model: type[BaseModel], field: str) -> tuple[str, ...]:
    """The values ``model`` allows for ``field`` (a Literal's, or the enum the field declares
    for deployment forms), as its JSON schema lists them; None, for an optional one, aside."""
    declared = _schema(model)["properties"][field]
    for variant in (declared, *declared.get("anyOf", ())):
        if "enum" in variant:
            return tuple(variant["enum"])
    raise TypeError(f"{model.__name__}.{field} declares no set of values: {declared}")


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def choice(values: tuple[str, ...]) -> Any:
    """The type of an option that takes exactly ``values``: typer lists them in the help and
    refuses any other value, naming them. Built from the values' one home (an options model's
    Literal, an enum), so the command line never retypes them; a type checker sees ``str``."""
    return Literal[values]


def parse_day(text: str | None, option: str) -> date | None:
    """``text`` as a day (YYYY-MM-DD), None when not given; a BadParameter naming ``option``."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected a day such as 2026-01-31") from None


NO_EMULATOR = (
    "no Haut.AI credentials are configured, and --no-emulator refuses the embedded emulator: "
    "set HAUT_USERNAME and HAUT_PASSWORD, or HAUT_API_TOKEN (and HAUT_COMPANY_ID), or "
    "HAUT_CREDENTIALS_BLOCK; or drop --no-emulator to analyse with the emulator"
)


def announce_service(
    api_url: str | None, credentials_block: str | None, *, allowed: bool = True
) -> None:
    """The first line of a command that will fall back to the embedded emulator, on stderr:
    results from it are not real analyses, and nothing else would say so. When the fallback is
    not ``allowed`` (``--no-emulator``), the command stops here with the fix (exit 2), before
    anything starts."""
    from tasks.service.settings import EMULATOR_NOTICE, ConfigurationError, HautSettings

    try:
        emulated = HautSettings().uses_embedded_emulator(api_url, credentials_block)
    except ConfigurationError:
        return  # the command itself reports the contradiction, with its fix
    if emulated and not allowed:
        typer.secho(f"hautflow: {NO_EMULATOR}", err=True, fg="red")
        raise typer.Exit(2)
    if emulated:
        typer.secho(f"hautflow: {EMULATOR_NOTICE}.", err=True, fg="yellow")


def warn_password_on_command_line(ctx: typer.Context, ledger_url: str | None) -> None:
    """Warn, on stderr, when ``--ledger-url`` was typed with a password in it: a command line
    is shown to every user of the machine by ``ps`` and kept in the shell's history, the
    environment is not."""
    if ledger_url is None:
        return
    # By name: typer carries its own copy of click, whose ParameterSource is not click's.
    source = ctx.get_parameter_source("ledger_url")
    if source is None or source.name != "COMMANDLINE":
        return
    try:
        password = urlsplit(ledger_url).password
    except ValueError:  # not a URL: the ledger refuses it, with its own message
        return
    if password:
        typer.secho(
            "hautflow: warning: --ledger-url holds a password, which `ps` shows to every user "
            "of this machine and the shell keeps in its history: set the environment variable "
            "HAUTFLOW_LEDGER_URL to the URL instead and drop --ledger-url",
            err=True,
            fg="yellow",
        )


def duckdb_shell() -> str:
    """How the user runs the ``duckdb`` shell installed with the project (``duckdb-cli``):
    ``duckdb`` when that is the one on PATH (an activated venv), else its path, relative to
    the working folder when inside it (``.venv/bin/duckdb`` after ``make run``)."""
    installed = Path(sys.executable).parent / "duckdb"
    if not installed.exists():
        return "duckdb"  # not installed beside this Python: whatever shell the user has
    on_path = shutil.which("duckdb")
    if on_path and Path(on_path).resolve() == installed.resolve():
        return "duckdb"
    try:
        return os.path.relpath(installed)
    except ValueError:  # another drive (Windows)
        return str(installed)


def write_file(path: Path, data: bytes, *, command: str, fix: str) -> None:
    """Write ``data`` to ``path`` (its folder made), or end ``hautflow COMMAND`` with exit 2:
    what could not be written, why, and ``fix``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        typer.secho(
            f"hautflow {command}: cannot write {path} ({exc.strerror or exc}); {fix}",
            err=True,
            fg="red",
        )
        raise typer.Exit(2) from None
