"""Dictionaries, applications, attaching an application to a dataset (§4.2, §13.1, §13.2, §13.4)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from haut.emulator import catalog, errors, shapes
from haut.emulator.auth import CompanyCaller, state_of
from haut.emulator.wire import json_body, name_matches, paginate, text_field
from schemas.wire_time import format_wire_time

router = APIRouter(prefix="/api/v1")


@router.get("/dicts/algorithms/")
async def algorithms() -> list[dict[str, Any]]:
    """No authentication: an Authorization header, even a malformed one, is ignored."""
    return catalog.algorithms_dict()


@router.get("/dicts/image_types/")
async def image_types() -> list[dict[str, Any]]:
    return catalog.image_types_dict()


@router.get("/companies/{company_id}/applications/")
async def list_applications(request: Request, _: CompanyCaller) -> dict[str, Any]:
    q = request.query_params.get("q")
    return paginate(request, [a for a in catalog.applications() if name_matches(a, q)])


@router.post("/companies/{company_id}/applications/{application_id}/runs/", status_code=201)
async def attach_application(
    company_id: str,
    application_id: str,
    request: Request,
    _: CompanyCaller,
) -> dict[str, Any]:
    """Attach an application to a dataset; attaching again replaces the enabled algorithms."""
    state = state_of(request)
    application = shapes.applications().get(application_id)
    if application is None:
        raise errors.not_found()
    body = await json_body(request)
    dataset_id = text_field(body, "dataset_id", required=True)
    dataset = state.store.get("datasets", str(dataset_id), parent=company_id)
    if dataset is None:
        raise errors.invalid(
            "dataset_id",
            f'Invalid pk "{dataset_id}" - object does not exist.',
            code="does_not_exist",
        )
    enabled = _enabled_algorithms(body, shapes.application_algorithm_ids(application))
    existing = [
        r
        for r in state.store.children("app_runs", dataset["id"])
        if r["application_id"] == application_id
    ]
    if existing:
        run = {**existing[0], "enabled_algorithms": enabled}
        state.store.replace("app_runs", run)
    else:
        run = {
            "id": str(uuid.uuid4()),
            "application_id": application_id,
            "dataset_id": dataset["id"],
            "enabled_algorithms": enabled,
            "creation_time": format_wire_time(state.clock.now()),
        }
        state.store.insert("app_runs", run, parent=dataset["id"], owner=application_id)
    return shapes.application_run(run)


def _enabled_algorithms(body: dict[str, Any], available: list[int]) -> list[int]:
    """The requested algorithm ids (all of the application's when omitted), validated."""
    requested = body.get("enabled_algorithms")
    if requested is None:
        return list(available)
    if not isinstance(requested, list) or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in requested
    ):
        raise errors.invalid(
            "enabled_algorithms", "Expected a list of algorithm ids.", code="not_a_list"
        )
    unknown = sorted(set(requested) - set(available))
    if unknown:
        raise errors.invalid(
            "enabled_algorithms",
            f"Algorithms {unknown} do not belong to this application.",
            code="invalid_choice",
        )
    return sorted(set(requested), key=requested.index)
