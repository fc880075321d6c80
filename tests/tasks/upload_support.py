"""Shared by the ledger, plan and upload tests: captures from rendered faces, an emulator on
loopback with a client for it, and ledgers on SQLite or on a real PostgreSQL (pgserver)."""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face
from haut.emulator.server import EmulatorServer
from haut.retry import RetryPolicy
from schemas.captures import Capture, Side, SourceImage
from tasks.ledger import Ledger

BASE_TIME = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
DATASET = "hautflow test"


@functools.cache
def face(seed: int, side: str) -> bytes:
    return render_face(seed, side=side)


def write_capture(
    root: Path,
    subject: str,
    session: str,
    *,
    seed: int,
    sides: tuple[Side, ...] = (Side.FRONT, Side.RIGHT, Side.LEFT),
    captured_at: datetime | None = None,
    data: dict[Side, bytes] | None = None,
) -> Capture:
    """Write a session folder of rendered faces (or the given bytes) and describe it."""
    folder = root / subject / session
    folder.mkdir(parents=True, exist_ok=True)
    when = captured_at or BASE_TIME + timedelta(days=seed)
    images = []
    for side in sides:
        content = (data or {}).get(side) or face(seed, side.value)
        path = folder / f"{side.value}.jpg"
        path.write_bytes(content)
        images.append(
            SourceImage(
                uri=str(path),
                side=side,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                image_format="JPEG",
                captured_at=when,
                captured_at_source="folder",
            )
        )
    return Capture(subject, session, tuple(images))


def fake_capture(subject: str, session: str, *, version: str = "a", sides: int = 3) -> Capture:
    """A capture with made-up hashes and no files: enough for planning."""
    images = tuple(
        SourceImage(
            uri=f"/photos/{subject}/{session}/{side.value}.jpg",
            side=side,
            sha256=hashlib.sha256(f"{subject}{session}{side}{version}".encode()).hexdigest(),
            size=1000,
            image_format="JPEG",
            captured_at=BASE_TIME,
            captured_at_source="folder",
        )
        for side in (Side.FRONT, Side.RIGHT, Side.LEFT)[:sides]
    )
    return Capture(subject, session, images)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        algorithm_delay_seconds=0, rate_limit_per_second=10_000, login_limit_per_minute=1000
    )
    with EmulatorServer(config) as server:
        yield server


def make_client(url: str) -> HautClient:
    return HautClient(
        url,
        PasswordCredentials("ledger@example.com", "ledger-pass-31"),
        retry=RetryPolicy(attempts=6, base=0.005, cap=0.05),
        requests_per_second=None,
        max_concurrency=8,
    )


@pytest.fixture
async def client(emulator: EmulatorServer) -> AsyncIterator[HautClient]:
    async with make_client(emulator.url) as haut:
        yield haut


def stats(emulator: EmulatorServer) -> dict[str, Any]:
    """The emulator's counts (the /_emulator/ endpoints are never faulted)."""
    answer = httpx.get(f"{emulator.url}/_emulator/stats")
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def set_faults(emulator: EmulatorServer, **faults: Any) -> None:
    httpx.put(f"{emulator.url}/_emulator/faults", json=faults).raise_for_status()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server on a unix socket for this module's tests.

    Its data folder is its own temporary directory, not pytest's: pytest prunes old
    ``pytest-N`` folders, which another pytest process may do while this server runs.
    """
    pgserver = pytest.importorskip("pgserver")
    folder = Path(tempfile.mkdtemp(prefix="hautflow-ledger-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def postgres_ledger(server: Any, name: str) -> Ledger:
    """A ledger in a fresh database of ``server``."""
    database = hashlib.sha256(name.encode()).hexdigest()[:12]
    server.psql(f'CREATE DATABASE "l{database}";')
    url = server.get_uri(f"l{database}").replace("postgresql://", "postgresql+psycopg://", 1)
    return Ledger(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def any_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The same tests on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        ledger = Ledger.sqlite(tmp_path / "state" / "ledger.sqlite")
    else:
        ledger = postgres_ledger(request.getfixturevalue("postgres"), request.node.name)
    yield ledger
    ledger.close()
