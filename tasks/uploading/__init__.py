"""Uploading: decide what to send, then send every capture to the API exactly once.

:func:`plan` sorts discovered captures against the ledger into new, resume, done and changed
(:mod:`~tasks.uploading.plan`). :func:`ensure_dataset` finds or creates the dataset and its
application, and :func:`upload_captures` uploads the planned captures with bounded concurrency,
each one subject, batch and images at a time (:mod:`~tasks.uploading.upload`,
:mod:`~tasks.uploading.capture_upload`). :func:`pending_images`, :func:`mark_written` and
:func:`mark_pending` track which uploaded images still need their results in the lake.
"""

from tasks.uploading.plan import Plan, plan
from tasks.uploading.upload import (
    FACE_DETECTOR_ALGORITHM_ID,
    DatasetConflictError,
    DatasetContext,
    UploadOutcome,
    ensure_dataset,
    mark_pending,
    mark_written,
    pending_images,
    upload_captures,
)

__all__ = [
    "FACE_DETECTOR_ALGORITHM_ID",
    "DatasetConflictError",
    "DatasetContext",
    "Plan",
    "UploadOutcome",
    "ensure_dataset",
    "mark_pending",
    "mark_written",
    "pending_images",
    "plan",
    "upload_captures",
]
