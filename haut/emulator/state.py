"""Everything one running emulator holds: settings, database, clock, limits, notifications."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from haut.emulator.answers import AnswerCache
from haut.emulator.clock import EmulatorClock
from haut.emulator.config import EmulatorConfig
from haut.emulator.faults import FaultInjector
from haut.emulator.limits import CompanyRateLimit, LoginLimit
from haut.emulator.notify import NotificationHub
from haut.emulator.store import Store
from haut.emulator.tokens import TokenSigner
from haut.emulator.webhooks import WebhookDispatcher

_SECRET_KEY = "token_secret"  # noqa: S105 - the meta key under which the secret is kept
_OFFSET_KEY = "clock_offset_seconds"


@dataclass(eq=False)
class EmulatorState:
    config: EmulatorConfig
    store: Store
    clock: EmulatorClock
    signer: TokenSigner
    faults: FaultInjector
    company_limit: CompanyRateLimit
    login_limit: LoginLimit
    hub: NotificationHub = field(default_factory=NotificationHub)
    photos: dict[str, Any] = field(default_factory=dict)  # sha256 -> analysis.Photo
    # (sha256, algorithm id, face detector on, side, light) -> (is_ok, payload)
    outcomes: dict[tuple[Any, ...], tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    answers: AnswerCache = field(default_factory=AnswerCache)  # ready /results/ and /aux/
    last_sweep: float = 0.0
    answers_by_status: Counter[int] = field(default_factory=Counter)
    """HTTP answers to the API (not /_emulator/) since the emulator started, by status
    (``/_emulator/requests``)."""
    webhooks: WebhookDispatcher = field(init=False)

    def __post_init__(self) -> None:
        self.webhooks = WebhookDispatcher(self)

    @classmethod
    def open(cls, config: EmulatorConfig) -> EmulatorState:
        """A fresh service, or the one saved at ``config.state_path``."""
        store = Store(config.state_path)
        secret = store.meta(_SECRET_KEY)
        if secret is None:
            secret = secrets.token_urlsafe(32)
            store.set_meta(_SECRET_KEY, secret)
        clock = EmulatorClock(float(store.meta(_OFFSET_KEY) or 0.0))
        return cls(
            config=config,
            store=store,
            clock=clock,
            signer=TokenSigner(secret),
            faults=FaultInjector(config.faults),
            company_limit=CompanyRateLimit(config.rate_limit_per_second, clock.timestamp),
            login_limit=LoginLimit(config.login_limit_per_minute, clock.timestamp),
        )

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.store.set_meta(_OFFSET_KEY, repr(self.clock.offset_seconds))
