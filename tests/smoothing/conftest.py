"""Fixtures of the smoothing tests: a quiet Haut.AI environment, the one the end-to-end ingest
tests use (tests/flows/conftest.py); flow runs use the session's Prefect server
(``prefect_server`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.flows.conftest import haut_environment


@pytest.fixture
def haut_env() -> Iterator[pytest.MonkeyPatch]:
    with haut_environment() as env:
        yield env
