"""The warnings of a run's end, where they need no lake."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from typer.main import get_command

from flows.options import IngestOptions
from hautflow.cli import app
from tasks.reporting.warnings import backfill_command


@pytest.mark.parametrize("dataset", [IngestOptions.model_fields["dataset"].default, "trial"])
def test_the_backfill_command_reaches_the_ingests_dataset(dataset: str) -> None:
    """Run as printed, with or without ``--dataset``, the backfill reads the ingest's dataset."""
    printed = backfill_command(IngestOptions(source="photos", dataset=dataset))
    hautflow, command, *words = shlex.split(printed)
    assert (hautflow, command) == ("hautflow", "backfill")
    cli: Any = get_command(app)
    parsed = cli.commands["backfill"].make_context("backfill", words)
    assert parsed.params["dataset"] == dataset


def test_the_backfill_command_names_only_what_differs_from_its_defaults() -> None:
    options = IngestOptions(source="photos", lake="my lake", state_dir="st")
    assert backfill_command(options) == "hautflow backfill --lake 'my lake' --state st"
    other = options.model_copy(update={"dataset": "trial", "credentials_block": "haut"})
    assert backfill_command(other) == (
        "HAUT_CREDENTIALS_BLOCK=haut hautflow backfill --lake 'my lake' --state st --dataset trial"
    )
