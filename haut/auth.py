"""Credentials and the shared access token: one login, refresh before expiry, renew on 401.

The login endpoint is rate limited upstream ("Firebase has rate limit"), so every concurrent
request shares one token behind an asyncio.Lock: N requests waiting for a token cause one
login, and N requests failing with 401 cause one refresh.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from haut.errors import AuthError, HautError, NotFoundError
from haut.paths import LOGIN_PATHS, REFRESH_PATH
from haut.redaction import get_logger, register_secret
from schemas.api import Login

log = get_logger(__name__)

DEFAULT_TOKEN_LIFETIME = 3600.0
DEFAULT_REFRESH_MARGIN = 300.0

PostJson = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Sends an unauthenticated POST with a JSON body and returns the decoded JSON answer."""


def _secret(value: str | SecretStr) -> SecretStr:
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    register_secret(secret)
    return secret


@dataclass(frozen=True, init=False)
class PasswordCredentials:
    """A user's e-mail and password, exchanged for an hour-long access token."""

    username: str
    password: SecretStr

    def __init__(self, username: str, password: str | SecretStr) -> None:
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "password", _secret(password))


@dataclass(frozen=True, init=False)
class TokenCredentials:
    """A private API token (never refreshed); company id from config or the profile."""

    token: SecretStr
    company_id: str | None

    def __init__(self, token: str | SecretStr, company_id: str | None = None) -> None:
        object.__setattr__(self, "token", _secret(token))
        object.__setattr__(self, "company_id", company_id)


Credentials = PasswordCredentials | TokenCredentials


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, read without verifying it; None otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


@dataclass
class Grant:
    """The token in use, until when it is good, and who it belongs to."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: float
    user_id: int | None = None
    company_id: str | None = None


class TokenManager:
    """Hands out a valid access token to every request, logging in or refreshing as needed."""

    def __init__(
        self,
        credentials: Credentials,
        post_json: PostJson,
        *,
        clock: Callable[[], float],
        login_paths: Sequence[str] = LOGIN_PATHS,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self._credentials = credentials
        self._post_json = post_json
        self._clock = clock
        self._login_paths = tuple(login_paths)
        self._margin = refresh_margin
        self._lock = asyncio.Lock()
        self._grant: Grant | None = None
        self.logins = 0
        self.refreshes = 0
        if isinstance(credentials, TokenCredentials):
            self._grant = Grant(credentials.token, None, math.inf, None, credentials.company_id)

    @property
    def grant(self) -> Grant | None:
        """The current grant (None before the first login)."""
        return self._grant

    def _fresh(self) -> Grant | None:
        grant = self._grant
        if grant is not None and self._clock() < grant.expires_at - self._margin:
            return grant
        return None

    async def token(self) -> str:
        """A token good for at least the refresh margin; logs in or refreshes at most once."""
        grant = self._fresh()
        if grant is None:
            async with self._lock:
                grant = self._fresh() or await self._renew()
        return grant.access_token.get_secret_value()

    async def token_rejected(self, token: str) -> str:
        """Called when the server said 401 to ``token``: a new token, renewed once for all."""
        if isinstance(self._credentials, TokenCredentials):
            raise AuthError("the private token was refused")
        async with self._lock:
            current = self._grant
            if current is not None and current.access_token.get_secret_value() != token:
                return current.access_token.get_secret_value()  # someone already renewed it
            grant = await self._renew()
        return grant.access_token.get_secret_value()

    async def _renew(self) -> Grant:
        grant = self._grant
        if grant is not None and grant.refresh_token is not None:
            try:
                return await self._refresh(grant.refresh_token)
            except HautError as error:
                log.warning("token refresh failed, logging in again: %s", error)
        return await self._login()

    async def _refresh(self, refresh_token: SecretStr) -> Grant:
        self.refreshes += 1
        log.info("refreshing the access token")
        body = await self._post_json(
            REFRESH_PATH, {"refresh_token": refresh_token.get_secret_value()}
        )
        return self._accept(Login.model_validate(body))

    async def _login(self) -> Grant:
        credentials = self._credentials
        if not isinstance(credentials, PasswordCredentials):
            raise AuthError("no password credentials to log in with")
        body = {
            "username": credentials.username,
            "password": credentials.password.get_secret_value(),
        }
        for index, path in enumerate(self._login_paths):
            try:
                self.logins += 1
                log.info("logging in as %s", credentials.username)
                return self._accept(Login.model_validate(await self._post_json(path, body)))
            except NotFoundError:
                if index == len(self._login_paths) - 1:
                    raise
                log.info("login path %s not found, trying the next one", path)
        raise AuthError("no login path configured")

    def _accept(self, login: Login) -> Grant:
        register_secret(login.access_token)
        register_secret(login.refresh_token)
        token = login.access_token.get_secret_value()
        lifetime = (login.model_extra or {}).get("expires_in")
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        expiry = jwt_expiry(token) or self._clock() + lifetime
        previous = self._grant
        self._grant = Grant(
            access_token=login.access_token,
            refresh_token=login.refresh_token or (previous.refresh_token if previous else None),
            expires_at=expiry,
            user_id=login.id if login.id is not None else (previous.user_id if previous else None),
            company_id=login.company_id or (previous.company_id if previous else None),
        )
        return self._grant
