"""Helpers of the end-to-end tests: photo folders, the emulator's counts, the lake read back.

Everything here talks to real things on loopback: an :class:`EmulatorServer` the test owns, the
Prefect test server of the session, DuckDB over the Parquet the flow wrote.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import duckdb
import httpx

from flows.ingest import ingest
from flows.options import IngestOptions
from haut.emulator.config import DetectorRow, EmulatorConfig, FaultConfig
from haut.emulator.faces import render_face
from haut.emulator.server import EmulatorServer
from schemas.lake import TABLES
from tasks.reporting.summary import RunSummary

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"

# What data/README.md promises for data/sample (with the oversized file made by the script).
SAMPLE_FILES_SEEN = 71
SAMPLE_CAPTURES = 26
SAMPLE_IMAGES = 52
SAMPLE_SUBJECTS = 5  # alice, bob, chen, dara, and erin: her face-less photo is valid input
SAMPLE_NO_FACE = 1  # erin's landscape: uploaded, and found by the service to hold no face
SAMPLE_QUARANTINE = {
    "corrupt": 1,
    "empty": 1,
    "not_an_image": 1,
    "unsupported_format": 1,
    "too_large": 1,
    "no_front_image": 2,
    "duplicate_side": 2,
    "too_many_images": 4,
    "incomplete_triple": 2,
    "outside_layout": 1,
}

T = TypeVar("T")


def wait_until(condition: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """The first truthy value of ``condition()``, checked every 10 ms; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


# --- the emulator -------------------------------------------------------------------------


@dataclass
class Emulator:
    """An emulator on loopback and its inspection endpoints."""

    server: EmulatorServer

    @property
    def url(self) -> str:
        return self.server.url

    def stats(self) -> dict[str, Any]:
        """Counts of every resource and how often each photo (by sha256) was uploaded."""
        response = httpx.get(f"{self.url}/_emulator/stats", timeout=10)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/_emulator/webhook_deliveries", timeout=10)
        response.raise_for_status()
        deliveries: list[dict[str, Any]] = response.json()
        return deliveries


@contextmanager
def running_emulator(
    *,
    algorithm_delay: float = 0.0,
    latency: float = 0.0,
    state_path: Path | None = None,
    detector_row: DetectorRow = DetectorRow.ALWAYS,
) -> Iterator[Emulator]:
    """An emulator with no rate limit worth the name: tests wait for the flow, not the limit."""
    config = EmulatorConfig(
        algorithm_delay_seconds=algorithm_delay,
        rate_limit_per_second=10_000,
        # Each flow run and command logs in once; a test runs several within a minute.
        login_limit_per_minute=1_000,
        state_path=state_path,
        faults=FaultConfig(latency_seconds=latency),
        detector_row=detector_row,
    )
    with EmulatorServer(config) as server:
        yield Emulator(server)


def assert_each_photo_uploaded_once(stats: dict[str, Any], images: int) -> None:
    uploads = stats["uploads_by_sha256"]
    assert stats["images"] == images
    assert len(uploads) == images
    assert set(uploads.values()) == {1}, {sha: n for sha, n in uploads.items() if n != 1}


# --- photo folders --------------------------------------------------------------------------


def _make_sample_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample", REPO / "data" / "make_sample.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # its dataclasses look their module up by name while being defined
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def copy_sample(destination: Path) -> Path:
    """data/sample copied to ``destination``, with the oversized photo the script makes."""
    make_sample = _make_sample_module()
    oversized = Path(make_sample.OVERSIZED)
    shutil.copytree(
        SAMPLE,
        destination,
        ignore=lambda folder, names: (
            [oversized.name] if Path(folder) == SAMPLE / oversized.parent else []
        ),
    )
    make_sample.write_oversized(destination)
    return destination


def write_photo(path: Path, seed: int, side: str = "front") -> Path:
    """A synthetic face photo (JPEG) at ``path``; its bytes depend on ``seed`` and ``side``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_face(seed, side=side, size=(240, 320)))
    return path


def write_capture(root: Path, subject: str, session: str, seed: int, *, triple: bool) -> None:
    """One session folder: a front photo, or a front/right/left triple."""
    for side in ("front", "right", "left") if triple else ("front",):
        write_photo(root / subject / session / f"{side}.jpg", seed, side)


def small_sample(root: Path) -> Path:
    """Two people, three sessions (one triple, two single fronts): five photos, no bad input."""
    write_capture(root, "amy", "2026-01-05", 1, triple=True)
    write_capture(root, "amy", "2026-01-12", 2, triple=False)
    write_capture(root, "ben", "2026-01-05", 3, triple=False)
    return root


SMALL_CAPTURES = 3
SMALL_IMAGES = 5
SMALL_SUBJECTS = 2


# --- the flow and the lake ------------------------------------------------------------------


def options_in(
    root: Path,
    emulator: Emulator,
    *,
    source: Path | None = None,
    state: str = "state",
    lake: str = "lake",
    **changes: object,
) -> IngestOptions:
    """An ingest of ``source`` (``root/photos``) against ``emulator``, with its lake and state
    folders (by name) under ``root``."""
    return IngestOptions(
        source=str(source or root / "photos"),
        lake=str(root / lake),
        state_dir=str(root / state),
        api_url=emulator.url,
        **changes,  # type: ignore[arg-type]
    )


def run_flow(options: IngestOptions) -> RunSummary:
    """One ingest run, in this process, against the session's Prefect test server."""
    return asyncio.run(ingest(options))


def view_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in every table view of the lake."""
    return {name: scalar(con, f"SELECT count(*) FROM {name}") for name in TABLES}  # noqa: S608


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    row = con.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def column_types(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    return {str(row[0]): str(row[1]) for row in con.execute(f"DESCRIBE {view}").fetchall()}


def parquet_files(lake: Path) -> set[str]:
    """Every Parquet file of a local lake, relative to it."""
    return {str(p.relative_to(lake)) for p in lake.rglob("*.parquet")}


def assert_lake_complete(
    con: duckdb.DuckDBPyConnection, stats: dict[str, Any], *, no_face: int = 0
) -> None:
    """Every photo the emulator holds is in the lake once, settled, with all its results:
    complete, but ``no_face`` of them found by the service to hold no face."""
    lake_photos = con.execute("SELECT sha256 FROM images").fetchall()
    assert sorted(sha for (sha,) in lake_photos) == sorted(stats["uploads_by_sha256"])
    assert scalar(con, "SELECT count(DISTINCT image_id) FROM images") == stats["images"]
    statuses = dict(con.execute("SELECT status, count(*) FROM images GROUP BY ALL").fetchall())
    expected = {"complete": stats["images"] - no_face, "no_face": no_face}
    assert statuses == {status: n for status, n in expected.items() if n}
    # results: one row per image x algorithm, exactly what the API computed
    assert scalar(con, "SELECT count(*) FROM results") == stats["results"]
    per_image = con.execute(
        "SELECT count(*) FROM results GROUP BY image_id ORDER BY ALL"
    ).fetchall()
    algorithms = scalar(con, "SELECT count(DISTINCT algorithm_version_id) FROM results")
    assert {n for (n,) in per_image} == {algorithms}
    assert len(per_image) == stats["images"]
    assert scalar(con, "SELECT count(*) FROM metrics") > 0
    assert scalar(con, "SELECT count(*) FROM image_metrics_wide") == stats["images"]
