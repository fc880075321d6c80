"""``hautflow smoothing ...``: local smoothing, the API's smoothed results, and their comparison.

``pull`` writes the API's smoothed_results of the lake's complete images into the lake's
``smoothed_results`` table (a Prefect flow); ``compare`` asks the API the same and sets every
value beside the lake's own smoothing (the DuckDB macros), printing each disagreement: exit 0
when all agree, 1 on any disagreement (images the API does not know included, unless
``--allow-missing``), 2 when there is nothing to compare or the service, the lake or the state
folder cannot be used.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from flows.options import SmoothingOptions
from haut.redaction import redact
from hautflow.cli_support import announce_service, choice, duckdb_shell, model_defaults
from hautflow.prefect_session import prefect_session
from schemas.api_results import SmoothingMethod
from tasks.smoothing.settings import Smoothing

smoothing_app = typer.Typer(
    help="Smoothed skin scores: pull from the API, compare with local.", no_args_is_help=True
)


SMOOTHING = model_defaults(SmoothingOptions)

ALL_METHODS = "all"
"""``--method all``: every method of :class:`SmoothingMethod`."""

# ``--method`` takes a method of SmoothingMethod (their one list) or all; typer reads the type
# when it builds the command, a type checker sees the string it is.
if TYPE_CHECKING:
    MethodName = str
else:
    MethodName = choice((*(method.value for method in SmoothingMethod), ALL_METHODS))


def _methods(method: str) -> list[str]:
    """The methods ``--method`` names: that one, or every one for ``all``."""
    return [m.value for m in SmoothingMethod] if method == ALL_METHODS else [method]


def _one_method(methods: list[SmoothingMethod]) -> str:
    """``methods`` as ``--method`` names them; it names one, or all."""
    if set(methods) == set(SmoothingMethod):
        return ALL_METHODS
    [method] = methods
    return method.value


PULL_METHOD = _one_method(SMOOTHING["methods"])
"""``pull --method``'s default: the options' methods."""


MethodOption = Annotated[MethodName, typer.Option("--method", help="Smoothing method, or all.")]
WindowOption = Annotated[
    int, typer.Option("--window", min=1, help="Days back from each image (sample_time_window).")
]
MaxSizeOption = Annotated[
    int, typer.Option("--max-size", min=1, help="Images in a sample at most (sample_max_size).")
]
SubjectOption = Annotated[
    list[str] | None,
    typer.Option("--subject", help="A subject key; repeat for more (default: all)."),
]
LakeOption = Annotated[str, typer.Option("--lake", help="The Parquet lake.")]
StateOption = Annotated[
    str, typer.Option("--state", help="State folder: the embedded emulator and the views file.")
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option("--api-url", envvar="HAUT_API_URL", help="A Haut.AI-compatible service."),
]


def _options(
    method: str,
    window: int,
    max_size: int,
    subjects: list[str] | None,
    lake: str,
    state: str,
    api_url: str | None,
) -> SmoothingOptions:
    from pydantic import ValidationError

    try:
        options = SmoothingOptions.model_validate(
            {
                "lake": lake,
                "state_dir": state,
                "api_url": api_url,
                "emulator": True,
                "subjects": subjects or None,
                "methods": _methods(method),
                "window_days": window,
                "max_size": max_size,
            }
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    announce_service(api_url, None)
    return options


JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the result as one JSON object on stdout."),
]


def _settings_json(settings: Sequence[Smoothing]) -> list[dict[str, object]]:
    return [
        {"method": s.method.value, "window_days": s.window_days, "max_size": s.max_size}
        for s in settings
    ]


def _fail(command: str, message: str) -> typer.Exit:
    typer.secho(f"hautflow smoothing {command}: {message}", err=True, fg="red")
    return typer.Exit(2)


def _service_failed(command: str, options: SmoothingOptions, error: Exception) -> NoReturn:
    """Exit 2 on what the user fixes: a service that is down or refuses, an unreadable lake or
    state folder; the message names the options involved."""
    where = options.api_url or f"the embedded emulator ({options.emulator_state})"
    raise _fail(
        command,
        f"{type(error).__name__}: {redact(str(error))}. Check that the service at {where} is up "
        f"(--api-url), that the lake {options.lake} (--lake) and the state folder "
        f"{options.state_dir} (--state) are readable, and that they belong to the same ingest.",
    ) from None


def _user_errors() -> tuple[type[Exception], ...]:
    import duckdb

    from haut.errors import HautError
    from hautflow.ingest_cli import USER_ERRORS

    return (*USER_ERRORS, HautError, duckdb.Error, OSError)


@smoothing_app.command()
def pull(
    method: MethodOption = PULL_METHOD,
    window: WindowOption = SMOOTHING["window_days"],
    max_size: MaxSizeOption = SMOOTHING["max_size"],
    subject: SubjectOption = None,
    lake: LakeOption = SMOOTHING["lake"],
    state: StateOption = SMOOTHING["state_dir"],
    api_url: ApiUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Pull the API's smoothed_results of the lake's complete images into the lake."""
    options = _options(method, window, max_size, subject, lake, state, api_url)
    try:
        with prefect_session():  # before the flow's modules import Prefect
            from flows.smoothing import pull_smoothed_results
            from hautflow.failures import prefect_errors_held_back

            with prefect_errors_held_back(_user_errors()):
                summary = asyncio.run(pull_smoothed_results(options))
    except _user_errors() as exc:
        _service_failed("pull", options, exc)
    if json_output:
        document = {
            "run_id": summary.run_id,
            "settings": _settings_json(summary.settings),
            "images": summary.images,
            "rows_written": summary.rows_written,
            "missing": summary.missing,
            "lake": redact(lake),
            "views": str(options.views_path),
        }
        typer.echo(json.dumps(document))
        return
    settings = "; ".join(str(s) for s in summary.settings)
    typer.echo(
        f"Pulled smoothed_results of {summary.images} images ({settings}): "
        f"{summary.rows_written} rows into {lake} (table smoothed_results)."
    )
    if summary.missing:
        typer.secho(
            f"{len(summary.missing)} images unknown to the API (not pulled): "
            + ", ".join(summary.missing[:5])
            + (" ..." if len(summary.missing) > 5 else ""),
            err=True,
            fg="yellow",
        )
    shell = duckdb_shell()
    typer.echo(f'Try: {shell} {options.views_path} -c "FROM smoothed_results_latest LIMIT 10"')


@smoothing_app.command()
def compare(
    method: MethodOption = ALL_METHODS,
    window: WindowOption = SMOOTHING["window_days"],
    max_size: MaxSizeOption = SMOOTHING["max_size"],
    subject: SubjectOption = None,
    lake: LakeOption = SMOOTHING["lake"],
    state: StateOption = SMOOTHING["state_dir"],
    api_url: ApiUrlOption = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Images the API does not know (deleted there) are no disagreement.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Compare the lake's own smoothing with the API's for every complete image.

    Prints every disagreement (image, subject/session, side, family, method, local, api) and a
    one-line verdict; exits 1 on any disagreement or image unknown to the API (unless
    --allow-missing), 0 when all agree, 2 when the service, lake or state cannot be used.
    """
    options = _options(method, window, max_size, subject, lake, state, api_url)
    try:
        with prefect_session():  # before the flow's modules import Prefect
            from flows.smoothing import compare_smoothing
            from hautflow.failures import prefect_errors_held_back

            with prefect_errors_held_back(_user_errors()):
                result = asyncio.run(compare_smoothing(options))
    except _user_errors() as exc:
        _service_failed("compare", options, exc)
    if result.images == 0:
        whose = f" of {', '.join(subject)}" if subject else ""
        raise _fail(
            "compare",
            f"nothing to compare: the lake at {lake} has no complete images{whose} the API "
            "knows; run `hautflow ingest` first (with the same --lake, --state and --api-url)",
        )
    agreed = result.agree and (allow_missing or not result.missing)
    if json_output:
        document = {
            "agree": agreed,
            "settings": _settings_json(result.settings),
            "images": result.images,
            "values": result.values,
            "disagreements": [
                {
                    "image_id": d.image_id,
                    "subject_key": d.subject_key,
                    "session_key": d.session_key,
                    "side": d.side,
                    "algorithm": d.algorithm,
                    "method": d.setting.method.value,
                    "local": d.local,
                    "api": d.api,
                }
                for d in result.disagreements
            ],
            "missing": result.missing,
        }
        typer.echo(json.dumps(document))
        raise typer.Exit(0 if agreed else 1)
    if result.disagreements:
        typer.echo("image  subject/session side  family  method  local  api")
        for disagreement in result.disagreements:
            typer.echo(disagreement.describe())
    if result.missing:
        typer.secho(
            f"{len(result.missing)} images unknown to the API: "
            + ", ".join(result.missing[:5])
            + (" ..." if len(result.missing) > 5 else "")
            + ("" if allow_missing else " (a disagreement; --allow-missing accepts them)"),
            err=True,
            fg="yellow",
        )
    typer.echo(result.verdict())
    raise typer.Exit(0 if agreed else 1)
