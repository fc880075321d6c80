"""The old home of the uploading names, kept while ``tasks/operations`` imports from it.

Dataset set-up is in :mod:`~tasks.uploading.dataset`, the upload pool in
:mod:`~tasks.uploading.pool`, the ledger moves in :mod:`~tasks.uploading.ledger_moves`.
"""

from tasks.uploading.dataset import (
    FACE_DETECTOR_ALGORITHM_ID,
    DatasetConflictError,
    DatasetContext,
    connected_algorithms,
    ensure_dataset,
    waiting_images,
)
from tasks.uploading.ledger_moves import mark_pending, mark_written, pending_images
from tasks.uploading.pool import UploadOutcome, upload_captures

__all__ = [
    "FACE_DETECTOR_ALGORITHM_ID",
    "DatasetConflictError",
    "DatasetContext",
    "UploadOutcome",
    "connected_algorithms",
    "ensure_dataset",
    "mark_pending",
    "mark_written",
    "pending_images",
    "upload_captures",
    "waiting_images",
]
