"""Commands over the lake alone: ``history``, ``views``, ``compact``. They run no flow and
import no Prefect; the lake's helpers are imported when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from flows.options import DEFAULT_LAKE, DEFAULT_STATE
from haut.redaction import redact
from hautflow.cli_support import duckdb_shell, write_file
from hautflow.cli_support import parse_day as _day

SAMPLE_QUERY = "SELECT * FROM metrics LIMIT 5"


def history(
    subject: Annotated[str, typer.Argument(help="The subject key (its folder name).")],
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    lake: Annotated[str, typer.Option(help="The Parquet lake.")] = DEFAULT_LAKE,
    plot: Annotated[
        Path | None,
        typer.Option(help="Also draw the metrics over time, smoothed line on top, to this PNG."),
    ] = None,
) -> None:
    """Print SUBJECT's skin diary: one row per session with its main face metrics."""
    from tasks.lake import Lake, connect, format_history, subject_history

    first, last = _day(since, "--since"), _day(until, "--until")
    if not Lake(lake).files("images"):
        _fail(
            "history",
            f"no lake at {redact(lake)}: it holds no images. Run `hautflow ingest PHOTOS "
            f"--lake {redact(lake)}` first, or give --lake the lake an ingest wrote",
        )
    con = connect(lake)
    try:
        diary = subject_history(con, subject, first, last)
        typer.echo(format_history(diary, subject))
        if plot is None:
            return
        # Here, not above: matplotlib takes a second to import, and only --plot needs it.
        from tasks.lake.plot import EmptyHistoryError, plot_subject

        try:
            drawn = plot_subject(con, subject, first, last, diary=diary)
        except EmptyHistoryError as exc:
            typer.secho(f"hautflow history --plot: {exc}; {plot} not written", err=True, fg="red")
            raise typer.Exit(1) from None
    finally:
        con.close()
    write_file(plot, drawn.png, command="history --plot", fix="choose a file you may write")
    typer.echo(f"Plot of {len(drawn.families)} metrics written to {plot}")


def _fail(command: str, message: str) -> NoReturn:
    """End ``command`` with ``message`` (what failed and the fix) on stderr, exit code 2."""
    typer.secho(f"hautflow {command}: {message}", err=True, fg="red")
    raise typer.Exit(2)


def views(
    lake: Annotated[str, typer.Option(help="The Parquet lake.")] = DEFAULT_LAKE,
    database: Annotated[Path, typer.Option(help="The DuckDB file to write.")] = Path(DEFAULT_STATE)
    / "lake.duckdb",
) -> None:
    """Write a DuckDB file with a view per lake table, for the plain duckdb shell."""
    from tasks.lake import create_views

    path = create_views(lake, database)
    typer.echo(f"Views written to {path}; try: {duckdb_shell()} {path} -c {SAMPLE_QUERY!r}")


def compact(
    lake: Annotated[str, typer.Option(help="The Parquet lake.")] = DEFAULT_LAKE,
    table: Annotated[str | None, typer.Option(help="One table only.")] = None,
) -> None:
    """Publish staged rows and merge partitions left doubled (newest row per id; none lost)."""
    from schemas.lake import TABLES
    from tasks.lake import Lake

    if table is not None and table not in TABLES:
        _fail(
            "compact",
            f"--table {table!r} is no lake table: give one of {', '.join(TABLES)}, or leave "
            "--table out to compact every table",
        )
    report = Lake(lake).compact(table)
    what = f"table {table}" if table else "every table"
    if not report.partitions_compacted:
        typer.echo(f"Nothing to compact in {lake} ({what}): each partition holds an id once.")
        return
    dropped = report.rows_before - report.rows_after
    typer.echo(
        f"Compacted {report.partitions_compacted} partitions of {lake} ({what}): "
        f"{report.files_before} files -> {report.files_after}, "
        f"{report.rows_before} rows -> {report.rows_after} "
        f"({dropped} older copies of a row dropped)"
    )
