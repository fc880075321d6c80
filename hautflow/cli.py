"""The ``hautflow`` command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from haut.emulator.config import EmulatorConfig, FaultConfig

app = typer.Typer(
    help="Face photos through the Haut.AI skin-analysis API into a Parquet lake.",
    no_args_is_help=True,
    add_completion=False,
)


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
    fault_429: Annotated[float, typer.Option(help="Share of API requests answered 429.")] = 0.0,
    fault_5xx: Annotated[float, typer.Option(help="Share of API requests answered 503.")] = 0.0,
    fault_drop: Annotated[float, typer.Option(help="Share of connections dropped.")] = 0.0,
    latency: Annotated[float, typer.Option(help="Seconds added to every API request.")] = 0.0,
) -> None:
    """Serve a local Haut.AI emulator (see the README for what it mimics)."""
    from haut.emulator.server import serve

    config = EmulatorConfig(
        algorithm_delay_seconds=algorithm_delay,
        rate_limit_per_second=rate_limit,
        credentials=_read_credentials(credentials),
        state_path=state,
        faults=FaultConfig(
            rate_429=fault_429, rate_5xx=fault_5xx, rate_drop=fault_drop, latency_seconds=latency
        ),
    )
    typer.echo(f"Haut.AI emulator on http://{host}:{port}  (Ctrl-C stops it)")
    serve(config, host=host, port=port)


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

    asyncio.run(run_quickstart(api_url=api_url, image=image, out=out))


if __name__ == "__main__":
    app()
