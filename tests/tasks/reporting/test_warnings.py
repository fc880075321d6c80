"""The warnings of a run's end, where they need no lake."""

from __future__ import annotations

from flows.options import BackfillOptions, IngestOptions
from tasks.reporting.warnings import DEFAULT_DATASET, backfill_command


def test_the_default_dataset_is_the_ingests_and_the_backfills() -> None:
    assert IngestOptions.model_fields["dataset"].default == DEFAULT_DATASET
    assert BackfillOptions.model_fields["dataset"].default == DEFAULT_DATASET


def test_the_backfill_command_names_only_what_differs_from_its_defaults() -> None:
    options = IngestOptions(source="photos", lake="my lake", state_dir="st")
    assert backfill_command(options) == "hautflow backfill --lake 'my lake' --state st"
    other = options.model_copy(update={"dataset": "trial", "credentials_block": "haut"})
    assert backfill_command(other) == (
        "HAUT_CREDENTIALS_BLOCK=haut hautflow backfill --lake 'my lake' --state st --dataset trial"
    )
