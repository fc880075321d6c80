"""Public JSON shapes of the emulator's resources (reference §4, §6.1), built from stored docs."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from haut.emulator import catalog
from haut.emulator.store import Doc, Store

SELFIE_IMAGE_TYPE_ID = 1


@cache
def image_types() -> dict[int, dict[str, Any]]:
    return {int(t["id"]): t for t in catalog.image_types_dict()}


@cache
def applications() -> dict[str, dict[str, Any]]:
    return {str(a["id"]): a for a in catalog.applications()}


def application_algorithm_ids(application: dict[str, Any]) -> list[int]:
    return [int(a["id"]) for a in application.get("algorithms_versions", [])]


def image_type(image_type_id: int | None) -> dict[str, Any]:
    """The dataset's image type; a dataset created without one is treated as selfie."""
    types = image_types()
    return types.get(image_type_id or SELFIE_IMAGE_TYPE_ID, types[SELFIE_IMAGE_TYPE_ID])


def _named(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"id": item["id"], "name": item["name"], "tech_name": item["tech_name"]}


def find_by_id(items: list[dict[str, Any]], item_id: int | None) -> dict[str, Any] | None:
    return next((item for item in items if item["id"] == item_id), None)


def side_of(image: Doc) -> str:
    """The image's side tech name ("front", "right", "left"); "front" when unknown."""
    return _tech_name(image, "sides", "side_id", "front")


def light_of(image: Doc) -> str:
    """The image's light tech name ("regular" when unknown)."""
    return _tech_name(image, "lights", "light_id", "regular")


def _tech_name(image: Doc, kind: str, key: str, default: str) -> str:
    found = find_by_id(image_type(image.get("image_type_id"))[kind], image.get(key))
    return str(found["tech_name"]) if found else default


def dataset(store: Store, doc: Doc) -> dict[str, Any]:
    kind = image_type(doc.get("image_type_id"))
    runs = store.children("app_runs", doc["id"])
    return {
        "id": doc["id"],
        "company_id": doc["company_id"],
        "name": doc["name"],
        "image_type_id": kind["id"],
        "image_type": kind,
        "image_type_name": kind["name"],
        "image_type_tech_name": kind["tech_name"],
        "connected_applications": [connected_application(run) for run in runs],
        "expire_images_after_days": doc.get("expire_images_after_days"),
        "expire_metadata_after_days": doc.get("expire_metadata_after_days"),
        "clean_images_as_soon_as_ready": doc.get("clean_images_as_soon_as_ready", False),
        "custom_branding": doc.get("custom_branding"),
        "creation_time": doc["creation_time"],
    }


def connected_application(run: Doc) -> dict[str, Any]:
    application = applications().get(run["application_id"], {})
    return {
        "id": run["application_id"],
        "application_run_id": run["id"],
        "name": application.get("name"),
        "tech_name": application.get("tech_name"),
        "enabled_algorithms": run["enabled_algorithms"],
    }


def application_run(run: Doc) -> dict[str, Any]:
    keys = ("id", "application_id", "dataset_id", "enabled_algorithms", "creation_time")
    return {key: run[key] for key in keys}


def subject(store: Store, doc: Doc) -> dict[str, Any]:
    owner = store.get("datasets", doc["dataset_id"])
    return {
        "name": doc["name"],
        "birth_date": doc.get("birth_date"),
        "biological_sex": doc.get("biological_sex"),
        "meta": doc.get("meta"),
        "id": doc["id"],
        "author_id": doc["author_id"],
        "creation_time": doc["creation_time"],
        "company": {"id": doc["company_id"], "name": doc["company_name"]},
        "dataset": {"id": doc["dataset_id"], "name": owner["name"] if owner else None},
        "promote_image_id": doc.get("promote_image_id"),
    }


def batch(store: Store, doc: Doc, base_url: str) -> dict[str, Any]:
    images = store.children("images", doc["id"])
    return {
        "id": doc["id"],
        "subject_id": doc["subject_id"],
        "dataset_id": doc["dataset_id"],
        "creation_time": doc["creation_time"],
        "images": [image(item, base_url) for item in images],
    }


def image(doc: Doc, base_url: str) -> dict[str, Any]:
    kind = image_type(doc["image_type_id"])
    side = _named(find_by_id(kind["sides"], doc["side_id"]))
    light = _named(find_by_id(kind["lights"], doc["light_id"]))
    original = None if doc.get("photo_deleted") else f"{base_url}/images/{doc['id']}.jpg"
    return {
        "id": doc["id"],
        "name": doc.get("name") or "",
        "side": side,
        "light": light,
        "image_type": _named(kind),
        "side_id": doc["side_id"],
        "light_id": doc["light_id"],
        "side_name": side["name"] if side else None,
        "side_tech_name": side["tech_name"] if side else None,
        "light_name": light["name"] if light else None,
        "light_tech_name": light["tech_name"] if light else None,
        "image_type_name": kind["name"],
        "image_type_tech_name": kind["tech_name"],
        "image_batch_id": doc["batch_id"],
        "subject_id": doc["subject_id"],
        "dataset_id": doc["dataset_id"],
        "creation_time": doc["creation_time"],
        "quality_score": None,
        "quality_feedback": None,
        "quality_result": None,
        "quality_issues": [],
        "problems": [],
        "stage_step_number": None,
        "stage_number": None,
        "urls": {"original": original},
    }


def result_row(
    image_doc: Doc,
    run: Doc,
    spec: catalog.AlgorithmSpec,
    outcome: tuple[bool, dict[str, Any]],
    finished_at: str,
) -> dict[str, Any]:
    """One result row in the §6.1 envelope."""
    application = applications().get(run["application_id"], {})
    is_ok, payload = outcome
    return {
        "id": str(uuid.uuid4()),
        "is_ok": is_ok,
        "result": payload,
        "image_id": image_doc["id"],
        "image_type": image_type(image_doc["image_type_id"])["tech_name"],
        "creation_time": finished_at,
        "application_id": run["application_id"],
        "application_name": application.get("name"),
        "application_run_id": run["id"],
        "algorithm_version_id": spec.id,
        "application_description": application.get("description"),
        "algorithm_family_tech_name": spec.family_tech_name,
    }
