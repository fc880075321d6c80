"""Uploads, results as they grow, history, smoothing, aux images, PDF and retention."""
# ruff: noqa: F811 - pytest fixtures are imported from the support module and used by name

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from haut.emulator.analysis import face_main_value
from haut.emulator.catalog import FSM2_APPLICATION_ID
from haut.emulator.faces import render_face, render_no_face
from haut.emulator.server import EmulatorServer
from haut.emulator.smoothing import round_half_up
from tests.emulator.test_service_support import (  # noqa: F401
    Caller,
    StartEmulator,
    advance,
    b64,
    emulator,
    error_codes,
    login,
    start_emulator,
)

pytestmark = pytest.mark.server

ALL_ALGORITHMS = 18  # every FSM 2.0 algorithm of the catalog, face detector included


def test_upload_answers_with_the_image_object(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset()))

    response = caller.post(
        f"{batch}/images/", {"side_id": 1, "light_id": 1, "b64data": b64(render_face(3))}
    )

    assert response.status_code == 201
    image = response.json()
    assert image["side"] == {"id": 1, "name": "Front", "tech_name": "front"}
    assert image["light"]["tech_name"] == "regular"
    assert image["image_type"]["tech_name"] == "selfie"
    assert image["image_batch_id"] == batch.rsplit("/", 1)[1]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", image["creation_time"])
    assert caller.get(f"{batch}/images/{image['id']}/").json()["id"] == image["id"]
    assert [i["id"] for i in caller.get(f"{batch}/images/").json()] == [image["id"]]
    original = caller.http.get(image["urls"]["original"], params={"token": caller.token})
    assert original.content == render_face(3)


def test_upload_to_a_subject_creates_the_batch(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    subject = caller.subject(caller.dataset())

    image = caller.created(
        f"{subject}/images/", {"side_id": 1, "light_id": 1, "b64data": b64(render_face(4))}
    )

    batches = caller.get(f"{subject}/batches/").json()
    assert [b["id"] for b in batches] == [image["image_batch_id"]]
    results = caller.get(
        f"{subject}/batches/{image['image_batch_id']}/images/{image['id']}/results/"
    )
    assert len(results.json()) == ALL_ALGORITHMS


def test_bad_uploads_are_refused(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset()))

    garbage = caller.post(
        f"{batch}/images/", {"side_id": 1, "b64data": b64(b"not an image at all")}
    )
    huge = caller.post(f"{batch}/images/", {"side_id": 1, "b64data": "A" * (41 * 1024 * 1024)})
    no_data = caller.post(f"{batch}/images/", {"side_id": 1})

    assert garbage.status_code == 400
    assert garbage.json()["type"] == "validation_error"
    assert garbage.json()["errors"][0]["code"] == "invalid_image"
    assert garbage.json()["errors"][0]["attr"] == "b64data"
    assert huge.status_code == 413
    assert no_data.status_code == 400
    assert error_codes(no_data) == ["required"]
    assert caller.get(f"{batch}/images/").json() == []


def test_selfie_batch_rules(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset()))
    for side_id in (1, 2, 3):
        caller.upload(batch, render_face(side_id), side_id=side_id)

    again = caller.post(f"{batch}/images/", {"side_id": 2, "b64data": b64(render_face(9))})
    unknown_side = caller.post(
        f"{caller.batch(batch.rsplit('/batches/', 1)[0])}/images/",
        {"side_id": 7, "b64data": b64(render_face(9))},
    )

    assert again.status_code == 400
    assert unknown_side.status_code == 400
    assert unknown_side.json()["errors"][0]["attr"] == "side_id"
    assert len(caller.get(f"{batch}/images/").json()) == 3


def test_a_skin_batch_holds_one_image(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset(image_type_id=2)))
    caller.upload(batch, render_face(1))

    second = caller.post(f"{batch}/images/", {"side_id": 1, "b64data": b64(render_face(2))})
    right_side = caller.post(
        f"{caller.batch(batch.rsplit('/batches/', 1)[0])}/images/",
        {"side_id": 2, "b64data": b64(render_face(2))},
    )

    assert second.status_code == 400
    assert right_side.status_code == 400


def test_results_grow_row_by_row_on_the_clock(start_emulator: StartEmulator) -> None:
    server = start_emulator(algorithm_delay_seconds=100)
    caller = login(server)
    image = caller.upload(caller.batch(caller.subject(caller.dataset())))
    counts = [len(caller.get(f"{image}/results/").json())]
    for _ in range(4):
        advance(server, 25)
        counts.append(len(caller.get(f"{image}/results/").json()))

    rows = caller.get(f"{image}/results/").json()
    assert counts[0] == 0
    assert counts == sorted(counts)
    assert 0 < counts[1] < counts[3] < ALL_ALGORITHMS
    assert counts[-1] == ALL_ALGORITHMS
    assert len({row["application_run_id"] for row in rows}) == 1
    assert [row["creation_time"] for row in rows] == sorted(row["creation_time"] for row in rows)
    assert rows[0]["creation_time"] < rows[-1]["creation_time"]
    assert rows[0]["application_id"] == FSM2_APPLICATION_ID


def test_no_application_no_results(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    dataset_id = caller.created(f"{caller.company}/datasets/", {"name": "bare"})["id"]
    subject = caller.subject(f"{caller.company}/datasets/{dataset_id}")
    image = caller.upload(caller.batch(subject))
    assert caller.get(f"{image}/results/").json() == []


def test_only_the_enabled_algorithms_run(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    with_detector = caller.upload(caller.batch(caller.subject(caller.dataset(algorithms=[30, 40]))))
    without = caller.upload(caller.batch(caller.subject(caller.dataset(algorithms=[30]))))

    rows = caller.get(f"{with_detector}/results/").json()
    lonely = caller.get(f"{without}/results/").json()

    assert sorted(row["algorithm_version_id"] for row in rows) == [30, 40]
    assert all(row["is_ok"] for row in rows)
    assert [(r["is_ok"], r["result"]) for r in lonely] == [
        (False, {"error": "Face is not detected"})
    ]


def test_all_results_by_image_time(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    subject = caller.subject(caller.dataset(algorithms=[30, 40]))
    for day, seed in (
        ("2024-01-05 10:00:00", 1),
        ("2024-02-05 10:00:00", 2),
        ("2024-03-05 10:00:00", 3),
    ):
        caller.upload(caller.batch(subject, {"creation_time": day}), render_face(seed))

    january_february = caller.get(
        f"{subject}/all_results/", params={"date_from": "2024-01-01", "date_to": "2024-02-05"}
    ).json()
    everything = caller.get(f"{subject}/all_results").json()

    assert len(january_february) == 4
    assert len(everything) == 6
    assert all(row["subject_id"] == subject.rsplit("/", 1)[1] for row in everything)
    assert len({row["batch_id"] for row in everything}) == 3
    march = caller.get(
        f"{subject}/all_results/", params={"date_from": "2024-03-01T00:00:00"}
    ).json()
    assert {row["image_id"] for row in march} == {everything[-1]["image_id"]}


def _face_values(caller: Caller, image: str) -> dict[str, float]:
    """The image's raw face-area main values, by family."""
    rows = caller.get(f"{image}/results/").json()
    return {
        row["algorithm_family_tech_name"]: value
        for row in rows
        if row["is_ok"] and (value := face_main_value(row["result"])) is not None
    }


def _smoothed(caller: Caller, image: str, **params: object) -> dict[str, int]:
    response = caller.get(f"{image}/smoothed_results/", params=params)
    assert response.status_code == 200, response.text
    return {item["algorithm_tech_name"]: item["value"] for item in response.json()}


def test_each_image_of_a_fresh_triple_smooths_to_its_own_values(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset()))
    images = [
        caller.upload(batch, render_face(4, side=side, redness=level), side_id=side_id)
        for side_id, side, level in ((1, "front", 0.0), (2, "right", 0.5), (3, "left", 0.9))
    ]

    raw = [_face_values(caller, image) for image in images]
    smoothed = [_smoothed(caller, image) for image in images]

    assert raw[0] != raw[1] != raw[2]  # otherwise mixing the sides would go unnoticed
    for own, body in zip(raw, smoothed, strict=True):
        assert body
        assert body == {family: round_half_up(own[family]) for family in body}


def test_a_later_front_smooths_over_both_fronts(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    subject = caller.subject(caller.dataset())
    first, second = (
        caller.upload(caller.batch(subject, {"creation_time": taken}), render_face(1, redness=red))
        for taken, red in (("2024-05-01 09:00:00", 0.0), ("2024-05-02 09:00:00", 0.9))
    )
    blank = caller.upload(caller.batch(subject), render_no_face(1))
    early, late = _face_values(caller, first), _face_values(caller, second)

    params = {"sample_time_window": 14, "sample_max_size": 10, "smoothing_method": "mean"}
    smoothed = _smoothed(caller, second, **params)

    assert early["selfie_v2.redness"] != late["selfie_v2.redness"]
    assert smoothed
    assert smoothed == {f: round_half_up((early[f] + late[f]) / 2) for f in smoothed}
    assert _smoothed(caller, first) == {f: round_half_up(early[f]) for f in smoothed}
    assert _smoothed(caller, second, sample_time_window=1, sample_max_size=1) == {
        f: round_half_up(late[f]) for f in smoothed
    }
    assert caller.get(f"{blank}/smoothed_results/").json() == []
    bad = caller.get(f"{second}/smoothed_results/", params={"smoothing_method": "median-ish"})
    assert bad.status_code == 400


def test_aux_images_and_their_jpegs(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    image = caller.upload(caller.batch(caller.subject(caller.dataset())))

    aux = caller.get(f"{image}/aux/").json()

    assert {"forehead", "restored"} <= {a["aux_image_type"]["tech_name"] for a in aux}
    assert all(a["results"] for a in aux if a["aux_image_type"]["tech_name"] != "restored")
    jpeg = caller.http.get(f"/images/{aux[0]['id']}.jpg", params={"token": caller.token})
    assert jpeg.status_code == 200
    assert jpeg.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpeg.content)).format == "JPEG"
    assert caller.http.get(f"/images/{aux[0]['id']}.jpg").status_code == 401


def test_pdf_report(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    image = caller.upload(caller.batch(caller.subject(caller.dataset())))
    path = "/service/pdf-generator" + image.removeprefix("/api/v1") + "/pdf/"

    by_access_token = caller.http.post(
        path,
        headers={"access-token": caller.token},
        json={"timeout": 30000, "waitUntil": "networkidle0"},
    )
    by_bearer = caller.http.post(path.rstrip("/"), headers=caller.auth)

    assert by_access_token.status_code == 200
    assert by_access_token.headers["content-type"] == "application/pdf"
    assert by_access_token.content.startswith(b"%PDF")
    assert by_access_token.content.rstrip().endswith(b"%%EOF")
    assert by_bearer.status_code == 200
    assert caller.http.post(path).status_code == 401


def test_clean_images_as_soon_as_ready_keeps_results(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    image = caller.upload(
        caller.batch(caller.subject(caller.dataset(clean_images_as_soon_as_ready=True)))
    )

    shown = caller.get(f"{image}/").json()
    aux = caller.get(f"{image}/aux/").json()

    assert shown["urls"]["original"] is None
    photo = caller.http.get(f"/images/{shown['id']}.jpg", params={"token": caller.token})
    assert photo.status_code == 404
    assert len(caller.get(f"{image}/results/").json()) == ALL_ALGORITHMS
    kept = caller.http.get(f"/images/{aux[0]['id']}.jpg", params={"token": caller.token})
    assert kept.status_code == 200


def test_expiry_deletes_photos_then_results(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    token = caller.created("/api/v1/auth/private_tokens/", {"name": "days"})["data"]
    caller.token = token  # the login token would not outlive the days that pass here
    dataset = caller.dataset(expire_images_after_days=2, expire_metadata_after_days=5)
    image = caller.upload(caller.batch(caller.subject(dataset)))
    image_id = image.rsplit("/", 1)[1]

    advance(emulator, 3 * 86400)
    photo = caller.http.get(f"/images/{image_id}.jpg", params={"token": caller.token})
    rows_after_photo_expiry = caller.get(f"{image}/results/").json()
    advance(emulator, 3 * 86400)

    assert photo.status_code == 404
    assert len(rows_after_photo_expiry) == ALL_ALGORITHMS
    assert caller.get(f"{image}/results/").json() == []


def test_image_time_comes_from_the_upload_or_its_batch(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    subject = caller.subject(caller.dataset(algorithms=[40]))
    dated_batch = caller.batch(subject, {"creation_time": "2023-01-02T03:04:05Z"})

    from_batch = caller.get(caller.upload(dated_batch) + "/").json()
    from_upload = caller.created(
        f"{subject}/images/",
        {"side_id": 1, "b64data": b64(render_face(8)), "creation_time": "2022.06.07 08:09:10"},
    )

    assert from_batch["creation_time"] == "2023-01-02 03:04:05"
    assert from_upload["creation_time"] == "2022-06-07 08:09:10"
