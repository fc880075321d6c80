"""Fixtures of the end-to-end tests: one Prefect test server per session, a quiet Haut.AI
environment per test, and an emulator on loopback per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.flows.support import Emulator, running_emulator

HAUT_VARIABLES = ("HAUT_API_URL", "HAUT_USERNAME", "HAUT_PASSWORD", "HAUT_API_TOKEN")


@contextmanager
def haut_environment() -> Iterator[pytest.MonkeyPatch]:
    """No Haut.AI credentials from the machine, and a client rate the emulator never throttles.

    The flow is pointed at each test's emulator with ``api_url``; the client's default request
    rate (10/s) would make the tests wait on the limiter instead of the flow.
    """
    with pytest.MonkeyPatch.context() as env:
        for name in HAUT_VARIABLES:
            env.delenv(name, raising=False)
        env.setenv("HAUT_REQUESTS_PER_SECOND", "1000")
        env.setenv("HAUT_MAX_CONCURRENCY", "16")
        yield env


@pytest.fixture(autouse=True)
def _flows_need_prefect(prefect_server: str) -> str:
    """Every end-to-end test runs against the session's Prefect test server."""
    return prefect_server


@pytest.fixture(autouse=True)
def haut_env() -> Iterator[pytest.MonkeyPatch]:
    with haut_environment() as env:
        yield env


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator: results are ready as soon as they are asked for."""
    with running_emulator() as running:
        yield running
