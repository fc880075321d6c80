"""Shared test setup: a private Prefect home, quiet Prefect, and the asyncio backend for anyio."""

from __future__ import annotations

import os
import tempfile

# Prefect reads its settings when first imported: make it self-contained and quiet before that.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="hautflow-prefect-"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# Flow-running commands under test use Prefect's temporary server (or the session's test
# server): none leaves hautflow's background server running after the suite.
os.environ["HAUTFLOW_PREFECT_SERVER"] = "temporary"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, the loop the project runs on."""
    return "asyncio"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One Prefect test server for every flow run of the session (it takes seconds to start),
    started by the first test that asks; yields its API URL, which subprocesses are given so
    they start no server of their own."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        url = PREFECT_API_URL.value()
        assert url, "the Prefect test harness did not set an API URL"
        yield str(url)
