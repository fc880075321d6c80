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

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from flows.options import DEFAULT_LAKE, DEFAULT_STATE, IngestOptions
from haut.emulator.config import DetectorRow, EmulatorConfig, FaultConfig
from haut.redaction import redact
from hautflow.backfill_cli import backfill_command
from hautflow.cli_support import (
    announce_service,
    choice,
    duckdb_shell,
    field_values,
    model_defaults,
    warn_password_on_command_line,
    write_file,
)
from hautflow.cli_support import parse_day as _day
from hautflow.docs_cli import docs_app
from hautflow.exit_policy import FailOn
from hautflow.operations_cli import applications_app, datasets_app, report_command, tokens_app
from hautflow.smoothing_cli import smoothing_app

SAMPLE_QUERY = "SELECT * FROM metrics LIMIT 5"

# The values of the ingest's fixed-set options are the options model's (one home); typer reads
# these types when it builds the command, a type checker sees the strings they are.
if TYPE_CHECKING:
    ImageKind = str
    WaitName = str
    WebhookAuthName = str
else:
    ImageKind = choice(field_values(IngestOptions, "image_kind"))
    WaitName = choice(field_values(IngestOptions, "wait"))
    WebhookAuthName = choice(field_values(IngestOptions, "webhook_auth"))

INGEST = model_defaults(IngestOptions)
"""The ingest options' defaults, by field: the command line repeats none of them."""


app = typer.Typer(
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
) -> None:
    """Face photos through the Haut.AI skin-analysis API into a Parquet lake."""


def _read_credentials(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        accounts = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(
            f"{path}: cannot read it as JSON ({exc.__class__.__name__}); "
            'expected an object of usernames to passwords, e.g. {"me@example.com": "secret"}'
        ) from exc
    if not isinstance(accounts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in accounts.items()
    ):
        raise typer.BadParameter(
            f"{path}: expected an object of usernames to passwords, "
            'e.g. {"me@example.com": "secret"}'
        )
    return accounts


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback.")] = "127.0.0.1",
    state: Annotated[
        Path | None, typer.Option(help="SQLite file for the state; a restart is the same service.")
    ] = None,
    algorithm_delay: Annotated[
        float, typer.Option(help="Base processing time per image, seconds (0: instant).")
    ] = 3.0,
    rate_limit: Annotated[float, typer.Option(help="Requests per second per company.")] = 20.0,
    credentials: Annotated[
        Path | None,
        typer.Option(help="JSON {username: password}: only these log in (default: anyone)."),
    ] = None,
    fault_429: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of API requests answered 429.")
    ] = 0.0,
    fault_5xx: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of API requests answered 503.")
    ] = 0.0,
    fault_drop: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of connections dropped.")
    ] = 0.0,
    latency: Annotated[float, typer.Option(help="Seconds added to every API request.")] = 0.0,
    retry_after: Annotated[
        float, typer.Option(min=0, help="Retry-After seconds of the injected 429 answers.")
    ] = 1.0,
    fault_websocket_drop: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of results-websocket messages after which it is closed."
        ),
    ] = 0.0,
    fault_webhook: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of webhook delivery attempts that fail (then retried)."
        ),
    ] = 0.0,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the fault dice, for a repeatable run.")
    ] = None,
    detector_row: Annotated[
        DetectorRow,
        typer.Option(
            help="When results hold the face detector's row; when-no-face answers as the real "
            "captures did."
        ),
    ] = DetectorRow.ALWAYS,
) -> None:
    """Serve a local Haut.AI emulator (see the README for what it mimics)."""
    from haut.emulator.server import serve

    if state is not None:
        _check_state(state)  # before the banner: a bad --state is an error, not a start
    config = EmulatorConfig(
        algorithm_delay_seconds=algorithm_delay,
        rate_limit_per_second=rate_limit,
        credentials=_read_credentials(credentials),
        state_path=state,
        detector_row=detector_row,
        faults=FaultConfig(
            rate_429=fault_429,
            retry_after_seconds=retry_after,
            rate_5xx=fault_5xx,
            rate_drop=fault_drop,
            latency_seconds=latency,
            websocket_drop=fault_websocket_drop,
            webhook_failure=fault_webhook,
            seed=seed,
        ),
    )
    # Port 0 is bound by the server: uvicorn's "Uvicorn running on" line names the port.
    where = f"http://{host}:{port}" if port else f"http://{host} (a free port, named below)"
    typer.echo(f"Haut.AI emulator on {where}  (Ctrl-C stops it)")
    serve(config, host=host, port=port)


def _check_state(path: Path) -> None:
    """Refuse a --state the emulator cannot open, by opening it as the server will."""
    from haut.emulator.store import StateFileError, Store

    try:
        Store(path).close()
    except StateFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--state") from exc


@app.command()
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


@app.command()
def ingest(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="Image folder: path, file://, s3://, gs://, memory://")
    ],
    lake: Annotated[str, typer.Option(help="Where the Parquet lake goes.")] = INGEST["lake"],
    state: Annotated[
        str, typer.Option(help="Ledger, embedded emulator state and the views file.")
    ] = INGEST["state_dir"],
    manifest: Annotated[
        str | None, typer.Option(help="CSV (path, subject, session, side, light, captured_at).")
    ] = INGEST["manifest"],
    allow_outside_source: Annotated[
        bool,
        typer.Option(
            help="Let --manifest rows name photos outside SOURCE (../, absolute paths, other "
            "URLs); such rows are quarantined otherwise."
        ),
    ] = INGEST["allow_outside_source"],
    read_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a photo's read may give no data (a stalled drive, share or pipe) "
            "before the file is quarantined as unreadable."
        ),
    ] = INGEST["read_timeout"],
    dataset: Annotated[str, typer.Option(help="Haut.AI dataset the photos go to.")] = INGEST[
        "dataset"
    ],
    image_kind: Annotated[
        ImageKind, typer.Option(help="The photos' kind (a new dataset's image type).")
    ] = INGEST["image_kind"],
    wait: Annotated[WaitName, typer.Option(help="How results are awaited.")] = INGEST["wait"],
    webhook_host: Annotated[
        str | None, typer.Option(help="Address the webhook receiver binds (with --wait webhook).")
    ] = None,
    webhook_port: Annotated[int | None, typer.Option(help="Port of the webhook receiver.")] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Public URL of the receiver, if the API reaches it so.")
    ] = None,
    webhook_auth: Annotated[
        WebhookAuthName | None,
        typer.Option(
            help="How deliveries prove they are ours (default bearer); the secret is "
            "HAUT_WEBHOOK_SECRET, else random per run."
        ),
    ] = None,
    webhook_auth_key: Annotated[
        str | None,
        typer.Option(help="User name (basic) or query parameter name (query); default hautflow."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for results.")] = INGEST[
        "results_timeout"
    ],
    chunk_size: Annotated[int, typer.Option(help="Captures per upload task.")] = INGEST[
        "chunk_size"
    ],
    concurrency: Annotated[int, typer.Option(help="Captures uploaded at once per chunk.")] = INGEST[
        "concurrency"
    ],
    requests_per_second: Annotated[
        float | None,
        typer.Option(
            help="The client's request rate to the API (default: HAUT_REQUESTS_PER_SECOND, "
            "else 10)."
        ),
    ] = None,
    requests_in_flight: Annotated[
        int | None,
        typer.Option(
            min=1, help="HTTP requests in flight at once (default: HAUT_MAX_CONCURRENCY, else 8)."
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(envvar="HAUT_API_URL", help="A Haut.AI-compatible service.")
    ] = None,
    credentials_block: Annotated[
        str | None,
        typer.Option(
            envvar="HAUT_CREDENTIALS_BLOCK",
            help='Prefect Secret block holding {"username", "password"} or {"api_token"}.',
        ),
    ] = None,
    emulator: Annotated[
        bool,
        typer.Option(
            help="With no credentials, analyse with the embedded emulator (it says so first); "
            "--no-emulator fails instead."
        ),
    ] = True,
    allow_mixed_services: Annotated[
        bool,
        typer.Option(help="Write into a lake holding the other kind of service's results."),
    ] = INGEST["allow_mixed_services"],
    allow_duplicate_photos: Annotated[
        bool,
        typer.Option(
            help="Upload photos already analysed under another subject or session (each "
            "analysis is charged)."
        ),
    ] = INGEST["allow_duplicate_photos"],
    mask_coordinates: Annotated[
        bool, typer.Option(help="Keep each mask's GeoJSON features (large) in the lake.")
    ] = INGEST["mask_coordinates"],
    ledger_url: Annotated[
        str | None, typer.Option(envvar="HAUTFLOW_LEDGER_URL", help="SQLAlchemy URL of the ledger.")
    ] = None,
    algorithms: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated algorithm ids (face detector always kept); default: the "
            "dataset's list (all on first attach)."
        ),
    ] = None,
    fail_on: Annotated[FailOn, typer.Option(help="When to exit non-zero.")] = FailOn.QUARANTINE,
    dry_run: Annotated[bool, typer.Option(help="Show the plan; upload nothing.")] = INGEST[
        "dry_run"
    ],
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the run's summary as one JSON object on stdout (progress stays on stderr).",
        ),
    ] = False,
    expire_images_after_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=365,
            help="New dataset: days photos are kept after upload (0: forever; at most 365, "
            "the API's limit).",
        ),
    ] = None,
    expire_metadata_after_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=365,
            help="New dataset: days results are kept after upload (0: forever; at most 365, "
            "the API's limit).",
        ),
    ] = None,
    clean_images_as_soon_as_ready: Annotated[
        bool | None,
        typer.Option(
            "--clean-images-as-soon-as-ready/--keep-images",
            help="New dataset: delete each photo once analysed, or keep it. An existing "
            "dataset keeps its settings (a warning names any difference): "
            "`hautflow datasets retention` changes them.",
        ),
    ] = None,
) -> None:
    """Analyse every new photo under SOURCE once and write its results to the lake."""
    from hautflow.ingest_cli import (
        RESUME,
        USER_ERRORS,
        exit_code,
        failure_line,
        print_json,
        print_summary,
        run_ingest,
        summary_json,
    )
    from hautflow.interrupts import stopping

    warn_password_on_command_line(ctx, ledger_url)
    webhook_flags = {
        "--webhook-host": webhook_host,
        "--webhook-port": webhook_port,
        "--webhook-url": webhook_url,
        "--webhook-auth": webhook_auth,
        "--webhook-auth-key": webhook_auth_key,
    }
    given = [flag for flag, value in webhook_flags.items() if value is not None]
    if given and wait != "webhook":
        raise typer.BadParameter(
            f"{', '.join(given)} apply only with --wait webhook, not --wait {wait}: "
            "drop them or add --wait webhook"
        )
    wait_options = {
        key: value
        for key, value in (
            ("host", webhook_host),
            ("port", webhook_port),
            ("public_url", webhook_url),
        )
        if value is not None
    }
    _check_local_source(source)
    try:
        options = IngestOptions(
            source=source,
            lake=lake,
            state_dir=state,
            manifest=manifest,
            allow_outside_source=allow_outside_source,
            read_timeout=read_timeout,
            dataset=dataset,
            image_kind=image_kind,
            wait=wait,
            wait_options=wait_options,
            webhook_auth=webhook_auth,
            webhook_auth_key=webhook_auth_key,
            results_timeout=timeout,
            chunk_size=chunk_size,
            concurrency=concurrency,
            requests_per_second=requests_per_second,
            requests_in_flight=requests_in_flight,
            api_url=api_url,
            emulator=emulator,
            allow_mixed_services=allow_mixed_services,
            allow_duplicate_photos=allow_duplicate_photos,
            credentials_block=credentials_block,
            mask_coordinates=mask_coordinates,
            ledger_url=ledger_url,
            enabled_algorithms=_algorithm_ids(algorithms),
            dry_run=dry_run,
            expire_images_after_days=expire_images_after_days,
            expire_metadata_after_days=expire_metadata_after_days,
            clean_images_as_soon_as_ready=clean_images_as_soon_as_ready,
        )
    except ValidationError as exc:
        raise typer.BadParameter(_validation_message(exc)) from None
    if not dry_run:
        announce_service(api_url, credentials_block, allowed=emulator)
    try:
        with stopping("ingest", again=RESUME, json_output=json_output):
            summary = run_ingest(options)
    except USER_ERRORS as exc:
        line = failure_line(exc, options)
        typer.secho(f"hautflow ingest: {line}", err=True, fg="red")
        if json_output:  # a script reading stdout learns the run failed, and why
            print_json({"status": "failed", "error": line})
        raise typer.Exit(2) from None
    if json_output:
        print_json(summary_json(summary, options))
    else:
        print_summary(summary, options)
    raise typer.Exit(exit_code(summary, fail_on))


def _validation_message(error: ValidationError) -> str:
    """Each refused option and why, without the input: it may hold a ledger URL's password."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'options'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    )


def _check_local_source(source: str) -> None:
    """Refuse a local source that is no folder now, before the flow starts (seconds with
    Prefect's server); remote sources are checked by the run, which has their options."""
    if "://" in source and not source.startswith("file://"):
        return
    from tasks.discovery import SourceError
    from tasks.discovery.discover import open_source

    try:
        open_source(source, None)
    except SourceError as exc:
        typer.secho(f"hautflow ingest: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def _algorithm_ids(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"--algorithms {text!r}: expected comma-separated ids such as 30,40"
        ) from None


@app.command()
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


@app.command()
def views(
    lake: Annotated[str, typer.Option(help="The Parquet lake.")] = DEFAULT_LAKE,
    database: Annotated[Path, typer.Option(help="The DuckDB file to write.")] = Path(DEFAULT_STATE)
    / "lake.duckdb",
) -> None:
    """Write a DuckDB file with a view per lake table, for the plain duckdb shell."""
    from tasks.lake import create_views

    path = create_views(lake, database)
    typer.echo(f"Views written to {path}; try: {duckdb_shell()} {path} -c {SAMPLE_QUERY!r}")


@app.command()
def compact(
    lake: Annotated[str, typer.Option(help="The Parquet lake.")] = DEFAULT_LAKE,
    table: Annotated[str | None, typer.Option(help="One table only.")] = None,
) -> None:
    """Merge the lake's small files (newest row per id kept; nothing is lost)."""
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
        typer.echo(f"Nothing to compact in {lake} ({what}): each partition has one file.")
        return
    dropped = report.rows_before - report.rows_after
    typer.echo(
        f"Compacted {report.partitions_compacted} partitions of {lake} ({what}): "
        f"{report.files_before} files -> {report.files_after}, "
        f"{report.rows_before} rows -> {report.rows_after} "
        f"({dropped} older copies of a row dropped)"
    )


# Commands defined in their own modules (each imports what it needs when it runs).
app.add_typer(smoothing_app, name="smoothing")
app.add_typer(tokens_app, name="tokens")
app.add_typer(datasets_app, name="datasets")
app.add_typer(applications_app, name="applications")
app.command("backfill")(backfill_command)
app.command("report")(report_command)
app.add_typer(docs_app, name="docs")


if __name__ == "__main__":
    app()
