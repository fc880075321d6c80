"""Inspection and control endpoints for tests (never rate limited or faulted): /_emulator/..."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from haut.emulator import errors, processing
from haut.emulator.auth import state_of
from haut.emulator.wire import json_body

router = APIRouter(prefix="/_emulator")


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Counts of every resource, and how often each photo (by sha256) was uploaded."""
    state = state_of(request)
    store = state.store
    images = store.all("images")
    counts = {table: store.count(table) for table in ("datasets", "subjects", "batches", "images")}
    return {
        **counts,
        "users": int(store.execute("SELECT COUNT(*) FROM users")[0][0]),
        "results": store.count("results"),
        "aux_images": store.count("aux_images"),
        "images_complete": sum(1 for image in images if image.get("complete")),
        "pending_jobs": int(store.execute("SELECT COUNT(*) FROM jobs")[0][0]),
        "uploads_by_sha256": store.uploads(),
        "websocket_listeners": state.hub.listeners,
    }


@router.get("/requests")
async def requests_answered(request: Request) -> dict[str, Any]:
    """The API requests answered since the emulator started (``/_emulator/`` ones not counted):
    in all, throttled (429, the rate limit's or an injected fault's), and by status."""
    by_status = state_of(request).answers_by_status
    return {
        "requests": sum(by_status.values()),
        "throttled": by_status[429],
        "by_status": {str(status): n for status, n in sorted(by_status.items())},
    }


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    return state_of(request).faults.config.to_json()


@router.put("/faults")
async def put_faults(request: Request) -> dict[str, Any]:
    """Replace the given fault fields (the others keep their values)."""
    injector = state_of(request).faults
    try:
        injector.configure(injector.config.updated(await json_body(request)))
    except (KeyError, TypeError) as exc:
        raise errors.invalid(None, f"Unknown fault setting: {exc}") from exc
    return injector.config.to_json()


@router.get("/clock")
async def get_clock(request: Request) -> dict[str, Any]:
    clock = state_of(request).clock
    return {"now": clock.now().isoformat(), "offset_seconds": clock.offset_seconds}


@router.post("/clock")
async def advance_clock(request: Request) -> dict[str, Any]:
    state = state_of(request)
    seconds = (await json_body(request)).get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise errors.invalid("advance_seconds", "A number of seconds >= 0 is required.")
    state.advance_clock(float(seconds))
    processing.settle_logged(state)
    return await get_clock(request)


@router.get("/webhook_deliveries")
async def webhook_deliveries(request: Request) -> list[dict[str, Any]]:
    return state_of(request).webhooks.log()


@router.get("/config")
async def config(request: Request) -> dict[str, Any]:
    settings = state_of(request).config
    return {
        "algorithm_delay_seconds": settings.algorithm_delay_seconds,
        "rate_limit_per_second": settings.rate_limit_per_second,
        "login_limit_per_minute": settings.login_limit_per_minute,
        "token_lifetime_seconds": settings.token_lifetime_seconds,
        "webhook_max_attempts": settings.webhook_max_attempts,
        "credentials_configured": settings.credentials is not None,
        "persistent": settings.state_path is not None,
        "detector_row": settings.detector_row.value,
        "faults": asdict(settings.faults),
    }
