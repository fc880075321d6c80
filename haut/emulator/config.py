"""Settings of one emulated Haut.AI service: timing, limits, credentials, storage and faults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any


class DetectorRow(StrEnum):
    """When ``/results/`` holds the face detector's (id 40) row.

    The real captures disagree with our first guess: the photo with a face came back with 17
    rows and no detector row, the photo without a face with 18, the detector's among them
    (reference §6.6). ``WHEN_NO_FACE`` answers exactly as they did; ``NEVER`` drops it always;
    ``ALWAYS`` (the default) sends it for every photo.
    """

    ALWAYS = "always"
    WHEN_NO_FACE = "when-no-face"
    NEVER = "never"


@dataclass
class FaultConfig:
    """Faults injected into /api/ and /service/ traffic; every share is a probability in [0, 1]."""

    rate_429: float = 0.0
    retry_after_seconds: float = 1.0
    rate_5xx: float = 0.0
    rate_drop: float = 0.0  # connection dropped after the response headers
    latency_seconds: float = 0.0  # added to every API request
    websocket_drop: float = 0.0  # websocket closed after a message
    webhook_failure: float = 0.0  # an outgoing webhook delivery attempt fails
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with the known fields of ``changes`` applied (unknown keys raise KeyError)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        return FaultConfig(**{**asdict(self), **changes})


@dataclass
class EmulatorConfig:
    """How the emulator behaves; the defaults mimic the real service closely enough for a demo."""

    algorithm_delay_seconds: float = 3.0  # algorithm finishes at upload + base * delay_factor
    rate_limit_per_second: float = 20.0  # per company; beyond -> 429 + Retry-After
    login_limit_per_minute: int = 5  # per user
    token_lifetime_seconds: int = 3600
    credentials: dict[str, str] | None = None  # None: any non-empty username/password logs in
    state_path: Path | None = None  # None: memory; else a SQLite file (restart == same service)
    faults: FaultConfig = field(default_factory=FaultConfig)
    webhook_max_attempts: int = 6  # every send counts: the first one + at most 5 retries
    webhook_backoff_seconds: float = 0.5  # first retry delay; doubles per attempt
    ticker_interval_seconds: float = 0.03  # how often due work is settled in the background
    detector_row: DetectorRow = DetectorRow.ALWAYS  # when results hold the face detector's row

    def __repr__(self) -> str:
        # Passwords never reach logs: show only which usernames are configured.
        users = sorted(self.credentials) if self.credentials is not None else None
        return (
            f"EmulatorConfig(algorithm_delay_seconds={self.algorithm_delay_seconds}, "
            f"rate_limit_per_second={self.rate_limit_per_second}, credentials_for={users}, "
            f"state_path={self.state_path}, detector_row={self.detector_row.value}, "
            f"faults={self.faults})"
        )
