"""Who is calling: users, login, token checks and the per-company rate limit.

Default mode: any non-empty username and password log in, each username being its own user
(int id) with its own company (UUID). With ``EmulatorConfig.credentials`` set, only those
pairs log in. Usernames are e-mail addresses in practice, so they are case-insensitive (our
decision): "Ann@X.io" and "ann@x.io" are one user, with one login limit, stored and shown in
lower case. Tokens are the emulator's JWTs (tokens.py) or private tokens (opaque, stored as a
digest).
"""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from haut.emulator import errors
from haut.emulator.tokens import TokenExpired, TokenInvalid, token_digest
from schemas.wire_time import format_wire_time

if TYPE_CHECKING:
    from haut.emulator.state import EmulatorState


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: int
    username: str
    company_id: str


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


# --- users ---------------------------------------------------------------------------------


_USER_QUERIES = {
    "id": "SELECT id, username, company_id FROM users WHERE id = ?",
    "username": "SELECT id, username, company_id FROM users WHERE username = ?",
}


def username_key(username: str) -> str:
    """What identifies a user: the username without its letter case."""
    return username.lower()


def _user_row(state: EmulatorState, sql: str, value: Any) -> Principal | None:
    query = _USER_QUERIES[sql]
    rows = state.store.execute(query, (value,))
    return Principal(int(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None


def user_by_id(state: EmulatorState, user_id: int) -> Principal | None:
    return _user_row(state, "id", user_id)


def check_credentials(state: EmulatorState, username: str, password: str) -> Principal:
    """The user these credentials log in as (created on first login); 401 otherwise."""
    key = username_key(username)
    configured = state.config.credentials
    if configured is not None:
        expected = {username_key(name): secret for name, secret in configured.items()}.get(key)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise errors.authentication_failed("Invalid username or password.")
    existing = _user_row(state, "username", key)
    if existing is not None:
        return existing
    state.store.execute(
        "INSERT OR IGNORE INTO users (username, company_id, creation_time) VALUES (?, ?, ?)",
        (key, str(uuid.uuid4()), format_wire_time(state.clock.now())),
    )
    created = _user_row(state, "username", key)
    assert created is not None
    return created


def company_name(principal: Principal) -> str:
    return f"{principal.username.split('@')[0]}'s company"


# --- tokens --------------------------------------------------------------------------------


def principal_from_token(state: EmulatorState, token: str) -> Principal:
    """The caller a token belongs to; else 401 ``token_expired`` or ``authentication_failed``."""
    now = state.clock.timestamp()
    if token.count(".") != 2:
        return _private_token_principal(state, token, now)
    try:
        claims = state.signer.verify(token, now=now)
    except TokenExpired as exc:
        raise errors.token_expired() from exc
    except (TokenInvalid, KeyError, TypeError) as exc:
        raise errors.authentication_failed() from exc
    if claims.kind != "access":
        raise errors.authentication_failed()
    principal = user_by_id(state, claims.user_id)
    if principal is None:
        raise errors.authentication_failed()
    return principal


def _private_token_principal(state: EmulatorState, token: str, now: float) -> Principal:
    rows = state.store.execute(
        "SELECT user_id, doc FROM private_tokens WHERE token_sha256 = ?", (token_digest(token),)
    )
    if not rows:
        raise errors.authentication_failed()
    expires_at = json.loads(rows[0][1]).get("expires_at")
    if expires_at is not None and now >= float(expires_at):
        raise errors.token_expired()
    principal = user_by_id(state, int(rows[0][0]))
    if principal is None:
        raise errors.authentication_failed()
    return principal


def bearer_token(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (a bare ``<token>`` is accepted too)."""
    if not header:
        return None
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    if len(parts) == 1:
        return parts[0]
    return None


def enforce_rate_limit(state: EmulatorState, principal: Principal) -> None:
    wait = state.company_limit.acquire(principal.company_id)
    if wait > 0:
        raise errors.throttled(wait)


def authenticate(state: EmulatorState, token: str | None) -> Principal:
    if not token:
        raise errors.not_authenticated()
    principal = principal_from_token(state, token)
    enforce_rate_limit(state, principal)
    return principal


# --- FastAPI dependencies ------------------------------------------------------------------


async def current_principal(request: Request) -> Principal:
    """The Bearer-authenticated caller, counted against the company's rate limit."""
    header = request.headers.get("authorization")
    token = bearer_token(header)
    if header and token is None:
        raise errors.authentication_failed("Invalid Authorization header.")
    return authenticate(state_of(request), token)


async def company_principal(company_id: str, request: Request) -> Principal:
    """The caller, who must belong to the company in the path."""
    principal = await current_principal(request)
    if principal.company_id != company_id:
        raise errors.permission_denied()
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
CompanyCaller = Annotated[Principal, Depends(company_principal)]
