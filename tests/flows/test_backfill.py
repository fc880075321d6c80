"""The backfill flow: it rewrites what the ingest wrote under the same ids, restores lost files,
touches only what its range and subjects select, adds the smoothed results, and leaves images
unfinished at the API pending."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from flows.backfill import (
    BackfillOptions,
    BackfillSummary,
    Reading,
    SubjectSlice,
    Target,
    backfill,
    plan_chunks,
    read_chunk,
)
from flows.options import IngestOptions
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from hautflow.cli import app
from hautflow.service import connect as connect_service
from schemas.captures import Side, SourceImage, UploadedImage
from schemas.lake import TABLES
from tasks.lake import connect
from tasks.ledger import ImageState, Ledger, LedgerBusyError
from tasks.smoothing.settings import SmoothingMethod
from tests.flows.conftest import haut_environment
from tests.flows.support import (
    SMALL_IMAGES,
    Emulator,
    run_flow,
    running_emulator,
    scalar,
    small_sample,
    write_capture,
)

pytestmark = pytest.mark.server

IMAGES = SMALL_IMAGES + 1  # the small sample plus ben's February session
INGESTED_TABLES = [
    name for name in TABLES if name not in ("runs", "quarantine", "smoothed_results")
]
VOLATILE = ("written_at", "run_id", "fetched_at")
"""Columns that say when and by which run a row was written: the rest is the content."""


@pytest.fixture(scope="module")
def shared_emulator(prefect_server: str) -> Iterator[Emulator]:
    """One emulator for the tests that only read from it (a backfill creates nothing).

    Each run logs in once: more than the vendor's five logins a minute here, so the limit is
    lifted (a test that met it would wait out the Retry-After).
    """
    config = EmulatorConfig(
        algorithm_delay_seconds=0.0, rate_limit_per_second=10_000, login_limit_per_minute=1000
    )
    with haut_environment(), EmulatorServer(config) as server:
        yield Emulator(server)


@pytest.fixture(scope="module")
def ingested(
    prefect_server: str, shared_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> IngestOptions:
    """The small sample plus a session in February, ingested once for the whole module."""
    root = tmp_path_factory.mktemp("ingested")
    source = small_sample(root / "photos")
    write_capture(source, "ben", "2026-02-02", 4, triple=False)
    options = IngestOptions(
        source=str(source),
        lake=str(root / "lake"),
        state_dir=str(root / "state"),
        api_url=shared_emulator.url,
    )
    with haut_environment():
        first = run_flow(options)
    assert first.record.images_complete == IMAGES
    return options


@pytest.fixture
def ingest_options(ingested: IngestOptions, tmp_path: Path) -> IngestOptions:
    """This test's own copy of the ingested lake and ledger (faster than ingesting again)."""
    lake, state = tmp_path / "lake", tmp_path / "state"
    shutil.copytree(ingested.lake, lake)
    shutil.copytree(ingested.state_dir, state, ignore=shutil.ignore_patterns("*.lock"))
    return ingested.model_copy(update={"lake": str(lake), "state_dir": str(state)})


def backfill_options(ingest: IngestOptions, **changes: Any) -> BackfillOptions:
    return BackfillOptions(
        lake=ingest.lake, state_dir=ingest.state_dir, api_url=ingest.api_url, **changes
    )


def run_backfill(options: BackfillOptions) -> BackfillSummary:
    return asyncio.run(backfill(options))


def content(lake: str, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table view's rows without the columns that change with each write, in id order."""
    con = connect(lake)
    try:
        return {
            name: con.execute(
                f"SELECT * EXCLUDE ({', '.join(_volatile(con, name))}) FROM {name} "  # noqa: S608
                f"ORDER BY {TABLES[name].id_column}"
            ).fetchall()
            for name in tables
        }
    finally:
        con.close()


def _volatile(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    columns = {str(row[0]) for row in con.execute(f"DESCRIBE {view}").fetchall()}
    return [c for c in VOLATILE if c in columns]


def run_ids(lake: str, table: str) -> dict[str, str]:
    """The run that wrote each row of a view, by the row's id."""
    con = connect(lake)
    try:
        id_column = TABLES[table].id_column
        rows = con.execute(f"SELECT {id_column}, run_id FROM {table}").fetchall()  # noqa: S608
    finally:
        con.close()
    return {str(row_id): str(run_id) for row_id, run_id in rows}


def copies_per_id(lake: str, table: str) -> int:
    """The most versions of one row held by the table's Parquet files (before compaction)."""
    con = duckdb.connect()
    try:
        return int(
            scalar(
                con,
                f"SELECT max(n) FROM (SELECT count(*) AS n FROM read_parquet("  # noqa: S608
                f"'{lake}/{table}/**/*.parquet', hive_partitioning = true, union_by_name = true)"
                f" GROUP BY {TABLES[table].id_column})",
            )
        )
    finally:
        con.close()


def ledger_states(state_dir: str) -> dict[str, ImageState]:
    ledger = Ledger.sqlite(Path(state_dir) / "ledger.sqlite")
    try:
        found = ledger.images_on_the_api(dataset_name="hautflow")
    finally:
        ledger.close()
    return {image.image_id: state for image, state in found}


def test_the_backfill_rewrites_every_row_under_its_id_with_the_smoothed_results(
    ingest_options: IngestOptions,
) -> None:
    lake = ingest_options.lake
    before = content(lake, INGESTED_TABLES)

    run = run_backfill(backfill_options(ingest_options))

    assert (run.images, run.record.images_complete, run.record.status) == (
        IMAGES,
        IMAGES,
        "completed",
    )
    assert run.ok
    assert content(lake, INGESTED_TABLES) == before
    for table in INGESTED_TABLES:
        assert set(run_ids(lake, table).values()) == {run.record.run_id}, table
        assert copies_per_id(lake, table) == 2, table  # the ingest's version and this one
    con = connect(lake)
    for table in TABLES:
        id_column = TABLES[table].id_column
        total, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT {id_column}) FROM {table}"  # noqa: S608
        ).fetchone() or (0, 0)
        assert total == distinct, f"{table}: an id appears twice in the view"
    pulled = con.execute(
        "SELECT method, count(DISTINCT image_id), sum(CASE WHEN algorithm_family IS NULL "
        "THEN 0 ELSE 1 END) FROM smoothed_results WHERE window_days = 14 AND max_size = 10 "
        "GROUP BY method"
    ).fetchall()
    assert {method for method, _, _ in pulled} == {m.value for m in SmoothingMethod}
    assert all(images == IMAGES and values > 0 for _, images, values in pulled), pulled
    assert scalar(con, "SELECT count(*) FROM smoothed_results") == run.smoothed_rows
    manifest = con.execute(
        "SELECT source, status, images_complete FROM runs WHERE run_id = ?", [run.record.run_id]
    ).fetchall()
    con.close()
    assert manifest == [("backfill .. subjects=all dataset=hautflow", "completed", IMAGES)]
    assert set(ledger_states(ingest_options.state_dir).values()) == {ImageState.WRITTEN}


def test_a_second_backfill_leaves_the_same_lake(ingest_options: IngestOptions) -> None:
    options = backfill_options(ingest_options)
    first = run_backfill(options)
    after_first = content(ingest_options.lake, [*INGESTED_TABLES, "smoothed_results"])

    second = run_backfill(options)

    assert (second.record.rows_written, second.smoothed_rows) == (
        first.record.rows_written,
        first.smoothed_rows,
    )
    assert content(ingest_options.lake, [*INGESTED_TABLES, "smoothed_results"]) == after_first


def test_the_backfill_restores_a_lost_partition(ingest_options: IngestOptions) -> None:
    lake = Path(ingest_options.lake)
    before = content(str(lake), ["metrics"])
    lost = list((lake / "metrics" / "capture_month=2026-01").glob("*.parquet"))
    assert lost
    for path in lost:
        path.unlink()
    assert content(str(lake), ["metrics"]) != before

    run = run_backfill(
        backfill_options(ingest_options, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
    )

    assert run.images == SMALL_IMAGES
    assert content(str(lake), ["metrics"]) == before


def test_the_range_and_subjects_limit_what_is_rewritten(ingest_options: IngestOptions) -> None:
    lake = ingest_options.lake
    ingest_run = set(run_ids(lake, "images").values())
    before = run_ids(lake, "metrics")

    run = run_backfill(
        backfill_options(
            ingest_options,
            date_from=date(2026, 1, 5),
            date_to=date(2026, 1, 5),
            subjects=["amy"],
            methods=[SmoothingMethod.MEAN],
        )
    )

    assert run.images == 3  # amy's triple of 2026-01-05
    con = connect(lake)
    selected = {
        metric_id
        for (metric_id,) in con.execute(
            "SELECT metric_id FROM metrics WHERE subject_key = 'amy' AND session_key = '2026-01-05'"
        ).fetchall()
    }
    touched = con.execute(
        "SELECT DISTINCT subject_key, session_key FROM images WHERE run_id = ?",
        [run.record.run_id],
    ).fetchall()
    smoothed = con.execute(
        "SELECT count(DISTINCT image_id), list(DISTINCT method) FROM smoothed_results"
    ).fetchone()
    con.close()
    assert touched == [("amy", "2026-01-05")]
    assert smoothed == (3, ["mean"])
    after = run_ids(lake, "metrics")
    assert after.keys() == before.keys()
    rewritten = {row_id for row_id, run_id in after.items() if run_id == run.record.run_id}
    assert rewritten == selected
    assert {after[row_id] for row_id in after.keys() - selected} == ingest_run


def test_images_unfinished_at_the_api_stay_pending_until_they_finish(tmp_path: Path) -> None:
    with running_emulator(algorithm_delay=3600) as slow:
        ingest = IngestOptions(
            source=str(small_sample(tmp_path / "photos")),
            lake=str(tmp_path / "lake"),
            state_dir=str(tmp_path / "state"),
            api_url=slow.url,
            results_timeout=0.2,
        )
        assert run_flow(ingest).record.images_pending == SMALL_IMAGES
        options = backfill_options(ingest)

        early = run_backfill(options)

        assert (early.record.images_pending, early.record.status) == (SMALL_IMAGES, "incomplete")
        assert set(ledger_states(ingest.state_dir).values()) == {ImageState.PENDING}
        con = connect(ingest.lake)
        assert scalar(con, "SELECT list(DISTINCT status) FROM images") == ["pending"]
        assert scalar(con, "SELECT count(*) FROM smoothed_results") == 0
        con.close()

        httpx.post(f"{slow.url}/_emulator/clock", json={"advance_seconds": 7200}).raise_for_status()
        late = run_backfill(options)

    assert (late.record.images_complete, late.record.status) == (SMALL_IMAGES, "completed")
    assert set(ledger_states(ingest.state_dir).values()) == {ImageState.WRITTEN}
    con = connect(ingest.lake)
    assert scalar(con, "SELECT list(DISTINCT status) FROM images") == ["complete"]
    assert scalar(con, "SELECT count(DISTINCT image_id) FROM smoothed_results") == SMALL_IMAGES
    con.close()


def test_a_backfill_waits_for_no_run_holding_the_ledger(ingest_options: IngestOptions) -> None:
    ledger = Ledger.sqlite(Path(ingest_options.state_dir) / "ledger.sqlite")
    try:
        with ledger.run_lock("an-ingest-run"), pytest.raises(LedgerBusyError):
            run_backfill(backfill_options(ingest_options))
    finally:
        ledger.close()


def test_the_command_prints_the_counts(ingest_options: IngestOptions) -> None:
    args = ["backfill", "--lake", ingest_options.lake, "--state", ingest_options.state_dir]
    args += ["--api-url", str(ingest_options.api_url), "--subject", "ben", "--method", "mean"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    assert re.search(r"images in range\s+2\b", result.output), result.output
    assert re.search(r"smoothed rows written\s+\d+", result.output), result.output

    bad = CliRunner().invoke(app, ["backfill", "--since", "2026-02-01", "--until", "2026-01-01"])
    assert bad.exit_code == 2
    assert "swap them" in bad.output


# --- planning, without a server ------------------------------------------------------------


def _target(subject: str, day: int) -> Target:
    source = SourceImage(
        uri=f"/photos/{subject}/{day}/front.jpg",
        side=Side.FRONT,
        sha256=f"{subject}{day}",
        size=1,
        image_format="JPEG",
        captured_at=datetime(2026, 1, day, 12, tzinfo=UTC),
        captured_at_source="folder",
        light_id=1,
    )
    image = UploadedImage(
        capture_id=f"{subject}{day}",
        subject_key=subject,
        session_key=str(day),
        dataset_id="d",
        subject_id=subject,
        batch_id=f"b{subject}{day}",
        image_id=f"i{subject}{day}",
        source=source,
        uploaded_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    return Target(image, ImageState.WRITTEN)


def test_chunks_keep_a_subject_together_in_time_order_and_share_room() -> None:
    targets = [_target("amy", d) for d in (9, 2, 5)] + [_target("ben", 3), _target("cy", 4)]

    chunks = plan_chunks(targets, size=2)

    def shape(slices: list[SubjectSlice]) -> list[tuple[str, tuple[date, date], int]]:
        return [(s.subject.subject_id, s.days, len(s.targets)) for s in slices]

    assert [shape(chunk) for chunk in chunks] == [
        [("amy", (date(2026, 1, 2), date(2026, 1, 5)), 2)],
        [("amy", (date(2026, 1, 9), date(2026, 1, 9)), 1), ("ben", (date(2026, 1, 3),) * 2, 1)],
        [("cy", (date(2026, 1, 4),) * 2, 1)],
    ]
    assert sum(len(s.targets) for chunk in plan_chunks(targets, size=50) for s in chunk) == 5
    assert len(plan_chunks(targets, size=50)) == 1


def test_an_image_missing_from_the_history_is_read_on_its_own(
    ingest_options: IngestOptions,
) -> None:
    ledger = Ledger.sqlite(Path(ingest_options.state_dir) / "ledger.sqlite")
    try:
        image, state = ledger.images_on_the_api(dataset_name="hautflow", subject_keys=["ben"])[0]
        expected = ledger.enabled_algorithms("hautflow")
    finally:
        ledger.close()
    assert expected
    # A day on which the subject has no photo: all_results answers nothing for it.
    elsewhere = replace(
        image, source=replace(image.source, captured_at=datetime(2025, 6, 1, tzinfo=UTC))
    )
    options = backfill_options(ingest_options, methods=[SmoothingMethod.MEAN])

    async def read() -> list[Reading]:
        async with connect_service(api_url=options.api_url) as connection:
            piece = SubjectSlice((Target(elsewhere, state),))
            return await read_chunk.fn(connection.client, [piece], expected, options)

    [reading] = asyncio.run(read())

    assert reading.error is None
    assert reading.results.complete
    assert {row.algorithm_version_id for row in reading.results.rows} == set(expected)
    assert reading.smoothed[SmoothingMethod.MEAN]
