"""``hautflow quickstart``: the vendor's quick-start guide, walked through (no flow, no
Prefect); the walk itself is :mod:`hautflow.quickstart`, imported when the command runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from hautflow.cli_support import announce_service


def quickstart(
    api_url: Annotated[
        str | None,
        typer.Option(envvar="HAUT_API_URL", help="A Haut.AI-compatible service to use."),
    ] = None,
    image: Annotated[
        Path | None, typer.Option(help="A face photo to upload (default: a generated one).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where the PDF report is saved.")] = Path(
        "data/quickstart"
    ),
) -> None:
    """Walk through the vendor's quick-start guide with hautflow's client."""
    from hautflow.quickstart import run_quickstart

    announce_service(api_url, None)
    asyncio.run(run_quickstart(api_url=api_url, image=image, out=out))
