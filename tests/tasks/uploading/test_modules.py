"""Uploading is cut by concern: dataset set-up, the upload pool and the ledger moves each have
a module, and the package still exports every name from one place."""

from __future__ import annotations

import pytest

import tasks.uploading

HOMES = {
    "ensure_dataset": "tasks.uploading.dataset",
    "DatasetConflictError": "tasks.uploading.dataset",
    "upload_captures": "tasks.uploading.pool",
    "UploadOutcome": "tasks.uploading.pool",
    "pending_images": "tasks.uploading.ledger_moves",
    "mark_pending": "tasks.uploading.ledger_moves",
    "mark_written": "tasks.uploading.ledger_moves",
}


@pytest.mark.parametrize(("name", "home"), sorted(HOMES.items()))
def test_each_name_lives_with_its_concern(name: str, home: str) -> None:
    assert name in tasks.uploading.__all__
    assert getattr(tasks.uploading, name).__module__ == home
