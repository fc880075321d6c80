"""Uploading: decide what to send, then send every capture to the API exactly once.

:func:`plan` sorts discovered captures against the ledger into new, resume, done and changed
(:mod:`~tasks.uploading.plan`). :func:`ensure_dataset` finds or creates the dataset and its
application (:mod:`~tasks.uploading.dataset`), and :func:`upload_captures` uploads the planned
captures with bounded concurrency, each one subject, batch and images at a time
(:mod:`~tasks.uploading.pool`, :mod:`~tasks.uploading.capture_upload`). :func:`pending_images`,
:func:`mark_written` and :func:`mark_pending` track which uploaded images still need their
results in the lake (:mod:`~tasks.uploading.ledger_moves`).
"""

from tasks.uploading.dataset import (
    FACE_DETECTOR_ALGORITHM_ID,
    DatasetConflictError,
    DatasetContext,
    ensure_dataset,
)
from tasks.uploading.ledger_moves import mark_pending, mark_written, pending_images
from tasks.uploading.plan import Plan, plan
from tasks.uploading.pool import UploadOutcome, upload_captures

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
