"""Every option's default is its options model's (one source): a default changed in the model
and not on the command line, or the other way round, fails here.

Each command's click parameters are set against the fields of the model it builds; every
parameter is either such a field or named below as the command line's own.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel
from typer.main import get_command

from flows.maintenance import compact_lake
from flows.options import BackfillOptions, IngestOptions, SmoothingOptions
from hautflow.cli import app

RENAMED = {
    "state": "state_dir",
    "timeout": "results_timeout",
    "algorithms": "enabled_algorithms",
    "window": "window_days",
    "since": "date_from",
    "until": "date_to",
    "subject": "subjects",
    "method": "methods",
}
"""Option (parameter) name -> model field name, where they differ."""

COMMAND_LINE_ONLY = {
    "ingest": {"source", "json_output", "fail_on", "webhook_host", "webhook_port", "webhook_url"},
    "backfill": {"json_output"},
    "smoothing pull": {"json_output"},
    "smoothing compare": {"allow_missing", "json_output"},
    "compact": set(),
}
"""Parameters that are no field of the model (the webhook's go into ``wait_options``)."""

DIFFERENT_ON_PURPOSE = {
    ("ingest", "emulator"): "the command line falls back to the embedded emulator, a deployment "
    "never does",
    ("smoothing compare", "method"): "a comparison checks every method; a pull, the model's",
    ("backfill", "method"): "not given: the model's default (all three methods)",
}


def _compact_defaults() -> dict[str, Any]:
    """The maintenance flow takes keyword parameters rather than a model."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(compact_lake.fn).parameters.items()
    }


def _model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }


MODELS: dict[str, dict[str, Any]] = {
    "ingest": _model_defaults(IngestOptions),
    "backfill": _model_defaults(BackfillOptions),
    "smoothing pull": _model_defaults(SmoothingOptions),
    "smoothing compare": _model_defaults(SmoothingOptions),
    "compact": _compact_defaults(),
}


def _command(path: str) -> Any:
    command: Any = get_command(app)
    for word in path.split():
        command = command.commands[word]
    return command


def _as_passed(name: str, default: Any) -> Any:
    """A default as the command passes it to the model: one method is a list of one."""
    return [default] if name == "method" and isinstance(default, str) else default


@pytest.mark.parametrize("path", list(MODELS))
def test_every_option_default_is_the_models(path: str) -> None:
    model = MODELS[path]
    drifted, unmapped = [], []
    for param in _command(path).params:
        field = RENAMED.get(param.name, param.name)
        if param.name in COMMAND_LINE_ONLY[path] or (path, param.name) in DIFFERENT_ON_PURPOSE:
            continue
        if field not in model:
            unmapped.append(param.name)
        elif _as_passed(param.name, param.default) != model[field]:
            drifted.append(f"{param.opts[0]} {param.default!r} != {field} {model[field]!r}")
    assert not unmapped, f"hautflow {path}: options that are no model field: {unmapped}"
    assert not drifted, f"hautflow {path}: defaults that are not the model's: {drifted}"


def test_the_exceptions_are_still_exceptions() -> None:
    """A default listed as different on purpose that became the model's is taken off the list."""
    for (path, name), _why in DIFFERENT_ON_PURPOSE.items():
        [param] = [p for p in _command(path).params if p.name == name]
        assert _as_passed(name, param.default) != MODELS[path][RENAMED.get(name, name)]


FOLLOWS = """
import json, sys
import flows.options
model = getattr(flows.options, sys.argv[1])
changed = {}
for name, field in model.model_fields.items():
    default = field.default
    if isinstance(default, bool):
        changed[name] = not default
    elif isinstance(default, int | float):
        changed[name] = default + 1
    elif isinstance(default, str):
        choices = model.model_json_schema()["properties"][name].get("enum")
        changed[name] = choices[-1] if choices else default + "-changed"
    else:
        continue
    field.default = changed[name]
from typer.main import get_command
from hautflow.cli import app
command = get_command(app)
for word in sys.argv[2:]:
    command = command.commands[word]
shown = {p.name: p.default for p in command.params}
print(json.dumps({"changed": changed, "shown": shown}))
"""

FOLLOWED = {
    "ingest": ("IngestOptions", {"chunk_size", "concurrency", "dataset", "wait", "image_kind"}),
    "backfill": ("BackfillOptions", {"chunk_size", "concurrency", "dataset", "window_days"}),
    "smoothing pull": ("SmoothingOptions", {"window_days", "max_size", "state_dir"}),
    "smoothing compare": ("SmoothingOptions", {"window_days", "max_size", "state_dir"}),
}
"""Command -> its options model, and some of the defaults it must follow (besides the lake)."""


@pytest.mark.parametrize("path", list(FOLLOWED))
def test_the_defaults_follow_the_model(path: str) -> None:
    """Not equal by chance: the options read their defaults from the command's model, so a
    default changed there (in a fresh interpreter, before the command line is imported) is the
    command line's default too."""
    model, expected = FOLLOWED[path]
    ran = subprocess.run(
        [sys.executable, "-c", FOLLOWS, model, *path.split()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(ran.stdout)
    shown = {
        RENAMED.get(name, name): value
        for name, value in found["shown"].items()
        if name not in COMMAND_LINE_ONLY[path] and (path, name) not in DIFFERENT_ON_PURPOSE
    }
    mapped = {name: value for name, value in found["changed"].items() if name in shown}
    assert {"lake", *expected} <= set(mapped)
    assert {name: shown[name] for name in mapped} == mapped
