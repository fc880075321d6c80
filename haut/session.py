"""One authenticated, throttled, retried HTTP exchange with the Haut.AI API.

:class:`ApiSession` is the only place the client touches the network: it owns the
``httpx.AsyncClient`` (whose transport tests may replace), the throttle, the shared token
and the retry loop, and it turns every failure into the error tree of :mod:`haut.errors`.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx

from haut.auth import Credentials, TokenManager
from haut.errors import (
    AuthError,
    HautError,
    TransientError,
    error_from_exception,
    error_from_response,
    in_doubt,
)
from haut.paths import EMULATOR_HEADER, LOGIN_PATHS
from haut.ratelimit import RequestBudget, Throttle
from haut.redaction import get_logger, install_log_redaction
from haut.retry import RetryPolicy, Sleep, call_with_retries
from schemas.api import page_items
from schemas.errors import HautflowError
from schemas.url_secrets import strip_url_secrets

log = get_logger(__name__)


class TokenPlacement(Enum):
    """Where a request carries the access token."""

    NONE = "none"
    BEARER = "bearer"  # Authorization: Bearer <token> (the REST API)
    ACCESS_TOKEN_HEADER = "access-token"  # noqa: S105 - header name, for the PDF service
    QUERY = "query"  # ?token=<token> (aux image JPEGs)


class ApiSession:
    """Sends requests with a valid token, within the throttle, retrying what is safe to retry."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
        max_concurrency: int,
        requests_per_second: float | None,
        budget: RequestBudget | None = None,
        retry: RetryPolicy,
        sleep: Sleep,
        clock: Callable[[], float],
        login_paths: Sequence[str] = LOGIN_PATHS,
        refresh_margin: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        install_log_redaction()
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.throttle = Throttle(max_concurrency, requests_per_second, budget)
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=timeout)
        self.emulated: bool | None = None
        """Whether the service said it is an emulator (None until it first answered)."""
        self.tokens = TokenManager(
            credentials,
            self._post_unauthenticated,
            clock=clock,
            login_paths=login_paths,
            refresh_margin=refresh_margin,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post_unauthenticated(self, path: str, body: dict[str, Any]) -> Any:
        return await self.json("POST", path, body=body, token=TokenPlacement.NONE)

    async def json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        token: TokenPlacement = TokenPlacement.BEARER,
        create: bool = False,
        reconcile_by: Mapping[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty body, e.g. 204)."""
        response = await self.send(
            method,
            path,
            body=body,
            params=params,
            token=token,
            create=create,
            reconcile_by=reconcile_by,
        )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise TransientError(
                "answer is not JSON", method=method, path=path, status=response.status_code
            ) from error

    async def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        token: TokenPlacement = TokenPlacement.BEARER,
        create: bool = False,
        reconcile_by: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """A successful response, after retries; raises the matching HautError otherwise.

        ``create`` marks a POST that makes a resource: it must stay single, so it is repeated
        only when the server provably did not act on it (see ``retry.should_retry``); after
        any other failure it raises CreateInDoubtError carrying ``reconcile_by``.
        """
        call = _CallState(method)

        async def attempt() -> httpx.Response:
            try:
                return await self._authorised_exchange(path, body, params, token, call)
            except TransientError as error:
                call.may_have_acted = call.may_have_acted or error.reached_server
                if create and error.reached_server:
                    raise in_doubt(error, reconcile_by) from error
                raise

        try:
            return await call_with_retries(
                attempt, policy=self.retry, sleep=self._sleep, rng=self._rng, create=create
            )
        except _TokenUnavailable as unavailable:
            raise unavailable.error from None

    async def _token_for(self, placement: TokenPlacement) -> str | None:
        if placement is TokenPlacement.NONE:
            return None
        try:
            return await self.tokens.token()
        except HautError as error:
            # The login already retried on its own: retrying it again per request would
            # multiply the attempts (and every queued request would repeat them).
            raise _TokenUnavailable(error) from None

    async def _authorised_exchange(
        self,
        path: str,
        body: Any,
        params: Mapping[str, Any] | None,
        placement: TokenPlacement,
        call: _CallState,
    ) -> httpx.Response:
        method = call.method
        secret = await self._token_for(placement)
        response = await self._exchange(method, path, body, params, placement, secret)
        if response.status_code == 401 and secret is not None and call.renewals_left > 0:
            # The token expired early or was revoked: renew once (shared with every other
            # request that saw the same 401), then try this request once more.
            call.renewals_left -= 1
            try:
                secret = await self.tokens.token_rejected(secret)
            except AuthError:
                raise error_from_response(response) from None
            except HautError as error:
                raise _TokenUnavailable(error) from None
            response = await self._exchange(method, path, body, params, placement, secret)
        if response.status_code == 404 and method == "DELETE" and call.may_have_acted:
            # An earlier attempt reached the server before failing: it deleted the resource.
            log.info(
                "DELETE %s: gone on a retry, the earlier attempt deleted it",
                strip_url_secrets(path),
            )
            return httpx.Response(204, request=response.request)
        if response.is_error:
            raise error_from_response(response)
        return response

    async def _exchange(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, Any] | None,
        placement: TokenPlacement,
        secret: str | None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        query = dict(params or {})
        if secret is not None:
            if placement is TokenPlacement.BEARER:
                headers["Authorization"] = f"Bearer {secret}"
            elif placement is TokenPlacement.ACCESS_TOKEN_HEADER:
                headers["access-token"] = secret
            elif placement is TokenPlacement.QUERY:
                query["token"] = secret
        started = time.monotonic()
        async with self.throttle:
            try:
                response = await self._http.request(
                    method, path, json=body, params=query or None, headers=headers
                )
            except httpx.HTTPError as error:
                raise error_from_exception(error, method=method, path=path) from None
            except OSError as error:
                # In-process transports (httpx.ASGITransport) let a dropped connection surface
                # raw, after the server may have acted on the request.
                raise TransientError(
                    f"{type(error).__name__} after sending", method=method, path=path
                ) from None
        self.emulated = EMULATOR_HEADER in response.headers
        log.debug(
            "%s %s -> %d in %.3fs",
            method,
            strip_url_secrets(path),
            response.status_code,
            time.monotonic() - started,
        )
        return response

    async def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100
    ) -> AsyncIterator[list[Any]]:
        """The raw items of every page of a DRF list (a bare array is one page)."""
        query: dict[str, Any] | None = {"page_size": page_size, **(params or {})}
        next_path: str | None = path
        while next_path is not None:
            body = await self.json("GET", next_path, params=query)
            try:
                items, following = page_items(body)
            except ValueError as error:
                raise HautError(str(error), method="GET", path=next_path) from None
            yield items
            # Follow only the path and query of "next": its host may be the server's own name.
            next_path = _path_of(following) if following else None
            query = None
        return


@dataclass
class _CallState:
    """What the attempts of one call share."""

    method: str
    renewals_left: int = 1  # one token renewal per call, shared by all attempts
    may_have_acted: bool = False  # an attempt failed after reaching the server


class _TokenUnavailable(HautflowError):
    """No token could be had: ends the call's retries (the login retried already)."""

    def __init__(self, error: HautError) -> None:
        super().__init__(str(error))
        self.error = error


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
