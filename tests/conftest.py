"""Shared test setup: a private Prefect home, quiet Prefect, and the asyncio backend for anyio."""

from __future__ import annotations

import os
import tempfile

# Prefect reads its settings when first imported: make it self-contained and quiet before that.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="hautflow-prefect-"))
if xdist_worker := os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist each worker gets a home of its own inside the run's: a temporary
    # server's SQLite database is never shared by two processes.
    os.environ["PREFECT_HOME"] = os.path.join(os.environ["PREFECT_HOME"], xdist_worker)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# Flow-running commands under test use Prefect's temporary server (or the session's test
# server): none leaves hautflow's background server running after the suite.
os.environ["HAUTFLOW_PREFECT_SERVER"] = "temporary"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# A console made when its module is first imported keeps the width of that moment: whichever
# test imports it first would otherwise decide (80 columns without a terminal), and under
# pytest-xdist that test differs from run to run. The width the command-line tests ask for.
os.environ.setdefault("COLUMNS", "200")

from collections.abc import Iterator

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a ``slow`` test run first, each kept whole and in order: under
    pytest-xdist (``make test``) the long ones then start at once and the short ones fill in
    around them, instead of one long module running alone at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


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

    # Two xdist workers start one each at once; on a busy 2-core machine 60 s was not enough.
    with prefect_test_harness(server_startup_timeout=150):
        url = PREFECT_API_URL.value()
        assert url, "the Prefect test harness did not set an API URL"
        yield str(url)
