"""Where uploaded images stand on the way to the lake, as the ledger records it.

After an upload, images whose results are not yet in the lake are :func:`pending_images`;
:func:`mark_written` and :func:`mark_pending` move them on.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.captures import UploadedImage
from tasks.ledger import ImageState, Ledger

__all__ = ["mark_pending", "mark_written", "pending_images"]


def pending_images(ledger: Ledger) -> list[UploadedImage]:
    """Every image at the API whose results are not yet written to the lake (uploaded by any
    run, this one included; pending after a timeout), oldest first."""
    return ledger.uploaded_images(states=(ImageState.UPLOADED, ImageState.PENDING))


def mark_written(ledger: Ledger, image_ids: Sequence[str]) -> None:
    """The results of these images are in the lake."""
    ledger.set_image_state(image_ids, ImageState.WRITTEN)


def mark_pending(ledger: Ledger, image_ids: Sequence[str], reason: str) -> None:
    """These images were still unfinished at the timeout: the next run picks them up."""
    ledger.set_image_state(image_ids, ImageState.PENDING, reason)
