"""Login, refresh, profile and private tokens (reference §2, §13.14)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from haut.emulator import errors
from haut.emulator.auth import (
    Caller,
    Principal,
    check_credentials,
    company_name,
    state_of,
    user_by_id,
    username_key,
)
from haut.emulator.state import EmulatorState
from haut.emulator.tokens import (
    REFRESH_LIFETIME_SECONDS,
    TokenExpired,
    TokenInvalid,
    new_private_token,
    token_digest,
)
from haut.emulator.wire import json_body, name_matches, paginate, text_field, time_field
from schemas.wire_time import format_wire_time

router = APIRouter(prefix="/api/v1")


def _session(state: EmulatorState, principal: Principal) -> dict[str, Any]:
    """The login / refresh response: the user, its company and a fresh token pair."""
    now = state.clock.timestamp()
    lifetime = state.config.token_lifetime_seconds
    access = state.signer.issue(
        principal.user_id, principal.company_id, kind="access", now=now, lifetime=lifetime
    )
    refresh = state.signer.issue(
        principal.user_id,
        principal.company_id,
        kind="refresh",
        now=now,
        lifetime=REFRESH_LIFETIME_SECONDS,
    )
    return {
        **_identity(principal),
        "token_access": access,
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": lifetime,
    }


def _identity(principal: Principal) -> dict[str, Any]:
    return {
        "id": principal.user_id,
        "email": principal.username,
        "username": principal.username,
        "company_id": principal.company_id,
        "is_verified": True,
        "profile": {
            "metadata": None,
            "full_name": principal.username,
            "kyc_enabled": False,
            "terms_payment_accepted_at": None,
            "terms_and_policy_accepted_at": True,
            "feature_flags": {},
        },
    }


@router.post("/login/")
@router.post("/auth/login/")
async def login(request: Request) -> dict[str, Any]:
    state = state_of(request)
    body = await json_body(request)
    username = text_field(body, "username", required=True)
    password = text_field(body, "password", required=True, max_length=4096)
    assert username is not None
    assert password is not None
    wait = state.login_limit.acquire(username_key(username))
    if wait > 0:
        raise errors.throttled(wait)
    return _session(state, check_credentials(state, username, password))


@router.post("/refresh/")
@router.post("/auth/refresh/")
async def refresh(request: Request) -> dict[str, Any]:
    state = state_of(request)
    token = text_field(await json_body(request), "refresh_token", required=True, max_length=4096)
    assert token is not None
    try:
        claims = state.signer.verify(token, now=state.clock.timestamp())
    except TokenExpired as exc:
        raise errors.token_expired() from exc
    except (TokenInvalid, KeyError, TypeError) as exc:
        raise errors.authentication_failed("Invalid refresh token.") from exc
    principal = user_by_id(state, claims.user_id)
    if claims.kind != "refresh" or principal is None:
        raise errors.authentication_failed("Invalid refresh token.")
    return _session(state, principal)


@router.get("/auth/profile/")
async def profile(principal: Caller) -> dict[str, Any]:
    company = {"id": principal.company_id, "name": company_name(principal)}
    user = {"id": principal.user_id, "email": principal.username, "username": principal.username}
    return {**_identity(principal), "user": user, "companies": [company]}


@router.post("/auth/private_tokens/", status_code=201)
async def create_private_token(request: Request, principal: Caller) -> dict[str, Any]:
    state = state_of(request)
    body = await json_body(request)
    name = text_field(body, "name", required=True)
    expires = time_field(body, "expiration_time")
    token = new_private_token()
    doc = {
        "name": name,
        "expiration_time": format_wire_time(expires) if expires else None,
        "expires_at": expires.timestamp() if expires else None,
    }
    state.store.execute(
        "INSERT INTO private_tokens (user_id, token_sha256, doc) VALUES (?, ?, ?)",
        (principal.user_id, token_digest(token), json.dumps(doc)),
    )
    token_id = state.store.execute("SELECT last_insert_rowid()")[0][0]
    return {
        "id": int(token_id),
        "name": name,
        "expiration_time": doc["expiration_time"],
        "data": token,
    }


@router.get("/auth/private_tokens/")
async def list_private_tokens(request: Request, principal: Caller) -> dict[str, Any]:
    rows = state_of(request).store.execute(
        "SELECT id, doc FROM private_tokens WHERE user_id = ? ORDER BY id", (principal.user_id,)
    )
    tokens = []
    for token_id, raw in rows:
        doc = json.loads(raw)
        tokens.append(
            {"id": int(token_id), "name": doc["name"], "expiration_time": doc["expiration_time"]}
        )
    q = request.query_params.get("q")
    return paginate(request, [t for t in tokens if name_matches(t, q)])


@router.delete("/auth/private_tokens/{token_id}/", status_code=204)
async def delete_private_token(token_id: int, request: Request, principal: Caller) -> Response:
    store = state_of(request).store
    params = (token_id, principal.user_id)
    if not store.execute("SELECT id FROM private_tokens WHERE id = ? AND user_id = ?", params):
        raise errors.not_found()
    store.execute("DELETE FROM private_tokens WHERE id = ? AND user_id = ?", params)
    return Response(status_code=204)
