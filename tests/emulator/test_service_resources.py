"""Datasets, applications, subjects and batches: paths, shapes, status codes, pagination."""
# ruff: noqa: F811 - pytest fixtures are imported from the support module and used by name

from __future__ import annotations

import uuid

import pytest

from haut.emulator.catalog import FSM2_APPLICATION_ID
from haut.emulator.server import EmulatorServer
from tests.emulator.test_service_support import emulator, error_codes, login  # noqa: F401

pytestmark = pytest.mark.server

TIME_PATTERN = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"


def test_dataset_lifecycle_with_retention_settings(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    created = caller.post(
        f"{caller.company}/datasets/",
        {
            "name": "Clinic",
            "image_type_id": 1,
            "expire_images_after_days": 30,
            "clean_images_as_soon_as_ready": True,
        },
    )
    assert created.status_code == 201
    dataset = created.json()
    assert dataset["company_id"] == caller.company_id
    assert dataset["image_type"]["tech_name"] == "selfie"
    assert dataset["expire_images_after_days"] == 30
    assert dataset["clean_images_as_soon_as_ready"] is True
    path = f"{caller.company}/datasets/{dataset['id']}"

    put = caller.http.put(path + "/", json={"expire_metadata_after_day": 90}, headers=caller.auth)
    patch = caller.http.patch(path, json={"name": "Clinic 2"}, headers=caller.auth)

    assert put.status_code == 200
    assert put.json()["expire_metadata_after_days"] == 90
    assert patch.json()["name"] == "Clinic 2"
    assert caller.get(path).json()["expire_metadata_after_days"] == 90


def test_retention_fields_can_be_posted_to_the_dataset(emulator: EmulatorServer) -> None:
    """The guide's "Manage data retention": "PUT or POST" the fields to the dataset's path."""
    caller = login(emulator)
    created = caller.post(f"{caller.company}/datasets/", {"name": "Clinic", "image_type_id": 1})
    path = f"{caller.company}/datasets/{created.json()['id']}"
    datasets = caller.get(f"{caller.company}/datasets/").json()["count"]

    posted = caller.post(
        path + "/", {"expire_images_after_days": 7, "clean_images_as_soon_as_ready": True}
    )
    no_slash = caller.post(path, {"expire_metadata_after_day": 30})
    unknown = caller.post(f"{caller.company}/datasets/{uuid.uuid4()}/", {"custom_branding": 1})

    assert posted.status_code == 200
    assert no_slash.status_code == 200
    stored = caller.get(path).json()
    assert stored["name"] == "Clinic"  # a partial update: what was not sent is kept
    assert stored["expire_images_after_days"] == 7
    assert stored["clean_images_as_soon_as_ready"] is True
    assert stored["expire_metadata_after_days"] == 30
    assert unknown.status_code == 404
    assert caller.get(f"{caller.company}/datasets/").json()["count"] == datasets  # none created


def test_dataset_errors(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    unknown = caller.get(f"{caller.company}/datasets/{uuid.uuid4()}/")
    nameless = caller.post(f"{caller.company}/datasets/", {"image_type_id": 1})
    too_long = caller.post(
        f"{caller.company}/datasets/", {"name": "x", "expire_images_after_days": 400}
    )

    assert unknown.status_code == 404
    assert unknown.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }
    assert nameless.status_code == 400
    assert nameless.json()["errors"][0]["attr"] == "name"
    assert too_long.status_code == 400
    assert error_codes(too_long) == ["max_value"]


def test_dataset_lists_paginated_and_short_list(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    for name in ("Alpha", "Beta", "Alphabet"):
        caller.created(f"{caller.company}/datasets/", {"name": name})

    page = caller.get(f"{caller.company}/datasets/", params={"q": "alpha"}).json()
    short = caller.get(f"{caller.company}/datasets/short_list/", params={"q": "Beta"}).json()

    assert page["count"] == 2
    assert {d["name"] for d in page["results"]} == {"Alpha", "Alphabet"}
    assert isinstance(short, list)
    assert [d["name"] for d in short] == ["Beta"]


def test_subject_pages_have_absolute_links(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    dataset = caller.dataset()
    for number in range(25):
        caller.created(f"{dataset}/subjects/", {"name": f"person {number}"})

    first = caller.get(f"{dataset}/subjects/", params={"page_size": 10}).json()
    last = caller.get(first["next"].replace(emulator.url, "")).json()
    last = caller.get(last["next"].replace(emulator.url, "")).json()

    assert first["count"] == 25
    assert first["previous"] is None
    assert first["next"].startswith(f"{emulator.url}{dataset}/subjects/?")
    assert "page=2" in first["next"]
    assert len(last["results"]) == 5
    assert last["next"] is None
    assert "page=2" in last["previous"]
    assert caller.get(f"{dataset}/subjects/", params={"q": "person 2"}).json()["count"] == 6
    assert caller.get(f"{dataset}/subjects/", params={"page": 9}).status_code == 404


def test_subject_shape_update_and_deletes(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    dataset = caller.dataset()
    subject = caller.created(f"{dataset}/subjects/", {"name": "Amber Tester"})
    assert subject["author_id"] == caller.user_id
    assert subject["company"]["id"] == caller.company_id
    assert subject["dataset"]["name"] == "dataset"
    assert {"birth_date", "biological_sex", "meta", "promote_image_id"} <= set(subject)
    path = f"{dataset}/subjects/{subject['id']}"

    renamed = caller.http.patch(
        path + "/", json={"name": "Amber", "meta": {"k": 1}}, headers=caller.auth
    )
    assert renamed.json()["name"] == "Amber"
    assert renamed.json()["meta"] == {"k": 1}
    assert caller.http.delete(path, headers=caller.auth).status_code == 204
    assert caller.get(path + "/").status_code == 404

    others = [caller.created(f"{dataset}/subjects/", {"name": n})["id"] for n in ("a", "b", "c")]
    bulk = caller.http.request(
        "DELETE",
        f"{dataset}/subjects/delete/",
        headers=caller.auth,
        json={"subjects_ids": others[:2]},
    )
    assert bulk.status_code == 204
    assert [s["id"] for s in caller.get(f"{dataset}/subjects/").json()["results"]] == others[2:]


def test_batches_are_created_listed_and_deleted(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    subject = caller.subject(caller.dataset())
    plain = caller.created(f"{subject}/batches/")
    dated = caller.created(f"{subject}/batches", {"creation_time": "2024.01.02 03:04:05"})

    listing = caller.get(f"{subject}/batches/").json()

    assert dated["creation_time"] == "2024-01-02 03:04:05"
    assert plain["creation_time"] != dated["creation_time"]
    assert [b["id"] for b in listing] == [plain["id"], dated["id"]]
    assert (
        caller.http.delete(f"{subject}/batches/{plain['id']}/", headers=caller.auth).status_code
        == 204
    )
    assert [b["id"] for b in caller.get(f"{subject}/batches/").json()] == [dated["id"]]


def test_applications_and_attaching_algorithms(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    apps = caller.get(f"{caller.company}/applications/").json()
    dataset_id = caller.created(f"{caller.company}/datasets/", {"name": "d"})["id"]
    runs = f"{caller.company}/applications/{FSM2_APPLICATION_ID}/runs/"

    first = caller.created(runs, {"dataset_id": dataset_id})
    second = caller.created(runs, {"dataset_id": dataset_id, "enabled_algorithms": [30, 40]})
    bad = caller.post(runs, {"dataset_id": dataset_id, "enabled_algorithms": [30, 9999]})
    dataset = caller.get(f"{caller.company}/datasets/{dataset_id}/").json()

    assert FSM2_APPLICATION_ID in [a["id"] for a in apps["results"]]
    assert 40 in first["enabled_algorithms"]
    assert len(first["enabled_algorithms"]) > 2
    assert second["id"] == first["id"]
    assert second["enabled_algorithms"] == [30, 40]
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "enabled_algorithms"
    assert [a["enabled_algorithms"] for a in dataset["connected_applications"]] == [[30, 40]]
    unknown_app = caller.post(
        f"{caller.company}/applications/{uuid.uuid4()}/runs/", {"dataset_id": dataset_id}
    )
    assert unknown_app.status_code == 404


def test_unknown_paths_and_methods_answer_in_the_error_shape(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    missing = caller.get("/api/v1/nowhere/")
    wrong_method = caller.http.delete("/api/v1/dicts/algorithms/")

    assert missing.status_code == 404
    assert error_codes(missing) == ["not_found"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "client_error"
