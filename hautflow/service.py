"""Open a client to the Haut.AI service the settings point at, starting the emulator if none.

The rule (see :mod:`hautflow.settings`): an explicit URL wins; credentials without a URL mean
the real service; nothing at all means an emulator on a free loopback port, run in a
background thread for as long as the client is open.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from haut.client import HautClient
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from hautflow.settings import HautSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """An open client, and where it is connected."""

    client: HautClient
    url: str
    embedded_emulator: bool


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
) -> AsyncIterator[Connection]:
    """Yield a client for ``api_url``, the settings' service, or an embedded emulator.

    ``emulator_state`` keeps the embedded emulator's state in a SQLite file, so that
    successive runs see the same service; ``emulator_config`` tunes it (tests, benchmarks).
    ``credentials_block`` names a Prefect Secret block with the credentials (default: the
    settings' ``HAUT_CREDENTIALS_BLOCK``, if any). ``requests_per_second`` and
    ``max_concurrency`` override the settings' client limits (None: the settings' value).
    """
    settings = await (settings or HautSettings()).with_credentials_block(credentials_block)
    url = (api_url or "").rstrip("/") or settings.service_url()
    server: EmulatorServer | None = None
    if url is None:
        config = emulator_config or EmulatorConfig()
        if emulator_state is not None:
            emulator_state.parent.mkdir(parents=True, exist_ok=True)
            config.state_path = emulator_state
        server = EmulatorServer(config).start()
        url = server.url
        log.info("no Haut.AI credentials configured: using the embedded emulator at %s", url)
    client = HautClient(
        url,
        settings.credentials_or_emulator_user(),
        requests_per_second=requests_per_second or settings.requests_per_second,
        max_concurrency=max_concurrency or settings.max_concurrency,
    )
    try:
        async with client:
            yield Connection(client=client, url=url, embedded_emulator=server is not None)
    finally:
        if server is not None:
            server.stop()
