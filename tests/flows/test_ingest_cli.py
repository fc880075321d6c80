"""``hautflow ingest`` as a user runs it: the dry run, the exit code per ``--fail-on``, clear
refusals of bad options, and options that reach the run: the webhook's address and
authorization, credentials from a Prefect Secret block, mask coordinates."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import flows.ingest
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from hautflow.cli import app
from tasks.lake import connect
from tests.flows.support import (
    SMALL_CAPTURES,
    SMALL_IMAGES,
    Emulator,
    running_emulator,
    small_sample,
)

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
    assert "Dry run: nothing was uploaded and the lake was not written." in dry.output
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


# --- options that reach the run -----------------------------------------------------------


def masks_coordinates(lake: Path) -> set[bool]:
    """For each mask row of the lake: whether it has its coordinates."""
    con = connect(str(lake))
    try:
        rows = con.execute("SELECT coordinates_json IS NOT NULL FROM masks").fetchall()
    finally:
        con.close()
    assert rows, "the lake has no mask rows"
    return {bool(has) for (has,) in rows}


def test_waiting_by_webhook_at_a_public_url_with_basic_authorization(
    tmp_path: Path, haut_env: pytest.MonkeyPatch
) -> None:
    secret = "webhook-secret-from-the-environment"
    haut_env.setenv("HAUT_WEBHOOK_SECRET", secret)
    with socket.socket() as probe:  # a free port for the receiver, known before the run
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    public = f"http://127.0.0.1:{port}/hautflow/webhook/?via=proxy"
    with running_emulator(algorithm_delay=0.3) as emulator:
        run = hautflow(
            "ingest", small_sample(tmp_path / "photos"), "--lake", tmp_path / "lake",
            "--state", tmp_path / "state", "--api-url", emulator.url, "--wait", "webhook",
            "--webhook-host", "127.0.0.1", "--webhook-port", port, "--webhook-url", public,
            "--webhook-auth", "basic", "--webhook-auth-key", "hook-user",
        )  # fmt: skip
        assert run.exit_code == 0, run.output
        deliveries = emulator.webhook_deliveries()
    assert {d["url"] for d in deliveries} == {public}
    assert {d["state"] for d in deliveries} == {"delivered"}
    assert len({d["image_id"] for d in deliveries}) == SMALL_IMAGES
    assert secret not in run.output
    lake_text = b"".join(p.read_bytes() for p in (tmp_path / "lake").rglob("*.parquet"))
    assert secret.encode() not in lake_text
    assert masks_coordinates(tmp_path / "lake") == {False}  # off unless asked for


def save_credentials_block(name: str, value: dict[str, str]) -> None:
    from prefect.blocks.system import Secret

    Secret(value=value).save(name, overwrite=True)


@pytest.fixture
def locked_emulator() -> Iterator[Emulator]:
    """An emulator that lets only one user in."""
    config = EmulatorConfig(
        algorithm_delay_seconds=0,
        rate_limit_per_second=10_000,
        login_limit_per_minute=1_000,
        credentials={"analyst@clinic.example": "right-password-31"},
    )
    with EmulatorServer(config) as server:
        yield Emulator(server)


def test_credentials_from_a_prefect_secret_block(tmp_path: Path, locked_emulator: Emulator) -> None:
    save_credentials_block(
        "haut-right", {"username": "analyst@clinic.example", "password": "right-password-31"}
    )
    save_credentials_block(
        "haut-wrong", {"username": "analyst@clinic.example", "password": "wrong-password-77"}
    )
    args = [*ingest_args(small_sample(tmp_path / "photos"), tmp_path, locked_emulator)]

    wrong = hautflow(*args, "--credentials-block", "haut-wrong")
    assert wrong.exit_code == 2, wrong.output
    assert "Traceback" not in wrong.output
    assert "wrong-password-77" not in wrong.output
    assert locked_emulator.stats()["images"] == 0

    missing = hautflow(*args, "--credentials-block", "no-such-block")
    assert missing.exit_code == 2, missing.output
    assert "no Prefect Secret block named 'no-such-block'" in missing.output

    right = hautflow(*args, "--credentials-block", "haut-right", "--mask-coordinates")
    assert right.exit_code == 0, right.output
    assert locked_emulator.stats()["images"] == SMALL_IMAGES
    assert masks_coordinates(tmp_path / "lake") == {True}


def test_a_manifest_row_outside_the_source_takes_allow_outside_source(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A manifest naming ``../`` is refused row by row, unless the user widens the root."""
    photos = small_sample(tmp_path / "all")
    source = photos / "amy" / "2026-01-12"
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "path,subject,session,side\n"
        "front.jpg,amy,2026-01-12,front\n"
        "../../ben/2026-01-05/front.jpg,ben,2026-01-05,front\n",
        encoding="utf-8",
    )
    args = [*ingest_args(source, tmp_path, emulator), "--manifest", manifest, "--dry-run"]
    kept_in = hautflow(*args)
    assert kept_in.exit_code == 1, kept_in.output  # a row is quarantined
    assert "bad_manifest_row" in kept_in.output
    assert "(--allow-outside-source)" in kept_in.output
    assert re.search(r"captures new\W+1\b", kept_in.output), kept_in.output

    widened = hautflow(*args, "--allow-outside-source")
    assert widened.exit_code == 0, widened.output
    assert re.search(r"captures new\W+2\b", widened.output), widened.output


def test_read_timeout_reaches_discovery(
    source: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[object] = []

    def discover(*args: object, **options: object) -> object:
        asked.append(options.get("read_timeout"))
        return real_discover(*args, **options)

    real_discover = flows.ingest.discover
    monkeypatch.setattr(flows.ingest, "discover", discover)
    args = [*ingest_args(source, tmp_path, emulator), "--dry-run", "--fail-on", "failure"]
    assert hautflow(*args, "--read-timeout", "2.5").exit_code == 0
    assert asked == [2.5]

    refused = hautflow(*args, "--read-timeout", "0")
    assert refused.exit_code == 2
    assert "read_timeout" in refused.output
