"""Datasets and their webhook (reference §4.1, §4.9, §13.11)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from haut.emulator import errors, shapes
from haut.emulator.auth import CompanyCaller, state_of
from haut.emulator.store import Doc
from haut.emulator.wire import (
    Body,
    bool_field,
    int_field,
    json_body,
    name_matches,
    paginate,
    text_field,
)
from schemas.wire_time import format_wire_time

router = APIRouter(prefix="/api/v1/companies/{company_id}/datasets")

MAX_RETENTION_DAYS = 365
WEBHOOK_AUTHORIZATIONS = (None, "query", "basic", "bearer")


def dataset_doc(request: Request, company_id: str, dataset_id: str) -> Doc:
    found = state_of(request).store.get("datasets", dataset_id, parent=company_id)
    if found is None:
        raise errors.not_found()
    return found


def _settings(body: Body, *, creating: bool) -> dict[str, Any]:
    """The dataset fields present in ``body``, validated."""
    if "expire_metadata_after_day" in body and "expire_metadata_after_days" not in body:
        # The quick start spells it without the final "s"; both mean the same setting.
        body["expire_metadata_after_days"] = body["expire_metadata_after_day"]
    settings: dict[str, Any] = {}
    if creating or "name" in body:
        settings["name"] = text_field(body, "name", required=True)
    for attr in ("expire_images_after_days", "expire_metadata_after_days"):
        if attr in body:
            settings[attr] = int_field(body, attr, maximum=MAX_RETENTION_DAYS)
    if "clean_images_as_soon_as_ready" in body:
        settings["clean_images_as_soon_as_ready"] = bool(
            bool_field(body, "clean_images_as_soon_as_ready")
        )
    if "custom_branding" in body:
        settings["custom_branding"] = int_field(body, "custom_branding")
    return settings


@router.post("/", status_code=201)
async def create_dataset(company_id: str, request: Request, _: CompanyCaller) -> dict[str, Any]:
    state = state_of(request)
    body = await json_body(request)
    image_type_id = int_field(body, "image_type_id", minimum=1)
    if image_type_id is not None and image_type_id not in shapes.image_types():
        raise errors.invalid(
            "image_type_id",
            f'Invalid pk "{image_type_id}" - object does not exist.',
            code="does_not_exist",
        )
    doc = {
        "id": str(uuid.uuid4()),
        "company_id": company_id,
        "image_type_id": image_type_id,
        "expire_images_after_days": None,
        "expire_metadata_after_days": None,
        "clean_images_as_soon_as_ready": False,
        "custom_branding": None,
        "creation_time": format_wire_time(state.clock.now()),
        **_settings(body, creating=True),
    }
    state.store.insert("datasets", doc, parent=company_id)
    return shapes.dataset(state.store, doc)


@router.get("/")
async def list_datasets(company_id: str, request: Request, _: CompanyCaller) -> dict[str, Any]:
    store = state_of(request).store
    q = request.query_params.get("q")
    docs = [d for d in store.children("datasets", company_id) if name_matches(d, q)]
    return paginate(request, [shapes.dataset(store, d) for d in docs])


@router.get("/short_list/")
async def short_list(company_id: str, request: Request, _: CompanyCaller) -> list[dict[str, Any]]:
    """A bare array of ``{id, name, image_type_id}``, filtered by ``q`` (name contains)."""
    q = request.query_params.get("q")
    docs = state_of(request).store.children("datasets", company_id)
    return [
        {
            "id": d["id"],
            "name": d["name"],
            "image_type_id": shapes.image_type(d["image_type_id"])["id"],
        }
        for d in docs
        if name_matches(d, q)
    ]


@router.get("/{dataset_id}/")
async def get_dataset(
    company_id: str, dataset_id: str, request: Request, _: CompanyCaller
) -> dict[str, Any]:
    return shapes.dataset(state_of(request).store, dataset_doc(request, company_id, dataset_id))


@router.put("/{dataset_id}/")
@router.patch("/{dataset_id}/")
@router.post("/{dataset_id}/")
async def update_dataset(
    company_id: str, dataset_id: str, request: Request, _: CompanyCaller
) -> dict[str, Any]:
    """PUT and POST behave like PATCH: the quick start sends retention fields alone.

    Its "Manage data retention" section says to "PUT or POST" them to the dataset's own path.
    """
    store = state_of(request).store
    doc = dataset_doc(request, company_id, dataset_id)
    doc.update(_settings(await json_body(request), creating=False))
    store.replace("datasets", doc)
    return shapes.dataset(store, doc)


def _webhook_settings(body: Body) -> dict[str, Any]:
    url = text_field(body, "url", required=True, max_length=2048)
    if urlsplit(str(url)).scheme not in ("http", "https"):
        raise errors.invalid("url", "Enter a valid URL.")
    authorization = body.get("authorization")
    if authorization not in WEBHOOK_AUTHORIZATIONS:
        raise errors.invalid(
            "authorization", f'"{authorization}" is not a valid choice.', code="invalid_choice"
        )
    method = body.get("method") or "post"
    if method not in ("post", "get"):
        raise errors.invalid("method", f'"{method}" is not a valid choice.', code="invalid_choice")
    enabled = bool_field(body, "enabled")
    return {
        "url": url,
        "authorization": authorization,
        "method": method,
        "authorization_key": text_field(body, "authorization_key", max_length=128),
        "authorization_value": text_field(body, "authorization_value", max_length=128),
        "enabled": True if enabled is None else enabled,
        "add_survey_answers": bool(bool_field(body, "add_survey_answers")),
        "merge_webhooks": bool(bool_field(body, "merge_webhooks")),
    }


@router.post("/{dataset_id}/webhooks/", status_code=201)
async def create_webhook(
    company_id: str, dataset_id: str, request: Request, _: CompanyCaller
) -> dict[str, Any]:
    """One webhook per dataset: a new one replaces the previous one."""
    state = state_of(request)
    dataset = dataset_doc(request, company_id, dataset_id)
    settings = _webhook_settings(await json_body(request))
    for old in state.store.children("webhooks", dataset["id"]):
        state.store.delete("webhooks", old["id"])
    doc = {
        "id": str(uuid.uuid4()),
        "dataset_id": dataset["id"],
        **settings,
        "secret_key": secrets.token_hex(16),
        "creation_time": format_wire_time(state.clock.now()),
    }
    return state.store.insert("webhooks", doc, parent=dataset["id"])


@router.get("/{dataset_id}/webhooks/")
async def list_webhooks(
    company_id: str, dataset_id: str, request: Request, _: CompanyCaller
) -> list[dict[str, Any]]:
    dataset = dataset_doc(request, company_id, dataset_id)
    return state_of(request).store.children("webhooks", dataset["id"])


@router.delete("/{dataset_id}/webhooks/{webhook_id}/", status_code=204)
async def delete_webhook(
    company_id: str,
    dataset_id: str,
    webhook_id: str,
    request: Request,
    _: CompanyCaller,
) -> Response:
    store = state_of(request).store
    dataset = dataset_doc(request, company_id, dataset_id)
    if store.get("webhooks", webhook_id, parent=dataset["id"]) is None:
        raise errors.not_found()
    store.delete("webhooks", webhook_id)
    return Response(status_code=204)
