"""Models of analysis output: result rows, metrics, masks, aux images, smoothing, websocket
notifications and the webhook payload.

Result rows and aux images are the bulk of every photo's data (about 200 KB of JSON per image),
so they are :mod:`msgspec` structs decoded straight from the response bytes
(:func:`decode_result_rows`, :func:`decode_aux_images`): mask coordinates stay undecoded
(:class:`msgspec.Raw`), and each row and aux image keeps the exact JSON text it came from in
``raw`` so the pipeline can store and replay it. The rest (smoothing, notifications, the
webhook) are pydantic models like the other payloads.

A result row's ``result`` is one of: an algorithm payload (``area_results`` + masks), the face
detector payload, an error (``{"error": "No face detected"}``) or a legacy scalar, told apart by
the keys the payload has (:func:`payload_kind`). ``sub_metrics`` arrive as a list, a dict
(quality: ``{"focus": 97, ...}``) or null and always become a list of :class:`Metric`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from pydantic import Field, PlainSerializer, PlainValidator

from schemas.api import ApiModel, strip_url_map_secrets
from schemas.errors import HautflowError
from schemas.wire_time import parse_wire_time

MetricValue = int | float | str | bool | None


class Metric(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """A main or sub metric: ``{"name", "value", "tech_name", "widget_type", "widget_meta"}``."""

    tech_name: str
    value: MetricValue | list[Any] | dict[str, Any] = None
    name: str | None = None
    widget_type: str | None = None
    widget_meta: Any = None


def _metric_list(value: list[Metric] | dict[str, Any] | None) -> list[Metric]:
    """A list of metrics from a list, a ``{tech_name: value}`` dict or null."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [
        msgspec.convert({**item, "tech_name": item.get("tech_name", key)}, Metric)
        if isinstance(item, Mapping)
        else Metric(tech_name=key, value=item)
        for key, item in value.items()
    ]


class AreaResult(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """One face area's metrics (``area_name`` "face" holds the main score)."""

    area_name: str
    main_metric: Metric | None = None
    sub_metrics_as_sent: list[Metric] | dict[str, Any] | None = msgspec.field(
        default=None, name="sub_metrics"
    )
    debug_metrics: dict[str, Any] | None = None

    @property
    def sub_metrics(self) -> list[Metric]:
        """The sub metrics, always a list (they come as a list, a dict or null)."""
        return _metric_list(self.sub_metrics_as_sent)


class Geometry(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """A GeoJSON geometry (MultiPolygon, MultiLineString, MultiPoint) in image pixels.

    ``coordinates`` stay the JSON text they came as: most of a result's bytes, needed only
    when a mask's features are kept whole."""

    type: str
    coordinates: msgspec.Raw = msgspec.Raw(b"null")


class MaskFeature(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """One feature of a mask; heatmaps carry ``properties.intensity`` in 0..1."""

    type: str | None = None
    geometry: Geometry | None = None
    properties: dict[str, Any] | None = None


class Mask(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """A mask as a GeoJSON FeatureCollection inside ``view_box`` ("0 0 W H")."""

    type: str | None = None
    tech_name: str | None = None
    name: str | None = None
    mask_type: str | None = None
    fill: str | None = None
    view_box: str | None = None
    features: list[MaskFeature] = msgspec.field(default_factory=list)


class Tooltip(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """Quality hints shown to a user, by tone."""

    warn: list[str] = msgspec.field(default_factory=list)
    negative: list[str] = msgspec.field(default_factory=list)
    positive: list[str] = msgspec.field(default_factory=list)


class QualityFeedback(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """``{"overlay": "Low quality image", "tooltip": {...}}`` of the quality / face detector."""

    overlay: str | None = None
    tooltip: Tooltip | None = None


class AlgorithmResult(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """The payload of a metric algorithm's row."""

    kind: ClassVar[str] = "algorithm"
    algorithm_tech_name: str | None = None
    image_type: str | None = None
    area_results_as_sent: list[AreaResult] | None = msgspec.field(default=None, name="area_results")
    masks_original: list[Mask] | None = None
    masks_restored: list[Mask] | None = None
    feedback: QualityFeedback | None = None

    @property
    def area_results(self) -> list[AreaResult]:
        """The areas, always a list (null comes as an empty list)."""
        return self.area_results_as_sent or []

    def area(self, area_name: str) -> AreaResult | None:
        """The results of one area (e.g. "face"), if present."""
        return next((a for a in self.area_results if a.area_name == area_name), None)


class DetectionParams(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """What the face detector found."""

    face_detected: bool | None = None
    full_face: bool | None = None
    detection_confidence: float | None = None
    yaw_angle: float | None = None
    pitch_angle: float | None = None
    roll_angle: float | None = None


class FaceDetectorResult(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """The payload of the face detector's row (algorithm 40); its geometry stays JSON text."""

    kind: ClassVar[str] = "face_detector"
    side: str | None = None
    light: str | None = None
    bbox: msgspec.Raw = msgspec.Raw(b"null")
    mesh: msgspec.Raw = msgspec.Raw(b"null")
    feedback: QualityFeedback | None = None
    detection_params: DetectionParams | None = None
    transform_sequence: msgspec.Raw = msgspec.Raw(b"null")


class ErrorResult(msgspec.Struct, kw_only=True, gc=False):
    """The payload of a failed row: ``{"error": "No face detected"}``."""

    kind: ClassVar[str] = "error"
    error: str


ResultPayload = AlgorithmResult | FaceDetectorResult | ErrorResult | float | str | None


class ResultRow(
    msgspec.Struct, kw_only=True, gc=False, omit_defaults=True, repr_omit_defaults=True
):
    """One algorithm's row of ``/results/`` (or of ``all_results``, aux images, websocket).

    ``raw`` is the row's JSON exactly as it came, in bytes (not in the repr)."""

    id: str
    is_ok: bool
    result: ResultPayload = None
    image_id: str | None = None
    image_type: str | None = None
    creation_time: datetime | None = None
    application_id: str | None = None
    application_name: str | None = None
    application_run_id: str | None = None
    algorithm_version_id: int | None = None
    algorithm_family_tech_name: str | None = None
    batch_id: str | None = None
    subject_id: str | None = None
    raw: bytes = b""

    def __repr__(self) -> str:
        return (
            f"ResultRow(id={self.id!r}, is_ok={self.is_ok}, "
            f"algorithm_version_id={self.algorithm_version_id}, "
            f"algorithm_family_tech_name={self.algorithm_family_tech_name!r})"
        )

    def face_value(self) -> MetricValue | list[Any] | dict[str, Any]:
        """The face-area main metric value (None for errors and area-less algorithms)."""
        if not isinstance(self.result, AlgorithmResult):
            return None
        face = self.result.area("face")
        return face.main_metric.value if face and face.main_metric else None


class AuxImageType(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """``{"id", "name", "tech_name"}`` of an aux image's face area."""

    id: int | str | None = None
    name: str | None = None
    tech_name: str | None = None


class AuxImage(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """A face-area crop (forehead, nose, cheeks, chin, restored) with its own result rows.

    ``urls`` are kept without token-bearing query parameters: they are secrets. ``raw`` is the
    aux image's JSON bytes as they came, results included (its URLs may still hold tokens: it
    reaches the lake only through the lake's redaction); its rows carry no text of their own."""

    id: str
    aux_image_type: AuxImageType | None = None
    creation_time: datetime | None = None
    application_id: str | None = None
    application_name: str | None = None
    application_run_id: str | None = None
    urls: dict[str, Any] = msgspec.field(default_factory=dict)
    results: list[ResultRow] = msgspec.field(default_factory=list)
    raw: bytes = b""

    def __repr__(self) -> str:
        kind = self.aux_image_type.tech_name if self.aux_image_type else None
        return f"AuxImage(id={self.id!r}, aux_image_type={kind!r}, results={len(self.results)})"


# --- decoding --------------------------------------------------------------------------


class _Page(msgspec.Struct, gc=False):
    """A DRF page: the items of ``results`` (``all_results`` may come paginated)."""

    results: list[msgspec.Raw]


class _Payload(msgspec.Struct, kw_only=True, gc=False):
    """Any object payload as sent: the fields of every kind, those that tell kinds apart
    left UNSET when absent (see :meth:`typed`)."""

    area_results: list[AreaResult] | msgspec.UnsetType | None = msgspec.UNSET
    error: str | msgspec.UnsetType = msgspec.UNSET
    detection_params: DetectionParams | msgspec.UnsetType | None = msgspec.UNSET
    transform_sequence: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    algorithm_tech_name: str | None = None
    image_type: str | None = None
    masks_original: list[Mask] | None = None
    masks_restored: list[Mask] | None = None
    feedback: QualityFeedback | None = None
    side: str | None = None
    light: str | None = None
    bbox: msgspec.Raw = msgspec.Raw(b"null")
    mesh: msgspec.Raw = msgspec.Raw(b"null")

    def typed(self) -> AlgorithmResult | FaceDetectorResult | ErrorResult:
        """The payload as its kind: an error has ``error`` and no ``area_results``; the face
        detector's has ``detection_params`` or ``transform_sequence``; the rest are algorithms'.
        """
        if not isinstance(self.error, msgspec.UnsetType) and isinstance(
            self.area_results, msgspec.UnsetType
        ):
            return ErrorResult(error=self.error)
        params = self.detection_params
        sequence = self.transform_sequence
        if not isinstance(params, msgspec.UnsetType) or not isinstance(sequence, msgspec.UnsetType):
            return FaceDetectorResult(
                side=self.side,
                light=self.light,
                bbox=self.bbox,
                mesh=self.mesh,
                feedback=self.feedback,
                detection_params=None if isinstance(params, msgspec.UnsetType) else params,
                transform_sequence=msgspec.Raw(b"null")
                if isinstance(sequence, msgspec.UnsetType)
                else sequence,
            )
        areas = self.area_results
        return AlgorithmResult(
            algorithm_tech_name=self.algorithm_tech_name,
            image_type=self.image_type,
            area_results_as_sent=None if isinstance(areas, msgspec.UnsetType) else areas,
            masks_original=self.masks_original,
            masks_restored=self.masks_restored,
            feedback=self.feedback,
        )


class _RowWire(msgspec.Struct, kw_only=True, gc=False):
    """A result row as sent."""

    id: str
    is_ok: bool
    result: _Payload | float | str | None = None
    image_id: str | None = None
    image_type: str | None = None
    creation_time: str | None = None
    application_id: str | None = None
    application_name: str | None = None
    application_run_id: str | None = None
    algorithm_version_id: int | None = None
    algorithm_family_tech_name: str | None = None
    batch_id: str | None = None
    subject_id: str | None = None


class _AuxWire(msgspec.Struct, kw_only=True, gc=False):
    id: str
    aux_image_type: AuxImageType | None = None
    creation_time: str | None = None
    application_id: str | None = None
    application_name: str | None = None
    application_run_id: str | None = None
    urls: dict[str, Any] = msgspec.field(default_factory=dict)
    results: list[_RowWire] = msgspec.field(default_factory=list)


_ITEMS = msgspec.json.Decoder(list[msgspec.Raw] | _Page)
_ROW = msgspec.json.Decoder(_RowWire)
_AUX = msgspec.json.Decoder(_AuxWire)
_ENCODER = msgspec.json.Encoder()


class ResultsDecodeError(HautflowError, ValueError):
    """The bytes are not result rows or aux images: not JSON at all (``not_json``), or JSON
    of another shape than the API sends."""

    def __init__(self, message: str, *, not_json: bool) -> None:
        super().__init__(message)
        self.not_json = not_json


@functools.lru_cache(maxsize=1024)
def _time(text: str) -> datetime:
    return parse_wire_time(text)


def _row(wire: _RowWire, raw: bytes = b"") -> ResultRow:
    payload = wire.result
    return ResultRow(
        id=wire.id,
        is_ok=wire.is_ok,
        result=payload.typed() if isinstance(payload, _Payload) else payload,
        image_id=wire.image_id,
        image_type=wire.image_type,
        creation_time=_time(wire.creation_time) if wire.creation_time else None,
        application_id=wire.application_id,
        application_name=wire.application_name,
        application_run_id=wire.application_run_id,
        algorithm_version_id=wire.algorithm_version_id,
        algorithm_family_tech_name=wire.algorithm_family_tech_name,
        batch_id=wire.batch_id,
        subject_id=wire.subject_id,
        raw=raw,
    )


def _aux(raw: msgspec.Raw) -> AuxImage:
    wire = _AUX.decode(raw)
    return AuxImage(
        id=wire.id,
        aux_image_type=wire.aux_image_type,
        creation_time=_time(wire.creation_time) if wire.creation_time else None,
        application_id=wire.application_id,
        application_name=wire.application_name,
        application_run_id=wire.application_run_id,
        urls=strip_url_map_secrets(wire.urls),
        results=[_row(row) for row in wire.results],
        raw=bytes(raw),
    )


def _items(data: bytes) -> list[msgspec.Raw]:
    """The raw items of a bare array or a DRF page."""
    body = _ITEMS.decode(data)
    return body.results if isinstance(body, _Page) else body


def decode_result_rows(data: bytes | str) -> list[ResultRow]:
    """The rows of a ``/results/`` (or ``all_results``) answer, from its bytes (a bare array
    or a DRF page)."""
    try:
        return [_row(_ROW.decode(item), bytes(item)) for item in _items(_as_bytes(data))]
    except msgspec.DecodeError as error:
        raise _decode_error("result rows", error) from error


def decode_aux_images(data: bytes | str) -> list[AuxImage]:
    """The aux images of an ``/aux/`` answer, from its bytes."""
    try:
        return [_aux(item) for item in _items(_as_bytes(data))]
    except msgspec.DecodeError as error:
        raise _decode_error("aux images", error) from error


def _decode_error(what: str, error: msgspec.DecodeError) -> ResultsDecodeError:
    not_json = not isinstance(error, msgspec.ValidationError)
    return ResultsDecodeError(
        f"the answer is not {'JSON' if not_json else what}: {error}", not_json=not_json
    )


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def result_rows_from(items: Iterable[Mapping[str, Any]]) -> list[ResultRow]:
    """Rows from already decoded JSON (a websocket message, a test's payload)."""
    return decode_result_rows(_ENCODER.encode(list(items)))


def aux_images_from(items: Iterable[Mapping[str, Any]]) -> list[AuxImage]:
    """Aux images from already decoded JSON."""
    return decode_aux_images(_ENCODER.encode(list(items)))


def result_row_from(item: Any) -> ResultRow:
    """One row from decoded JSON, or the row itself (pydantic fields holding a row use it)."""
    if isinstance(item, ResultRow):
        return item
    if not isinstance(item, Mapping):
        raise ValueError(f"a result row is a JSON object, got {type(item).__name__}")
    return result_rows_from([item])[0]


def to_json_value(value: ResultRow | AuxImage) -> Any:
    """The JSON value of a row or an aux image: what it came as, when it keeps that."""
    if value.raw:
        return msgspec.json.decode(value.raw)
    plain = msgspec.to_builtins(value)
    plain.pop("raw", None)
    for row in plain.get("results", ()) if isinstance(value, AuxImage) else ():
        row.pop("raw", None)
    return plain


class SmoothingMethod(StrEnum):
    """The ``smoothing_method`` values of ``smoothed_results`` (reference §13.12): one list for
    the client, the emulator and the lake's macros."""

    MEAN = "mean"
    MEAN_WITHOUT_OUTLIERS = "mean_without_outliers"
    LINEAR_APPROXIMATION = "linear_approximation"


class SmoothedValue(ApiModel):
    """One row of ``smoothed_results``: a smoothed face main metric."""

    value: int | float | None
    algorithm_name: str | None = None
    algorithm_tech_name: str


class PhotoCalculated(ApiModel):
    """Notification that an application finished an image (websocket and webhook)."""

    event: Literal["photo_calculated_by_app"]
    company_id: str | None = None
    dataset_id: str | None = None
    subject_id: str | None = None
    batch_id: str | None = None
    image_id: str
    application_id: str | None = None
    application_run_id: str | None = None


class AlgorithmResultMessage(ApiModel):
    """Results-stream message: one algorithm's row as soon as it finished."""

    event: Literal["algorithm_result"]
    dataset_id: str | None = None
    subject_id: str | None = None
    batch_id: str | None = None
    result: Annotated[ResultRow, PlainValidator(result_row_from), PlainSerializer(to_json_value)]


class UnknownNotification(ApiModel):
    """Any other websocket message, kept as it came."""

    event: str | None = None


Notification = PhotoCalculated | AlgorithmResultMessage | UnknownNotification


def parse_notification(message: Any) -> Notification:
    """The typed form of one websocket message (unknown events are kept, not rejected)."""
    event = message.get("event") if isinstance(message, Mapping) else None
    if event == "photo_calculated_by_app":
        return PhotoCalculated.model_validate(message)
    if event == "algorithm_result":
        return AlgorithmResultMessage.model_validate(message)
    return UnknownNotification.model_validate(message if isinstance(message, Mapping) else {})


class WebhookPayload(PhotoCalculated):
    """The body the dataset webhook receives (§7): ids plus flattened ``area_results``."""

    subject_name: str | None = None
    application_name: str | None = None
    area_results: list[dict[str, Any]] = Field(default_factory=list)


FACE_DETECTOR_ID = 40
"""``algorithm_version_id`` of ``selfie_v2.face_detector``. Its row is not always sent: the real
capture of a photo with a face has none (17 rows), the one without a face has it (18 rows)."""

UNANALYSABLE_ERRORS: tuple[str, ...] = ("No face detected", "Not full face", "Face is not detected")
"""The errors by which the service says a photo cannot be analysed: no face (the no-face
capture, reference §6.6), a face cut by the frame (checked for by clients of the real API), and
a dataset without the face detector (§13.4)."""

_UNANALYSABLE = {error.casefold() for error in UNANALYSABLE_ERRORS}


def unanalysable_reason(rows: Iterable[ResultRow]) -> str | None:
    """The service's words when these rows say the photo cannot be analysed, else None.

    Either the face detector's row found no face (its feedback overlay, e.g. "No face
    detected"), or a failed row's error is one of :data:`UNANALYSABLE_ERRORS`. Any other
    failed row is one algorithm's failure, not a verdict on the photo.
    """
    for row in rows:
        result = row.result
        if isinstance(result, FaceDetectorResult):
            params = result.detection_params
            if params is not None and params.face_detected is False:
                overlay = result.feedback.overlay if result.feedback else None
                return overlay or UNANALYSABLE_ERRORS[0]
        elif (
            isinstance(result, ErrorResult)
            and not row.is_ok
            and result.error.strip().casefold() in _UNANALYSABLE
        ):
            return result.error.strip()
    return None
