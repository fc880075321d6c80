"""The ``hautflow`` command line."""

from __future__ import annotations

import os

# Prefect reads its settings when first imported, so this comes before any import that may
# bring it in: no usage telemetry from a user's command (server side, then client side), which
# with no internet also ends in "database is locked" tracebacks (see STACK-NOTES.md). An
# explicit setting in the environment still wins.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The temporary Prefect server of a run with no PREFECT_API_URL must start within this time;
# Prefect's 20 s is too short for a first start on a slow or busy machine ("Timed out while
# attempting to connect to ephemeral Prefect API server", seen on a 2-core machine).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from typing import Annotated

import typer

from hautflow.lazy_commands import LazyCommand, lazy_group

COMMANDS = (
    LazyCommand(
        "emulator",
        "hautflow.emulator_cli:emulator",
        "Serve a local Haut.AI emulator (see the README for what it mimics).",
    ),
    LazyCommand(
        "quickstart",
        "hautflow.quickstart_cli:quickstart",
        "Walk through the vendor's quick-start guide with hautflow's client.",
    ),
    LazyCommand(
        "ingest",
        "hautflow.ingest_command:ingest",
        "Analyse every new photo under SOURCE once and write its results to the lake.",
    ),
    LazyCommand(
        "history",
        "hautflow.lake_cli:history",
        "Print SUBJECT's skin diary: one row per session with its main face metrics.",
    ),
    LazyCommand(
        "views",
        "hautflow.lake_cli:views",
        "Write a DuckDB file with a view per lake table, for the plain duckdb shell.",
    ),
    LazyCommand(
        "compact",
        "hautflow.lake_cli:compact",
        "Publish staged rows and merge partitions left doubled (newest row per id; none lost).",
    ),
    LazyCommand(
        "backfill",
        "hautflow.backfill_cli:backfill_command",
        "Re-pull history, aux and smoothed results of uploaded images into the lake.",
    ),
    LazyCommand(
        "report",
        "hautflow.operations_cli:report_command",
        "Download the PDF report of IMAGE_ID, or of a subject's latest image, into the lake: "
        "<lake>/reports/pdf/<subject>/<session>_<side>_<image id>.pdf (the path is printed).",
    ),
    LazyCommand(
        "smoothing",
        "hautflow.smoothing_cli:smoothing_app",
        "Smoothed skin scores: pull from the API, compare with local.",
    ),
    LazyCommand(
        "tokens", "hautflow.operations_cli:tokens_app", "Private API tokens: create, list, delete."
    ),
    LazyCommand(
        "datasets",
        "hautflow.operations_cli:datasets_app",
        "Datasets: list, show, retention settings.",
    ),
    LazyCommand(
        "applications",
        "hautflow.operations_cli:applications_app",
        "Applications: list, enabled algorithms of a dataset.",
    ),
    LazyCommand(
        "docs",
        "hautflow.docs_cli:docs_app",
        "Documents rendered from the code: the lake's data dictionary.",
    ),
    LazyCommand(
        "server",
        "hautflow.server_cli:server_app",
        "The local Prefect server hautflow starts for its flows: status, start, stop.",
    ),
)
"""Every command, in the help's order; each module is imported when its command is used."""


app = typer.Typer(
    cls=lazy_group(COMMANDS),
    help="Face photos through the Haut.AI skin-analysis API into a Parquet lake.",
    no_args_is_help=True,
    add_completion=False,
    # click's plain help, for every command and subcommand: rich's option tables cut long
    # option names (--clean-images-as-soon-as-ready) to a few letters at 80 columns, where
    # click gives a long name its own line. Errors are then click's one line, unwrapped.
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if not asked:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        typer.echo(f"hautflow {version('hautflow')}")
    except PackageNotFoundError:
        typer.secho(
            "hautflow: not installed as a package, so it has no version: pip install -e .",
            err=True,
            fg="red",
        )
        raise typer.Exit(2) from None
    raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            envvar="HAUTFLOW_VERBOSE",
            help="Show Prefect's own lines (server start, run states, its warnings) too.",
        ),
    ] = False,
) -> None:
    """Face photos through the Haut.AI skin-analysis API into a Parquet lake."""
    from hautflow import prefect_session

    prefect_session.set_verbose(verbose)


if __name__ == "__main__":
    app()
