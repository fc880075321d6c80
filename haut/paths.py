"""URL paths of the Haut.AI API, built from the references in :mod:`schemas.refs`.

Paths follow the reference (§4): ``{C}`` = ``/api/v1/companies/{company_id}``, then
datasets, subjects, batches and images below it. Every documented path ends with ``/``.
"""

from __future__ import annotations

from schemas.refs import BatchRef, ImageRef, SubjectRef

API = "/api/v1"
LOGIN_PATHS = (f"{API}/login/", f"{API}/auth/login/")
REFRESH_PATH = f"{API}/auth/refresh/"
PROFILE_PATH = f"{API}/auth/profile/"
PRIVATE_TOKENS_PATH = f"{API}/auth/private_tokens/"
ALGORITHMS_DICT_PATH = f"{API}/dicts/algorithms/"
IMAGE_TYPES_DICT_PATH = f"{API}/dicts/image_types/"
USER_NOTIFICATIONS_PATH = "/notifications/"
RESULT_NOTIFICATIONS_PATH = "/notifications/results/"

EMULATOR_HEADER = "x-haut-emulator"
"""Response header by which the emulator says it is one (the real service sends no such
header): every run records who answered it, and a lake refuses to mix the two."""

FSM2_APPLICATION_ID = "8b5b3acc-480b-4412-8d2c-ebe6ab4384d7"
"""Face Skin Metrics 2.0, the application the quick start attaches."""


def company(company_id: str) -> str:
    return f"{API}/companies/{company_id}"


def datasets(company_id: str) -> str:
    return f"{company(company_id)}/datasets/"


def dataset(company_id: str, dataset_id: str) -> str:
    return f"{datasets(company_id)}{dataset_id}/"


def subjects(company_id: str, dataset_id: str) -> str:
    return f"{dataset(company_id, dataset_id)}subjects/"


def subject(company_id: str, ref: SubjectRef) -> str:
    return f"{subjects(company_id, ref.dataset_id)}{ref.subject_id}/"


def batches(company_id: str, ref: SubjectRef) -> str:
    return f"{subject(company_id, ref)}batches/"


def batch(company_id: str, ref: BatchRef) -> str:
    return f"{batches(company_id, ref.subject)}{ref.batch_id}/"


def images(company_id: str, ref: BatchRef) -> str:
    return f"{batch(company_id, ref)}images/"


def image(company_id: str, ref: ImageRef) -> str:
    return f"{images(company_id, ref.batch)}{ref.image_id}/"


def pdf_report(company_id: str, ref: ImageRef) -> str:
    """The PDF generator path: a separate service, outside ``/api/v1``."""
    return "/service/pdf-generator" + image(company_id, ref).removeprefix(API) + "pdf/"


def aux_jpeg(aux_id: str) -> str:
    return f"/images/{aux_id}.jpg"
