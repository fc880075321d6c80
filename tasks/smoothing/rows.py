"""The API's smoothed values of one image as rows of the lake's ``smoothed_results`` table.

One row per returned family, its id a hash of image, family, method, window and max size, so a
pull repeated with the same settings replaces its rows instead of doubling them. An image the
API smoothed to nothing (``[]``: no face, or no result yet) gets a single marker row with no
family and ``values_returned = 0``: "pulled, nothing to smooth" then differs from "never
pulled", which has no row at all. Pure apart from the default ``fetched_at`` (now).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from schemas.api_results import SmoothedValue
from schemas.captures import UploadedImage
from tasks.lake.flatten import image_context
from tasks.lake.rows import LakeRows, stable_id

TABLE = "smoothed_results"


def smoothed_id(
    image_id: str, family: str | None, method: str, window_days: int, max_size: int
) -> str:
    """The row id: the same image, family and settings always give the same id."""
    return stable_id(image_id, family, method, window_days, max_size)


def smoothed_rows(
    image: UploadedImage,
    values: Sequence[SmoothedValue],
    *,
    method: str,
    window_days: int,
    max_size: int,
    run_id: str,
    fetched_at: datetime | None = None,
) -> LakeRows:
    """Rows of ``smoothed_results`` for one image's pull with these settings.

    ``values`` is the API's answer as parsed by :meth:`haut.client.HautClient.smoothed_results`;
    ``fetched_at`` defaults to now (UTC).
    """
    base = {
        **image_context(image, run_id),
        "method": method,
        "window_days": window_days,
        "max_size": max_size,
        "values_returned": len(values),
        "fetched_at": fetched_at or datetime.now(UTC),
    }

    def row_id(family: str | None) -> str:
        return smoothed_id(image.image_id, family, method, window_days, max_size)

    rows = LakeRows()
    if not values:
        rows.add(
            TABLE,
            {**base, "smoothed_id": row_id(None), "value": None},
        )
        return rows
    for item in values:
        family = item.algorithm_tech_name
        rows.add(
            TABLE,
            {
                **base,
                "smoothed_id": row_id(family),
                "algorithm_family": family,
                "algorithm": family.rsplit(".", 1)[-1].lower(),
                "algorithm_name": item.algorithm_name,
                "value": None if item.value is None else float(item.value),
            },
        )
    return rows
