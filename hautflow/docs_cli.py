"""``hautflow docs``: documents rendered from the code, written or checked.

``hautflow docs lake`` writes the lake's data dictionary (:mod:`schemas.dictionary`) to
``docs/lake.md``; ``--check`` writes nothing and exits 1 when the file is not what it would
write, naming the command that brings it up to date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hautflow.cli_support import write_file

DEFAULT_OUTPUT = Path("docs/lake.md")

docs_app = typer.Typer(
    help="Documents rendered from the code: the lake's data dictionary.",
    no_args_is_help=True,
    add_completion=False,
)


@docs_app.command("lake")
def lake_command(
    output: Annotated[
        Path, typer.Option(help="The markdown file (from the project root).")
    ] = DEFAULT_OUTPUT,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the file is stale.")
    ] = False,
) -> None:
    """Write the lake's data dictionary: every table's columns, the values, the score scales."""
    from schemas.dictionary import REWRITE_COMMAND, lake_dictionary

    text = lake_dictionary()
    command = REWRITE_COMMAND
    if output != DEFAULT_OUTPUT:
        command += f" --output {output}"
    if check:
        try:
            current = output.read_text(encoding="utf-8")
        except OSError as exc:
            current = None
            reason = f"cannot be read ({exc.strerror or exc})"
        else:
            reason = "is out of date"
        if current != text:
            typer.secho(
                f"{output} {reason}: run `{command}` (from the project root) and commit the file",
                err=True,
                fg="red",
            )
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date.")
        return
    write_file(
        output,
        text.encode("utf-8"),
        command="docs lake",
        fix="run it from the project root, or choose a writable --output",
    )
    typer.echo(f"Data dictionary written to {output}.")
