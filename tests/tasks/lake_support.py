"""Test material for the lake: uploaded images, result payloads (real capture and emulator's),
aux images whose URLs carry a token, and an S3 server on loopback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from haut.emulator.analysis import algorithm_outcome, aux_outcomes, inspect_photo
from haut.emulator.catalog import ALGORITHMS
from haut.emulator.faces import render_face, render_no_face
from schemas.api_results import AuxImage, ResultRow, aux_images_from, result_rows_from
from schemas.captures import Side, SourceImage, UploadedImage

FIXTURES = Path(__file__).parents[1] / "fixtures"
AUX_TOKEN = "s3cr3t-aux-token-value"
ALL_ALGORITHMS = [spec.id for spec in ALGORITHMS]


def fixed_id(*parts: object) -> str:
    """A deterministic UUID, as the API would keep returning for the same object."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def uploaded_image(
    subject_key: str = "alice",
    session_key: str = "2026-01-05",
    side: Side = Side.FRONT,
    captured_at: datetime = datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
) -> UploadedImage:
    sha = fixed_id("sha", subject_key, session_key, side).replace("-", "") * 2
    source = SourceImage(
        uri=f"/photos/{subject_key}/{session_key}/{side.value}.jpg",
        side=side,
        sha256=sha,
        size=123_456,
        image_format="JPEG",
        captured_at=captured_at,
        captured_at_source="exif",
    )
    return UploadedImage(
        capture_id=fixed_id("capture", subject_key, session_key)[:32],
        subject_key=subject_key,
        session_key=session_key,
        dataset_id=fixed_id("dataset"),
        subject_id=fixed_id("subject", subject_key),
        batch_id=fixed_id("batch", subject_key, session_key),
        image_id=fixed_id("image", subject_key, session_key, side),
        source=source,
        uploaded_at=captured_at + timedelta(days=1),
    )


def capture_rows(image_id: str | None = None) -> list[ResultRow]:
    """The real FSM 2.0 capture (17 rows), as if taken of ``image_id``: the API gives every
    image's rows their own ids."""
    rows = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    if image_id is not None:
        for row in rows:
            row.update(id=fixed_id("result", image_id, row["id"]), image_id=image_id)
    return result_rows_from(rows)


def _row(image_id: str, spec_id: int, family: str, is_ok: bool, result: Any) -> dict[str, Any]:
    return {
        "id": fixed_id("result", image_id, spec_id),
        "is_ok": is_ok,
        "result": result,
        "image_id": image_id,
        "image_type": "selfie",
        "creation_time": "2026-01-06 10:00:00",
        "application_id": "8b5b3acc-480b-4412-8d2c-ebe6ab4384d7",
        "application_name": "Face Skin Metrics 2.0",
        "application_run_id": fixed_id("run", image_id),
        "algorithm_version_id": spec_id,
        "algorithm_family_tech_name": family,
    }


@dataclass(frozen=True)
class EmulatedPayload:
    """What the emulator would answer for one photo: result rows and aux images."""

    rows: list[ResultRow]
    aux: list[AuxImage]


def emulated_payload(image_id: str, *, face: bool = True, seed: int = 1) -> EmulatedPayload:
    """Rows and aux images for a synthetic portrait (or a landscape: no face)."""
    photo = inspect_photo(render_face(seed) if face else render_no_face(seed))
    rows = [
        _row(
            image_id,
            spec.id,
            spec.family_tech_name,
            *algorithm_outcome(photo, spec, face_detector_enabled=True),
        )
        for spec in ALGORITHMS
    ]
    aux = [
        {
            "id": fixed_id("aux", image_id, outcome.tech_name),
            "aux_image_type": {
                "id": outcome.type_id,
                "name": outcome.name,
                "tech_name": outcome.tech_name,
            },
            "creation_time": "2026-01-06 10:00:05",
            "application_run_id": fixed_id("run", image_id),
            "urls": {
                "original": f"http://127.0.0.1:1/images/{outcome.tech_name}.jpg?token={AUX_TOKEN}"
            },
            "results": [
                _row(
                    f"{image_id}-aux-{outcome.tech_name}",
                    spec.id,
                    spec.family_tech_name,
                    ok,
                    result,
                )
                for spec, ok, result in outcome.rows
            ],
        }
        for outcome in aux_outcomes(photo, ALL_ALGORITHMS, face_detector_enabled=True)
    ]
    return EmulatedPayload(result_rows_from(rows), aux_images_from(aux))


def moto_s3(monkeypatch: Any) -> Iterator[dict[str, Any]]:
    """An S3 server on loopback with a bucket "lake-bucket"; yields s3fs storage options."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {
            "client_kwargs": {"endpoint_url": f"http://{host}:{port}"},
            "skip_instance_cache": True,
        }
        import s3fs

        s3fs.S3FileSystem(**options).mkdir("lake-bucket")
        yield options
    finally:
        server.stop()
