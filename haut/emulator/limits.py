"""Request limits on the emulator clock: a token bucket per company and a login window per user."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


@dataclass
class CompanyRateLimit:
    """Token bucket per company: ``rate`` requests per second, bursts up to one second's worth."""

    rate: float
    now: Callable[[], float]
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def acquire(self, company_id: str) -> float:
        """Take one token; 0.0 if allowed, else the seconds to wait before one is available."""
        if self.rate <= 0:
            return 0.0
        capacity = max(1.0, self.rate)
        now = self.now()
        bucket = self._buckets.setdefault(company_id, _Bucket(capacity, now))
        elapsed = max(0.0, now - bucket.updated_at)
        bucket.tokens = min(capacity, bucket.tokens + elapsed * self.rate)
        bucket.updated_at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


@dataclass
class LoginLimit:
    """At most ``per_minute`` logins per username in any sliding minute."""

    per_minute: int
    now: Callable[[], float]
    _attempts: dict[str, deque[float]] = field(default_factory=dict)

    def acquire(self, username: str) -> float:
        """Record one attempt; 0.0 if allowed, else the seconds until the oldest one ages out."""
        now = self.now()
        window = self._attempts.setdefault(username, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= self.per_minute:
            return window[0] + 60.0 - now
        window.append(now)
        return 0.0
