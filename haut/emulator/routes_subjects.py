"""Subjects and batches (reference §4.3, §4.4)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from haut.emulator import errors, shapes
from haut.emulator.auth import CompanyCaller, company_name, state_of
from haut.emulator.retention import aux_blob_id
from haut.emulator.routes_datasets import dataset_doc
from haut.emulator.state import EmulatorState
from haut.emulator.store import Doc
from haut.emulator.wire import Body, json_body, name_matches, paginate, text_field, time_field
from schemas.wire_time import format_wire_time

router = APIRouter(prefix="/api/v1/companies/{company_id}/datasets/{dataset_id}/subjects")

_EDITABLE = ("birth_date", "biological_sex", "meta")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def subject_doc(request: Request, company_id: str, dataset_id: str, subject_id: str) -> Doc:
    dataset = dataset_doc(request, company_id, dataset_id)
    found = state_of(request).store.get("subjects", subject_id, parent=dataset["id"])
    if found is None:
        raise errors.not_found()
    return found


async def subject_in_path(
    company_id: str, dataset_id: str, subject_id: str, request: Request, _: CompanyCaller
) -> Doc:
    """The subject the path names, once the caller is known to belong to its company."""
    return subject_doc(request, company_id, dataset_id, subject_id)


SubjectInPath = Annotated[Doc, Depends(subject_in_path)]


def batch_doc(
    request: Request, company_id: str, dataset_id: str, subject_id: str, batch_id: str
) -> Doc:
    subject = subject_doc(request, company_id, dataset_id, subject_id)
    found = state_of(request).store.get("batches", batch_id, parent=subject["id"])
    if found is None:
        raise errors.not_found()
    return found


def _subject_fields(body: Body, *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if creating or "name" in body:
        fields["name"] = text_field(body, "name", required=True)
    if "birth_date" in body and body["birth_date"] is not None:
        time_field(body, "birth_date")  # validates the format; the text is kept as sent
    fields.update({key: body[key] for key in _EDITABLE if key in body})
    return fields


@router.post("/", status_code=201)
async def create_subject(
    company_id: str,
    dataset_id: str,
    request: Request,
    principal: CompanyCaller,
) -> dict[str, Any]:
    state = state_of(request)
    dataset = dataset_doc(request, company_id, dataset_id)
    doc = {
        "id": str(uuid.uuid4()),
        "dataset_id": dataset["id"],
        "company_id": company_id,
        "company_name": company_name(principal),
        "author_id": principal.user_id,
        "birth_date": None,
        "biological_sex": None,
        "meta": None,
        "promote_image_id": None,
        "creation_time": format_wire_time(state.clock.now()),
        **_subject_fields(await json_body(request), creating=True),
    }
    state.store.insert("subjects", doc, parent=dataset["id"])
    return shapes.subject(state.store, doc)


@router.get("/")
async def list_subjects(
    company_id: str, dataset_id: str, request: Request, _: CompanyCaller
) -> dict[str, Any]:
    store = state_of(request).store
    dataset = dataset_doc(request, company_id, dataset_id)
    q = request.query_params.get("q")
    docs = [d for d in store.children("subjects", dataset["id"]) if name_matches(d, q)]
    return paginate(request, [shapes.subject(store, d) for d in docs])


@router.delete("/delete/", status_code=204)
async def delete_subjects(
    company_id: str, dataset_id: str, request: Request, _: CompanyCaller
) -> Response:
    state = state_of(request)
    dataset = dataset_doc(request, company_id, dataset_id)
    ids = (await json_body(request)).get("subjects_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise errors.invalid("subjects_ids", "Expected a list of subject ids.", code="not_a_list")
    for subject_id in ids:
        subject = state.store.get("subjects", subject_id, parent=dataset["id"])
        if subject is not None:
            delete_subject(state, subject)
    return Response(status_code=204)


@router.get("/{subject_id}/")
async def get_subject(request: Request, subject: SubjectInPath) -> dict[str, Any]:
    return shapes.subject(state_of(request).store, subject)


@router.patch("/{subject_id}/")
@router.put("/{subject_id}/")
async def update_subject(request: Request, subject: SubjectInPath) -> dict[str, Any]:
    store = state_of(request).store
    subject.update(_subject_fields(await json_body(request), creating=False))
    store.replace("subjects", subject)
    return shapes.subject(store, subject)


@router.delete("/{subject_id}/", status_code=204)
async def delete_one_subject(request: Request, subject: SubjectInPath) -> Response:
    delete_subject(state_of(request), subject)
    return Response(status_code=204)


@router.post("/{subject_id}/batches/", status_code=201)
async def create_batch(request: Request, subject: SubjectInPath) -> dict[str, Any]:
    state = state_of(request)
    captured = time_field(await json_body(request), "creation_time")
    doc = new_batch(state, subject, captured_at=format_wire_time(captured) if captured else None)
    return shapes.batch(state.store, doc, base_url(request))


def new_batch(state: EmulatorState, subject: Doc, *, captured_at: str | None) -> Doc:
    """A batch; its images take ``captured_at`` as their creation time when it is given."""
    doc = {
        "id": str(uuid.uuid4()),
        "subject_id": subject["id"],
        "dataset_id": subject["dataset_id"],
        "company_id": subject["company_id"],
        "creation_time": captured_at or format_wire_time(state.clock.now()),
        "captured_at": captured_at,
    }
    return state.store.insert("batches", doc, parent=subject["id"])


@router.get("/{subject_id}/batches/")
async def list_batches(request: Request, subject: SubjectInPath) -> list[dict[str, Any]]:
    store = state_of(request).store
    return [
        shapes.batch(store, d, base_url(request)) for d in store.children("batches", subject["id"])
    ]


async def batch_in_path(
    company_id: str,
    dataset_id: str,
    subject_id: str,
    batch_id: str,
    request: Request,
    _: CompanyCaller,
) -> Doc:
    """The batch the path names, once the caller is known to belong to its company."""
    return batch_doc(request, company_id, dataset_id, subject_id, batch_id)


BatchInPath = Annotated[Doc, Depends(batch_in_path)]


@router.delete("/{subject_id}/batches/{batch_id}/", status_code=204)
async def delete_one_batch(request: Request, batch: BatchInPath) -> Response:
    delete_batch(state_of(request), batch)
    return Response(status_code=204)


def delete_subject(state: EmulatorState, subject: Doc) -> None:
    with state.store.transaction():
        for batch in state.store.children("batches", subject["id"]):
            delete_batch(state, batch)
        state.store.delete("subjects", subject["id"])


def delete_batch(state: EmulatorState, batch: Doc) -> None:
    store = state.store
    with store.transaction():
        for image in store.children("images", batch["id"]):
            for table in ("results", "aux_images"):
                for doc in store.children(table, image["id"]):
                    store.delete(table, doc["id"])
                    store.drop_blob(aux_blob_id(doc["id"]))
            store.drop_jobs(image["id"])
            state.answers.forget(image["id"])
            store.drop_blob(image["id"])
            store.delete("images", image["id"])
        store.delete("batches", batch["id"])
