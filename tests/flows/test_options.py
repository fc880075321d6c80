"""The flows' options share one base: each option they have in common is defined once, with one
default and one description, and their names are the ones the CLI and deployments use."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel

from flows.options import (
    BackfillOptions,
    IngestOptions,
    LakeOptions,
    LedgerOptions,
    ReportOptions,
    ServiceOptions,
    SmoothingOptions,
)

MODELS: tuple[type[BaseModel], ...] = (
    IngestOptions,
    BackfillOptions,
    SmoothingOptions,
    ReportOptions,
)

DIFFER_ON_PURPOSE = {
    "chunk_size": "captures per task for the ingest, images for the others",
    "concurrency": "captures uploaded at once, or images read at once",
    "methods": "a backfill pulls every method, a smoothing pull the mean unless told",
}

BASES = {
    ServiceOptions: {"api_url", "emulator", "allow_mixed_services"},
    LakeOptions: {"lake", "state_dir", "storage_options"},
    LedgerOptions: {"dataset", "ledger_url"},
}


def _declares(model: type, name: str) -> bool:
    return name in inspect.get_annotations(model)


def test_every_option_the_flows_share_is_defined_alike() -> None:
    shared = {
        n for m in MODELS for n in m.model_fields if sum(n in o.model_fields for o in MODELS) > 1
    }
    for name in sorted(shared - set(DIFFER_ON_PURPOSE)):
        fields = [m.model_fields[name] for m in MODELS if name in m.model_fields]
        kinds = {
            (repr(f.annotation), repr(f.default), f.description, repr(f.metadata)) for f in fields
        }
        assert len(kinds) == 1, f"{name}: {kinds}"


@pytest.mark.parametrize("base", list(BASES), ids=lambda b: b.__name__)
def test_the_common_options_are_declared_by_their_base_only(base: type) -> None:
    models = [*BASES, *MODELS]
    for name in sorted(BASES[base]):
        assert [m.__name__ for m in models if _declares(m, name)] == [base.__name__]


def test_which_flow_has_which_base() -> None:
    assert issubclass(IngestOptions, LedgerOptions)
    assert issubclass(BackfillOptions, LedgerOptions)
    assert issubclass(SmoothingOptions, LakeOptions)
    assert not issubclass(SmoothingOptions, LedgerOptions)  # it moves no images in the ledger
    assert issubclass(ReportOptions, LakeOptions)
    assert not issubclass(ReportOptions, LedgerOptions)


@pytest.mark.parametrize(
    "options",
    [
        IngestOptions(
            source="photos", storage_options={"key": "s3cr3t-key"}, ledger_url="sqlite:///x"
        ),
        BackfillOptions(storage_options={"key": "s3cr3t-key"}, ledger_url="sqlite:///x"),
        SmoothingOptions(storage_options={"key": "s3cr3t-key"}),
        ReportOptions(storage_options={"key": "s3cr3t-key"}),
    ],
    ids=lambda o: type(o).__name__,
)
def test_secrets_are_revealed_on_request_and_never_recorded(options: LakeOptions) -> None:
    assert options.fs_options() == {"key": "s3cr3t-key"}
    assert options.views_path.name == "lake.duckdb"
    recorded = options.public()
    assert "storage_options" not in recorded
    assert "ledger_url" not in recorded
    assert "s3cr3t" not in str(recorded)
    if isinstance(options, LedgerOptions):
        assert options.ledger_address() == "sqlite:///x"
    if isinstance(options, IngestOptions):
        assert "wait_options" not in recorded
