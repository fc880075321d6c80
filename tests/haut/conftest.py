"""A scriptable fake of the Haut.AI API for client unit tests (runs on httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.retry import RetryPolicy

PASSWORD = "pa55-word-Xy7"
USERNAME = "analyst@example.com"
COMPANY = "comp-0001"

Responder = Callable[[httpx.Request], httpx.Response | None]


def jwt_with_exp(exp: float, tag: str, iat: float | None = None) -> str:
    """An unsigned JWT carrying ``exp`` (and ``iat`` if given); signatures are never verified."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims: dict[str, Any] = {"exp": exp, "tag": tag}
    if iat is not None:
        claims["iat"] = iat
    return f"{part({'alg': 'none'})}.{part(claims)}.sig{tag}"


def answer(status: int, **kwargs: Any) -> Responder:
    """A scripted responder that always answers ``status`` with these httpx.Response options."""
    return lambda request: httpx.Response(status, **kwargs)


def fail_with(error: type[httpx.TransportError]) -> Responder:
    """A scripted responder that fails the exchange with this httpx transport error."""

    def raise_it(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return raise_it


@dataclass
class FakeHaut:
    """Answers login/refresh and echoes resources; ``script`` overrides answers per path."""

    jwt_lifetime: float | None = None  # None: opaque tokens
    clock: Callable[[], float] = lambda: 0.0
    server_clock_skew: float = 0.0  # how far the server's clock is behind the client's
    issued: int = 0
    logins: int = 0
    refreshes: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    script: dict[str, list[Responder]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    hold_seconds: float = 0.0

    def new_token(self) -> str:
        self.issued += 1
        if self.jwt_lifetime is not None:
            issued_at = self.clock() - self.server_clock_skew
            token = jwt_with_exp(issued_at + self.jwt_lifetime, str(self.issued), iat=issued_at)
        else:
            token = f"opaque-access-{self.issued}-Qz"
        self.valid_tokens.add(token)
        return token

    def expire_all_tokens(self) -> None:
        self.valid_tokens.clear()

    def on(self, path_suffix: str, *responders: Responder) -> None:
        """Answer the next requests whose path ends with ``path_suffix`` with these, in order."""
        self.script.setdefault(path_suffix, []).extend(responders)

    def _login_answer(self) -> httpx.Response:
        token = self.new_token()
        return httpx.Response(
            200,
            json={
                "id": 42,
                "email": USERNAME,
                "company_id": COMPANY,
                "access_token": token,
                "token_access": token,
                "refresh_token": f"refresh-{self.issued}-Rr",
            },
        )

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # Yield to the loop so concurrent requests really interleave.
            await asyncio.sleep(self.hold_seconds)
            return self._answer(request, path)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request, path: str) -> httpx.Response:
        for suffix, responders in self.script.items():
            if path.endswith(suffix) and responders:
                scripted = responders.pop(0)(request)
                if scripted is not None:
                    return scripted
        if path in ("/api/v1/login/", "/api/v1/auth/login/"):
            self.logins += 1
            body = json.loads(request.content)
            if body != {"username": USERNAME, "password": PASSWORD}:
                return httpx.Response(401, json=error_body("authentication_failed", "Bad login"))
            return self._login_answer()
        if path == "/api/v1/auth/refresh/":
            self.refreshes += 1
            return self._login_answer()
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if path.startswith("/api/v1/companies/") and token not in self.valid_tokens:
            return httpx.Response(401, json=error_body("token_expired", "Token expired"))
        if request.method == "POST":
            return httpx.Response(201, json={"id": f"new-{len(self.calls)}", "name": "x"})
        return httpx.Response(200, json={"id": "ds-1", "name": "Dataset one"})


def error_body(code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    kind = "validation_error" if code not in ("token_expired", "not_found") else "client_error"
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


class SleepRecorder:
    """An injectable ``sleep`` that records waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    """A settable wall clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeHaut:
    return FakeHaut(clock=clock)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(
    fake: FakeHaut, sleeps: SleepRecorder, clock: FakeClock
) -> Callable[..., HautClient]:
    def build(**options: Any) -> HautClient:
        settings: dict[str, Any] = {
            "transport": httpx.MockTransport(fake),
            "sleep": sleeps,
            "clock": clock,
            "retry": RetryPolicy(attempts=4, base=0.5, cap=8.0, jitter=False),
            "requests_per_second": None,
        }
        settings.update(options)
        return HautClient("https://haut.test", PasswordCredentials(USERNAME, PASSWORD), **settings)

    return build
