"""Error responses in the drf-standardized-errors shape the real API uses (reference §1.3, §13).

Every failure leaves the app as ``{"type": ..., "errors": [{"code", "detail", "attr"}]}``.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """An error response: HTTP status, error type and the ``errors[]`` items."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        attr: str | None = None,
        error_type: str = "client_error",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.error_type = error_type
        self.errors: list[dict[str, Any]] = [{"code": code, "detail": detail, "attr": attr}]
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"type": self.error_type, "errors": self.errors}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(attr: str | None, detail: str, code: str = "invalid") -> ApiError:
    """400 validation_error about one field."""
    return ApiError(400, code, detail, attr=attr, error_type="validation_error")


def required(attr: str) -> ApiError:
    return invalid(attr, "This field is required.", code="required")


def not_found() -> ApiError:
    return ApiError(404, "not_found", "Not found.")


def not_authenticated() -> ApiError:
    return ApiError(401, "not_authenticated", "Authentication credentials were not provided.")


def authentication_failed(detail: str = "Invalid token.") -> ApiError:
    return ApiError(401, "authentication_failed", detail)


def token_expired() -> ApiError:
    return ApiError(401, "token_expired", "Token has expired.")


def permission_denied() -> ApiError:
    return ApiError(403, "permission_denied", "You do not have permission to perform this action.")


def throttled(wait_seconds: float) -> ApiError:
    """429 with ``Retry-After`` in whole seconds (at least 1), as DRF throttling answers."""
    seconds = max(1, math.ceil(wait_seconds))
    return ApiError(
        429,
        "throttled",
        f"Request was throttled. Expected available in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error FastAPI or Starlette raises through the DRF shape."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return not_found().response()
        if exc.status_code == 405:
            return ApiError(405, "method_not_allowed", "Method not allowed.").response()
        return ApiError(exc.status_code, "error", str(exc.detail)).response()

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "code": "invalid",
                "detail": str(item.get("msg", "Invalid value.")),
                "attr": ".".join(str(p) for p in item.get("loc", ())[1:]) or None,
            }
            for item in exc.errors()
        ]
        body = {"type": "validation_error", "errors": errors}
        return JSONResponse(body, status_code=400)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
