"""Operations commands: private tokens, datasets, applications and algorithms, PDF reports.

Every command talks to the service the way ``hautflow ingest`` does (``--api-url`` or
``HAUT_API_URL``, else the credentials' service, else the embedded emulator kept in
``--state``), so with no credentials they see what the ingest created. The logic is in
:mod:`tasks.operations`, shared with the flows; heavy imports happen inside the commands so
``hautflow --help`` stays fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from flows.options import DEFAULT_LAKE, DEFAULT_STATE
from hautflow.cli_support import announce_service, warn_password_on_command_line
from tasks.operations.retention import MAX_DAYS as MAX_RETENTION_DAYS

if TYPE_CHECKING:
    from haut.client import HautClient

T = TypeVar("T")

tokens_app = typer.Typer(help="Private API tokens: create, list, delete.", no_args_is_help=True)
datasets_app = typer.Typer(help="Datasets: list, show, retention settings.", no_args_is_help=True)
applications_app = typer.Typer(
    help="Applications: list, enabled algorithms of a dataset.", no_args_is_help=True
)

StateOption = Annotated[
    str, typer.Option(help="Where the embedded emulator's state and the ledger are.")
]
ApiUrlOption = Annotated[
    str | None, typer.Option(envvar="HAUT_API_URL", help="A Haut.AI-compatible service.")
]


def _run(
    command: str, state: str, api_url: str | None, work: Callable[[HautClient], Awaitable[T]]
) -> T:
    """Run ``work`` with a client for the configured service; a user error ends the command
    with its message (no traceback) and exit code 2."""
    from haut.errors import HautError
    from tasks.ledger import LedgerBusyError
    from tasks.operations.errors import OperationError
    from tasks.service.connection import connect
    from tasks.service.settings import ConfigurationError
    from tasks.uploading import DatasetConflictError

    async def main() -> T:
        emulator_state = Path(state) / "emulator.sqlite"
        async with connect(
            api_url=api_url, emulator_state=emulator_state, allow_emulator=True
        ) as connection:
            return await work(connection.client)

    announce_service(api_url, None)
    try:
        return asyncio.run(main())
    except (
        OperationError,
        HautError,
        ConfigurationError,
        LedgerBusyError,
        DatasetConflictError,
    ) as exc:
        typer.secho(f"hautflow {command}: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


# --- tokens ----------------------------------------------------------------------------------


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="A name to recognise the token by.")],
    expires: Annotated[
        str, typer.Option(help="Expiry, e.g. 2027-01-01 or 2027-01-01T12:00 (UTC unless zoned).")
    ],
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Create a private API token; its value is printed once, here, and never again."""
    from tasks.operations.errors import OperationError
    from tasks.operations.tokens import parse_expiry

    try:
        expiry = parse_expiry(expires)
    except OperationError as exc:
        raise typer.BadParameter(str(exc)) from None
    token = _run("tokens create", state, api_url, lambda c: c.create_private_token(name, expiry))
    if token.data is None:
        typer.secho(
            f"hautflow tokens create: token {token.id} created but its value was not returned: "
            f"run `hautflow tokens delete {token.id}` and create another",
            err=True,
            fg="red",
        )
        raise typer.Exit(2)
    typer.secho(
        f"Token {token.id} {token.name!r} expires {expiry:%Y-%m-%d %H:%M %Z}. Store it now "
        "(e.g. as HAUT_API_TOKEN in a secret store): it is shown only this once.",
        err=True,
        fg="yellow",
    )
    # The value goes to stdout alone, so `hautflow tokens create ... > file` captures just it.
    typer.echo(token.data.get_secret_value())


@tokens_app.command("list")
def tokens_list(state: StateOption = DEFAULT_STATE, api_url: ApiUrlOption = None) -> None:
    """List private tokens: id, expiry, name (never their values)."""
    from tasks.operations.tokens import token_lines

    tokens = _run("tokens list", state, api_url, lambda c: c.list_private_tokens())
    typer.echo("\n".join(token_lines(tokens)))


@tokens_app.command("delete")
def tokens_delete(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `tokens list`).")],
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Delete a private token: whoever uses it is logged out."""
    _run("tokens delete", state, api_url, lambda c: c.delete_private_token(token_id))
    typer.echo(f"Token {token_id} deleted.")


# --- datasets --------------------------------------------------------------------------------


@datasets_app.command("list")
def datasets_list(state: StateOption = DEFAULT_STATE, api_url: ApiUrlOption = None) -> None:
    """List the company's datasets with their retention."""
    from tasks.operations.datasets import dataset_row

    datasets = _run("datasets list", state, api_url, lambda c: c.list_datasets())
    typer.echo("\n".join(dataset_row(d) for d in datasets) or "No datasets.")


@datasets_app.command("show")
def datasets_show(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Show a dataset: id, image type, retention, applications and enabled algorithms."""
    from tasks.operations.applications import algorithm_names
    from tasks.operations.datasets import dataset_lines, dataset_named

    async def show(client: HautClient) -> list[str]:
        dataset = await dataset_named(client, name)
        return dataset_lines(dataset, await algorithm_names(client))

    typer.echo("\n".join(_run("datasets show", state, api_url, show)))


@datasets_app.command("retention")
def datasets_retention(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    expire_images_after_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=MAX_RETENTION_DAYS,
            help=f"Days photos are kept after upload (0: forever; "
            f"at most {MAX_RETENTION_DAYS}, the API's limit).",
        ),
    ] = None,
    expire_metadata_after_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=MAX_RETENTION_DAYS,
            help=f"Days results are kept after upload (0: forever; "
            f"at most {MAX_RETENTION_DAYS}, the API's limit).",
        ),
    ] = None,
    clean_images_as_soon_as_ready: Annotated[
        bool | None,
        typer.Option(
            "--clean-images-as-soon-as-ready/--keep-images",
            help="Delete each photo once every algorithm has finished, or keep it.",
        ),
    ] = None,
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Change a dataset's retention (options not given are left as they are)."""
    from tasks.operations.datasets import dataset_lines, set_retention
    from tasks.operations.retention import Retention

    retention = Retention(
        expire_images_after_days, expire_metadata_after_days, clean_images_as_soon_as_ready
    )
    dataset = _run(
        "datasets retention", state, api_url, lambda c: set_retention(c, name, retention)
    )
    typer.echo("\n".join(dataset_lines(dataset)[:4]))


# --- applications ----------------------------------------------------------------------------


@applications_app.command("list")
def applications_list(state: StateOption = DEFAULT_STATE, api_url: ApiUrlOption = None) -> None:
    """List the applications the company can attach, with their algorithm ids."""
    applications = _run("applications list", state, api_url, lambda c: c.list_applications())
    for application in applications:
        ids = ",".join(str(a.id) for a in application.algorithms_versions)
        typer.echo(f"{application.id}  {application.name or application.tech_name}")
        typer.echo(f"    algorithms: {ids}")
    if not applications:
        typer.echo("No applications.")


@applications_app.command("algorithms")
def applications_algorithms(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset's name.")],
    set_ids: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="Enable exactly these ids, e.g. 30,40 (the face detector 40 is required when "
            "the application has it).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Change the list even while images of the dataset await results under the "
            "current one (they are then written without removed algorithms, or never complete)."
        ),
    ] = False,
    application: Annotated[
        str | None, typer.Option(help="Application id (default FSM 2.0).")
    ] = None,
    state: StateOption = DEFAULT_STATE,
    ledger_url: Annotated[
        str | None, typer.Option(envvar="HAUTFLOW_LEDGER_URL", help="SQLAlchemy URL of the ledger.")
    ] = None,
    api_url: ApiUrlOption = None,
) -> None:
    """Show the algorithms enabled on DATASET, or change them with --set.

    A change is recorded in the ingest's ledger (so the next ingest expects the new list) and
    refused while the ledger has images of the dataset awaiting results, unless --force.
    """
    from haut.paths import FSM2_APPLICATION_ID
    from tasks.ledger.location import existing_ledger
    from tasks.operations.applications import (
        enabled_algorithms,
        parse_algorithm_ids,
        set_algorithms,
    )
    from tasks.operations.errors import OperationError

    warn_password_on_command_line(ctx, ledger_url)
    application_id = application or FSM2_APPLICATION_ID
    ids = None
    if set_ids is not None:
        try:
            ids = parse_algorithm_ids(set_ids)
        except OperationError as exc:
            raise typer.BadParameter(str(exc)) from None
    ledger = existing_ledger(state, ledger_url)
    try:
        if ids is None:
            shown = _run(
                "applications algorithms",
                state,
                api_url,
                lambda c: enabled_algorithms(
                    c, dataset, application_id=application_id, ledger=ledger
                ),
            )
            if ledger is None and shown.source == "unknown":
                _warn_no_ledger(state, "there is no recorded list to fall back on")
            typer.echo("\n".join(shown.lines()))
            return
        if ledger is None:
            _warn_no_ledger(
                state,
                "the change is not recorded for the ingest, and images still awaiting results "
                "cannot be checked",
            )
        # An ingest holding the ledger (LedgerBusyError) ends the command with exit code 2.
        changed = _run(
            "applications algorithms",
            state,
            api_url,
            lambda c: set_algorithms(
                c, dataset, ids, ledger=ledger, application_id=application_id, force=force
            ),
        )
    finally:
        if ledger is not None:
            ledger.close()
    typer.echo("\n".join(changed.lines()))


def _warn_no_ledger(state: str, consequence: str) -> None:
    from tasks.ledger.location import ledger_path

    typer.secho(
        f"Warning: no ledger at {ledger_path(state)} (the ingest's --state makes one there; "
        f"give --ledger-url for a database ledger): {consequence}.",
        err=True,
        fg="yellow",
    )


# --- reports ---------------------------------------------------------------------------------


def report_command(
    image_id: Annotated[
        str | None, typer.Argument(help="The image id (the lake's images view lists them).")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="A subject key: the report of its latest image.")
    ] = None,
    lake: Annotated[
        str, typer.Option(help="The Parquet lake; reports go to its reports/pdf/<subject>/.")
    ] = DEFAULT_LAKE,
    overwrite: Annotated[bool, typer.Option(help="Download again if already written.")] = False,
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Download the PDF report of IMAGE_ID, or of a subject's latest image, into the lake:
    <lake>/reports/pdf/<subject>/<session>_<side>_<image id>.pdf (the path is printed)."""
    from tasks.lake import Lake
    from tasks.operations.errors import OperationError
    from tasks.operations.reports import image_in_lake, latest_images, write_report

    store = Lake(lake)
    try:
        if image_id is not None and subject is None:
            image = image_in_lake(store, image_id)
        elif subject is not None and image_id is None:
            image = latest_images(store, [subject])[0]
        else:
            raise typer.BadParameter("give an IMAGE_ID or --subject KEY (one of them)")
    except OperationError as exc:
        typer.secho(f"hautflow report: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    outcome = _run(
        "report", state, api_url, lambda c: write_report(c, store, image, overwrite=overwrite)
    )
    if not outcome.written:
        typer.secho("Already written (--overwrite downloads it again):", err=True)
    typer.echo(outcome.location)
