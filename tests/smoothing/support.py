"""Tiny lakes for the smoothing tests: the real FSM 2.0 capture, with chosen face scores."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from schemas.api_results import ResultRow, result_rows_from
from schemas.captures import Side, UploadedImage
from tasks.lake import Lake, LakeRows, connect, flatten_image
from tests.tasks.lake_support import FIXTURES, fixed_id, uploaded_image

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def captured_rows(
    image_id: str, scores: Mapping[str, float] | None = None, failed: Sequence[str] = ()
) -> list[ResultRow]:
    """The real capture's 17 rows as if taken of ``image_id``, with some face scores replaced
    (``{"redness": 61}`` sets the face-area main value of selfie_v2.redness) and the rows of
    the ``failed`` families not ok (their payload kept: only ``is_ok`` says they failed)."""
    rows = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    for row in rows:
        row.update(id=fixed_id("result", image_id, row["id"]), image_id=image_id)
        family = (row.get("algorithm_family_tech_name") or "").rsplit(".", 1)[-1]
        if family in failed:
            row["is_ok"] = False
        if scores and family in scores:
            result = row["result"]
            face = next(a for a in result["area_results"] if a["area_name"] == "face")
            face["main_metric"]["value"] = scores[family]
    return result_rows_from(rows)


@dataclass(frozen=True)
class Shot:
    """One photo of the tiny lake: when, which side, its redness, and when it was uploaded."""

    session: str
    captured_at: datetime
    redness: float
    side: Side = Side.FRONT
    uploaded_after: timedelta = timedelta(minutes=5)
    subject: str = "alice"
    failed: tuple[str, ...] = ()
    """Families whose row is not ok (their score is no sample point)."""
    dataset: str | None = None
    """Another dataset than the default: the same subject key there is another API subject."""

    def image(self) -> UploadedImage:
        image = uploaded_image(self.subject, self.session, self.side, self.captured_at)
        image = replace(image, uploaded_at=self.captured_at + self.uploaded_after)
        if self.dataset is None:
            return image
        return replace(
            image,
            dataset_id=fixed_id("dataset", self.dataset),
            subject_id=fixed_id("subject", self.subject, self.dataset),
            image_id=fixed_id("image", self.subject, self.session, self.side, self.dataset),
        )


def tiny_lake(
    path: Path, shots: Sequence[Shot], families: Sequence[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """A lake of these photos (every other score as in the capture), and a connection to it;
    only the result rows of ``families`` (short names) when given, to keep a long one small."""
    rows = LakeRows()
    for shot in shots:
        image = shot.image()
        results = captured_rows(image.image_id, {"redness": shot.redness}, shot.failed)
        if families is not None:
            results = [
                r
                for r in results
                if (r.algorithm_family_tech_name or "").rsplit(".", 1)[-1] in families
            ]
        rows.extend(flatten_image(image, results, [], run_id="test", status="complete"))
    Lake(str(path)).write(rows, run_id="test")
    return connect(str(path))
