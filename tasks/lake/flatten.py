"""Flattening: one uploaded image's result rows and aux images become rows of the lake's tables.

Pure (no I/O, no clock) and repeatable: the same input gives the same rows with the same ids,
so a rerun or a backfill overwrites instead of doubling. Tolerates every payload shape the API
is known to send (reference §6): ``sub_metrics`` as a list, a dict (quality) or null; error rows
(``{"error": "No face detected"}``); the face detector payload (its detection parameters become
debug metrics); algorithms without areas that carry only masks; category values (text), numbers
(float) and the quality ``debug_metrics`` dict (debug metrics).

Secrets: aux image URLs arrive already stripped of tokens (:class:`schemas.api_results.AuxImage`);
raw JSON kept for replay passes through :func:`safe_json`, which strips token-bearing URL
parameters and masks anything else that looks like a secret.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from haut.redaction import MASK, may_hold_secret, redact
from schemas.api_results import (
    AlgorithmResult,
    AuxImage,
    ErrorResult,
    FaceDetectorResult,
    Mask,
    Metric,
    ResultRow,
)
from schemas.captures import Side, UploadedImage
from schemas.url_secrets import is_secret_name, strip_url_secrets
from tasks.lake.rows import LakeRows, Row, capture_month, stable_id

__all__ = ["flatten_image", "safe_json", "split_value"]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# A URL that _strip_urls could change: one with a query or user info. Aux image URLs arrive
# already stripped, so most payloads have none and skip the walk in safe_json.
_URL_WITH_SECRET_PLACE = re.compile(r"://[^\s\"'<>?@]*[?@]")


def _strip_urls(text: str) -> str:
    """``text`` with the tokens of every URL in it removed."""
    return _URL.sub(lambda m: strip_url_secrets(m.group(0)), text)


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return is_secret_name(key) and not key.endswith("_id")


def _scrub(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        if key and _is_secret_key(key):
            return MASK
        if "://" not in value and not may_hold_secret(value):
            return value  # the common case: a metric name, an area, a category
        return redact(_strip_urls(value))
    if isinstance(value, Mapping):
        return {str(k): _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def safe_json(value: Any) -> str:
    """Compact JSON of ``value`` with URL tokens removed and other secrets masked.

    Walking the value is the slow path (most of flattening's time when every payload took it),
    so it is taken only when the text shows a place a secret could be: a URL with a query or
    user info, or what :func:`may_hold_secret` looks for (every secret field name included).
    """
    text = _dumps(value)
    if _URL_WITH_SECRET_PLACE.search(text) or may_hold_secret(text):
        return _dumps(_scrub(value))
    return text


def split_value(value: Any) -> tuple[float | None, str | None]:
    """A metric value as (numeric, text): numbers are floats, categories and booleans text."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return float(value), str(value).lower()
    if isinstance(value, int | float):
        number = float(value)
        return (number if math.isfinite(number) else None), None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None, value
        return (number if math.isfinite(number) else None), value
    return None, _dumps(value)


def image_context(image: UploadedImage, run_id: str) -> Row:
    """The image's columns that every image-derived row carries (ids, keys, side, time)."""
    captured_at = image.source.captured_at
    return {
        "image_id": image.image_id,
        "batch_id": image.batch_id,
        "subject_id": image.subject_id,
        "dataset_id": image.dataset_id,
        "capture_id": image.capture_id,
        "subject_key": image.subject_key,
        "session_key": image.session_key,
        "side": image.side.value,
        "captured_at": captured_at,
        "capture_month": capture_month(captured_at),
        "run_id": run_id,
    }


def _algorithm(row: ResultRow) -> Row:
    payload_name = (
        row.result.algorithm_tech_name if isinstance(row.result, AlgorithmResult) else None
    )
    family = (
        row.algorithm_family_tech_name
        or payload_name
        or (f"algorithm_{row.algorithm_version_id}" if row.algorithm_version_id else "unknown")
    )
    return {
        "result_id": row.id,
        "algorithm_family": family,
        "algorithm": family.rsplit(".", 1)[-1].lower(),
        "algorithm_version_id": row.algorithm_version_id,
    }


def _metric(base: Row, owner: str, area: str, kind: str, metric: Metric) -> Row:
    value, text = split_value(metric.value)
    return {
        **base,
        "metric_id": stable_id(owner, base["algorithm_family"], area, kind, metric.tech_name),
        "area_name": area,
        "kind": kind,
        "tech_name": metric.tech_name,
        "name": metric.name,
        "widget_type": metric.widget_type,
        "value": value,
        "value_text": text,
    }


def _payload_metrics(row: ResultRow) -> Iterable[tuple[str, str, Metric]]:
    """(area, kind, metric) of every metric in a row's payload, in payload order."""
    payload = row.result
    if isinstance(payload, AlgorithmResult):
        for area in payload.area_results:
            if area.main_metric is not None:
                yield area.area_name, "main", area.main_metric
            for sub in area.sub_metrics:
                yield area.area_name, "sub", sub
            for name, value in (area.debug_metrics or {}).items():
                yield area.area_name, "debug", Metric(tech_name=name, value=value)
    elif isinstance(payload, FaceDetectorResult) and payload.detection_params is not None:
        for name, value in payload.detection_params.model_dump().items():
            yield "face", "debug", Metric(tech_name=name, value=value)
    elif isinstance(payload, int | float | str) and row.is_ok:
        family = row.algorithm_family_tech_name or str(row.algorithm_version_id)
        yield "face", "main", Metric(tech_name=family.rsplit(".", 1)[-1], value=payload)


def _metric_rows(row: ResultRow, base: Row, owner: str) -> list[Row]:
    return [
        _metric(base, owner, area, kind, metric) for area, kind, metric in _payload_metrics(row)
    ]


def _view_size(view_box: str | None) -> tuple[int | None, int | None]:
    parts = (view_box or "").split()
    try:
        return (round(float(parts[2])), round(float(parts[3]))) if len(parts) == 4 else (None, None)
    except ValueError:
        return None, None


def _mask_row(base: Row, variant: str, index: int, mask: Mask, coordinates: bool) -> Row:
    width, height = _view_size(mask.view_box)
    geometry_types = sorted({f.geometry.type for f in mask.features if f.geometry is not None})
    features = [f.model_dump(mode="json", exclude_none=True) for f in mask.features]
    return {
        **base,
        "mask_id": stable_id(
            base["image_id"], base["algorithm_family"], variant, index, mask.tech_name
        ),
        "variant": variant,
        "tech_name": mask.tech_name,
        "name": mask.name,
        "mask_type": mask.mask_type,
        "fill": mask.fill,
        "view_box": mask.view_box,
        "view_width": width,
        "view_height": height,
        "feature_count": len(mask.features),
        "geometry_types": ",".join(geometry_types) or None,
        "coordinates_json": _dumps(features) if coordinates else None,
    }


def _mask_rows(row: ResultRow, base: Row, coordinates: bool) -> list[Row]:
    payload = row.result
    if not isinstance(payload, AlgorithmResult):
        return []
    variants = (("original", payload.masks_original), ("restored", payload.masks_restored))
    return [
        _mask_row(base, variant, index, mask, coordinates)
        for variant, masks in variants
        for index, mask in enumerate(masks or [])
    ]


def _error(row: ResultRow) -> str | None:
    if isinstance(row.result, ErrorResult):
        return row.result.error
    return None if row.is_ok else "not ok"


def _feedback(row: ResultRow) -> str | None:
    payload = row.result
    if isinstance(payload, AlgorithmResult | FaceDetectorResult) and payload.feedback:
        return payload.feedback.overlay
    return None


def _result_row(row: ResultRow, context: Row, algorithm: Row, metrics: int, masks: int) -> Row:
    payload = row.result
    return {
        **context,
        **algorithm,
        "algorithm_tech_name": getattr(payload, "algorithm_tech_name", None),
        "application_id": row.application_id,
        "application_run_id": row.application_run_id,
        "computed_at": row.creation_time,
        "is_ok": row.is_ok,
        "error": _error(row),
        "payload_kind": getattr(payload, "kind", "scalar" if payload is not None else "empty"),
        "feedback": _feedback(row),
        "metrics_count": metrics,
        "masks_count": masks,
        "raw_json": safe_json(row.raw or row.model_dump(mode="json")),
    }


def _flatten_result(row: ResultRow, context: Row, coordinates: bool) -> LakeRows:
    algorithm = _algorithm(row)
    base = {**context, **algorithm}
    metrics = _metric_rows(row, base, context["image_id"])
    masks = _mask_rows(row, base, coordinates)
    rows = LakeRows()
    rows.add("results", _result_row(row, context, algorithm, len(metrics), len(masks)))
    rows.add_all("metrics", metrics)
    rows.add_all("masks", masks)
    return rows


def _flatten_aux(item: AuxImage, context: Row) -> LakeRows:
    aux_type = item.aux_image_type.tech_name if item.aux_image_type else None
    raw = item.model_dump(mode="json", exclude={"results"})
    raw["results"] = [r.raw or r.model_dump(mode="json") for r in item.results]
    rows = LakeRows()
    rows.add(
        "aux_images",
        {
            **context,
            "aux_image_id": item.id,
            "aux_type": aux_type,
            "aux_type_name": item.aux_image_type.name if item.aux_image_type else None,
            "application_run_id": item.application_run_id,
            "created_at": item.creation_time,
            "url": item.urls.get("original"),
            "results_count": len(item.results),
            "raw_json": safe_json(raw),
        },
    )
    owner = {"aux_image_id": item.id, "aux_type": aux_type}
    for row in item.results:
        rows.add_all(
            "aux_metrics", _metric_rows(row, {**context, **owner, **_algorithm(row)}, item.id)
        )
    return rows


def _image_row(
    image: UploadedImage,
    context: Row,
    status: str,
    finding: str | None,
    results: Sequence[ResultRow],
    aux_count: int,
) -> Row:
    source = image.source
    return {
        **context,
        "side_id": source.side.side_id,
        "light_id": source.light_id,
        "source_uri": _strip_urls(source.uri),
        "sha256": source.sha256,
        "size_bytes": source.size,
        "image_format": source.image_format,
        "upload_name": source.upload_name,
        "captured_at_source": source.captured_at_source,
        "uploaded_at": image.uploaded_at,
        "status": status,
        "finding": finding,
        "results_count": len(results),
        "results_ok": sum(1 for row in results if row.is_ok),
        "aux_images_count": aux_count,
    }


def _owner_rows(image: UploadedImage, context: Row) -> LakeRows:
    """The subject's row, and the batch's row (from the front image, whose time is the batch's)."""
    rows = LakeRows()
    rows.add(
        "subjects",
        {
            "subject_id": image.subject_id,
            "subject_key": image.subject_key,
            "dataset_id": image.dataset_id,
            "run_id": context["run_id"],
        },
    )
    if image.side is Side.FRONT:
        keys = ("batch_id", "capture_id", "subject_id", "dataset_id", "subject_key", "session_key")
        batch = {key: context[key] for key in keys}
        batch.update(captured_at=context["captured_at"], capture_month=context["capture_month"])
        rows.add("batches", {**batch, "run_id": context["run_id"]})
    return rows


def flatten_image(
    image: UploadedImage,
    results: Sequence[ResultRow],
    aux: Sequence[AuxImage],
    *,
    run_id: str,
    status: str,
    finding: str | None = None,
    include_coordinates: bool = False,
) -> LakeRows:
    """Every lake row of one image: subject, batch, image, results, metrics, masks, aux.

    ``status`` is the image's state (complete, no_face or pending) and ``finding`` the
    service's words for a photo it could not analyse; ``include_coordinates`` keeps each mask's
    GeoJSON features (large) in ``masks.coordinates_json``.
    """
    context = image_context(image, run_id)
    rows = _owner_rows(image, context)
    rows.add("images", _image_row(image, context, status, finding, results, len(aux)))
    for row in results:
        rows.extend(_flatten_result(row, context, include_coordinates))
    for item in aux:
        rows.extend(_flatten_aux(item, context))
    return rows
