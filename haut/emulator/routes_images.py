"""Image uploads (base64), image objects and the image files (reference §4.5, §13.9, §13.14)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import threading
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from haut.emulator import analysis, errors, processing, shapes
from haut.emulator.auth import CompanyCaller, authenticate, bearer_token, state_of
from haut.emulator.clock import moment
from haut.emulator.retention import aux_jpeg
from haut.emulator.routes_subjects import (
    BatchInPath,
    SubjectInPath,
    base_url,
    batch_doc,
    new_batch,
)
from haut.emulator.state import EmulatorState
from haut.emulator.store import Doc
from haut.emulator.wire import Body, int_field, json_body, text_field, time_field
from schemas.wire_time import format_wire_time

MAX_IMAGE_BYTES = 30 * 1024 * 1024  # the v3 signed upload's limit (reference §1.5)
_SUBJECT = "/api/v1/companies/{company_id}/datasets/{dataset_id}/subjects/{subject_id}"
_BATCH = _SUBJECT + "/batches/{batch_id}"

router = APIRouter()


def _placement(state: EmulatorState, subject: Doc, body: Body) -> tuple[dict[str, Any], int, int]:
    """The dataset's image type and the validated side and light of an upload."""
    dataset = state.store.get("datasets", subject["dataset_id"])
    assert dataset is not None
    kind = shapes.image_type(dataset.get("image_type_id"))
    side_id = int_field(body, "side_id", minimum=1)
    light_id = int_field(body, "light_id", minimum=1)
    side_id = kind["sides"][0]["id"] if side_id is None else side_id
    light_id = kind["lights"][0]["id"] if light_id is None else light_id
    if shapes.find_by_id(kind["sides"], side_id) is None:
        raise errors.invalid(
            "side_id",
            f"Side {side_id} does not exist for {kind['tech_name']} images.",
            code="invalid_side",
        )
    if shapes.find_by_id(kind["lights"], light_id) is None:
        raise errors.invalid(
            "light_id",
            f"Light {light_id} does not exist for {kind['tech_name']} images.",
            code="invalid_light",
        )
    return kind, side_id, light_id


def _check_capacity(state: EmulatorState, batch: Doc, kind: dict[str, Any], side_id: int) -> None:
    """A selfie batch holds one image per side (at most 3); skin and visia batches hold one."""
    present = state.store.children("images", batch["id"])
    if any(image["side_id"] == side_id for image in present):
        raise errors.invalid(
            "side_id", "This batch already has an image for this side.", code="side_taken"
        )
    capacity = len(kind["sides"]) if kind["id"] == shapes.SELFIE_IMAGE_TYPE_ID else 1
    if len(present) >= capacity:
        raise errors.invalid(
            None,
            f"A {kind['tech_name']} batch holds at most {capacity} image(s).",
            code="batch_full",
        )


def _decode(state: EmulatorState, body: Body) -> tuple[bytes, analysis.Photo]:
    text = text_field(body, "b64data", required=True, max_length=2**31)
    assert text is not None
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    if len(text) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise _too_large()
    try:
        data = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise errors.invalid("b64data", "Invalid base64 data.", code="invalid_image") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large()
    known = state.photos.get(hashlib.sha256(data).hexdigest())
    if known is not None:
        return data, known
    try:
        return data, analysis.inspect_photo(data)
    except analysis.UnreadableImage as exc:
        raise errors.invalid(
            "b64data", "Upload a valid image: a JPEG or PNG file.", code="invalid_image"
        ) from exc


_INSPECTING = threading.Lock()
"""One photo inspected at a time: OpenCV's cascade classifiers are not safe to share."""


def _decode_alone(state: EmulatorState, body: Body) -> tuple[bytes, analysis.Photo]:
    with _INSPECTING:
        return _decode(state, body)


async def _decoded(state: EmulatorState, body: Body) -> tuple[bytes, analysis.Photo]:
    """:func:`_decode` off the event loop: inspecting a photo takes tens of milliseconds, in
    which the service would otherwise answer no other request."""
    return await asyncio.to_thread(_decode_alone, state, body)


def _too_large() -> errors.ApiError:
    return errors.ApiError(
        413, "file_too_large", "The image is larger than 30 MiB.", attr="b64data"
    )


def _store_image(
    state: EmulatorState,
    batch: Doc,
    body: Body,
    placement: tuple[dict[str, Any], int, int],
    decoded: tuple[bytes, analysis.Photo],
) -> Doc:
    (kind, side_id, light_id), (data, photo) = placement, decoded
    captured = time_field(body, "creation_time")
    now = state.clock.timestamp()
    doc: Doc = {
        "id": str(uuid.uuid4()),
        "name": text_field(body, "name") or "",
        "batch_id": batch["id"],
        "subject_id": batch["subject_id"],
        "dataset_id": batch["dataset_id"],
        "company_id": batch["company_id"],
        "image_type_id": kind["id"],
        "side_id": side_id,
        "light_id": light_id,
        "creation_time": format_wire_time(captured)
        if captured
        else batch.get("captured_at") or format_wire_time(moment(now)),
        "uploaded_at": now,
        "sha256": photo.sha256,
        "width": photo.width,
        "height": photo.height,
        "image_format": photo.image_format,
        "complete": False,
        "photo_deleted": False,
    }
    processing.remember_photo(state, photo)
    with state.store.transaction():
        processing.schedule(state, doc)
        state.store.put_blob(doc["id"], data)
        state.store.insert("images", doc, parent=batch["id"], owner=batch["subject_id"])
        state.store.count_upload(photo.sha256)
    # With no delay the image is complete before the answer; the upload itself is stored
    # whatever processing does, so a processing failure must not turn into an error answer.
    processing.settle_logged(state)
    return state.store.get("images", doc["id"]) or doc


@router.post(_BATCH + "/images/", status_code=201)
async def upload_to_batch(
    request: Request, batch: BatchInPath, subject: SubjectInPath
) -> dict[str, Any]:
    state = state_of(request)
    body = await json_body(request)
    placement = _placement(state, subject, body)
    _check_capacity(state, batch, placement[0], placement[1])
    decoded = await _decoded(state, body)
    # Checked again: another upload to this batch may have been stored meanwhile.
    _check_capacity(state, batch, placement[0], placement[1])
    doc = _store_image(state, batch, body, placement, decoded)
    return shapes.image(doc, base_url(request))


@router.post(_SUBJECT + "/images/", status_code=201)
async def upload_to_subject(request: Request, subject: SubjectInPath) -> dict[str, Any]:
    """Upload without a batch: a new batch is created for the image (``image_batch_id``)."""
    state = state_of(request)
    body = await json_body(request)
    placement = _placement(state, subject, body)
    decoded = await _decoded(state, body)
    batch = new_batch(state, subject, captured_at=None)
    return shapes.image(_store_image(state, batch, body, placement, decoded), base_url(request))


@router.get(_BATCH + "/images/")
async def list_images(request: Request, batch: BatchInPath) -> list[dict[str, Any]]:
    docs = state_of(request).store.children("images", batch["id"])
    return [shapes.image(doc, base_url(request)) for doc in docs]


def image_doc(
    request: Request,
    company_id: str,
    dataset_id: str,
    subject_id: str,
    batch_id: str,
    image_id: str,
) -> Doc:
    batch = batch_doc(request, company_id, dataset_id, subject_id, batch_id)
    found = state_of(request).store.get("images", image_id, parent=batch["id"])
    if found is None:
        raise errors.not_found()
    return found


async def image_in_path(
    company_id: str,
    dataset_id: str,
    subject_id: str,
    batch_id: str,
    image_id: str,
    request: Request,
    _: CompanyCaller,
) -> Doc:
    """The image the path names, once the caller is known to belong to its company."""
    return image_doc(request, company_id, dataset_id, subject_id, batch_id, image_id)


ImageInPath = Annotated[Doc, Depends(image_in_path)]


@router.get(_BATCH + "/images/{image_id}/")
async def get_image(request: Request, image: ImageInPath) -> dict[str, Any]:
    return shapes.image(image, base_url(request))


@router.get("/images/{file_id}.jpg")
async def image_file(file_id: str, request: Request) -> Response:
    """An aux image (or the original photo) by id; ``?token=`` or a Bearer header authorises."""
    state = state_of(request)
    token = request.query_params.get("token") or bearer_token(request.headers.get("authorization"))
    principal = authenticate(state, token)
    aux = state.store.get("aux_images", file_id)
    image = state.store.get("images", aux["image_id"] if aux else file_id)
    if image is None or image["company_id"] != principal.company_id:
        raise errors.not_found()
    if aux is not None:
        data, media_type = aux_jpeg(state, aux), "image/jpeg"
    else:
        data, media_type = state.store.blob(image["id"]), f"image/{image['image_format'].lower()}"
    if data is None:
        raise errors.not_found()
    return Response(content=data, media_type=media_type)
