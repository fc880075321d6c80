"""Fixtures of the end-to-end tests: one Prefect test server per session, a quiet Haut.AI
environment per test, and an emulator on loopback per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

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


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[str]:
    """One Prefect test server for every flow run of the session (it takes seconds to start);
    yields its API URL, which subprocesses are given so they start no server of their own."""
    with prefect_test_harness(server_startup_timeout=60):
        url = PREFECT_API_URL.value()
        assert url, "the Prefect test harness did not set an API URL"
        yield str(url)


@pytest.fixture(autouse=True)
def haut_env() -> Iterator[pytest.MonkeyPatch]:
    with haut_environment() as env:
        yield env


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator: results are ready as soon as they are asked for."""
    with running_emulator() as running:
        yield running
