"""The typed references to subjects, batches and images, and how they nest."""

from __future__ import annotations

from schemas.refs import BatchRef, ImageRef, SubjectRef


def test_image_id_reference_shapes() -> None:
    ref = ImageRef("d", "s", "b", "i")
    assert ref.batch.image("i") == ref
    assert ref.batch.subject == SubjectRef("d", "s")
    assert ref.batch == BatchRef("d", "s", "b")
    assert ref.batch.subject.batch("b") == ref.batch
