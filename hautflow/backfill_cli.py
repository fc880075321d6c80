"""``hautflow backfill``: re-pull history, aux and smoothed results into the lake.

The flow and Prefect are imported when the command runs, so ``hautflow --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

from flows.options import BackfillOptions
from hautflow.cli_support import (
    announce_service,
    model_defaults,
    parse_day,
    warn_password_on_command_line,
)
from hautflow.prefect_session import prefect_session
from tasks.smoothing.settings import SmoothingMethod

if TYPE_CHECKING:
    from flows.backfill import BackfillSummary

BACKFILL = model_defaults(BackfillOptions)


def backfill_command(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="First capture day, YYYY-MM-DD.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Last capture day, YYYY-MM-DD (included).")
    ] = None,
    subject: Annotated[
        list[str] | None, typer.Option(help="A subject key (folder name); repeat for more.")
    ] = None,
    dataset: Annotated[
        str, typer.Option(help="Haut.AI dataset the ingest uploaded to.")
    ] = BACKFILL["dataset"],
    method: Annotated[
        list[SmoothingMethod] | None,
        typer.Option(help="Smoothing method; repeat for more (default: all three)."),
    ] = None,
    window: Annotated[int, typer.Option(help="Smoothing window, days.")] = BACKFILL["window_days"],
    max_size: Annotated[int, typer.Option(help="Most images a smoothed value takes.")] = BACKFILL[
        "max_size"
    ],
    lake: Annotated[str, typer.Option(help="The Parquet lake.")] = BACKFILL["lake"],
    state: Annotated[
        str, typer.Option(help="Ledger, embedded emulator state and the views file.")
    ] = BACKFILL["state_dir"],
    api_url: Annotated[
        str | None, typer.Option(envvar="HAUT_API_URL", help="A Haut.AI-compatible service.")
    ] = None,
    ledger_url: Annotated[
        str | None, typer.Option(envvar="HAUTFLOW_LEDGER_URL", help="SQLAlchemy URL of the ledger.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Images per task.")] = BACKFILL["chunk_size"],
    concurrency: Annotated[int, typer.Option(help="Images read at once per chunk.")] = BACKFILL[
        "concurrency"
    ],
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the run's summary as one JSON object on stdout."),
    ] = False,
) -> None:
    """Re-pull history, aux and smoothed results of uploaded images into the lake."""
    # Rows keep their ids, so they are replaced, never doubled: it restores lost files and
    # fills the smoothed_results table; nothing is uploaded.
    from pydantic import ValidationError

    warn_password_on_command_line(ctx, ledger_url)
    # Unset lists take the options' defaults (every subject, every method).
    lists = {"subjects": subject, "methods": method}
    try:
        options = BackfillOptions(
            **{name: value for name, value in lists.items() if value},
            date_from=parse_day(since, "--since"),
            date_to=parse_day(until, "--until"),
            dataset=dataset,
            window_days=window,
            max_size=max_size,
            lake=lake,
            state_dir=state,
            api_url=api_url,
            emulator=True,
            ledger_url=ledger_url,
            chunk_size=chunk_size,
            concurrency=concurrency,
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    announce_service(api_url, None)
    with prefect_session():  # before the flow's modules import Prefect
        summary = _run(options, json_output=json_output)
    if json_output:
        typer.echo(json.dumps(summary_json(summary, options), default=str))
    else:
        _print_summary(summary, options)
    raise typer.Exit(0 if summary.ok else 1)


def _run(options: BackfillOptions, *, json_output: bool) -> BackfillSummary:
    from flows.backfill import BackfillError, backfill
    from haut.errors import HautError
    from hautflow.failures import explain, prefect_errors_held_back, service_name
    from hautflow.interrupts import stop_signals, stopping
    from tasks.lake.provenance import MixedServicesError
    from tasks.ledger import LedgerBusyError
    from tasks.service.settings import ConfigurationError

    expected = (BackfillError, LedgerBusyError, ConfigurationError, MixedServicesError, HautError)
    again = "run the same backfill again (what was read is written)"
    try:
        with (
            stopping("backfill", again=again, json_output=json_output),
            prefect_errors_held_back(expected + stop_signals()),
        ):
            return asyncio.run(backfill(options))
    except expected as exc:
        line = explain(exc, service=service_name(options.api_url), again=again)
        typer.secho(f"hautflow backfill: {line}", err=True, fg="red")
        if json_output:
            typer.echo(json.dumps({"status": "failed", "error": line}))
        raise typer.Exit(2) from None


def summary_json(summary: BackfillSummary, options: BackfillOptions) -> dict[str, object]:
    """The backfill as one JSON object: its id, status and counts, the images left pending,
    not rewritten or with a smoothing refused (each with why), and where the results are."""
    from haut.redaction import redact

    record = summary.record
    return {
        "run_id": record.run_id,
        "status": record.status,
        "ok": summary.ok,
        "service": record.service,
        "counts": {
            "images": summary.images,
            "images_complete": record.images_complete,
            "images_no_face": record.images_no_face,
            "images_pending": record.images_pending,
            "images_failed": record.images_failed,
            "smoothings_refused": len(summary.smoothing_failed),
            "rows_written": record.rows_written,
            "smoothed_rows": summary.smoothed_rows,
        },
        "pending": list(summary.pending),
        "failed": [{"image_id": i, "error": redact(why)} for i, why in summary.failed],
        "smoothing_refused": [
            {"image_id": i, "method": method, "error": redact(why)}
            for i, method, why in summary.smoothing_failed
        ],
        "lake": redact(options.lake),
        "views": str(options.views_path),
    }


def _print_summary(summary: BackfillSummary, options: BackfillOptions) -> None:
    record = summary.record
    typer.echo(f"Backfill run {record.run_id}: {record.status}  ({record.source})")
    for what, count in summary.count_rows():
        typer.echo(f"  {what:<28}{count:>8}")
    for line in summary.problems():
        typer.secho(line, fg="yellow")
    if summary.images == 0:
        typer.echo(
            f"Nothing to backfill: the ledger in {options.state_dir} knows no uploaded image of "
            f"dataset {options.dataset!r} in that range (check --dataset, --subject, --state)."
        )
        return
    typer.echo(f"Lake: {options.lake}   views: {options.views_path}")
