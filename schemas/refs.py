"""Small references that name a subject, batch or image where it lives on the Haut.AI API.

Captures, the ledger and the client all pass these around; :mod:`haut.paths` turns them into
URL paths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubjectRef:
    """Where a subject lives: its dataset and its own id."""

    dataset_id: str
    subject_id: str

    def batch(self, batch_id: str) -> BatchRef:
        return BatchRef(self.dataset_id, self.subject_id, batch_id)


@dataclass(frozen=True)
class BatchRef:
    """Where a batch lives: dataset, subject and its own id."""

    dataset_id: str
    subject_id: str
    batch_id: str

    @property
    def subject(self) -> SubjectRef:
        return SubjectRef(self.dataset_id, self.subject_id)

    def image(self, image_id: str) -> ImageRef:
        return ImageRef(self.dataset_id, self.subject_id, self.batch_id, image_id)


@dataclass(frozen=True)
class ImageRef:
    """Where an image lives: dataset, subject, batch and its own id."""

    dataset_id: str
    subject_id: str
    batch_id: str
    image_id: str

    @property
    def batch(self) -> BatchRef:
        return BatchRef(self.dataset_id, self.subject_id, self.batch_id)
