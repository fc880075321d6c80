"""``hautflow smoothing ...``: local smoothing, the API's smoothed results, and their comparison.

``pull`` writes the API's smoothed_results of the lake's complete images into the lake's
``smoothed_results`` table (a Prefect flow); ``compare`` asks the API the same and sets every
value beside the lake's own smoothing (the DuckDB macros), printing each disagreement: exit 0
when all agree, 1 otherwise, 2 when there is nothing to compare or the service cannot be used.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from flows.options import DEFAULT_LAKE, DEFAULT_STATE

if TYPE_CHECKING:
    from flows.smoothing import SmoothingOptions

smoothing_app = typer.Typer(
    help="Smoothed skin scores: pull from the API, compare with local.", no_args_is_help=True
)


class MethodChoice(StrEnum):
    """A smoothing method of the API, or all three."""

    MEAN = "mean"
    MEAN_WITHOUT_OUTLIERS = "mean_without_outliers"
    LINEAR_APPROXIMATION = "linear_approximation"
    ALL = "all"

    def methods(self) -> list[str]:
        if self is MethodChoice.ALL:
            return [m.value for m in MethodChoice if m is not MethodChoice.ALL]
        return [self.value]


MethodOption = Annotated[MethodChoice, typer.Option("--method", help="Smoothing method, or all.")]
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
    method: MethodChoice,
    window: int,
    max_size: int,
    subjects: list[str] | None,
    lake: str,
    state: str,
    api_url: str | None,
) -> SmoothingOptions:
    from pydantic import ValidationError

    from flows.smoothing import SmoothingOptions

    try:
        return SmoothingOptions.model_validate(
            {
                "lake": lake,
                "state_dir": state,
                "api_url": api_url,
                "subjects": subjects or None,
                "methods": method.methods(),
                "window_days": window,
                "max_size": max_size,
            }
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _fail(command: str, message: str) -> typer.Exit:
    typer.secho(f"hautflow smoothing {command}: {message}", err=True, fg="red")
    return typer.Exit(2)


@smoothing_app.command()
def pull(
    method: MethodOption = MethodChoice.MEAN,
    window: WindowOption = 14,
    max_size: MaxSizeOption = 10,
    subject: SubjectOption = None,
    lake: LakeOption = DEFAULT_LAKE,
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Pull the API's smoothed_results of the lake's complete images into the lake."""
    from flows.smoothing import pull_smoothed_results
    from hautflow.ingest_cli import USER_ERRORS

    options = _options(method, window, max_size, subject, lake, state, api_url)
    try:
        summary = asyncio.run(pull_smoothed_results(options))
    except USER_ERRORS as exc:
        raise _fail("pull", str(exc)) from None
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
    typer.echo(f'Try: duckdb {options.views_path} -c "FROM smoothed_results LIMIT 10"')


@smoothing_app.command()
def compare(
    method: MethodOption = MethodChoice.ALL,
    window: WindowOption = 14,
    max_size: MaxSizeOption = 10,
    subject: SubjectOption = None,
    lake: LakeOption = DEFAULT_LAKE,
    state: StateOption = DEFAULT_STATE,
    api_url: ApiUrlOption = None,
) -> None:
    """Compare the lake's own smoothing with the API's for every complete image.

    Prints every disagreement (image, subject/session, side, family, method, local, api) and a
    one-line verdict; exits 1 on any disagreement, 0 when all agree.
    """
    from flows.smoothing import compare_smoothing
    from hautflow.ingest_cli import USER_ERRORS

    options = _options(method, window, max_size, subject, lake, state, api_url)
    try:
        result = asyncio.run(compare_smoothing(options))
    except USER_ERRORS as exc:
        raise _fail("compare", str(exc)) from None
    if result.images == 0:
        whose = f" of {', '.join(subject)}" if subject else ""
        raise _fail(
            "compare",
            f"nothing to compare: the lake at {lake} has no complete images{whose} the API "
            "knows; run `hautflow ingest` first (with the same --lake, --state and --api-url)",
        )
    if result.disagreements:
        typer.echo("image  subject/session side  family  method  local  api")
        for disagreement in result.disagreements:
            typer.echo(disagreement.describe())
    typer.echo(result.verdict())
    raise typer.Exit(0 if result.agree else 1)
