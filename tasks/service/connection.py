"""Open a client to the Haut.AI service the settings point at, starting the emulator if none.

The rule (see :mod:`tasks.service.settings`): an explicit URL wins; credentials without a URL mean
the real service; nothing at all means an emulator on a free loopback port, run in a
background thread for as long as the client is open, where the caller allows it. The command
line allows it (and says so); a deployment's flow run only when its options ask for it, so a
worker that lost its credentials fails instead of analysing with a stand-in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from haut.client import HautClient
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from tasks.service.budget import SharedRequestBudget
from tasks.service.settings import ConfigurationError, HautSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """An open client, and where it is connected."""

    client: HautClient
    url: str
    embedded_emulator: bool

    @property
    def service(self) -> str | None:
        """Who answers: ``"emulator"`` (embedded, or one that says it is), else the service's
        host; None while nothing has answered yet."""
        return "emulator" if self.embedded_emulator else self.client.answered_by

    async def identify(self) -> str:
        """:attr:`service`, asking the service (its algorithm dictionary: one light call,
        needing no token) if nothing has answered yet."""
        if self.service is None:
            await self.client.algorithms()
        return self.service or "unknown"


NO_SERVICE = (
    "no Haut.AI credentials are configured, and this run may not fall back to the embedded "
    "emulator: set HAUT_USERNAME and HAUT_PASSWORD, or HAUT_API_TOKEN (and HAUT_COMPANY_ID), or "
    "HAUT_CREDENTIALS_BLOCK in the environment that runs it (a deployment: the worker's); or, "
    "to analyse with the emulator (not real analyses), set the run's option emulator: true"
)


def require_service(
    api_url: str | None,
    credentials_block: str | None,
    *,
    allow_emulator: bool,
    settings: HautSettings | None = None,
) -> None:
    """Refuse a run that would fall back to the embedded emulator without being allowed to,
    before it touches anything: :data:`NO_SERVICE` says what to set."""
    settings = settings or HautSettings()
    if not allow_emulator and settings.uses_embedded_emulator(api_url, credentials_block):
        raise ConfigurationError(NO_SERVICE)


@asynccontextmanager
async def connect(
    settings: HautSettings | None = None,
    *,
    api_url: str | None = None,
    emulator_state: Path | None = None,
    emulator_config: EmulatorConfig | None = None,
    credentials_block: str | None = None,
    requests_per_second: float | None = None,
    max_concurrency: int | None = None,
    allow_emulator: bool = False,
    shared_budget: Engine | None = None,
) -> AsyncIterator[Connection]:
    """Yield a client for ``api_url``, the settings' service, or an embedded emulator.

    ``emulator_state`` keeps the embedded emulator's state in a SQLite file, so that
    successive runs see the same service; ``emulator_config`` tunes it (tests, benchmarks).
    ``credentials_block`` names a Prefect Secret block with the credentials (default: the
    settings' ``HAUT_CREDENTIALS_BLOCK``, if any). ``requests_per_second`` and
    ``max_concurrency`` override the settings' client limits (None: the settings' value).
    ``allow_emulator`` True lets it start the embedded emulator when neither a URL nor
    credentials say where the service is; otherwise that is a :class:`ConfigurationError`
    naming the fix (see :func:`require_service`). ``shared_budget``, a PostgreSQL engine (the
    ledger's), makes the requests per second a budget shared with every process that uses the
    same database and service (:class:`~tasks.service.budget.SharedRequestBudget`).
    """
    settings = await (settings or HautSettings()).with_credentials_block(credentials_block)
    url = (api_url or "").rstrip("/") or settings.service_url()
    server: EmulatorServer | None = None
    if url is None and not allow_emulator:
        raise ConfigurationError(NO_SERVICE)
    if url is None:
        config = emulator_config or EmulatorConfig()
        if emulator_state is not None:
            emulator_state.parent.mkdir(parents=True, exist_ok=True)
            config.state_path = emulator_state
        server = EmulatorServer(config).start()
        url = server.url
        log.info("no Haut.AI credentials configured: using the embedded emulator at %s", url)
    rate = requests_per_second or settings.requests_per_second
    budget = (
        SharedRequestBudget(shared_budget, rate, name=url) if shared_budget is not None else None
    )
    client = HautClient(
        url,
        settings.credentials_or_emulator_user(),
        requests_per_second=rate,
        max_concurrency=max_concurrency or settings.max_concurrency,
        budget=budget,
    )
    try:
        async with client:
            yield Connection(client=client, url=url, embedded_emulator=server is not None)
    finally:
        if server is not None:
            server.stop()
