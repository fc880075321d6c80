"""Option parsing shared by the command modules (in its own module: ``hautflow.cli`` imports
the command modules, so they cannot import it back)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import typer


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
    from hautflow.settings import EMULATOR_NOTICE, ConfigurationError, HautSettings

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
