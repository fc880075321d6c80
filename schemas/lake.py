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
Parquet file.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
DESCRIPTION = b"description"


def column(name: str, type_: pa.DataType, description: str, *, required: bool = False) -> pa.Field:
    """A field with its description as metadata (``required``: never null)."""
    return pa.field(name, type_, nullable=not required, metadata={DESCRIPTION: description})


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


def _spec(
    name: str, description: str, id_column: str, partition_by: tuple[str, ...], *fields: pa.Field
) -> TableSpec:
    metadata = {
        b"table": name.encode(),
        DESCRIPTION: description.encode(),
        b"id_column": id_column.encode(),
        b"partition_by": ",".join(partition_by).encode(),
    }
    return TableSpec(name, description, id_column, partition_by, pa.schema(fields, metadata))


CAPTURE_MONTH = column("capture_month", pa.string(), "Partition: capture month, YYYY-MM (UTC)")
RUN_DATE = column("run_date", pa.date32(), "Partition: the day the run started (UTC)")
RUN_ID = column("run_id", pa.string(), "The ingest run that wrote this row", required=True)
WRITTEN_AT = column("written_at", TIMESTAMP, "When this row was written; the newest row wins")

# Who and when, on every image-derived row, so common questions need no joins.
IMAGE_CONTEXT = (
    column("image_id", pa.string(), "API image id", required=True),
    column("batch_id", pa.string(), "API batch id (one capture session)"),
    column("subject_id", pa.string(), "API subject id"),
    column("dataset_id", pa.string(), "API dataset id"),
    column("capture_id", pa.string(), "Stable capture identity (subject, session, content)"),
    column("subject_key", pa.string(), "The subject as named in the source (folder name)"),
    column("session_key", pa.string(), "The session as named in the source (folder name)"),
    column("side", pa.string(), "front, right or left"),
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
    column("area_name", pa.string(), "Face area: face, forehead, nose, left_cheek, ..."),
    column("kind", pa.string(), "main, sub or debug"),
    column("tech_name", pa.string(), "Metric tech name, e.g. redness_score"),
    column("name", pa.string(), "Metric display name, e.g. Redness Score"),
    column("widget_type", pa.string(), "bad_good_line, numeric, density, category, ITA, ..."),
    column("value", pa.float64(), "Numeric value (null for categories and text)"),
    column("value_text", pa.string(), "Text value: categories, booleans, JSON of lists/dicts"),
)

SUBJECTS = _spec(
    "subjects",
    "One row per subject (person)",
    "subject_id",
    (),
    _id("subject_id", "API subject id"),
    column("subject_key", pa.string(), "The subject as named in the source (folder name)"),
    column("dataset_id", pa.string(), "API dataset id"),
    RUN_ID,
    WRITTEN_AT,
)

BATCHES = _spec(
    "batches",
    "One row per capture session (API batch); times are the front image's",
    "batch_id",
    ("capture_month",),
    _id("batch_id", "API batch id"),
    column("capture_id", pa.string(), "Stable capture identity (subject, session, content)"),
    column("subject_id", pa.string(), "API subject id"),
    column("dataset_id", pa.string(), "API dataset id"),
    column("subject_key", pa.string(), "The subject as named in the source"),
    column("session_key", pa.string(), "The session as named in the source"),
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
    column("captured_at_source", pa.string(), "exif, folder, mtime or manifest"),
    column("uploaded_at", TIMESTAMP, "When the image was uploaded"),
    column(
        "status",
        pa.string(),
        "complete (every algorithm answered), no_face (the service could not analyse the photo: "
        "see finding) or pending (results not in yet)",
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
    column("payload_kind", pa.string(), "algorithm, face_detector, error or scalar"),
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
    column("variant", pa.string(), "original (photo pixels) or restored (face-aligned image)"),
    column("tech_name", pa.string(), "Mask tech name, e.g. redness_mask_original"),
    column("name", pa.string(), "Mask display name"),
    column("mask_type", pa.string(), "heatmap_mask, polygon_mask, polyline_mask or point_mask"),
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
    column("method", pa.string(), "mean, mean_without_outliers or linear_approximation"),
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
    "One manifest row per ingest run: what it read, did and wrote",
    "run_id",
    ("run_date",),
    RUN_ID,
    column("started_at", TIMESTAMP, "When the run started"),
    column("finished_at", TIMESTAMP, "When the run finished (null while running)"),
    column("source", pa.string(), "The folder URL ingested"),
    column(
        "status",
        pa.string(),
        "running, died (killed or crashed: so marked by the next run on its ledger), "
        "completed, completed_with_quarantine (files set aside), completed_with_findings "
        "(photos the service could not analyse), incomplete (images pending or failed), "
        "failed (the run stopped)",
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

QUARANTINE = _spec(
    "quarantine",
    "Files set aside, with the reason and the fix; one row per file and reason",
    "quarantine_id",
    ("run_date",),
    _id("quarantine_id", "hash of URI and reason"),
    column("uri", pa.string(), "The file or folder"),
    column("reason", pa.string(), "empty, corrupt, not_an_image, too_large, ..."),
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
