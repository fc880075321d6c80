"""Request bodies, field validation and DRF pagination (reference §13.13), in the API's terms."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import Request

from haut.emulator import errors
from schemas.wire_time import parse_wire_time

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

Body = dict[str, Any]


async def json_body(request: Request) -> Body:
    """The JSON object sent, ``{}`` for an empty body; DRF's parse error otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise errors.ApiError(400, "parse_error", f"JSON parse error - {exc}") from exc
    if not isinstance(body, dict):
        raise errors.invalid("non_field_errors", "Invalid data. Expected a dictionary.")
    return body


def text_field(
    body: Body, attr: str, *, required: bool = False, max_length: int = 512
) -> str | None:
    value = body.get(attr)
    if value is None:
        if required:
            raise errors.required(attr)
        return None
    if not isinstance(value, str):
        raise errors.invalid(attr, "Not a valid string.")
    if required and not value.strip():
        raise errors.invalid(attr, "This field may not be blank.", code="blank")
    if len(value) > max_length:
        raise errors.invalid(
            attr, f"Ensure this field has no more than {max_length} characters.", code="max_length"
        )
    return value


def int_field(body: Body, attr: str, *, maximum: int | None = None, minimum: int = 0) -> int | None:
    value = body.get(attr)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise errors.invalid(attr, "A valid integer is required.")
    try:
        number = int(value)
    except ValueError as exc:
        raise errors.invalid(attr, "A valid integer is required.") from exc
    if maximum is not None and number > maximum:
        raise errors.invalid(
            attr, f"Ensure this value is less than or equal to {maximum}.", code="max_value"
        )
    if number < minimum:
        raise errors.invalid(
            attr, f"Ensure this value is greater than or equal to {minimum}.", code="min_value"
        )
    return number


def bool_field(body: Body, attr: str) -> bool | None:
    value = body.get(attr)
    if value is None or isinstance(value, bool):
        return value
    raise errors.invalid(attr, "Must be a valid boolean.")


def time_field(body: Body, attr: str) -> datetime | None:
    value = body.get(attr)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.invalid(attr, "Datetime has wrong format.")
    try:
        return parse_wire_time(value)
    except ValueError as exc:
        raise errors.invalid(attr, "Datetime has wrong format.") from exc


def query_time(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    return time_field({name: value}, name) if value else None


def name_matches(item: dict[str, Any], q: str | None) -> bool:
    return not q or q.lower() in str(item.get("name", "")).lower()


def paginate(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{count, next, previous, results}`` with absolute next/previous URLs, DRF style."""
    page, page_size = _page_numbers(request)
    items = _ordered(items, request.query_params.get("ordering"))
    start = (page - 1) * page_size
    if start >= len(items) and page != 1:
        raise errors.ApiError(404, "not_found", "Invalid page.")
    has_next = start + page_size < len(items)
    return {
        "count": len(items),
        "next": str(request.url.include_query_params(page=page + 1)) if has_next else None,
        "previous": _previous_url(request, page),
        "results": items[start : start + page_size],
    }


def _page_numbers(request: Request) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("page", "1"))
        page_size = int(request.query_params.get("page_size", str(DEFAULT_PAGE_SIZE)))
    except ValueError as exc:
        raise errors.ApiError(404, "not_found", "Invalid page.") from exc
    if page < 1:
        raise errors.ApiError(404, "not_found", "Invalid page.")
    return page, max(1, min(page_size, MAX_PAGE_SIZE))


def _previous_url(request: Request, page: int) -> str | None:
    if page <= 1:
        return None
    if page == 2:  # DRF drops the page parameter for the first page
        return str(request.url.remove_query_params("page"))
    return str(request.url.include_query_params(page=page - 1))


def _ordered(items: list[dict[str, Any]], ordering: str | None) -> list[dict[str, Any]]:
    if not ordering:
        return items
    key = ordering.lstrip("-")
    if not items or key not in items[0]:
        return items
    return sorted(
        items, key=lambda item: str(item.get(key) or ""), reverse=ordering.startswith("-")
    )
