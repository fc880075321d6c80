"""Option parsing shared by the command modules (in its own module: ``hautflow.cli`` imports
the command modules, so they cannot import it back)."""

from __future__ import annotations

from datetime import date

import typer


def parse_day(text: str | None, option: str) -> date | None:
    """``text`` as a day (YYYY-MM-DD), None when not given; a BadParameter naming ``option``."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected a day such as 2026-01-31") from None
