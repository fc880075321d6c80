"""prefect.yaml without a server: every deployment names a real flow, its parameters validate
against that flow's signature, its schedule parses, and nothing in it is machine-specific.

What `prefect deploy` would only find out against a running server (or a worker at 2 a.m.)
fails here in a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule
from prefect.exceptions import ParameterTypeError, SignatureMismatchError
from prefect.flows import load_flow_from_entrypoint
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = REPO / "prefect.yaml"
WORK_POOL = "hautflow"

# What each deployment must be: flow name, entrypoint, and whether it runs on a schedule.
EXPECTED = {
    ("ingest", "nightly"): ("flows/ingest.py:ingest", True),
    ("backfill", "manual"): ("flows/backfill.py:backfill", False),
    ("compact-lake", "weekly"): ("flows/maintenance.py:compact_lake", True),
    ("reports", "weekly"): ("flows/reports.py:reports", True),
}


def project() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PREFECT_YAML.read_text())
    return loaded


def deployments() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = project()["deployments"]
    return found


def load(deployment: dict[str, Any]) -> Flow[Any, Any]:
    path, _, _ = deployment["entrypoint"].partition(":")
    assert not Path(path).is_absolute(), deployment["entrypoint"]
    assert (REPO / path).is_file(), f"{deployment['name']}: no file {path} in the project"
    # Relative to the project root, as the worker's flow run resolves it after the pull step.
    flow: Flow[Any, Any] = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
    assert isinstance(flow, Flow), f"{deployment['entrypoint']} is not a Prefect flow"
    return flow


def strings(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def test_the_deployments_are_the_expected_flows_on_the_process_pool() -> None:
    found = {}
    for deployment in deployments():
        flow = load(deployment)
        found[(flow.name, deployment["name"])] = (
            deployment["entrypoint"],
            bool(deployment.get("schedules")),
        )
        assert deployment["work_pool"]["name"] == WORK_POOL
    assert found == EXPECTED


def check_parameters(deployment: dict[str, Any]) -> None:
    """The deployment's parameters (and each schedule's) as its flow would validate them."""
    flow = load(deployment)
    parameters = deployment.get("parameters") or {}
    # The flow's own validation: pydantic models built, unknown parameter names refused.
    validated = flow.validate_parameters(parameters)
    for name, value in parameters.items():
        if isinstance(value, dict) and isinstance(validated[name], BaseModel):
            # An options model ignores names it does not know: a typo would be lost silently.
            unknown = set(value) - set(type(validated[name]).model_fields)
            assert not unknown, f"{deployment['name']}: {name} has no option {sorted(unknown)}"
    for schedule in deployment.get("schedules") or []:
        CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))
        flow.validate_parameters({**parameters, **(schedule.get("parameters") or {})})


@pytest.mark.parametrize("deployment", deployments(), ids=lambda d: d["entrypoint"])
def test_parameters_validate_against_the_flow_signature(deployment: dict[str, Any]) -> None:
    check_parameters(deployment)


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({"options": {"sorce": "data/sample"}}, ParameterTypeError),  # source missing
        ({"options": {"source": "data/sample", "lak": "x"}}, ParameterTypeError),  # misspelt
        ({"options": {"source": "data/sample"}, "lake": "x"}, SignatureMismatchError),
    ],
)
def test_a_wrong_parameter_is_refused(parameters: dict[str, Any], error: type[Exception]) -> None:
    """The check above can fail: a wrong name is an error, never silently dropped."""
    nightly = next(d for d in deployments() if d["entrypoint"].startswith("flows/ingest.py"))
    with pytest.raises(error):
        check_parameters({**nightly, "parameters": parameters})


def test_nothing_machine_specific() -> None:
    text = PREFECT_YAML.read_text()
    assert str(REPO) not in text
    for value in strings(project()):
        assert not value.startswith(("/", "~", "\\")), f"absolute path in prefect.yaml: {value}"
        assert not re.match(r"^[A-Za-z]:[\\/]", value), f"absolute path in prefect.yaml: {value}"


def test_flow_runs_work_in_the_directory_deployed_from() -> None:
    """The one pull step moves each run into the deploying directory (`{{ $PWD }}`, filled in by
    `prefect deploy`), so relative parameters such as data/lake land in the project."""
    assert project()["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}
    ]
    for deployment in deployments():
        assert "pull" not in deployment, f"{deployment['name']} overrides the pull step"
