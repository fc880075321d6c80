"""Credentials and the shared access token: one login, refresh before expiry, renew on 401.

The login endpoint is rate limited upstream ("Firebase has rate limit"), so every concurrent
request shares one token and one in-flight renewal: N requests waiting for a token cause one
login, N requests failing with 401 cause one refresh, and a failed login is not repeated by
each waiter.
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
DEFAULT_FAILURE_MEMORY = 5.0  # seconds a failed login is answered from memory

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


def jwt_lifetime(token: str) -> float | None:
    """``exp - iat`` of a JWT (read without verifying it), or None if it has no such claims.

    A difference of two server times is immune to the local clock running ahead or behind.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        return None
    return float(expires - issued) if expires > issued else None


@dataclass
class Grant:
    """The token in use, until when it is good (local clock), and who it belongs to."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: float
    user_id: int | None = None
    company_id: str | None = None
    lifetime: float = DEFAULT_TOKEN_LIFETIME


class TokenManager:
    """Hands out a valid access token to every request, logging in or refreshing as needed.

    All callers that need a new token at the same time share one renewal (an asyncio task):
    N waiters cause one login sequence and all see its token or its error. A failed renewal
    is remembered for ``failure_memory`` seconds so a burst of callers cannot storm the login.
    """

    def __init__(
        self,
        credentials: Credentials,
        post_json: PostJson,
        *,
        clock: Callable[[], float],
        login_paths: Sequence[str] = LOGIN_PATHS,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        failure_memory: float = DEFAULT_FAILURE_MEMORY,
    ) -> None:
        self._credentials = credentials
        self._post_json = post_json
        self._clock = clock
        self._login_paths = tuple(login_paths)
        self._margin = refresh_margin
        self._failure_memory = failure_memory
        self._renewal: asyncio.Task[Grant] | None = None
        self._failure: tuple[float, HautError] | None = None  # (until, error)
        self._grant: Grant | None = None
        self.logins = 0
        self.refreshes = 0
        if isinstance(credentials, TokenCredentials):
            self._grant = Grant(credentials.token, None, math.inf, None, credentials.company_id)

    @property
    def grant(self) -> Grant | None:
        """The current grant (None before the first login)."""
        return self._grant

    def margin(self, grant: Grant) -> float:
        """How long before expiry a token is renewed; a short-lived token keeps 4/5 of its life."""
        return min(self._margin, grant.lifetime / 5)

    def _fresh(self) -> Grant | None:
        grant = self._grant
        if grant is not None and self._clock() < grant.expires_at - self.margin(grant):
            return grant
        return None

    async def token(self) -> str:
        """A token good for at least the refresh margin; joins or starts one shared renewal."""
        grant = self._fresh() or await self._shared_renewal()
        return grant.access_token.get_secret_value()

    async def token_rejected(self, token: str) -> str:
        """Called when the server said 401 to ``token``: a new token, renewed once for all."""
        if isinstance(self._credentials, TokenCredentials):
            raise AuthError("the private token was refused")
        current = self._grant
        if current is not None and current.access_token.get_secret_value() != token:
            return current.access_token.get_secret_value()  # someone already renewed it
        grant = await self._shared_renewal()
        return grant.access_token.get_secret_value()

    async def _shared_renewal(self) -> Grant:
        if self._renewal is None:
            if self._failure is not None:
                until, error = self._failure
                if self._clock() < until:
                    raise error
                self._failure = None
            self._renewal = asyncio.create_task(self._renew_once())
            # Its error is raised to the waiters; if all of them were cancelled, nobody reads it.
            self._renewal.add_done_callback(_consume_outcome)
        # shield: one caller being cancelled must not cancel the renewal the others wait for.
        return await asyncio.shield(self._renewal)

    async def _renew_once(self) -> Grant:
        try:
            return await self._renew()
        except HautError as error:
            self._failure = (self._clock() + self._failure_memory, error)
            raise
        finally:
            self._renewal = None

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
        lifetime = token_lifetime(login)
        previous = self._grant
        self._grant = Grant(
            access_token=login.access_token,
            refresh_token=login.refresh_token or (previous.refresh_token if previous else None),
            # Counted from the local clock on arrival, never from the server's exp: a local
            # clock running ahead would otherwise make every token look nearly expired.
            expires_at=self._clock() + lifetime,
            lifetime=lifetime,
            user_id=login.id if login.id is not None else (previous.user_id if previous else None),
            company_id=login.company_id or (previous.company_id if previous else None),
        )
        return self._grant


def _consume_outcome(task: asyncio.Task[Grant]) -> None:
    if not task.cancelled():
        task.exception()


def token_lifetime(login: Login) -> float:
    """Seconds the token of ``login`` lives: JWT ``exp - iat``, else ``expires_in``, else 1 h."""
    from_claims = jwt_lifetime(login.access_token.get_secret_value())
    if from_claims is not None:
        return from_claims
    expires_in = (login.model_extra or {}).get("expires_in")
    if isinstance(expires_in, int | float) and expires_in > 0:
        return float(expires_in)
    return DEFAULT_TOKEN_LIFETIME
