"""Which images a backfill re-reads, and in which chunks.

The ledger knows every uploaded image with its capture context; a chunk groups images so that
one ``all_results`` call per subject covers them (a subject's images stay together, in time
order), and small subjects share a chunk so that a thousand people with five photos each make
twenty tasks, not a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.captures import UploadedImage
from schemas.refs import SubjectRef
from tasks.ledger import ImageState

HISTORY_MARGIN = timedelta(seconds=1)
"""Added to the last capture time of a slice for ``all_results``' ``date_to``: a datetime
``date_to`` is exclusive (haut/emulator/routes_results.py), so the last image stays in."""


@dataclass(frozen=True)
class Target:
    """An image to re-read, and its state in the ledger before the backfill."""

    image: UploadedImage
    state: ImageState


@dataclass(frozen=True)
class SubjectSlice:
    """Some of one subject's images, consecutive in time: read with one ``all_results`` call."""

    targets: tuple[Target, ...]

    @property
    def subject(self) -> SubjectRef:
        image = self.targets[0].image
        return SubjectRef(image.dataset_id, image.subject_id)

    @property
    def history_range(self) -> tuple[datetime, datetime]:
        """``(date_from, date_to)`` for ``all_results``: from the first capture time to just
        after the last, so the call answers for these images and (almost) no others.

        Whole seconds, as the API keeps capture times; a day range instead would read every
        image of those days, and a time zone's day boundary could still lose one.
        """
        moments = [t.image.source.captured_at.replace(microsecond=0) for t in self.targets]
        return min(moments), max(moments) + HISTORY_MARGIN


def plan_chunks(targets: Sequence[Target], size: int) -> list[list[SubjectSlice]]:
    """Chunks of at most ``size`` images, each a list of subject slices.

    A subject's images stay together in time order, split only when there are more than
    ``size``; small subjects share a chunk.
    """
    if size < 1:
        raise ValueError(f"chunk size {size}: it must be at least 1 image")
    by_subject: dict[str, list[Target]] = {}
    for target in sorted(targets, key=lambda t: t.image.source.captured_at):
        by_subject.setdefault(target.image.subject_id, []).append(target)
    chunks: list[list[SubjectSlice]] = []
    current: list[SubjectSlice] = []
    filled = 0
    for subject_targets in by_subject.values():
        for start in range(0, len(subject_targets), size):
            piece = SubjectSlice(tuple(subject_targets[start : start + size]))
            if filled + len(piece.targets) > size and current:
                chunks.append(current)
                current, filled = [], 0
            current.append(piece)
            filled += len(piece.targets)
    if current:
        chunks.append(current)
    return chunks
