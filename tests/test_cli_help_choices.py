"""Options that take one of a fixed set of values list the set in their help and refuse any other
value naming it; the set is the one its home declares (an options model, an enum), not a copy.

Pure parsing: a refused value stops the command before it does anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from flows.options import IngestOptions
from haut.emulator.config import DetectorRow
from hautflow.cli import app
from hautflow.exit_policy import FailOn
from schemas.api_results import SmoothingMethod


def _declared(field: str) -> list[str]:
    """The values IngestOptions' JSON schema (a deployment's form) allows for ``field``."""
    declared = IngestOptions.model_json_schema()["properties"][field]
    [values] = [v["enum"] for v in (declared, *declared.get("anyOf", ())) if "enum" in v]
    return list(values)


METHODS = [method.value for method in SmoothingMethod]

CHOICES: list[tuple[list[str], str, list[str]]] = [
    (["ingest", "SOURCE"], "--image-kind", _declared("image_kind")),
    (["ingest", "SOURCE"], "--wait", _declared("wait")),
    (["ingest", "SOURCE"], "--webhook-auth", _declared("webhook_auth")),
    (["ingest", "SOURCE"], "--fail-on", [value.value for value in FailOn]),
    (["emulator"], "--detector-row", [value.value for value in DetectorRow]),
    (["backfill"], "--method", METHODS),
    (["smoothing", "pull"], "--method", [*METHODS, "all"]),
    (["smoothing", "compare"], "--method", [*METHODS, "all"]),
]


def _ids(case: tuple[list[str], str, list[str]]) -> str:
    words, flag, _ = case
    return " ".join([w for w in words if w != "SOURCE"] + [flag])


def _run(args: list[str], tmp_path: Path) -> tuple[int, str]:
    args = [str(tmp_path) if word == "SOURCE" else word for word in args]
    ran = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    return ran.exit_code, ran.output


@pytest.mark.parametrize("case", CHOICES, ids=map(_ids, CHOICES))
def test_the_help_lists_every_value(case: tuple[list[str], str, list[str]], tmp_path: Path) -> None:
    words, flag, values = case
    command = [word for word in words if word != "SOURCE"]
    code, shown = _run([*command, "--help"], tmp_path)
    assert code == 0, shown
    assert f"{flag} <{'|'.join(values)}>" in shown or f"{flag} <list[{'|'.join(values)}]>" in (
        shown
    ), shown


@pytest.mark.parametrize("case", CHOICES, ids=map(_ids, CHOICES))
def test_another_value_is_refused_naming_the_values(
    case: tuple[list[str], str, list[str]], tmp_path: Path
) -> None:
    words, flag, values = case
    code, shown = _run([*words, flag, "nope"], tmp_path)
    assert code == 2, shown
    assert f"Invalid value for '{flag}'" in shown
    assert ", ".join(repr(value) for value in values) in shown


def test_the_ingest_options_take_exactly_the_values_listed() -> None:
    """The model is the values' home: each value listed is one it takes, and only those."""
    for field in ("image_kind", "wait", "webhook_auth"):
        for value in _declared(field):
            wait = "webhook" if field == "webhook_auth" else None
            options = IngestOptions.model_validate(
                {"source": "photos", field: value, **({"wait": wait} if wait else {})}
            )
            assert getattr(options, field) == value
        with pytest.raises(ValidationError, match=field):
            IngestOptions.model_validate({"source": "photos", "wait": "webhook", field: "nope"})
