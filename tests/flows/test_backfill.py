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

from flows.backfill import BackfillSummary, backfill
from flows.options import BackfillOptions, IngestOptions
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from haut.errors import AuthError
from hautflow.cli import app
from schemas.lake import TABLES
from tasks.backfill.plan import SubjectSlice, Target
from tasks.backfill.read import ChunkReader, Reading, SmoothingRequest
from tasks.backfill.write import BackfillWriter
from tasks.lake import Lake, connect
from tasks.ledger import ImageState, Ledger, LedgerBusyError
from tasks.service.connection import connect as connect_service
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
    """The most versions of one row held by the table's published Parquet files."""
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


def test_the_backfill_rewrites_every_row_under_its_id_and_again_gives_the_same_lake(
    ingest_options: IngestOptions,
) -> None:
    lake = ingest_options.lake
    before = content(lake, INGESTED_TABLES)
    options = backfill_options(ingest_options)

    run = run_backfill(options)

    assert (run.images, run.record.images_complete, run.record.status) == (
        IMAGES,
        IMAGES,
        "completed",
    )
    assert run.ok
    assert content(lake, INGESTED_TABLES) == before
    for table in INGESTED_TABLES:
        assert set(run_ids(lake, table).values()) == {run.record.run_id}, table
        assert copies_per_id(lake, table) == 1, table  # this version replaced the ingest's
    con = connect(lake)
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
    after_first = content(lake, [*INGESTED_TABLES, "smoothed_results"])

    second = run_backfill(options)

    assert (second.record.rows_written, second.smoothed_rows) == (
        run.record.rows_written,
        run.smoothed_rows,
    )
    assert content(lake, [*INGESTED_TABLES, "smoothed_results"]) == after_first


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


def test_a_backfill_without_the_ingests_ledger_says_where_it_looked(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["backfill", "--state", str(tmp_path / "nowhere")])

    assert result.exit_code == 2, result.output
    assert "no ledger in" in result.output
    assert not (tmp_path / "nowhere" / "ledger.sqlite").exists()


# --- reading and writing, on the real emulator ------------------------------------------


def _ben(state_dir: str) -> tuple[list[Target], tuple[int, ...]]:
    """Ben's images (two sessions, two days) as targets, and the ingest's complete rule."""
    ledger = Ledger.sqlite(Path(state_dir) / "ledger.sqlite")
    try:
        found = ledger.images_on_the_api(dataset_name="hautflow", subject_keys=["ben"])
        expected = ledger.enabled_algorithms("hautflow")
    finally:
        ledger.close()
    assert expected
    return [Target(image, state) for image, state in found], expected


def test_the_history_gives_each_image_the_rows_its_own_results_give(
    ingest_options: IngestOptions,
) -> None:
    targets, expected = _ben(ingest_options.state_dir)
    assert len(targets) == 2
    first = targets[0]
    # A moment the subject has no photo: the history does not answer for it.
    elsewhere = replace(
        first.image,
        source=replace(first.image.source, captured_at=datetime(2025, 6, 1, tzinfo=UTC)),
    )
    mean = SmoothingRequest((SmoothingMethod.MEAN,), 14, 10)

    async def read() -> tuple[list[Reading], Reading, Reading, dict[str, list[Any]]]:
        async with connect_service(api_url=ingest_options.api_url) as connection:
            client = connection.client
            reader = ChunkReader(client, expected, mean, concurrency=4)
            history = await reader.chunk([SubjectSlice(tuple(targets))])
            [alone] = await reader.chunk([SubjectSlice((Target(elsewhere, first.state),))])
            # A history that lags (one algorithm of the image so far): its own rows decide.
            partial = await reader.read_image(first, history[0].results.rows[:1])
            own = {
                t.image.image_id: [row.raw for row in await client.results(t.image.ref)]
                for t in targets
            }
            return history, alone, partial, own

    history, alone, partial, own = asyncio.run(read())

    assert [r.from_history for r in history] == [True, True]
    for reading in history:
        assert reading.results.complete
        assert [row.raw for row in reading.results.rows] == own[reading.target.image.image_id]
        assert reading.smoothed[SmoothingMethod.MEAN]
    for reading in (alone, partial):
        assert (reading.from_history, reading.results.complete, reading.error) == (
            False,
            True,
            None,
        )
        assert [row.raw for row in reading.results.rows] == own[first.image.image_id]


def test_a_refused_smoothing_loses_neither_the_image_nor_its_results(
    ingest_options: IngestOptions,
) -> None:
    targets, expected = _ben(ingest_options.state_dir)
    # A window of 0 days: the service refuses the smoothing (400), for every method.
    refused = SmoothingRequest((SmoothingMethod.MEAN, SmoothingMethod.LINEAR_APPROXIMATION), 0, 10)
    ledger = Ledger.sqlite(Path(ingest_options.state_dir) / "ledger.sqlite")

    async def read_and_write() -> BackfillWriter:
        writer = BackfillWriter(
            Lake(ingest_options.lake), ledger, "refused-run", window_days=0, max_size=10
        )
        async with connect_service(api_url=ingest_options.api_url) as connection:
            reader = ChunkReader(connection.client, expected, refused, concurrency=4)
            await writer.add(await reader.chunk([SubjectSlice(tuple(targets))]))
        await writer.flush()
        return writer

    try:
        writer = asyncio.run(read_and_write())
    finally:
        ledger.close()

    assert (writer.complete, writer.failed, writer.smoothed_rows) == (2, [], 0)
    assert sorted((method for _, method, _ in writer.smoothing_failed)) == [
        "linear_approximation",
        "linear_approximation",
        "mean",
        "mean",
    ]
    con = connect(ingest_options.lake)
    rewritten = scalar(con, "SELECT count(*) FROM images WHERE run_id = 'refused-run'")
    con.close()
    assert rewritten == 2


def test_a_refused_login_ends_the_run(
    ingest_options: IngestOptions, haut_env: pytest.MonkeyPatch
) -> None:
    haut_env.setenv("HAUT_API_TOKEN", "not-a-valid-token")
    options = backfill_options(ingest_options, methods=[SmoothingMethod.MEAN])

    with pytest.raises(AuthError):
        run_backfill(options)

    con = connect(ingest_options.lake)
    statuses = con.execute(
        "SELECT status, images_failed FROM runs WHERE source LIKE 'backfill%'"
    ).fetchall()
    con.close()
    assert statuses == [("failed", 0)]  # not a run of "failed" images
    args = ["backfill", "--lake", ingest_options.lake, "--state", ingest_options.state_dir]
    result = CliRunner().invoke(app, [*args, "--api-url", str(ingest_options.api_url)])
    assert result.exit_code == 2, result.output
    assert "refused the login" in result.output
    assert "not-a-valid-token" not in result.output
