"""``hautflow ingest``: its options, checked before anything starts, then the run.

The run itself (the flow, its progress bars and summary) is :mod:`hautflow.ingest_cli`, imported
when the command runs: Prefect and the lake's helpers take seconds to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from flows.options import IngestOptions
from hautflow.cli_support import (
    announce_service,
    choice,
    field_values,
    model_defaults,
    warn_password_on_command_line,
)
from hautflow.exit_policy import FailOn
from hautflow.prefect_session import prefect_session

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
            "else 10). On a PostgreSQL ledger, a budget shared by every run and worker using it."
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
    with prefect_session():  # before the run's modules import Prefect
        _run(options, fail_on=fail_on, json_output=json_output)


def _run(options: IngestOptions, *, fail_on: FailOn, json_output: bool) -> NoReturn:
    """Run the ingest flow, print its summary, exit with the code ``fail_on`` gives."""
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
