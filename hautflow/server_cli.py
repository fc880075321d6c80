"""``hautflow server``: see, start and stop the local Prefect server hautflow's flows use.

How the server is chosen and when it stops is :mod:`hautflow.prefect_server`. These commands
import no Prefect (``start`` starts a process that does).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from hautflow import prefect_server

server_app = typer.Typer(
    help="The local Prefect server hautflow starts for its flows: status, start, stop.",
    no_args_is_help=True,
)


def _mode() -> str:
    try:
        return prefect_server.mode()
    except prefect_server.ServerError as exc:
        return str(exc)


def _status() -> dict[str, object]:
    """What ``status`` shows: who decides the server, and the local one if it runs."""
    configured = prefect_server.configured_api_url()
    record = prefect_server.read_record()
    shown: dict[str, object] = {
        "mode": _mode(),
        "configured_api_url": configured,
        "state_file": str(prefect_server.state_path()),
        "running": record is not None,
    }
    if record is not None:
        shown.update(
            url=record.url,
            pid=record.pid,
            healthy=prefect_server.healthy(record),
            up_seconds=round(time.time() - record.started_at),
            idle_seconds=record.idle_seconds,
            runs_holding_it=len(prefect_server.live_leases()),
            log=record.log,
        )
    return shown


@server_app.command()
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show which Prefect server flows use, and the local one if it runs (exit 1 if not)."""
    shown = _status()
    if json_output:
        typer.echo(json.dumps(shown))
    elif shown["configured_api_url"]:
        typer.echo(
            f"PREFECT_API_URL is set ({shown['configured_api_url']}): flows use that server, "
            "hautflow starts none."
        )
    elif shown["mode"] == prefect_server.TEMPORARY:
        typer.echo(
            f"{prefect_server.MODE_VARIABLE}={prefect_server.TEMPORARY}: each flow-running "
            "command starts Prefect's temporary server and stops it when it ends."
        )
    if not json_output and shown["running"]:
        typer.echo(
            f"Local Prefect server on {shown['url']} (pid {shown['pid']}, "
            f"{'healthy' if shown['healthy'] else 'not answering'}, up {shown['up_seconds']} s, "
            f"{shown['runs_holding_it']} runs using it; it stops after "
            f"{shown['idle_seconds']:.0f} s unused). Log: {shown['log']}"
        )
    elif not json_output:
        typer.echo("No local Prefect server runs; the next flow-running command starts one.")
    raise typer.Exit(0 if shown["running"] else 1)


@server_app.command()
def start() -> None:
    """Start the local Prefect server now (or find it running), then print its URL."""
    try:
        record, started = prefect_server.ensure_running()
    except prefect_server.ServerError as exc:
        typer.secho(f"hautflow server start: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo(
        f"{'Started' if started else 'Already running:'} the local Prefect server on "
        f"{record.url} (pid {record.pid}); it stops after {record.idle_seconds:.0f} s unused. "
        f"To point other tools at it: export PREFECT_API_URL={record.url}"
    )


@server_app.command()
def stop() -> None:
    """Stop the local Prefect server, if it runs."""
    record = prefect_server.stop()
    if record is None:
        typer.echo("No local Prefect server was running.")
        return
    typer.echo(f"Stopped the local Prefect server on {record.url} (pid {record.pid}).")
