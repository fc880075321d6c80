"""Session rules: which checked files of one session make a capture, and which are held back.

A selfie batch is one front image, or front + right + left (vendor guide); skin and visia
batches hold exactly one image. A session is uploaded whole or not at all: when its shape is
wrong (no front, two images for a side, more than three, a triple missing a side), one of its
photos is unusable, one names no side, or an entry of it cannot be read at all (it may be one of
its photos: a link loop, a file without permission), every photo of it is quarantined — the
broken file with its own reason, the usable ones with the session's reason and a detail saying
they are fine but held back. Uploading part of a triple would make the completed triple look like a
changed capture later; holding the session lets a fixed folder upload as one new capture on
the next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from schemas.captures import (
    Capture,
    ImageKind,
    QuarantinedFile,
    QuarantineReason,
    Side,
    SourceImage,
    side_order,
)
from tasks.discovery.capture_time import CaptureTime
from tasks.discovery.image_file import CheckedImage, Problem
from tasks.discovery.layout import claims_image

SELFIE_SHAPE = "a selfie session is one front image, or a front, a right and a left image"


@dataclass(frozen=True)
class SessionFile:
    """A file of one session after checking: its side (if named) and what the check found."""

    uri: str
    name: str
    """Path relative to the source, for messages."""
    subject_key: str
    session_key: str
    side: Side | None
    outcome: CheckedImage | Problem
    captured: CaptureTime | None = None
    light_id: int = 1

    @property
    def is_photo(self) -> bool:
        """Decodes as a usable image, or its name says it is a photo (so it shapes the session)."""
        return isinstance(self.outcome, CheckedImage) or claims_image(self.name)

    @property
    def is_unreadable(self) -> bool:
        """Could not be read: whatever its name, it may be one of the session's photos."""
        problem = self.outcome
        return isinstance(problem, Problem) and problem.reason is QuarantineReason.UNREADABLE


@dataclass(frozen=True)
class SessionResult:
    """What one session gave: a capture, or nothing, plus every file set aside."""

    capture: Capture | None
    quarantined: tuple[QuarantinedFile, ...]


def build_session(
    subject_key: str, session_key: str, files: Sequence[SessionFile], kind: ImageKind
) -> SessionResult:
    """Apply the session rules to the checked files of ``subject_key/session_key``."""
    out = _Quarantine(subject_key, session_key)
    photos = [f for f in files if f.is_photo]
    for other in files:
        if not other.is_photo:
            out.own(other)
    unsided: list[SessionFile] = []
    if kind is ImageKind.SELFIE:
        sided = [p for p in photos if p.side is not None]
        unsided = [p for p in photos if p.side is None]
        for photo in unsided:
            out.own(photo, fallback=_no_side_word(photo))
    else:
        sided = [_as_front(p) for p in photos]
    if not sided:
        return SessionResult(None, out.records())
    shape = _shape_problem(f"{subject_key}/{session_key}", sided, kind)
    broken = [p for p in sided if isinstance(p.outcome, Problem)]
    broken += [f for f in files if not f.is_photo and f.is_unreadable]
    if shape is None and not broken and not unsided:
        return SessionResult(_capture(subject_key, session_key, sided, kind), out.records())
    # A photo without a side word may be this session's right or left (and so may an entry that
    # cannot be read): uploading the rest now would make the completed session look changed once
    # the user fixes it.
    held = shape or (_held_for(broken[0]) if broken else _held_for_unsided(unsided[0]))
    for photo in sided:
        out.own(photo, fallback=_held_back(photo, held))
    return SessionResult(None, out.records())


def _as_front(photo: SessionFile) -> SessionFile:
    # Skin and visia batches have one image and no sides: it goes up as side 1.
    return replace(photo, side=Side.FRONT)


def _shape_problem(key: str, sided: Sequence[SessionFile], kind: ImageKind) -> Problem | None:
    names = ", ".join(p.name.rsplit("/", 1)[-1] for p in sided)
    if kind is not ImageKind.SELFIE:
        if len(sided) == 1:
            return None
        return Problem(
            QuarantineReason.TOO_MANY_IMAGES,
            f"session {key} has {len(sided)} images ({names}); a {kind} batch holds exactly one",
            "keep one image per session folder: move the others into session folders of their own",
        )
    if len(sided) > 3:
        return Problem(
            QuarantineReason.TOO_MANY_IMAGES,
            f"session {key} has {len(sided)} images ({names}); {SELFIE_SHAPE}",
            "move the extra images into a session folder of their own",
        )
    return _side_problem(key, sided)


def _side_problem(key: str, sided: Sequence[SessionFile]) -> Problem | None:
    counts = Counter(p.side for p in sided)
    doubled = [side for side, count in counts.items() if side is not None and count > 1]
    if doubled:
        twice = [p.name.rsplit("/", 1)[-1] for p in sided if p.side is doubled[0]]
        return Problem(
            QuarantineReason.DUPLICATE_SIDE,
            f"session {key} has {len(twice)} {doubled[0]} images ({', '.join(twice)})",
            f"keep one {doubled[0]} image in the session; move the other to its own session",
        )
    if Side.FRONT not in counts:
        return Problem(
            QuarantineReason.NO_FRONT_IMAGE,
            f"session {key} has no front image; {SELFIE_SHAPE}",
            "add the front photo (named front.jpg, or with a _front suffix) to the session",
        )
    if len(counts) == 2:
        missing = next(s for s in (Side.RIGHT, Side.LEFT) if s not in counts)
        return Problem(
            QuarantineReason.INCOMPLETE_TRIPLE,
            f"session {key} has a front and a {_other(missing)} image but no {missing}: "
            f"{SELFIE_SHAPE}",
            f"add the {missing} photo to complete the triple, or move the {_other(missing)} "
            "photo out of the session to upload the front alone",
        )
    return None


def _other(side: Side) -> Side:
    return Side.LEFT if side is Side.RIGHT else Side.RIGHT


def _held_for(broken: SessionFile) -> Problem:
    assert isinstance(broken.outcome, Problem)
    return Problem(
        broken.outcome.reason,
        f"{broken.name} in the same session cannot be used",
        f"fix {broken.name} ({broken.outcome.fix}); the session is uploaded whole next run",
    )


def _held_for_unsided(unsided: SessionFile) -> Problem:
    return Problem(
        QuarantineReason.OUTSIDE_LAYOUT,
        f"{unsided.name} in the same session names no side",
        f"rename {unsided.name} with its side (front, right or left), or move it out of the "
        "session; the session is uploaded whole next run",
    )


def _held_back(photo: SessionFile, held: Problem) -> Problem:
    return Problem(held.reason, f"{photo.name} is usable but held back: {held.detail}", held.fix)


def _no_side_word(photo: SessionFile) -> Problem:
    return Problem(
        QuarantineReason.OUTSIDE_LAYOUT,
        f"{photo.name} names no side (front/frontal/f, right/r, left/l)",
        "rename it to front.jpg, right.jpg or left.jpg (or add a _front/_right/_left suffix), "
        "or list it in a manifest CSV with its side",
    )


def _capture(
    subject_key: str, session_key: str, sided: Sequence[SessionFile], kind: ImageKind
) -> Capture:
    images = []
    for photo in sorted(sided, key=lambda p: side_order(p.side or Side.FRONT)):
        checked, captured = photo.outcome, photo.captured
        assert isinstance(checked, CheckedImage)
        assert photo.side is not None
        assert captured is not None, "a usable image always has a capture time"
        images.append(
            SourceImage(
                uri=photo.uri,
                side=photo.side,
                sha256=checked.sha256,
                size=checked.size,
                image_format=checked.image_format,
                captured_at=captured.at,
                captured_at_source=captured.source.value,
                light_id=photo.light_id,
            )
        )
    return Capture(subject_key, session_key, tuple(images), kind)


class _Quarantine:
    """Collects the quarantine records of one session."""

    def __init__(self, subject_key: str, session_key: str) -> None:
        self._subject_key = subject_key
        self._session_key = session_key
        self._records: list[QuarantinedFile] = []

    def own(self, file: SessionFile, fallback: Problem | None = None) -> None:
        """Quarantine ``file`` with its own problem, else with ``fallback``."""
        problem = file.outcome if isinstance(file.outcome, Problem) else fallback
        assert problem is not None, "only files with a problem are quarantined"
        self._records.append(
            QuarantinedFile(
                file.uri,
                problem.reason,
                problem.detail,
                problem.fix,
                self._subject_key,
                self._session_key,
            )
        )

    def records(self) -> tuple[QuarantinedFile, ...]:
        return tuple(self._records)
