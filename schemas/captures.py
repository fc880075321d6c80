"""Captures: the shapes discovery produces and the planner, uploader, waiter and lake consume.

A *capture* is one session of one subject: a front image alone, or front + right + left. Its
identity (:attr:`Capture.capture_id`) is the subject key, the session key and the content hashes
of its images, so the same folder discovered twice gives the same ids, and a changed image gives
a different one. Files that cannot be used become :class:`QuarantinedFile` records with a reason
and a fix; nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schemas.refs import ImageRef


class Side(StrEnum):
    """Which way the face looks in a photo; the API's ``side_id`` (vendor guide)."""

    FRONT = "front"
    RIGHT = "right"
    LEFT = "left"

    @property
    def side_id(self) -> int:
        return _SIDE_IDS[self]


_SIDE_IDS = {Side.FRONT: 1, Side.RIGHT: 2, Side.LEFT: 3}
_SIDE_ORDER = {Side.FRONT: 0, Side.RIGHT: 1, Side.LEFT: 2}


class ImageKind(StrEnum):
    """The dataset's image type: the API's ``image_type_id``."""

    SELFIE = "selfie"
    SKIN = "skin"
    VISIA = "visia"

    @property
    def image_type_id(self) -> int:
        return _IMAGE_TYPE_IDS[self]


_IMAGE_TYPE_IDS = {ImageKind.SELFIE: 1, ImageKind.SKIN: 2, ImageKind.VISIA: 3}
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


@dataclass(frozen=True)
class SourceImage:
    """One usable image file, verified by decoding, with its content hash and capture time."""

    uri: str
    """fsspec URL: with its protocol for buckets (``s3://b/alice/s1/front.jpg``), an absolute
    path for local files."""
    side: Side
    sha256: str
    """Of the file's bytes."""
    size: int
    """Bytes."""
    image_format: str
    """``"JPEG"`` or ``"PNG"``."""
    captured_at: datetime
    """Aware, UTC."""
    captured_at_source: str
    """``"exif"``, ``"folder"``, ``"mtime"`` or ``"manifest"``."""
    light_id: int = 1

    @property
    def upload_name(self) -> str:
        """The image name sent to the API: content-derived, so it is the reconcile key."""
        return f"{self.sha256[:32]}-{self.side.value}.{_EXTENSIONS.get(self.image_format, 'jpg')}"


@dataclass(frozen=True)
class Capture:
    """One session of one subject: the images uploaded together as one batch."""

    subject_key: str
    """E.g. the subject folder's name, ``"alice"``."""
    session_key: str
    """E.g. the session folder's name, ``"2026-01-05"`` or ``"session-3"``."""
    images: tuple[SourceImage, ...]
    """Front first, then right, then left."""
    image_kind: ImageKind = ImageKind.SELFIE

    @property
    def captured_at(self) -> datetime:
        """The front image's capture time (the first image's when there is no front)."""
        front = next((i for i in self.images if i.side is Side.FRONT), self.images[0])
        return front.captured_at

    @property
    def key(self) -> str:
        return f"{self.subject_key}/{self.session_key}"

    @property
    def content_hash(self) -> str:
        """sha256 of the sorted ``side:sha256`` lines: the same images give the same hash."""
        lines = sorted(f"{image.side.value}:{image.sha256}" for image in self.images)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    @property
    def capture_id(self) -> str:
        """Stable identity: key and content together, 32 hex characters."""
        digest = hashlib.sha256(f"{self.key}\n{self.content_hash}".encode()).hexdigest()
        return digest[:32]


def side_order(side: Side) -> int:
    """Position of a side in :attr:`Capture.images` (front, right, left)."""
    return _SIDE_ORDER[side]


class QuarantineReason(StrEnum):
    """Why a file was set aside instead of uploaded."""

    EMPTY = "empty"
    CORRUPT = "corrupt"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_LARGE = "too_large"
    NO_FRONT_IMAGE = "no_front_image"
    DUPLICATE_SIDE = "duplicate_side"
    TOO_MANY_IMAGES = "too_many_images"
    INCOMPLETE_TRIPLE = "incomplete_triple"
    """A front with only one of the right and left photos: too many for a single front, too
    few for a triple."""
    OUTSIDE_LAYOUT = "outside_layout"
    UNREADABLE = "unreadable"
    """A file or folder that cannot be read."""
    NOT_A_FILE = "not_a_file"
    """A path where a photo should be that is no regular file: a folder named like a photo, a
    named pipe (FIFO), a socket or a device. It is never opened."""
    BAD_MANIFEST_ROW = "bad_manifest_row"
    CHANGED_AFTER_UPLOAD = "changed_after_upload"
    """Set by the planner: same capture key, different bytes than what was uploaded."""
    REJECTED_BY_API = "rejected_by_api"
    """Set by the uploader: the API answered a 4xx validation error for this image."""
    DUPLICATE_PHOTO = "duplicate_photo"
    """Set by the planner: the same photo content as one already analysed (or planned) under
    another subject, session or side; each analysis is charged."""


@dataclass(frozen=True)
class QuarantinedFile:
    """A file set aside, what is wrong with it and what the user should do."""

    uri: str
    reason: QuarantineReason
    detail: str
    """What is wrong, naming the file."""
    fix: str
    """What the user should do."""
    subject_key: str | None = None
    session_key: str | None = None


@dataclass(frozen=True)
class Discovery:
    """Everything found under a source: usable captures and quarantined files."""

    source: str
    captures: tuple[Capture, ...]
    quarantined: tuple[QuarantinedFile, ...]
    files_seen: int


@dataclass(frozen=True)
class UploadedImage:
    """A source image as uploaded: where it lives at the API. Produced by the uploader."""

    capture_id: str
    subject_key: str
    session_key: str
    dataset_id: str
    subject_id: str
    batch_id: str
    image_id: str
    source: SourceImage
    uploaded_at: datetime

    @property
    def side(self) -> Side:
        return self.source.side

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.dataset_id, self.subject_id, self.batch_id, self.image_id)


_RETAKE = (
    "retake it facing the camera, the whole face in the frame, evenly lit and unobstructed, and "
    "put the new photo in a new session folder (e.g. '{session}-2'): this one stays analysed as "
    "it is"
)
_FIX_BY_FINDING = {
    "face is not detected": (
        "the dataset runs without the face detector (algorithm 40), so nothing is analysed: "
        "enable it with `hautflow applications algorithms DATASET --set ...,40`, then ingest "
        "the photo again with --allow-duplicate-photos (it was sent once already)"
    ),
}


@dataclass(frozen=True)
class UnanalysedImage:
    """An uploaded photo the service could not analyse (no face, not the full face...): a
    finding for the user, never counted as a success."""

    image: UploadedImage
    finding: str
    """The service's words, e.g. "No face detected"."""

    @property
    def fix(self) -> str:
        """What the user should do about it."""
        fix = _FIX_BY_FINDING.get(self.finding.casefold(), _RETAKE)
        return fix.format(session=self.image.session_key)
