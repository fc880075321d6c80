"""The ledger: what hautflow created at the API, recorded before and after every call.

It is what makes uploading exactly once: each create is recorded with its reconcile key before
the call and with the API's id after it, so a run killed at any moment leaves rows saying what
may be in doubt. :class:`Ledger` is the store (:mod:`~tasks.ledger.ledger`, on SQLAlchemy Core,
SQLite by default); its tables and states are in :mod:`~tasks.ledger.tables`, the records it
returns in :mod:`~tasks.ledger.records`, run locking in :mod:`~tasks.ledger.lock`, claims of
subjects by runs sharing a PostgreSQL ledger in :mod:`~tasks.ledger.claims`, and the takeover
of a refused session's batch in :mod:`~tasks.ledger.takeover`.
"""

from tasks.ledger.ledger import (
    AnalysedPhoto,
    ApplicationRecord,
    CaptureRecord,
    DatasetRecord,
    ImageRecord,
    Ledger,
    LedgerBusyError,
    SubjectRecord,
)
from tasks.ledger.tables import ON_THE_API, SCHEMA_VERSION, CaptureState, CreateState, ImageState
from tasks.ledger.takeover import rejected_version

__all__ = [
    "ON_THE_API",
    "SCHEMA_VERSION",
    "AnalysedPhoto",
    "ApplicationRecord",
    "CaptureRecord",
    "CaptureState",
    "CreateState",
    "DatasetRecord",
    "ImageRecord",
    "ImageState",
    "Ledger",
    "LedgerBusyError",
    "SubjectRecord",
    "rejected_version",
]
