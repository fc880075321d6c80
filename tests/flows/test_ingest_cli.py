"""``hautflow ingest`` as a user runs it: the dry run, the exit code per ``--fail-on``, and clear
refusals of bad options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hautflow.cli import app
from tests.flows.support import SMALL_CAPTURES, SMALL_IMAGES, Emulator, small_sample

pytestmark = pytest.mark.server


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The small sample plus one empty photo, which is quarantined."""
    root = small_sample(tmp_path / "photos")
    (root / "ben" / "2026-01-12").mkdir(parents=True)
    (root / "ben" / "2026-01-12" / "front.jpg").write_bytes(b"")
    return root


def hautflow(*args: str | Path) -> Result:
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def ingest_args(source: Path, tmp_path: Path, emulator: Emulator) -> list[str | Path]:
    lake, state = tmp_path / "lake", tmp_path / "state"
    return ["ingest", source, "--lake", lake, "--state", state, "--api-url", emulator.url]


def test_a_dry_run_shows_the_plan_and_uploads_nothing(
    source: Path, tmp_path: Path, emulator: Emulator
) -> None:
    dry = hautflow(*ingest_args(source, tmp_path, emulator), "--dry-run")
    assert dry.exit_code == 1, dry.output  # a file is quarantined: the default --fail-on says 1
    assert "Dry run: nothing was uploaded or written." in dry.output
    assert "empty" in dry.output
    assert "front.jpg" in dry.output
    assert re.search(rf"captures new\W+{SMALL_CAPTURES}\b", dry.output), dry.output
    assert re.search(r"images uploaded\W+0\b", dry.output), dry.output
    stats = emulator.stats()
    assert (stats["users"], stats["datasets"], stats["images"]) == (0, 0, 0)
    assert not list((tmp_path / "lake").rglob("*.parquet"))

    lenient = hautflow(
        *ingest_args(source, tmp_path, emulator), "--dry-run", "--fail-on", "failure"
    )
    assert lenient.exit_code == 0, lenient.output
    assert emulator.stats()["images"] == 0


def test_the_exit_code_follows_fail_on(source: Path, tmp_path: Path, emulator: Emulator) -> None:
    strict = hautflow(*ingest_args(source, tmp_path, emulator))
    assert strict.exit_code == 1, strict.output
    assert "completed_with_quarantine" in strict.output
    assert f"Lake: {tmp_path / 'lake'}" in strict.output
    stats = emulator.stats()
    assert stats["images"] == SMALL_IMAGES

    for fail_on in ("failure", "never"):
        lenient = hautflow(*ingest_args(source, tmp_path, emulator), "--fail-on", fail_on)
        assert lenient.exit_code == 0, lenient.output
    assert emulator.stats() == stats

    (source / "ben" / "2026-01-12" / "front.jpg").unlink()  # the user fixes the folder
    clean = hautflow(*ingest_args(source, tmp_path, emulator))
    assert clean.exit_code == 0, clean.output
    # the title wraps over the narrow table: "Ingest run <id>:" then "completed"
    assert re.search(r"Ingest run \S+:\s+completed\s", clean.output), clean.output


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--wait", "pigeon"], "poll"),
        (["--fail-on", "sometimes"], "quarantine"),
        (["--algorithms", "redness"], "--algorithms"),
        (["--image-kind", "xray"], "selfie"),
        (["--chunk-size", "0"], "chunk_size"),
    ],
)
def test_a_bad_option_is_refused_clearly(
    option: list[str], says: str, source: Path, tmp_path: Path, emulator: Emulator
) -> None:
    refused = hautflow(*ingest_args(source, tmp_path, emulator), *option)
    assert refused.exit_code == 2, refused.output
    assert says in refused.output
    assert "Traceback" not in refused.output
    assert emulator.stats()["users"] == 0


def test_a_missing_source_is_named_with_the_fix(tmp_path: Path, emulator: Emulator) -> None:
    missing = tmp_path / "no-such-folder"
    refused = hautflow(*ingest_args(missing, tmp_path, emulator))
    assert refused.exit_code == 2, refused.output
    assert str(missing) in refused.output
    assert "Traceback" not in refused.output
