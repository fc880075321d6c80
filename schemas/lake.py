"""The lake's tables: one explicit Arrow schema per table, its id column and its partitioning.

Every table is hive-partitioned Parquet under ``<lake>/<table>/``:

- image-derived tables (images, batches, results, metrics, aux_images, aux_metrics, masks) by
  ``capture_month=YYYY-MM`` of the capture time (UTC): analysts ask "this month", "since
  January"; an image's month never changes, so every version of a row lands in the same
  partition and compaction can drop the old ones;
- ``runs`` and ``quarantine`` by ``run_date`` (the run's start day, UTC);
- ``subjects`` is small and has no natural date: not partitioned.

Partition columns live in the folder names, not in the files (hive style). Every row has a stable
id (:attr:`TableSpec.id_column`: the same input always gives the same id), the ``run_id`` that
wrote it and ``written_at``; readers keep the newest row per id, so a rerun or a backfill never
doubles a row. Column descriptions are field metadata (``description``) and travel into every
Parquet file; a column with a fixed set of values also carries what each one means (``values``,
a JSON object), and the table its own description. :mod:`schemas.dictionary` renders all of it
as ``docs/lake.md``.

Every file also carries the lake's schema version (:data:`SCHEMA_VERSION`, schema metadata key
``hautflow.schema_version``). It is one number for the whole lake, not one per table: the views
read several tables together (``image_metrics_wide`` joins images and metrics), so "which lake
is this" has one answer, and a reader compares two versions' tables in
``schemas/lake_history.json`` (:mod:`schemas.lake_history`) to see what changed. Versions only
ever add: a new table, or a new nullable column; no column is removed, renamed, retyped or has
its nullability changed, and ids and partitions stay. So a reader of version N reads every file
of a later version, and files of several versions read together (the views use
``union_by_name``). Descriptions and value meanings are no part of the version: they may be
reworded freely. Files written before versions began carry none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from schemas.captures import QuarantineReason

TIMESTAMP = pa.timestamp("us", tz="UTC")
DESCRIPTION = b"description"
VALUES = b"values"

SCHEMA_VERSION = 1
"""The lake's schema version, in every file's schema metadata under :data:`SCHEMA_VERSION_KEY`.
Bump it with any change to a table's columns (name, type, nullability), ids or partitions, then
record it: ``python -m schemas.lake_history --record`` (a test fails until both are done)."""
SCHEMA_VERSION_KEY = b"hautflow.schema_version"


def column(
    name: str,
    type_: pa.DataType,
    description: str,
    *,
    required: bool = False,
    values: Mapping[str, str] | None = None,
) -> pa.Field:
    """A field with its description as metadata (``required``: never null); ``values``: what
    each of the column's values means, for a column with a fixed set of them."""
    metadata = {DESCRIPTION: description.encode()}
    if values:
        metadata[VALUES] = json.dumps(dict(values), ensure_ascii=False).encode()
    return pa.field(name, type_, nullable=not required, metadata=metadata)


def field_values(field: pa.Field) -> dict[str, str]:
    """Value -> meaning of a column with a fixed set of values; {} for any other."""
    text = (field.metadata or {}).get(VALUES)
    return dict(json.loads(text)) if text else {}


def schema_version_of(schema: pa.Schema) -> int | None:
    """The lake schema version a file's schema carries (``pq.read_schema(path)``); None for a
    file written before versions began."""
    text = (schema.metadata or {}).get(SCHEMA_VERSION_KEY)
    return int(text) if text else None


def _id(name: str, description: str) -> pa.Field:
    return column(name, pa.string(), description, required=True)


@dataclass(frozen=True)
class TableSpec:
    """One lake table: its schema (partition columns included), id column and partitioning."""

    name: str
    description: str
    id_column: str
    partition_by: tuple[str, ...]
    schema: pa.Schema

    @property
    def file_schema(self) -> pa.Schema:
        """The columns stored inside the Parquet files (partition columns are folder names)."""
        keep = [f for f in self.schema if f.name not in self.partition_by]
        return pa.schema(keep, metadata=self.schema.metadata)

    def describe(self) -> dict[str, str]:
        """Column name -> description."""
        return {f.name: (f.metadata or {}).get(DESCRIPTION, b"").decode() for f in self.schema}

    def values(self) -> dict[str, dict[str, str]]:
        """Column name -> (value -> meaning), for the columns with a fixed set of values."""
        return {f.name: field_values(f) for f in self.schema if field_values(f)}


def _spec(
    name: str, description: str, id_column: str, partition_by: tuple[str, ...], *fields: pa.Field
) -> TableSpec:
    metadata = {
        b"table": name.encode(),
        DESCRIPTION: description.encode(),
        b"id_column": id_column.encode(),
        b"partition_by": ",".join(partition_by).encode(),
        SCHEMA_VERSION_KEY: str(SCHEMA_VERSION).encode(),
    }
    return TableSpec(name, description, id_column, partition_by, pa.schema(fields, metadata))


CAPTURE_MONTH = column("capture_month", pa.string(), "Partition: capture month, YYYY-MM (UTC)")
RUN_DATE = column("run_date", pa.date32(), "Partition: the day the run started (UTC)")
RUN_ID = column(
    "run_id",
    pa.string(),
    "The run that wrote this row (ingest, backfill or smoothing pull: see runs)",
    required=True,
)
WRITTEN_AT = column("written_at", TIMESTAMP, "When this row was written; the newest row wins")

SUBJECT_ID = column("subject_id", pa.string(), "API subject id")
DATASET_ID = column("dataset_id", pa.string(), "API dataset id")
CAPTURE_ID = column(
    "capture_id", pa.string(), "Stable capture identity (subject, session, content)"
)
SUBJECT_KEY = column("subject_key", pa.string(), "The subject as named in the source (folder name)")
SESSION_KEY = column("session_key", pa.string(), "The session as named in the source (folder name)")

# Who and when, on every image-derived row, so common questions need no joins.
IMAGE_CONTEXT = (
    column("image_id", pa.string(), "API image id", required=True),
    column("batch_id", pa.string(), "API batch id (one capture session)"),
    SUBJECT_ID,
    DATASET_ID,
    CAPTURE_ID,
    SUBJECT_KEY,
    SESSION_KEY,
    column(
        "side",
        pa.string(),
        "Which way the face looks",
        values={
            "front": "facing the camera (side_id 1): the face scores of the diary",
            "right": "the right side of the face (side_id 2)",
            "left": "the left side of the face (side_id 3)",
        },
    ),
    column("captured_at", TIMESTAMP, "When the photo was taken (EXIF, folder date or file time)"),
)
TRAILER = (CAPTURE_MONTH, RUN_ID, WRITTEN_AT)
ALGORITHM = (
    column("result_id", pa.string(), "API result row id"),
    column("algorithm_family", pa.string(), "Algorithm family tech name, e.g. selfie_v2.redness"),
    column("algorithm", pa.string(), "Short family name, e.g. redness"),
    column("algorithm_version_id", pa.int32(), "API algorithm version id (e.g. 30)"),
)
METRIC_VALUE = (
    column(
        "area_name",
        pa.string(),
        "Face area the metric is of: face (the whole face), forehead, nose, left_cheek, ...",
    ),
    column(
        "kind",
        pa.string(),
        "Which part of the area's result the row is",
        values={
            "main": "the area's main metric; on area face, the family's face score (the "
            "columns of image_metrics_wide)",
            "sub": "a sub-metric of the area: parts of the score (e.g. redness_local_score), "
            "counts, densities, a category (hydration_level); quality's 0-100 checks (focus, "
            "lightness, ...) have no widget_type",
            "debug": "a diagnostic, not a measurement of the skin: quality's debug_metrics "
            "(angles, sizes in pixels, flags) and the face detector's detection parameters",
        },
    ),
    column("tech_name", pa.string(), "Metric tech name, e.g. redness_score"),
    column("name", pa.string(), "Metric display name, e.g. Redness Score"),
    column(
        "widget_type",
        pa.string(),
        "How to read value (null for quality's checks, debug metrics and scalar rows)",
        values={
            "bad_good_line": "a score from 0 to 100, higher is better",
            "numeric": "a number in its own unit: years (perceived_age, eye ages), counts "
            "(number_of_regions, pores_number) or CIELAB channels (skintone_l/a/b_channel)",
            "density": "how much of a feature the area holds (density, intensity, region "
            "size); no fixed range, higher is more of the feature",
            "ITA": "Individual Typology Angle of skin tone in degrees, -90..90: higher is "
            "lighter, neither way is better",
            "category": "a label, in value_text (e.g. Normal Hydration)",
            "percentage": "a percentage, 0-100 (newer applications)",
        },
    ),
    column(
        "value",
        pa.float64(),
        "The metric as a number, read by widget_type (bad_good_line: 0-100, higher is better; "
        "numeric: years, counts or CIELAB; ITA: degrees -90..90); booleans are 1 and 0; null "
        "for categories and text",
    ),
    column("value_text", pa.string(), "Text value: categories, booleans, JSON of lists/dicts"),
)

SHARED_COLUMNS: dict[str, tuple[pa.Field, ...]] = {
    "image context": IMAGE_CONTEXT,
    "algorithm": ALGORITHM,
    "metric value": METRIC_VALUE,
    "run and partition": (CAPTURE_MONTH, RUN_DATE, RUN_ID, WRITTEN_AT),
}
"""Columns several tables share, each defined once here (the data dictionary describes them
once, and each table names the ones it has)."""

SUBJECTS = _spec(
    "subjects",
    "One row per subject (person)",
    "subject_id",
    (),
    _id("subject_id", "API subject id"),
    SUBJECT_KEY,
    DATASET_ID,
    RUN_ID,
    WRITTEN_AT,
)

BATCHES = _spec(
    "batches",
    "One row per capture session (API batch); times are the front image's",
    "batch_id",
    ("capture_month",),
    _id("batch_id", "API batch id (one capture session)"),
    CAPTURE_ID,
    SUBJECT_ID,
    DATASET_ID,
    SUBJECT_KEY,
    SESSION_KEY,
    column("captured_at", TIMESTAMP, "When the front photo was taken"),
    *TRAILER,
)

IMAGES = _spec(
    "images",
    "One row per uploaded image: where it came from, when, and how far it got",
    "image_id",
    ("capture_month",),
    *IMAGE_CONTEXT,
    column("side_id", pa.int16(), "API side id: front 1, right 2, left 3"),
    column("light_id", pa.int16(), "API light id (1 = regular)"),
    column("source_uri", pa.string(), "Where the file was read (fsspec URL or absolute path)"),
    column("sha256", pa.string(), "sha256 of the file bytes"),
    column("size_bytes", pa.int64(), "File size in bytes"),
    column("image_format", pa.string(), "JPEG or PNG"),
    column("upload_name", pa.string(), "Image name sent to the API (content-derived)"),
    column(
        "captured_at_source",
        pa.string(),
        "Where captured_at was read",
        values={
            "exif": "the photo's EXIF DateTimeOriginal",
            "folder": "a date in the session folder's name",
            "mtime": "the file's modification time (no better source)",
            "manifest": "the manifest CSV's captured_at column",
        },
    ),
    column("uploaded_at", TIMESTAMP, "When the image was uploaded"),
    column(
        "status",
        pa.string(),
        "How far the image got",
        values={
            "complete": "every algorithm answered: its metrics are in the lake",
            "no_face": "the service could not analyse the photo (no face, not a full face): "
            "finding says why, and it has no face scores",
            "pending": "results not in yet: the next ingest (or a backfill) fills them in",
        },
    ),
    column("finding", pa.string(), "Why the service could not analyse it, e.g. No face detected"),
    column("results_count", pa.int32(), "Result rows received"),
    column("results_ok", pa.int32(), "Result rows with is_ok"),
    column("aux_images_count", pa.int32(), "Aux images received"),
    *TRAILER,
)

RESULTS = _spec(
    "results",
    "One row per image x algorithm, with the raw JSON (secrets stripped) for replay",
    "result_id",
    ("capture_month",),
    _id("result_id", "API result row id"),
    *IMAGE_CONTEXT,
    *ALGORITHM[1:],
    column("algorithm_tech_name", pa.string(), "The payload's algorithm_tech_name"),
    column("application_id", pa.string(), "API application id"),
    column("application_run_id", pa.string(), "API application run id"),
    column("computed_at", TIMESTAMP, "When the API produced the row (creation_time)"),
    column("is_ok", pa.bool_(), "False when the algorithm failed"),
    column("error", pa.string(), "The error text of a failed row, e.g. No face detected"),
    column(
        "payload_kind",
        pa.string(),
        "What the row's result held",
        values={
            "algorithm": "an algorithm's areas, metrics and masks",
            "face_detector": "the face detector's answer (its parameters: debug metrics)",
            "error": "an error instead of a result, e.g. No face detected",
            "scalar": "a bare number (legacy applications): one main metric",
            "empty": "no result at all",
        },
    ),
    column("feedback", pa.string(), "Quality / detector overlay text, e.g. Low quality image"),
    column("metrics_count", pa.int32(), "Metric rows flattened from this row"),
    column("masks_count", pa.int32(), "Masks in this row"),
    column("raw_json", pa.string(), "The row as the API sent it (URL secrets stripped)"),
    *TRAILER,
)

METRICS = _spec(
    "metrics",
    "Long metrics: one row per image x algorithm x area x metric (main, sub, debug)",
    "metric_id",
    ("capture_month",),
    _id("metric_id", "hash of image, algorithm family, area, kind and tech name"),
    *IMAGE_CONTEXT,
    *ALGORITHM,
    *METRIC_VALUE,
    *TRAILER,
)

AUX_IMAGES = _spec(
    "aux_images",
    "One row per aux image (face-area crop or face-aligned image) of an image",
    "aux_image_id",
    ("capture_month",),
    _id("aux_image_id", "API aux image id"),
    *IMAGE_CONTEXT,
    column("aux_type", pa.string(), "Aux image type tech name: forehead, nose, restored, ..."),
    column("aux_type_name", pa.string(), "Aux image type display name"),
    column("application_run_id", pa.string(), "API application run id"),
    column("created_at", TIMESTAMP, "When the API produced the aux image"),
    column("url", pa.string(), "The original URL, without tokens"),
    column("results_count", pa.int32(), "Result rows of this aux image"),
    column("raw_json", pa.string(), "The aux image as the API sent it (URL secrets stripped)"),
    *TRAILER,
)

AUX_METRICS = _spec(
    "aux_metrics",
    "Long metrics of aux images: one row per aux image x algorithm x area x metric",
    "metric_id",
    ("capture_month",),
    _id("metric_id", "hash of aux image, algorithm family, area, kind and tech name"),
    column("aux_image_id", pa.string(), "API aux image id"),
    column("aux_type", pa.string(), "Aux image type tech name"),
    *IMAGE_CONTEXT,
    *ALGORITHM,
    *METRIC_VALUE,
    *TRAILER,
)

MASKS = _spec(
    "masks",
    "Mask metadata: one row per mask of a result row (coordinates optional)",
    "mask_id",
    ("capture_month",),
    _id("mask_id", "hash of image, algorithm family, variant, position and tech name"),
    *IMAGE_CONTEXT,
    *ALGORITHM,
    column(
        "variant",
        pa.string(),
        "Which image the mask's coordinates are in",
        values={
            "original": "the photo as uploaded, in its pixels",
            "restored": "the face-aligned image (2380 x 2380 px)",
        },
    ),
    column("tech_name", pa.string(), "Mask tech name, e.g. redness_mask_original"),
    column("name", pa.string(), "Mask display name"),
    column(
        "mask_type",
        pa.string(),
        "The mask's drawing",
        values={
            "heatmap_mask": "areas of several intensities (MultiPolygon features)",
            "polygon_mask": "outlined regions (MultiPolygon)",
            "polyline_mask": "lines (MultiLineString)",
            "point_mask": "points (MultiPoint), e.g. pores or facial landmarks",
        },
    ),
    column("fill", pa.string(), "Fill colour"),
    column("view_box", pa.string(), "SVG view box, '0 0 W H'"),
    column("view_width", pa.int32(), "Width of the view box in pixels"),
    column("view_height", pa.int32(), "Height of the view box in pixels"),
    column("feature_count", pa.int32(), "GeoJSON features in the mask"),
    column("geometry_types", pa.string(), "Distinct geometry types, comma separated"),
    column("coordinates_json", pa.string(), "The features as GeoJSON (only when asked for)"),
    *TRAILER,
)

SMOOTHED_RESULTS = _spec(
    "smoothed_results",
    "The API's smoothed face scores: one row per image x smoothable family x method, window "
    "and max size; an image the API smoothed to nothing (no face) keeps one marker row",
    "smoothed_id",
    ("capture_month",),
    _id("smoothed_id", "hash of image, algorithm family, method, window days and max size"),
    *IMAGE_CONTEXT,
    column(
        "algorithm_family",
        pa.string(),
        "Algorithm family tech name, e.g. selfie_v2.redness (null on the marker row of an "
        "image the API returned no values for)",
    ),
    column("algorithm", pa.string(), "Short family name, e.g. redness"),
    column("algorithm_name", pa.string(), "The API's display name, e.g. Redness"),
    column(
        "method",
        pa.string(),
        "How the API smoothed the sample",
        values={
            "mean": "the mean of the sample",
            "mean_without_outliers": "the mean of the sample within Tukey's fences",
            "linear_approximation": "the least-squares line through the sample, read at the "
            "image's time",
        },
    ),
    column("window_days", pa.int32(), "sample_time_window asked for: days back from the image"),
    column("max_size", pa.int32(), "sample_max_size asked for: images in the sample at most"),
    column("value", pa.float64(), "The smoothed value as the API sent it (rounded, half up)"),
    column(
        "values_returned",
        pa.int32(),
        "Values the API returned for this image and settings (0: pulled, nothing to smooth)",
    ),
    column("fetched_at", TIMESTAMP, "When the values were read from the API"),
    *TRAILER,
)

RUNS = _spec(
    "runs",
    "One manifest row per run (ingest, backfill or smoothing pull): what it read, did and wrote",
    "run_id",
    ("run_date",),
    RUN_ID,
    column("started_at", TIMESTAMP, "When the run started"),
    column("finished_at", TIMESTAMP, "When the run finished (null while running)"),
    column(
        "source",
        pa.string(),
        "What the run read: the folder URL of an ingest, 'backfill DAYS subjects=... "
        "dataset=...' or 'smoothing pull (SETTINGS)'",
    ),
    column(
        "status",
        pa.string(),
        "How the run ended (its newest row wins)",
        values={
            "running": "started and not finished: still going, or killed before the next run "
            "on its ledger could tell",
            "died": "killed or crashed (a signal, the machine went down): so marked by the "
            "next run on its ledger; later runs resume its work",
            "completed": "everything found was uploaded, analysed and written",
            "completed_with_quarantine": "done, but files were set aside: see the quarantine table",
            "completed_with_findings": "done; some photos the service could not analyse "
            "(images with status no_face)",
            "incomplete": "images failed to upload or were still pending: run it again",
            "failed": "the run stopped on an error: see error",
            "stopped": "stopped on purpose (Ctrl-C, SIGTERM, a cancellation) before its end: "
            "what finished is kept, the next run resumes the rest",
            "dry-run": "planned only (--dry-run): printed in the summary, never written here",
        },
    ),
    column("files_seen", pa.int64(), "Files found under the source"),
    column("captures_discovered", pa.int64(), "Usable captures found"),
    column("quarantined", pa.int64(), "Files set aside"),
    column("captures_new", pa.int64(), "Captures never seen before"),
    column("captures_resumed", pa.int64(), "Captures finished after an earlier run"),
    column("captures_skipped", pa.int64(), "Captures already done"),
    column("images_uploaded", pa.int64(), "Images uploaded (new and resumed)"),
    column("images_failed", pa.int64(), "Images whose upload failed"),
    column("images_complete", pa.int64(), "Images with every algorithm's result"),
    column("images_pending", pa.int64(), "Images still unfinished at the timeout"),
    column("images_no_face", pa.int64(), "Images the service could not analyse (no face...)"),
    column("service", pa.string(), "Who answered: emulator, or the real service's host"),
    column("rows_written", pa.int64(), "Lake rows written by the run, all tables"),
    column("error", pa.string(), "Why the run failed, if it did (secrets redacted)"),
    column("options_json", pa.string(), "The run's options as JSON (no secrets)"),
    RUN_DATE,
    WRITTEN_AT,
)

_REASON_MEANINGS = {
    "empty": "the file has no bytes",
    "corrupt": "an image that cannot be decoded",
    "not_an_image": "not an image file",
    "unsupported_format": "an image, but neither JPEG nor PNG (all the API takes)",
    "too_large": "larger than the API accepts",
    "no_front_image": "a session without a front photo",
    "duplicate_side": "two photos of one side in a session",
    "too_many_images": "more photos in a session than front, right and left",
    "incomplete_triple": "a front with only one of the right and left photos",
    "outside_layout": "a file where the folder layout has no place for one",
    "unreadable": "a file or folder that cannot be read",
    "not_a_file": "a path where a photo should be that is no regular file (a folder, a pipe, "
    "a device): never opened",
    "bad_manifest_row": "a manifest row that cannot be used",
    "changed_after_upload": "different bytes from the photo uploaded for the same capture",
    "rejected_by_api": "the API refused the image (a validation error)",
    "duplicate_photo": "the same photo as one already analysed under another subject, "
    "session or side (each analysis is charged)",
}
QUARANTINE_REASONS = {
    reason.value: _REASON_MEANINGS.get(reason.value, "see detail and fix")
    for reason in QuarantineReason
}
"""What each quarantine reason (:class:`schemas.captures.QuarantineReason`) means."""

QUARANTINE = _spec(
    "quarantine",
    "Files set aside, with the reason and the fix; one row per file and reason",
    "quarantine_id",
    ("run_date",),
    _id("quarantine_id", "hash of URI and reason"),
    column("uri", pa.string(), "The file or folder"),
    column("reason", pa.string(), "Why the file was set aside", values=QUARANTINE_REASONS),
    column("detail", pa.string(), "What is wrong, naming the file"),
    column("fix", pa.string(), "What to do about it"),
    column("subject_key", pa.string(), "The subject, when known"),
    column("session_key", pa.string(), "The session, when known"),
    RUN_ID,
    RUN_DATE,
    WRITTEN_AT,
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        SUBJECTS,
        BATCHES,
        IMAGES,
        RESULTS,
        METRICS,
        AUX_IMAGES,
        AUX_METRICS,
        MASKS,
        SMOOTHED_RESULTS,
        RUNS,
        QUARANTINE,
    )
}
"""Every lake table by name, in the order they are written."""


def table_spec(name: str) -> TableSpec:
    """The spec of a table; a clear error naming the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no lake table {name!r}; the tables are {', '.join(TABLES)}") from None
