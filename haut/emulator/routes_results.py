"""Results of an image and of a subject: rows, history, smoothing, aux images, PDF report.

Reference §4.6, §4.7, §13.3, §13.9, §13.10, §13.12.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from haut.emulator import analysis, errors, pdf, shapes, smoothing
from haut.emulator.answers import aux_answer
from haut.emulator.auth import authenticate, bearer_token, state_of
from haut.emulator.routes_images import ImageInPath, image_doc
from haut.emulator.routes_subjects import SubjectInPath, base_url, subject_doc
from haut.emulator.state import EmulatorState
from haut.emulator.store import Doc
from haut.emulator.wire import int_field, query_time
from schemas.wire_time import parse_wire_time

_SUBJECT = "/api/v1/companies/{company_id}/datasets/{dataset_id}/subjects/{subject_id}"
_IMAGE = _SUBJECT + "/batches/{batch_id}/images/{image_id}"
_ROW_FILTERS = ("application_id", "application_run_id", "application_name")

router = APIRouter()


@router.get(_IMAGE + "/results/", response_model=list[dict[str, Any]])
async def image_results(request: Request, image: ImageInPath) -> Any:
    """The rows finished so far (a bare array that grows as algorithms finish)."""
    state = state_of(request)
    filters = {key: request.query_params.get(key) for key in _ROW_FILTERS}
    if not any(filters.values()):
        stored = state.store.count_children("results", image["id"])
        ready = state.answers.results(image["id"], stored)
        if ready is not None:
            return Response(ready, media_type="application/json")
    rows = state.store.children("results", image["id"])
    for key, wanted in filters.items():
        if wanted:
            rows = [row for row in rows if str(row.get(key)) == wanted]
    return rows


@router.get(_SUBJECT + "/all_results/")
async def subject_results(request: Request, subject: SubjectInPath) -> list[dict[str, Any]]:
    """Every row of the subject's images taken in [date_from, date_to], oldest image first."""
    state = state_of(request)
    date_from, date_to = query_time(request, "date_from"), query_time(request, "date_to")
    if date_to is not None and len(request.query_params.get("date_to", "")) <= 10:
        date_to += timedelta(days=1)  # a bare date means the whole of that day
    rows = []
    for image in _by_time(state.store.owned("images", subject["id"])):
        taken = parse_wire_time(image["creation_time"])
        if (date_from and taken < date_from) or (date_to and taken >= date_to):
            continue
        for row in state.store.children("results", image["id"]):
            rows.append({**row, "batch_id": image["batch_id"], "subject_id": image["subject_id"]})
    return rows


def _by_time(images: list[Doc]) -> list[Doc]:
    return sorted(images, key=lambda image: image["creation_time"])


def face_values(rows: list[Doc]) -> dict[str, float]:
    """The face-area main metric of every ok row, by algorithm family."""
    values = {}
    for row in rows:
        value = analysis.face_main_value(row["result"]) if row["is_ok"] else None
        if value is not None:
            values[row["algorithm_family_tech_name"]] = value
    return values


def subject_history(state: EmulatorState, subject_id: str) -> list[tuple[Doc, dict[str, float]]]:
    """Every image of the subject (oldest first) with its face main metrics."""
    return [
        (image, face_values(state.store.children("results", image["id"])))
        for image in _by_time(state.store.owned("images", subject_id))
    ]


@router.get(_IMAGE + "/smoothed_results/")
async def smoothed_results(request: Request, image: ImageInPath) -> list[dict[str, Any]]:
    state = state_of(request)
    params = dict(request.query_params)
    window = int_field(params, "sample_time_window", minimum=1)
    max_size = int_field(params, "sample_max_size", minimum=1)
    try:
        method = smoothing.SmoothingMethod(params.get("smoothing_method") or "mean")
    except ValueError as exc:
        choices = ", ".join(m.value for m in smoothing.SmoothingMethod)
        raise errors.invalid(
            "smoothing_method", f"Choose one of: {choices}.", code="invalid_choice"
        ) from exc
    # Upload order (not time order): smoothing breaks creation-time ties by it.
    history = [
        smoothing.ScoredImage(
            image_id=doc["id"],
            taken=parse_wire_time(doc["creation_time"]),
            values=face_values(state.store.children("results", doc["id"])),
            side=shapes.side_of(doc),
        )
        for doc in state.store.owned("images", image["subject_id"])
    ]
    # Images without a face value (no face, nothing finished yet) are no sample points; a
    # target without one gets [] from smoothed_results.
    return smoothing.smoothed_results(
        image["id"],
        [scored for scored in history if scored.values or scored.image_id == image["id"]],
        method=method,
        window_days=window or 14,
        max_size=max_size or 10,
    )


@router.get(_IMAGE + "/aux/", response_model=list[dict[str, Any]])
async def aux_images(request: Request, image: ImageInPath) -> Any:
    state = state_of(request)
    base = base_url(request)
    stored = state.store.child_ids("aux_images", image["id"])
    urls = [f"{base}/images/{aux_id}.jpg" for aux_id in stored]
    ready = state.answers.aux(image["id"], stored, urls)
    if ready is not None:
        return Response(ready, media_type="application/json")
    return [
        aux_answer(aux, f"{base}/images/{aux['id']}.jpg")
        for aux in state.store.children("aux_images", image["id"])
    ]


@router.post(
    "/service/pdf-generator/companies/{company_id}/datasets/{dataset_id}/subjects/"
    "{subject_id}/batches/{batch_id}/images/{image_id}/pdf/"
)
async def pdf_report(
    company_id: str,
    dataset_id: str,
    subject_id: str,
    batch_id: str,
    image_id: str,
    request: Request,
) -> Response:
    """The image's PDF report; the token comes in ``access-token`` (or a Bearer header)."""
    state = state_of(request)
    token = request.headers.get("access-token") or bearer_token(
        request.headers.get("authorization")
    )
    principal = authenticate(state, token)
    if principal.company_id != company_id:
        raise errors.permission_denied()
    image = image_doc(request, company_id, dataset_id, subject_id, batch_id, image_id)
    subject = subject_doc(request, company_id, dataset_id, subject_id)
    rows = state.store.children("results", image["id"])
    history = [
        (doc["creation_time"], values) for doc, values in subject_history(state, subject["id"])
    ]
    document = pdf.image_report(subject=subject, image=image, rows=rows, history=history)
    filename = f"report-{image['id']}.pdf"
    return Response(
        content=document,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
