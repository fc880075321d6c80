"""What ``hautflow ingest`` tells its user: the dry run's plan, the manifest line of a bad row,
a ledger whose captures are missing from the lake, commands that work as printed, and the
summary on stdout."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from flows.options import IngestOptions
from hautflow import ingest_cli
from hautflow.cli import app
from schemas.captures import Capture, QuarantinedFile, Side, SourceImage
from tasks.discovery import discover
from tasks.lake import RunRecord
from tasks.reporting.summary import PLAN_ROWS_SHOWN, RunSummary
from tasks.reporting.warnings import dataset_warnings, lake_warnings
from tasks.service.settings import ConfigurationError
from tasks.uploading import Plan
from tests.flows.support import (
    SMALL_CAPTURES,
    Emulator,
    run_flow,
    running_emulator,
    small_sample,
)
from tests.tasks.discover_support import photo, write_local

STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def capture(n: int) -> Capture:
    sides = (Side.FRONT, Side.RIGHT, Side.LEFT) if n % 2 else (Side.FRONT,)
    images = tuple(
        SourceImage(
            uri=f"/photos/p{n:03d}/s/{side.value}.jpg",
            side=side,
            sha256=f"{n:032d}{side.value}",
            size=1,
            image_format="JPEG",
            captured_at=datetime(2026, 1, 1 + n % 28, 9, tzinfo=UTC),
            captured_at_source="exif",
        )
        for side in sides
    )
    return Capture(subject_key=f"p{n:03d}", session_key="s", images=images)


def dry_summary(
    plan: Plan, tmp_path: Path, quarantined: Sequence[QuarantinedFile] = ()
) -> tuple[RunSummary, IngestOptions]:
    options = IngestOptions(
        source=str(tmp_path / "photos"),
        lake=str(tmp_path / "lake"),
        state_dir=str(tmp_path / "state"),
        dry_run=True,
    )
    record = RunRecord(run_id="r1", started_at=STARTED, source=options.source, status="dry-run")
    return RunSummary(record=record, plan=plan, quarantined=quarantined), options


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What print_summary writes, at a width that keeps table rows on one line."""
    text = io.StringIO()
    monkeypatch.setattr(ingest_cli, "output", Console(file=text, width=250))
    return text


def test_a_dry_run_lists_the_plan_capture_by_capture_up_to_a_cap(
    tmp_path: Path, printed: io.StringIO
) -> None:
    captures = [capture(n) for n in range(PLAN_ROWS_SHOWN + 3)]
    plan = Plan(new=tuple(captures[1:]), resume=(captures[0],), done=(), changed=())
    ingest_cli.print_summary(*dry_summary(plan, tmp_path))
    out = printed.getvalue()
    assert re.search(r"p000\W+s\W+front\W+1\W+2026-01-01 09:00:00 UTC \(exif\)\W+resume", out)
    assert re.search(
        r"p001\W+s\W+front\+right\+left\W+3\W+2026-01-02 09:00:00 UTC \(exif\)\W+new", out
    )
    assert f"Plan: {PLAN_ROWS_SHOWN + 3} captures, {PLAN_ROWS_SHOWN + 3 + 2 * 26} images" in out
    assert f"p{PLAN_ROWS_SHOWN - 1:03d}" in out
    assert f"p{PLAN_ROWS_SHOWN:03d}" not in out
    assert "... and 3 more captures." in out
    ledger = tmp_path / "state" / "ledger.sqlite"
    assert "Dry run: nothing was uploaded and the lake was not written." in out
    assert f"Only the ledger {ledger} was consulted, to plan" in out
    markdown = dry_summary(plan, tmp_path)[0].markdown()
    assert (
        "| `p001` | `s` | front+right+left | 3 | 2026-01-02 09:00:00 UTC (exif) | new |" in markdown
    )
    assert "... and 3 more." in markdown


def test_a_bad_manifest_row_shows_its_line(tmp_path: Path, printed: io.StringIO) -> None:
    src = write_local(tmp_path / "photos", {"a.jpg": photo(1), "b.jpg": photo(2)})
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,subject,session,side\na.jpg,amy,s1,front\nb.jpg,,s1,front\n")
    found = discover(str(src), manifest=str(manifest))
    (bad,) = found.quarantined
    summary, options = dry_summary(Plan(found.captures, (), (), ()), tmp_path, quarantined=[bad])
    ingest_cli.print_summary(summary, options)
    assert re.search(r"b\.jpg\W+3\W+bad_manifest_row", printed.getvalue()), printed.getvalue()
    assert re.search(r"b\.jpg` \| 3 \| bad_manifest_row \|", summary.markdown())


def lake_with_images(lake: Path, captures: Sequence[Capture]) -> None:
    """An images table holding a row for each of ``captures`` (the key columns the check reads)."""
    folder = lake / "images" / "capture_month=2026-01"
    folder.mkdir(parents=True, exist_ok=True)
    keys = {"subject_key": [c.subject_key for c in captures], "session_key": ["s"] * len(captures)}
    pq.write_table(pa.table(keys), folder / "part.parquet")


def test_a_lake_without_the_skipped_captures_is_named_with_the_backfill(
    tmp_path: Path, printed: io.StringIO
) -> None:
    done = tuple(capture(n) for n in range(3))
    summary, options = dry_summary(Plan((), (), done, ()), tmp_path)
    (warning,) = lake_warnings(summary, options)
    assert warning.startswith("3 of the 3 captures skipped as already done have no image")
    lake, state = tmp_path / "lake", tmp_path / "state"
    assert warning.endswith(f"run `hautflow backfill --lake {lake} --state {state}`.")
    # Kept on the summary, printed from there: the terminal and the report alike.
    summary = replace(summary, warnings=(warning,))
    assert f"**Warning:** {warning}" in summary.markdown()
    ingest_cli.print_summary(summary, options)
    assert "Warning: 3 of the 3 captures skipped" in printed.getvalue()

    # Captures done and in the lake: nothing to say; one missing from it: that one.
    lake_with_images(lake, done)
    assert lake_warnings(summary, options) == []
    (lake / "images" / "capture_month=2026-01" / "part.parquet").unlink()
    lake_with_images(lake, done[1:])
    (one,) = lake_warnings(summary, options)
    assert one.startswith("1 of the 3 captures skipped as already done have no image")


def test_captures_awaiting_their_results_need_no_backfill(tmp_path: Path) -> None:
    """A run stopped while waiting leaves captures done whose images are not in the lake yet:
    the next ingest writes them (carried over), so no backfill is suggested for them."""
    done = tuple(capture(n) for n in range(3))
    summary, options = dry_summary(Plan((), (), done, ()), tmp_path)
    keys = frozenset((c.subject_key, c.session_key) for c in done)
    assert lake_warnings(replace(summary, awaiting=keys), options) == []
    (warning,) = lake_warnings(replace(summary, awaiting=keys - {("p000", "s")}), options)
    assert warning.startswith("1 of the 3 captures skipped as already done have no image")
    assert warning.endswith("The other 2 await their results: the next ingest writes them.")


def test_the_backfill_command_carries_the_credentials_block_and_never_the_ledger_url(
    tmp_path: Path,
) -> None:
    summary, options = dry_summary(Plan((), (), (capture(0),), ()), tmp_path)
    password = "ledger-pw-4711"
    options = options.model_copy(
        update={
            "credentials_block": "haut prod",
            "ledger_url": f"postgresql+psycopg://hautflow:{password}@127.0.0.1:5432/ledger",
        }
    )
    (warning,) = lake_warnings(summary, options)
    lake, state = tmp_path / "lake", tmp_path / "state"
    command = f"HAUT_CREDENTIALS_BLOCK='haut prod' hautflow backfill --lake {lake} --state {state}"
    # Pasted as printed (with the variable set), it runs: no placeholder, no password.
    assert f"run `{command}` (with HAUTFLOW_LEDGER_URL set)." in warning
    assert password not in warning
    assert "LEDGER_URL`" not in warning


def test_done_captures_of_another_dataset_are_named(tmp_path: Path) -> None:
    """The ledger knows a photo once per --state, whatever the dataset: a run into another
    dataset skips them, and says so."""
    plan = Plan((), (), tuple(capture(n) for n in range(3)), (), (("a", 2), ("b", 1)))
    summary, options = dry_summary(plan, tmp_path)
    options = options.model_copy(update={"dataset": "c"})
    assert dataset_warnings(summary, options) == [
        "2 captures skipped as already done were analysed into dataset 'a', not 'c': each photo "
        "is analysed once per --state; to analyse them into 'c' too, use another --state",
        "1 capture skipped as already done was analysed into dataset 'b', not 'c': each photo "
        "is analysed once per --state; to analyse it into 'c' too, use another --state",
    ]
    assert dataset_warnings(dry_summary(Plan((), (), plan.done, ()), tmp_path)[0], options) == []


# --- as a user runs it: the emulator on loopback, the session's Prefect server --------------


def hautflow(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.mark.server
def test_a_second_lake_for_one_state_and_commands_that_work_as_printed(
    tmp_path: Path, emulator: Emulator
) -> None:
    source = small_sample(tmp_path / "photos")
    state, first, second = tmp_path / "state", tmp_path / "lake-1", tmp_path / "lake-2"
    common: list[str | Path] = ["ingest", source, "--state", state, "--api-url", emulator.url]

    run = hautflow(*common, "--lake", first)
    assert run.exit_code == 0, run.output
    # The summary is the command's output: on stdout, none of it on stderr.
    assert re.search(rf"captures new\W+{SMALL_CAPTURES}\b", run.stdout), run.output
    assert "Ingest run" not in run.stderr
    assert "Warning" not in run.stdout
    query = next(line for line in run.stdout.splitlines() if line.startswith("Query: "))
    # As a user pastes it into a shell.
    shown = subprocess.run(
        ["/bin/sh", "-c", query.removeprefix("Query: ")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "amy" in shown.stdout
    assert "ben" in shown.stdout
    diary = next(line for line in run.stdout.splitlines() if line.startswith("Try: "))
    history = hautflow(*shlex.split(diary.removeprefix("Try: "))[1:])
    assert history.exit_code == 0, history.output
    assert "Skin diary of amy (2 sessions)" in history.stdout

    # The same state with a new lake: the ledger says done, the lake has nothing.
    again = hautflow(*common, "--lake", second)
    assert again.exit_code == 0, again.output
    assert re.search(rf"captures already done \(skipped\)\W+{SMALL_CAPTURES}\b", again.stdout)
    warning = " ".join(again.stdout.split())
    assert f"{SMALL_CAPTURES} of the {SMALL_CAPTURES} captures skipped" in warning
    backfill = re.search(r"run `(hautflow backfill [^`]+)`", warning)
    assert backfill is not None, again.stdout
    backfilled = hautflow(*shlex.split(backfill.group(1))[1:])
    assert backfilled.exit_code == 0, backfilled.output
    with duckdb.connect() as con:
        images = f"{second}/images/**/*.parquet"
        sessions = con.execute(
            "SELECT count(DISTINCT (subject_key, session_key)) FROM read_parquet(?)", [images]
        ).fetchone()
    assert sessions == (SMALL_CAPTURES,)

    # Backfilled: the same captures, skipped again, are now in the lake (checked without a
    # third run: the warning is computed from the plan and the lake alone).
    done = Plan((), (), discover(str(source)).captures, ())
    summary, options = dry_summary(done, tmp_path)
    assert lake_warnings(summary, options.model_copy(update={"lake": str(second)})) == []


@pytest.mark.server
def test_a_bad_webhook_secret_stops_the_run_before_anything_is_created(
    tmp_path: Path, emulator: Emulator, haut_env: pytest.MonkeyPatch
) -> None:
    haut_env.setenv("HAUT_WEBHOOK_SECRET", "x" * 129)  # the API takes 128 characters at most
    options = IngestOptions(
        source=str(small_sample(tmp_path / "photos")),
        lake=str(tmp_path / "lake"),
        state_dir=str(tmp_path / "state"),
        api_url=emulator.url,
        wait="webhook",
    )
    with pytest.raises(ConfigurationError, match="HAUT_WEBHOOK_SECRET"):
        run_flow(options)
    assert emulator.stats()["datasets"] == 0  # never logged in to create one
    assert not (tmp_path / "state").exists()  # no ledger
    assert not (tmp_path / "lake").exists()


@pytest.mark.server
def test_a_dry_run_after_a_run_left_results_awaited_suggests_no_backfill(
    tmp_path: Path,
) -> None:
    """A run whose results did not come in time leaves its captures done and its images
    pending: the next ingest writes them (into whichever lake), so a dry run on a new lake
    must not send the user to backfill. It names another dataset, though."""
    source = small_sample(tmp_path / "photos")
    with running_emulator(algorithm_delay=3600) as slow:
        first = IngestOptions(
            source=str(source),
            lake=str(tmp_path / "lake-1"),
            state_dir=str(tmp_path / "state"),
            api_url=slow.url,
            results_timeout=0.2,
        )
        timed_out = run_flow(first)
        assert timed_out.record.images_pending > 0
        dry = first.model_copy(
            update={"lake": str(tmp_path / "lake-2"), "dry_run": True, "dataset": "other"}
        )
        summary = run_flow(dry)
    assert summary.record.captures_skipped == SMALL_CAPTURES
    assert summary.awaiting == {("amy", "2026-01-05"), ("amy", "2026-01-12"), ("ben", "2026-01-05")}
    assert summary.warnings == (
        f"{SMALL_CAPTURES} captures skipped as already done were analysed into dataset "
        "'hautflow', not 'other': each photo is analysed once per --state; to analyse them into "
        "'other' too, use another --state",
    )
