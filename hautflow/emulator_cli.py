"""``hautflow emulator``: serve the local Haut.AI emulator (no flow, no Prefect)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from haut.emulator.config import DetectorRow, EmulatorConfig, FaultConfig


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
