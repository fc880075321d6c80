"""Operations against the emulator over loopback HTTP: tokens, retention, algorithms.

Commands run through typer's CliRunner exactly as a user types them (``--api-url`` at an
emulator this test owns, ``--state`` in the test's folder); what they did is read back with
the emulator's own GET.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from flows.options import IngestOptions
from haut.emulator.routes_datasets import MAX_RETENTION_DAYS
from haut.emulator.server import EmulatorServer
from haut.paths import FSM2_APPLICATION_ID
from schemas.api import Application, Dataset
from schemas.captures import ImageKind, Side
from tasks.ledger import Ledger
from tasks.ledger.location import ledger_path
from tasks.operations.applications import check_choice
from tasks.operations.errors import OperationError
from tasks.operations.retention import MAX_DAYS, Retention
from tasks.uploading import DatasetConflictError, ensure_dataset, mark_written, upload_captures
from tasks.uploading.dataset import connected_algorithms
from tests.operations.support import (
    call,
    dataset_at_emulator,
    enabled_at_emulator,
    hautflow,
    open_client,
)
from tests.tasks.upload_support import DATASET, stats, write_capture

pytestmark = pytest.mark.server


@pytest.fixture(autouse=True)
def haut_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HAUT_API_URL", "HAUT_USERNAME", "HAUT_PASSWORD", "HAUT_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HAUTFLOW_LEDGER_URL", raising=False)
    monkeypatch.setenv("HAUT_REQUESTS_PER_SECOND", "1000")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def ledger(state: Path) -> Iterator[Ledger]:
    """The ledger the commands find with ``--state``: the ingest's own file there."""
    ledger = Ledger.sqlite(ledger_path(state))
    yield ledger
    ledger.close()


def ensure(
    emulator: EmulatorServer, ledger: Ledger, algorithms: list[int] | None
) -> tuple[int, ...]:
    """What an ingest does first: the dataset with the application attached."""
    context = call(
        emulator,
        lambda c: ensure_dataset(
            c, ledger, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=algorithms
        ),
    )
    return context.enabled_algorithms


# --- tokens -----------------------------------------------------------------------------------


def test_token_value_is_printed_once_alone_and_never_listed_or_logged(
    emulator: EmulatorServer, state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = hautflow(emulator, state, "tokens", "create", "nightly", "--expires", "2031-06-01")
    assert created.exit_code == 0, created.output
    # stdout is exactly the token's line, so `... > file` captures just the value.
    assert re.fullmatch(r"hpt_\S{16,}\n", created.stdout), created.stdout
    value = created.stdout.strip()
    assert "shown only this once" in created.stderr
    assert value not in created.stderr

    listed = hautflow(emulator, state, "tokens", "list")
    assert listed.exit_code == 0, listed.output
    assert "nightly" in listed.stdout
    assert "2031-06-01" in listed.stdout
    assert value not in listed.output
    assert caplog.records, "the commands log their requests: the check below must see them"
    assert value not in caplog.text
    (line,) = [line for line in listed.stdout.splitlines() if "nightly" in line]
    token_id = line.split()[0]

    deleted = hautflow(emulator, state, "tokens", "delete", token_id)
    assert deleted.exit_code == 0, deleted.output
    assert "nightly" not in hautflow(emulator, state, "tokens", "list").stdout


def test_a_past_expiry_is_refused_before_any_call(emulator: EmulatorServer, state: Path) -> None:
    refused = hautflow(emulator, state, "tokens", "create", "old", "--expires", "2024-01-01")
    assert refused.exit_code == 2
    assert "not in the future" in refused.output
    assert "old" not in hautflow(emulator, state, "tokens", "list").stdout


# --- retention --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ingest_creates_the_dataset_with_retention_and_warns_about_an_existing_one(
    ledger: Ledger, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    asked = Retention(expire_images_after_days=7, clean_images_as_soon_as_ready=True)
    async with open_client(emulator) as client:
        await ensure_dataset(
            client,
            ledger,
            name=DATASET,
            image_kind=ImageKind.SELFIE,
            enabled_algorithms=None,
            retention=asked,
        )
        caplog.set_level(logging.WARNING)
        other = Retention(expire_images_after_days=30)
        await ensure_dataset(
            client,
            ledger,
            name=DATASET,
            image_kind=ImageKind.SELFIE,
            enabled_algorithms=None,
            retention=other,
        )
    doc = dataset_at_emulator(emulator, DATASET)
    assert doc["expire_images_after_days"] == 7  # warned, not applied
    assert doc["expire_metadata_after_days"] is None
    assert doc["clean_images_as_soon_as_ready"] is True
    assert "hautflow datasets retention" in caplog.text


def test_ingest_command_creates_the_dataset_with_its_retention_options(
    prefect_server: str, emulator: EmulatorServer, tmp_path: Path, state: Path
) -> None:
    photos = tmp_path / "photos"
    write_capture(photos, "alice", "2026-01-05", seed=1, sides=(Side.FRONT,))
    lake = str(tmp_path / "lake")
    ingest = ["ingest", str(photos), "--lake", lake, "--dataset", "kept a while"]
    too_long = hautflow(emulator, state, *ingest, "--expire-images-after-days", "400")
    assert too_long.exit_code == 2
    assert "less than or equal to 365" in too_long.output
    assert stats(emulator)["datasets"] == 0

    ran = hautflow(
        emulator,
        state,
        *ingest,
        "--expire-images-after-days",
        "30",
        "--expire-metadata-after-days",
        "60",
        "--keep-images",
    )
    assert ran.exit_code == 0, ran.output
    doc = dataset_at_emulator(emulator, "kept a while")
    assert (doc["expire_images_after_days"], doc["expire_metadata_after_days"]) == (30, 60)
    assert doc["clean_images_as_soon_as_ready"] is False


def test_retention_set_by_the_command_is_what_the_api_answers(
    ledger: Ledger, emulator: EmulatorServer, state: Path
) -> None:
    ensure(emulator, ledger, [30])
    changed = hautflow(
        emulator,
        state,
        "datasets",
        "retention",
        DATASET,
        "--expire-images-after-days",
        "14",
        "--expire-metadata-after-days",
        "90",
        "--clean-images-as-soon-as-ready",
    )
    assert changed.exit_code == 0, changed.output
    doc = dataset_at_emulator(emulator, DATASET)
    assert (doc["expire_images_after_days"], doc["expire_metadata_after_days"]) == (14, 90)
    assert doc["clean_images_as_soon_as_ready"] is True

    cleared = hautflow(
        emulator,
        state,
        "datasets",
        "retention",
        DATASET,
        "--expire-images-after-days",
        "0",
        "--keep-images",
    )
    assert cleared.exit_code == 0, cleared.output
    doc = dataset_at_emulator(emulator, DATASET)
    assert doc["expire_images_after_days"] is None
    assert doc["expire_metadata_after_days"] == 90
    assert doc["clean_images_as_soon_as_ready"] is False
    shown = hautflow(emulator, state, "datasets", "show", DATASET)
    assert "results expire after: 90 days" in shown.stdout
    assert "Face Detector" in shown.stdout

    too_long = hautflow(
        emulator, state, "datasets", "retention", DATASET, "--expire-metadata-after-days", "366"
    )
    assert too_long.exit_code == 2
    assert "less than or equal to 365" in too_long.output
    assert dataset_at_emulator(emulator, DATASET)["expire_metadata_after_days"] == 90

    missing = hautflow(emulator, state, "datasets", "show", "no such")
    assert missing.exit_code == 2
    assert "hautflow datasets list" in missing.output


def test_retention_beyond_the_apis_limit_is_refused_naming_it() -> None:
    assert MAX_DAYS == MAX_RETENTION_DAYS  # the emulator's limit, the API's
    with pytest.raises(ValueError, match="1 to 365 days"):
        Retention(expire_images_after_days=366)
    with pytest.raises(ValidationError, match="less than or equal to 365"):
        IngestOptions(source="photos", expire_metadata_after_days=366)
    assert Retention(expire_images_after_days=365).wire() == {"expire_images_after_days": 365}


# --- algorithms -------------------------------------------------------------------------------


def test_algorithms_set_and_show_and_the_next_ingest_expects_the_new_list(
    ledger: Ledger, emulator: EmulatorServer, state: Path
) -> None:
    ensure(emulator, ledger, [30])
    shown = hautflow(emulator, state, "applications", "algorithms", DATASET)
    assert shown.exit_code == 0, shown.output
    assert "2 enabled" in shown.stdout
    assert "Face Detector" in shown.stdout

    changed = hautflow(emulator, state, "applications", "algorithms", DATASET, "--set", "31,30,40")
    assert changed.exit_code == 0, changed.output
    assert "Warning" not in changed.stderr  # the ledger was found in --state
    assert enabled_at_emulator(emulator, DATASET) == [30, 31, 40]
    record = ledger.application(DATASET, FSM2_APPLICATION_ID)
    assert record is not None
    assert record.enabled_algorithms == (30, 31, 40)
    # An ingest that names no list keeps the dataset's: complete means these three answered.
    assert ensure(emulator, ledger, None) == (30, 31, 40)


def test_dropping_the_face_detector_or_naming_unknown_ids_is_refused(
    ledger: Ledger, emulator: EmulatorServer, state: Path
) -> None:
    ensure(emulator, ledger, [30])
    without = hautflow(emulator, state, "applications", "algorithms", DATASET, "--set", "30,31")
    assert without.exit_code == 2
    assert "face detector (40" in without.output
    assert "--set 30,31,40" in without.output
    unknown = hautflow(emulator, state, "applications", "algorithms", DATASET, "--set", "30,40,999")
    assert unknown.exit_code == 2
    assert "[999]" in unknown.output
    assert enabled_at_emulator(emulator, DATASET) == [30, 40]


def test_the_face_detector_is_required_only_of_an_application_that_has_one() -> None:
    with_detector = Application.model_validate(
        {"id": "a", "name": "A", "algorithms_versions": [{"id": 30}, {"id": 40}]}
    )
    with pytest.raises(OperationError, match="face detector"):
        check_choice([30], with_detector, {})
    without_detector = Application.model_validate(
        {"id": "b", "name": "B", "algorithms_versions": [{"id": 30}, {"id": 31}]}
    )
    check_choice([30], without_detector, {})  # nothing to keep
    with pytest.raises(OperationError, match=r"\[40\]"):
        check_choice([30, 40], without_detector, {})


def test_the_apis_list_is_read_with_ids_written_as_numbers_or_strings() -> None:
    def dataset(enabled: object) -> Dataset:
        entry = {"id": FSM2_APPLICATION_ID, "enabled_algorithms": enabled}
        return Dataset.model_validate({"id": "d", "name": "n", "connected_applications": [entry]})

    assert connected_algorithms(dataset([40, 30]), FSM2_APPLICATION_ID) == (30, 40)
    assert connected_algorithms(dataset(["40", "30"]), FSM2_APPLICATION_ID) == (30, 40)
    assert connected_algorithms(dataset(["face"]), FSM2_APPLICATION_ID) is None
    assert connected_algorithms(dataset(None), FSM2_APPLICATION_ID) is None
    assert connected_algorithms(dataset([30]), "another application") is None


def upload_without_waiting(
    emulator: EmulatorServer, ledger: Ledger, photos: Path, *, algorithms: list[int]
) -> list[str]:
    """Upload one capture and leave its results unread, as a run that timed out does."""
    item = write_capture(photos, "alice", "2026-01-05", seed=1, sides=(Side.FRONT, Side.LEFT))

    async def upload(client: object) -> list[str]:
        from haut.client import HautClient

        assert isinstance(client, HautClient)
        context = await ensure_dataset(
            client, ledger, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=algorithms
        )
        outcome = await upload_captures(client, ledger, context, [item])
        return [image.image_id for image in outcome.uploaded]

    return call(emulator, upload)


def test_a_change_is_refused_while_images_await_results_unless_forced(
    ledger: Ledger, emulator: EmulatorServer, state: Path, tmp_path: Path
) -> None:
    waiting = upload_without_waiting(emulator, ledger, tmp_path / "photos", algorithms=[30, 31])
    assert len(waiting) == 2
    for ids in ("30,31,32,40", "30,40"):  # growing or shrinking the list
        refused = hautflow(emulator, state, "applications", "algorithms", DATASET, "--set", ids)
        assert refused.exit_code == 2, refused.output
        assert "2 images of dataset" in refused.output
        assert "hautflow ingest" in refused.output
        assert "--force" in refused.output
    assert enabled_at_emulator(emulator, DATASET) == [30, 31, 40]

    # The ingest's own path: --algorithms that would change the list is refused the same way.
    with pytest.raises(DatasetConflictError, match=r"2 images .* without --algorithms"):
        ensure(emulator, ledger, [30])
    assert ensure(emulator, ledger, [30, 31]) == (30, 31, 40)  # the same list goes on
    assert enabled_at_emulator(emulator, DATASET) == [30, 31, 40]

    forced = hautflow(
        emulator, state, "applications", "algorithms", DATASET, "--set", "30,40", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert enabled_at_emulator(emulator, DATASET) == [30, 40]

    mark_written(ledger, waiting)  # the next ingest collected them: changes are free again
    assert ensure(emulator, ledger, [30, 32]) == (30, 32, 40)


def test_a_change_waits_for_a_running_ingest_holding_the_ledger(
    ledger: Ledger, emulator: EmulatorServer, state: Path
) -> None:
    ensure(emulator, ledger, [30])
    with ledger.run_lock("an ingest run"):
        busy = hautflow(emulator, state, "applications", "algorithms", DATASET, "--set", "31,40")
    assert busy.exit_code == 2, busy.output
    assert "in use" in busy.output
    assert "an ingest run" in busy.output
    assert enabled_at_emulator(emulator, DATASET) == [30, 40]


def test_without_a_ledger_the_change_is_made_with_a_warning_naming_where_it_looked(
    ledger: Ledger, emulator: EmulatorServer, tmp_path: Path
) -> None:
    ensure(emulator, ledger, [30])
    elsewhere = tmp_path / "elsewhere"
    changed = hautflow(emulator, elsewhere, "applications", "algorithms", DATASET, "--set", "31,40")
    assert changed.exit_code == 0, changed.output
    assert str(ledger_path(elsewhere)) in changed.stderr
    assert "--ledger-url" in changed.stderr
    assert not ledger_path(elsewhere).exists()  # looked for, not created
    assert enabled_at_emulator(emulator, DATASET) == [31, 40]
    # The ingest's ledger did not see the change, but the next ingest reads the API's list.
    assert ensure(emulator, ledger, None) == (31, 40)
