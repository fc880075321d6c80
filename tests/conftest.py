"""Shared test setup: a private Prefect home, quiet Prefect, and the asyncio backend for anyio."""

from __future__ import annotations

import os
import tempfile

# Prefect reads its settings when first imported: make it self-contained and quiet before that.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="hautflow-prefect-"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, the loop the project runs on."""
    return "asyncio"
