"""Every error the Haut.AI client raises, and the mapping from httpx failures onto them.

The tree, by cause (its root a :class:`~schemas.errors.HautflowError`, like every error
hautflow defines)::

    HautError
    ├── AuthError            login refused, token invalid or expired beyond refresh
    ├── RateLimitedError     429, with the server's Retry-After hint
    ├── TransientError       5xx, connection errors, timeouts
    │   └── CreateInDoubtError   a create that may or may not have happened
    ├── NotFoundError        404
    └── RequestRefusedError  any other 4xx, with the server's errors[] (ErrorItem each)

Messages carry the method, a redacted path, the status and the server's error codes and
details; never a token, a password or a signed URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from haut.redaction import redact
from schemas.errors import HautflowError
from schemas.url_secrets import strip_url_secrets


@dataclass(frozen=True)
class ErrorItem:
    """One item of the server's ``errors[]`` list (drf-standardized-errors layout)."""

    code: str | None
    detail: str | None
    attr: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: Any) -> ErrorItem:
        if not isinstance(item, Mapping):
            return cls(code=None, detail=str(item))
        extra = item.get("extra")
        return cls(
            code=_text(item.get("code")),
            detail=_text(item.get("detail")),
            attr=_text(item.get("attr")),
            extra=extra if isinstance(extra, Mapping) else {},
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class HautError(HautflowError):
    """Base of every error raised by the Haut.AI client."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        errors: list[ErrorItem] | None = None,
    ) -> None:
        self.reason = message
        self.method = method
        self.path = strip_url_secrets(path) if path else path
        self.status = status
        self.errors: list[ErrorItem] = errors or []
        super().__init__(redact(_describe(message, method, self.path, status, self.errors)))

    @property
    def codes(self) -> list[str]:
        """The server's error codes, e.g. ``["token_expired"]``."""
        return [e.code for e in self.errors if e.code]


class AuthError(HautError):
    """Login refused, or a token invalid or expired beyond what a refresh can fix."""


class RateLimitedError(HautError):
    """The server answered 429; ``retry_after`` is its hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **context)


class TransientError(HautError):
    """A 5xx, a connection failure or a timeout: worth trying again later."""

    def __init__(self, message: str, *, reached_server: bool = True, **context: Any) -> None:
        # False only when the request provably never left (connect error, pool timeout).
        self.reached_server = reached_server
        super().__init__(message, **context)


class CreateInDoubtError(TransientError):
    """A create failed after the request was sent: the resource may exist; reconcile first."""

    def __init__(
        self, message: str, *, reconcile_by: Mapping[str, Any] | None = None, **context: Any
    ) -> None:
        # What identifies the resource if it was created (e.g. {"name": "alice"}); the
        # caller looks it up by these before creating again.
        self.reconcile_by: dict[str, Any] = dict(reconcile_by or {})
        super().__init__(message, **context)


class NotFoundError(HautError):
    """The server answered 404: the company, dataset, subject, batch or image does not exist."""


class RequestRefusedError(HautError):
    """The server refused the request as invalid (4xx); ``errors`` holds its reasons."""


def _describe(
    message: str,
    method: str | None,
    path: str | None,
    status: int | None,
    errors: list[ErrorItem],
) -> str:
    parts = [message]
    if method or path:
        parts.append(f"[{method or '?'} {path or '?'}]")
    if status is not None:
        parts.append(f"status {status}")
    for error in errors:
        where = f" ({error.attr})" if error.attr else ""
        parts.append(f"{error.code or 'error'}{where}: {error.detail or ''}".rstrip(": "))
    return " - ".join(parts)


def error_items(response: httpx.Response) -> list[ErrorItem]:
    """The ``errors[]`` of an error response; a non-standard body becomes one item."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return [ErrorItem(code=None, detail=text[:200])] if text else []
    if isinstance(body, Mapping):
        items = body.get("errors")
        if isinstance(items, list):
            return [ErrorItem.from_json(item) for item in items]
        if "detail" in body:
            return [ErrorItem(code=_text(body.get("code")), detail=_text(body["detail"]))]
    return [ErrorItem(code=None, detail=str(body)[:200])]


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds, or None when missing or not a number."""
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def error_from_response(response: httpx.Response) -> HautError:
    """The error a non-2xx response stands for."""
    request = response.request
    context: dict[str, Any] = {
        "method": request.method,
        "path": request.url.raw_path.decode("ascii", "replace"),
        "status": response.status_code,
        "errors": error_items(response),
    }
    status = response.status_code
    if status in (401, 403):
        return AuthError("not authorised", **context)
    if status == 404:
        return NotFoundError("not found", **context)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitedError("rate limited", retry_after=retry_after, **context)
    if status >= 500 or status == 408:
        return TransientError("server error", **context)
    return RequestRefusedError("request refused", **context)


# httpx failures that happen before any byte of the request reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def error_from_exception(exc: httpx.HTTPError, *, method: str, path: str) -> HautError:
    """The error an httpx transport failure stands for."""
    kind = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return TransientError(
            f"{kind}, request not sent", method=method, path=path, reached_server=False
        )
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"{kind} after sending", method=method, path=path)
    return HautError(f"{kind}", method=method, path=path)


def in_doubt(error: TransientError, reconcile_by: Mapping[str, Any] | None) -> CreateInDoubtError:
    """The same failure, restated for a create whose outcome is unknown."""
    return CreateInDoubtError(
        f"create outcome unknown ({error.reason})",
        reconcile_by=reconcile_by,
        method=error.method,
        path=error.path,
        status=error.status,
        errors=error.errors,
    )
