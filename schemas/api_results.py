"""Pydantic models of analysis output: result rows, metrics, masks, aux images, smoothing,
websocket notifications and the webhook payload.

A result row's ``result`` is one of: an algorithm payload (``area_results`` + masks), the face
detector payload, an error (``{"error": "No face detected"}``) or a legacy scalar. Every row
keeps the exact JSON it came from in ``raw`` (excluded from dumps) so the pipeline can store and
replay it. ``sub_metrics`` arrive as a list, a dict (quality: ``{"focus": 97, ...}``) or null
and always become a list of :class:`Metric`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from schemas.api import ApiModel, ApiTime, NamedRef, UrlMap

MetricValue = int | float | str | bool | None


class Metric(ApiModel):
    """A main or sub metric: ``{"name", "value", "tech_name", "widget_type", "widget_meta"}``."""

    tech_name: str
    value: MetricValue | list[Any] | dict[str, Any] = None
    name: str | None = None
    widget_type: str | None = None
    widget_meta: Any = None


def _metric_list(value: Any) -> Any:
    """A list of metric objects from a list, a ``{tech_name: value}`` dict or null."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [
            dict(item, tech_name=item.get("tech_name", key))
            if isinstance(item, Mapping)
            else {"tech_name": key, "value": item}
            for key, item in value.items()
        ]
    return value


class AreaResult(ApiModel):
    """One face area's metrics (``area_name`` "face" holds the main score)."""

    area_name: str
    main_metric: Metric | None = None
    sub_metrics: list[Metric] = Field(default_factory=list)
    debug_metrics: dict[str, Any] | None = None

    @field_validator("sub_metrics", mode="before")
    @classmethod
    def _normalise_sub_metrics(cls, value: Any) -> Any:
        return _metric_list(value)


class Geometry(ApiModel):
    """A GeoJSON geometry (MultiPolygon, MultiLineString, MultiPoint) in image pixels."""

    type: str
    coordinates: Any = None


class MaskFeature(ApiModel):
    """One feature of a mask; heatmaps carry ``properties.intensity`` in 0..1."""

    type: str | None = None
    geometry: Geometry | None = None
    properties: dict[str, Any] | None = None


class Mask(ApiModel):
    """A mask as a GeoJSON FeatureCollection inside ``view_box`` ("0 0 W H")."""

    type: str | None = None
    tech_name: str | None = None
    name: str | None = None
    mask_type: str | None = None
    fill: str | None = None
    view_box: str | None = None
    features: list[MaskFeature] = Field(default_factory=list)


class Tooltip(ApiModel):
    """Quality hints shown to a user, by tone."""

    warn: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)
    positive: list[str] = Field(default_factory=list)


class QualityFeedback(ApiModel):
    """``{"overlay": "Low quality image", "tooltip": {...}}`` of the quality / face detector."""

    overlay: str | None = None
    tooltip: Tooltip | None = None


class AlgorithmResult(ApiModel):
    """The payload of a metric algorithm's row."""

    kind: Literal["algorithm"] = Field(default="algorithm", exclude=True)
    algorithm_tech_name: str | None = None
    image_type: str | None = None
    area_results: list[AreaResult] = Field(default_factory=list)
    masks_original: list[Mask] | None = None
    masks_restored: list[Mask] | None = None
    feedback: QualityFeedback | None = None

    @field_validator("area_results", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def area(self, area_name: str) -> AreaResult | None:
        """The results of one area (e.g. "face"), if present."""
        return next((a for a in self.area_results if a.area_name == area_name), None)


class DetectionParams(ApiModel):
    """What the face detector found."""

    face_detected: bool | None = None
    full_face: bool | None = None
    detection_confidence: float | None = None
    yaw_angle: float | None = None
    pitch_angle: float | None = None
    roll_angle: float | None = None


class FaceDetectorResult(ApiModel):
    """The payload of the face detector's row (algorithm 40)."""

    kind: Literal["face_detector"] = Field(default="face_detector", exclude=True)
    side: str | None = None
    light: str | None = None
    bbox: Any = None
    mesh: Any = None
    feedback: QualityFeedback | None = None
    detection_params: DetectionParams | None = None
    transform_sequence: Any = None


class ErrorResult(ApiModel):
    """The payload of a failed row: ``{"error": "No face detected"}``."""

    kind: Literal["error"] = Field(default="error", exclude=True)
    error: str


def _result_kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        return str(getattr(value, "kind", "scalar"))
    if not isinstance(value, Mapping):
        return "scalar"
    if "error" in value and "area_results" not in value:
        return "error"
    if "detection_params" in value or "transform_sequence" in value:
        return "face_detector"
    return "algorithm"


ResultPayload = Annotated[
    Annotated[AlgorithmResult, Tag("algorithm")]
    | Annotated[FaceDetectorResult, Tag("face_detector")]
    | Annotated[ErrorResult, Tag("error")]
    | Annotated[float | str | None, Tag("scalar")],
    Discriminator(_result_kind),
]


class ResultRow(ApiModel):
    """One algorithm's row of ``/results/`` (or of ``all_results``, aux images, websocket)."""

    id: str
    is_ok: bool
    result: ResultPayload = None
    image_id: str | None = None
    image_type: str | None = None
    creation_time: ApiTime | None = None
    application_id: str | None = None
    application_name: str | None = None
    application_run_id: str | None = None
    algorithm_version_id: int | None = None
    algorithm_family_tech_name: str | None = None
    batch_id: str | None = None
    subject_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _keep_raw(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "raw" not in data:
            # The decoded JSON itself, not a copy: nothing mutates it, and a copy of every
            # row's masks would double the memory a chunk of results takes.
            return {**data, "raw": dict(data)}
        return data

    def face_value(self) -> MetricValue | list[Any] | dict[str, Any]:
        """The face-area main metric value (None for errors and area-less algorithms)."""
        if not isinstance(self.result, AlgorithmResult):
            return None
        face = self.result.area("face")
        return face.main_metric.value if face and face.main_metric else None


class AuxImage(ApiModel):
    """A face-area crop (forehead, nose, cheeks, chin, restored) with its own result rows.

    ``urls`` are stored without token-bearing query parameters: they are secrets.
    """

    id: str
    aux_image_type: NamedRef | None = None
    creation_time: ApiTime | None = None
    application_id: str | None = None
    application_name: str | None = None
    application_run_id: str | None = None
    urls: UrlMap = Field(default_factory=dict)
    results: list[ResultRow] = Field(default_factory=list)


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
    result: ResultRow


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


RESULT_ROWS: TypeAdapter[list[ResultRow]] = TypeAdapter(list[ResultRow])

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
