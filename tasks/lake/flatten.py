"""Flattening: one uploaded image's result rows and aux images become rows of the lake's tables.

Pure (no I/O, no clock) and repeatable: the same input gives the same rows with the same ids,
so a rerun or a backfill overwrites instead of doubling. Tolerates every payload shape the API
is known to send (reference §6): ``sub_metrics`` as a list, a dict (quality) or null; error rows
(``{"error": "No face detected"}``); the face detector payload (its detection parameters become
debug metrics); algorithms without areas that carry only masks; category values (text), numbers
(float) and the quality ``debug_metrics`` dict (debug metrics).

It is the pipeline's hottest code (about 540 rows from 200 KB of JSON per image), so it works on
the decoded structs of :mod:`schemas.api_results` and keeps each row's JSON text as it came.

Secrets: aux image URLs arrive already stripped of tokens (:class:`schemas.api_results.AuxImage`);
a row or aux image whose JSON bytes show any sign of a secret
(:func:`haut.redaction.bytes_may_hold_secret`) has its token-bearing URL parameters stripped and
anything else that looks like a secret masked, and is read again from that scrubbed JSON
(:func:`_cleaned_row`), so neither its raw JSON nor any column made from it keeps what was masked.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from haut.redaction import MASK, bytes_may_hold_secret, may_hold_secret, redact
from schemas.api_results import (
    AlgorithmResult,
    AuxImage,
    ErrorResult,
    FaceDetectorResult,
    Mask,
    Metric,
    ResultRow,
    aux_images_from,
    result_row_from,
    to_json_value,
)
from schemas.captures import Side, UploadedImage
from schemas.url_secrets import is_secret_name, strip_url_secrets
from tasks.lake.rows import ColumnBlock, LakeRows, Row, capture_month, stable_id, stable_ids_under

__all__ = ["flatten_image", "safe_json", "split_value"]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# A URL that _strip_urls could change: one with a query or user info. Aux image URLs usually
# have neither, so most texts skip the walk in safe_text.
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
        return {_scrub_key(str(k)): _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _scrub_key(key: str) -> str:
    return redact(key) if may_hold_secret(key) else key


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def safe_json(value: Any) -> str:
    """Compact JSON of ``value`` with URL tokens removed and other secrets masked.

    Walking the value is the slow path, so it is taken only when the text shows a place a
    secret could be: a URL with a query or user info, or what :func:`may_hold_secret` looks
    for (every secret field name included)."""
    text = _dumps(value)
    if _URL_WITH_SECRET_PLACE.search(text) or may_hold_secret(text):
        return _dumps(_scrub(value))
    return text


def _cleaned_row(row: ResultRow) -> tuple[ResultRow, str]:
    """The row to flatten and its ``raw_json``: the row itself and its JSON as it came, or,
    when that JSON shows a place a secret could be, the row read again from its scrubbed JSON,
    so that no column made from it (names, errors, feedback) can carry what was masked."""
    if row.raw and not bytes_may_hold_secret(row.raw):
        return row, row.raw.decode()
    scrubbed = _scrub(to_json_value(row))
    return result_row_from(scrubbed), _dumps(scrubbed)


def _cleaned_aux(item: AuxImage) -> tuple[AuxImage, str]:
    """:func:`_cleaned_row` of an aux image (its rows included)."""
    if item.raw and not bytes_may_hold_secret(item.raw):
        return item, item.raw.decode()
    scrubbed = _scrub(to_json_value(item))
    [cleaned] = aux_images_from([scrubbed])
    return cleaned, _dumps(scrubbed)


def split_value(value: Any) -> tuple[float | None, str | None]:
    """A metric value as (numeric, text): numbers are floats, categories and booleans text."""
    kind = type(value)
    if kind is int or kind is float:  # the common case first, by exact type (bool is an int)
        number = float(value)
        return (number if math.isfinite(number) else None), None
    if value is None:
        return None, None
    if kind is bool:
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


def _payload_metrics(row: ResultRow) -> list[tuple[str, str, Metric]]:
    """(area, kind, metric) of every metric in a row's payload, in payload order."""
    payload = row.result
    found: list[tuple[str, str, Metric]] = []
    if isinstance(payload, AlgorithmResult):
        for area in payload.area_results:
            name = area.area_name
            if area.main_metric is not None:
                found.append((name, "main", area.main_metric))
            found.extend((name, "sub", sub) for sub in area.sub_metrics)
            if area.debug_metrics:
                found.extend(
                    (name, "debug", Metric(tech_name=key, value=value))
                    for key, value in area.debug_metrics.items()
                )
    elif isinstance(payload, FaceDetectorResult) and payload.detection_params is not None:
        found.extend(
            ("face", "debug", Metric(tech_name=key, value=value))
            for key, value in msgspec.structs.asdict(payload.detection_params).items()
        )
    elif isinstance(payload, int | float | str) and row.is_ok:
        family = row.algorithm_family_tech_name or str(row.algorithm_version_id)
        found.append(("face", "main", Metric(tech_name=family.rsplit(".", 1)[-1], value=payload)))
    return found


_ALGORITHM_COLUMNS = ("result_id", "algorithm_family", "algorithm", "algorithm_version_id")
_METRIC_COLUMNS = ("metric_id", "area_name", "kind", "tech_name", "name", "widget_type")


class _MetricColumns:
    """The metric rows of one image (or of its aux images) as columns, built row by row."""

    def __init__(self, context: Row, *owner_columns: str) -> None:
        self.owner_columns = owner_columns
        names = (*owner_columns, *_ALGORITHM_COLUMNS, *_METRIC_COLUMNS, "value", "value_text")
        self.columns: dict[str, list[Any]] = {name: [] for name in names}
        self.context = context

    def add(self, row: ResultRow, algorithm: Row, owner: str, owner_values: Row) -> int:
        """Add the metrics of one result row; returns how many."""
        found = _payload_metrics(row)
        if not found:
            return 0
        columns = self.columns
        count = len(found)
        for name in self.owner_columns:
            columns[name].extend([owner_values[name]] * count)
        for name in _ALGORITHM_COLUMNS:
            columns[name].extend([algorithm[name]] * count)
        metric_id = stable_ids_under(owner, algorithm["algorithm_family"])
        ids, areas, kinds = columns["metric_id"], columns["area_name"], columns["kind"]
        tech_names, names, widgets = columns["tech_name"], columns["name"], columns["widget_type"]
        values, texts = columns["value"], columns["value_text"]
        for area, kind, metric in found:
            tech_name = metric.tech_name
            ids.append(metric_id(area, kind, tech_name))
            areas.append(area)
            kinds.append(kind)
            tech_names.append(tech_name)
            names.append(metric.name)
            widgets.append(metric.widget_type)
            value, text = split_value(metric.value)
            values.append(value)
            texts.append(text)
        return count

    def block(self) -> ColumnBlock:
        return ColumnBlock(shared=self.context, columns=self.columns)


def _view_size(view_box: str | None) -> tuple[int | None, int | None]:
    parts = (view_box or "").split()
    try:
        return (round(float(parts[2])), round(float(parts[3]))) if len(parts) == 4 else (None, None)
    except ValueError:
        return None, None


_FEATURES = msgspec.json.Encoder()


def _mask_row(base: Row, variant: str, index: int, mask: Mask, coordinates: bool) -> Row:
    width, height = _view_size(mask.view_box)
    geometry_types = sorted({f.geometry.type for f in mask.features if f.geometry is not None})
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
        "coordinates_json": _FEATURES.encode(mask.features).decode() if coordinates else None,
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


def _result_row(
    row: ResultRow, raw_json: str, context: Row, algorithm: Row, metrics: int, masks: int
) -> Row:
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
        "raw_json": raw_json,
    }


def _flatten_results(
    results: Sequence[ResultRow], context: Row, coordinates: bool, rows: LakeRows
) -> None:
    metrics = _MetricColumns(context)
    for sent in results:
        row, raw_json = _cleaned_row(sent)
        algorithm = _algorithm(row)
        base = {**context, **algorithm}
        count = metrics.add(row, algorithm, context["image_id"], {})
        masks = _mask_rows(row, base, coordinates)
        rows.add("results", _result_row(row, raw_json, context, algorithm, count, len(masks)))
        rows.add_all("masks", masks)
    rows.add_block("metrics", metrics.block())


def _flatten_aux(aux: Sequence[AuxImage], context: Row, rows: LakeRows) -> None:
    metrics = _MetricColumns(context, "aux_image_id", "aux_type")
    for sent in aux:
        item, raw_json = _cleaned_aux(sent)
        aux_type = item.aux_image_type.tech_name if item.aux_image_type else None
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
                "raw_json": raw_json,
            },
        )
        owner = {"aux_image_id": item.id, "aux_type": aux_type}
        for row in item.results:
            metrics.add(row, _algorithm(row), item.id, owner)
    rows.add_block("aux_metrics", metrics.block())


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
    _flatten_results(results, context, include_coordinates, rows)
    _flatten_aux(aux, context, rows)
    return rows
