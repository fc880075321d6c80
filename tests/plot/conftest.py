"""The lake the plot tests draw from: four weekly sessions of alice (a front photo and a left
photo of another face each), and bob, whose only photo has no face (no face score to draw)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.captures import Side
from tasks.lake import Lake, LakeRows, flatten_image
from tests.tasks.lake_support import emulated_payload, uploaded_image

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture(scope="package")
def lake_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    rows = LakeRows()
    for week in range(4):
        when = START + timedelta(weeks=week)
        for side, seed in ((Side.FRONT, week + 1), (Side.LEFT, week + 20)):
            image = uploaded_image(session_key=f"2026-w{week}", side=side, captured_at=when)
            payload = emulated_payload(image.image_id, seed=seed)
            rows.extend(
                flatten_image(image, payload.rows, payload.aux, run_id="r1", status="complete")
            )
    bob = uploaded_image(subject_key="bob", session_key="s1")
    no_face = emulated_payload(bob.image_id, face=False)
    rows.extend(flatten_image(bob, no_face.rows, no_face.aux, run_id="r1", status="complete"))
    url = str(tmp_path_factory.mktemp("plot") / "lake")
    Lake(url).write(rows, run_id="r1")
    return url
