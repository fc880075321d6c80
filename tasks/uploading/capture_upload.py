"""One capture to the API exactly once: its subject, its batch, its images, reconciling doubts.

Each create is recorded in the ledger before the call and after it. A create is *in doubt*
when its row says ``creating`` (a run stopped between the call and the record) or when the
client raises CreateInDoubtError (the request left but no answer came back). A create in doubt
is never simply repeated: the resource is looked up by its reconcile key first, and created
again only if it is not there:

- a subject by its exact name (the subject key) in the dataset;
- an image by its upload name (content hash + side) in its batch;
- a batch by the subject's batches with the capture's creation time that no capture in the
  ledger owns (see :meth:`CaptureUploader._find_batch` for why that is safe).

Within one process a per-subject lock keeps concurrent captures of one subject from making it
twice. Runs on one ledger take turns (:meth:`tasks.ledger.ledger.Ledger.run_lock`); should two
processes still meet on one capture, a record found already made is treated as in doubt and
reconciled, and the first batch recorded is the one used. Workers sharing one (PostgreSQL)
ledger within a run must be given captures sharded by subject key: the subject lock does not
reach across processes.

A session whose earlier version the API refused takes that version's batch and uploaded
images over when the user replaces the refused file (:mod:`tasks.ledger.takeover`).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import fsspec
from sqlalchemy.exc import IntegrityError

from haut.client import HautClient
from haut.errors import AuthError, CreateInDoubtError, HautError, RequestRefusedError
from schemas.api import Batch, Image, Subject
from schemas.captures import (
    Capture,
    ImageKind,
    QuarantinedFile,
    QuarantineReason,
    SourceImage,
    UploadedImage,
)
from schemas.errors import HautflowError
from schemas.refs import BatchRef, SubjectRef
from schemas.wire_time import format_wire_time
from tasks.ledger import (
    ON_THE_API,
    CaptureRecord,
    CaptureState,
    ImageRecord,
    ImageState,
    Ledger,
    rejected_version,
)

T = TypeVar("T")
CREATE_ATTEMPTS = 3  # creates repeated after an in-doubt failure that the lookup did not find


@dataclass(frozen=True)
class DatasetContext:
    """The dataset captures go to, with the application attached and its algorithms."""

    name: str
    dataset_id: str
    image_kind: ImageKind
    application_id: str
    enabled_algorithms: tuple[int, ...]


@dataclass
class CaptureOutcome:
    """What became of one capture."""

    capture: Capture
    uploaded: list[UploadedImage] = field(default_factory=list)
    quarantined: QuarantinedFile | None = None
    failure: str | None = None


class SourceChangedError(HautflowError):
    """A file's bytes no longer match the hash discovery gave it."""


async def create_once(
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    *,
    in_doubt: bool,
    attempts: int = CREATE_ATTEMPTS,
) -> T:
    """Create a resource once: while an earlier attempt is in doubt, look it up first."""
    doubt: CreateInDoubtError | None = None
    for _ in range(attempts):
        if in_doubt or doubt is not None:
            found = await find()
            if found is not None:
                return found
        try:
            return await create()
        except CreateInDoubtError as error:
            doubt = error
    assert doubt is not None
    raise doubt


class SourceReader:
    """Reads source images, local or in a bucket, through one filesystem per protocol.

    Opening every photo by URL would build a bucket client (and its connection pool) per photo
    when the backend does not cache instances.
    """

    def __init__(self, storage_options: Mapping[str, Any] | None) -> None:
        self._storage_options = dict(storage_options or {})
        self._filesystems: dict[str, fsspec.AbstractFileSystem] = {}
        self._lock = threading.Lock()

    def read(self, uri: str) -> bytes:
        """The bytes of the image at ``uri``."""
        protocol = fsspec.core.split_protocol(uri)[0] or "file"
        with self._lock:
            fs = self._filesystems.get(protocol)
            if fs is None:
                fs, _ = fsspec.core.url_to_fs(uri, **self._storage_options)
                self._filesystems[protocol] = fs
        with fs.open(uri, "rb") as handle:
            data: bytes = handle.read()
        return data


class CaptureUploader:
    """Uploads captures to one dataset; subjects are created once even under concurrency."""

    def __init__(
        self,
        client: HautClient,
        ledger: Ledger,
        dataset: DatasetContext,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._dataset = dataset
        self._sources = SourceReader(storage_options)
        # Per subject key: one subject create at a time, and no two captures of one subject
        # adopting the same batch.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def upload(self, capture: Capture) -> CaptureOutcome:
        """Subject, batch and images of one capture; auth failures end the whole run."""
        try:
            return await self._upload(capture)
        except AuthError:
            raise
        except (HautError, IntegrityError, OSError, SourceChangedError) as error:
            return CaptureOutcome(capture, self._uploaded(capture), failure=_describe(error))

    async def _upload(self, capture: Capture) -> CaptureOutcome:
        record = self._ledger.capture(capture.capture_id) or self._take_over(capture)
        # A recorded capture's subject is recorded too: it was made before the batch.
        subject_id = record.subject_id if record else await self._subject_id(capture.subject_key)
        batch_id = (record.batch_id if record else None) or await self._batch_id(
            capture, subject_id, in_doubt=record is not None
        )
        # A resumed capture stays in the dataset it was started in.
        dataset_id = record.dataset_id if record else self._dataset.dataset_id
        batch = SubjectRef(dataset_id, subject_id).batch(batch_id)
        images = dict(record.images) if record else {}
        for source in capture.images:
            try:
                await self._image(capture, batch, source, images.get(source.side))
            except RequestRefusedError as error:
                refused = rejection(capture, source, error)
                self._ledger.image_rejected(capture.capture_id, source.side, refused.detail)
                self._ledger.capture_finished(
                    capture.capture_id, CaptureState.REJECTED, refused.detail
                )
                return CaptureOutcome(capture, self._uploaded(capture), quarantined=refused)
        self._ledger.capture_finished(capture.capture_id, CaptureState.UPLOADED, None)
        return CaptureOutcome(capture, self._uploaded(capture))

    def _take_over(self, capture: Capture) -> CaptureRecord | None:
        """The record of the refused version of this session that ``capture`` now continues
        (its batch and same-bytes images), or None: see :mod:`tasks.ledger.takeover`."""
        versions = self._ledger.captures_by_key([capture.key]).get(capture.key, [])
        refused = rejected_version(capture, versions)
        return None if refused is None else self._ledger.take_over(refused, capture)

    def _uploaded(self, capture: Capture) -> list[UploadedImage]:
        return self._ledger.uploaded_images(capture_ids=[capture.capture_id])

    # --- subject ---------------------------------------------------------------------------

    async def _subject_id(self, subject_key: str) -> str:
        name = self._dataset.name
        async with self._locks[subject_key]:
            record = self._ledger.subject(name, subject_key)
            if record is not None and record.subject_id is not None:
                return record.subject_id
            self._ledger.subject_creating(name, subject_key)
            # Always looked up first, not only when in doubt: a subject is made once per
            # person, and the lookup also adopts subjects of a dataset found by name.
            subject = await create_once(
                lambda: self._client.create_subject(self._dataset.dataset_id, subject_key),
                lambda: self._find_subject(subject_key),
                in_doubt=True,
            )
            self._ledger.subject_created(name, subject_key, subject.id)
            return subject.id

    async def _find_subject(self, subject_key: str) -> Subject | None:
        found = await self._client.find_subjects(self._dataset.dataset_id, subject_key)
        # Several of one name can only come from outside hautflow: keep using the first.
        return found[0] if found else None

    # --- batch -----------------------------------------------------------------------------

    async def _batch_id(self, capture: Capture, subject_id: str, *, in_doubt: bool) -> str:
        """A new batch for the capture; ``in_doubt``: one may exist from an earlier run."""
        inserted = self._ledger.batch_creating(
            capture,
            dataset_name=self._dataset.name,
            dataset_id=self._dataset.dataset_id,
            subject_id=subject_id,
        )
        if not inserted:
            # Recorded since we looked (another process): use its batch, or reconcile.
            current = self._ledger.capture(capture.capture_id)
            if current is not None and current.batch_id is not None:
                return current.batch_id
            in_doubt = True
        subject = SubjectRef(self._dataset.dataset_id, subject_id)
        async with self._locks[capture.subject_key]:
            batch = await create_once(
                lambda: self._client.create_batch(subject, creation_time=capture.captured_at),
                lambda: self._find_batch(capture, subject),
                in_doubt=in_doubt,
            )
            # Another process may have recorded its batch first: the recorded one is used.
            return self._ledger.batch_created(capture.capture_id, batch.id)

    async def _find_batch(self, capture: Capture, subject: SubjectRef) -> Batch | None:
        """The subject's batch this capture created before its record could say so.

        Batches have no name, so a batch in doubt is found by what the pipeline gave it:
        its subject and its creation time (the capture time, to the second). Adopting one
        that no capture in the ledger owns is safe because (1) hautflow uploads images only
        into batches whose id it has recorded, so an unowned batch holds none of its
        images (checked: it must be empty, or hold only this capture's upload names);
        (2) the unique batch id in the ledger stops two captures from claiming one batch,
        and the per-subject lock keeps two captures of this run from racing for it; and
        (3) should two in-doubt captures of one subject share a capture time, their empty
        batches are interchangeable: same subject, same time, nothing inside.
        """
        owned = self._ledger.owned_batch_ids(subject.subject_id)
        wanted = format_wire_time(capture.captured_at)
        names = {image.upload_name for image in capture.images}
        for batch in await self._client.list_batches(subject):
            if batch.id in owned or batch.creation_time is None:
                continue
            if format_wire_time(batch.creation_time) != wanted:
                continue
            inside = await self._client.list_images(subject.batch(batch.id))
            if all(image.name in names for image in inside):
                return batch
        return None

    # --- images ----------------------------------------------------------------------------

    async def _image(
        self, capture: Capture, batch: BatchRef, source: SourceImage, record: ImageRecord | None
    ) -> str:
        """The image's id at the API, uploading it unless it is already there."""
        if record is not None and record.state in ON_THE_API and record.image_id:
            return record.image_id
        in_doubt = record is not None and record.state is ImageState.CREATING
        if not self._ledger.image_creating(capture.capture_id, source) and record is None:
            # Recorded since we looked (another process): at the API already, or in doubt.
            current = self._recorded_image(capture, source)
            if current is not None and current.state in ON_THE_API and current.image_id:
                return current.image_id
            in_doubt = True

        async def upload() -> Image:
            data = await asyncio.to_thread(self._sources.read, source.uri)
            if hashlib.sha256(data).hexdigest() != source.sha256:
                raise SourceChangedError(
                    f"{source.uri} changed since it was discovered: run again to pick it up"
                )
            return await self._client.upload_image(
                batch,
                data,
                side_id=source.side.side_id,
                light_id=source.light_id,
                name=source.upload_name,
                creation_time=source.captured_at,
            )

        image = await create_once(
            upload, lambda: self._find_image(batch, source.upload_name), in_doubt=in_doubt
        )
        self._ledger.image_uploaded(capture.capture_id, source.side, image.id, datetime.now(UTC))
        return image.id

    def _recorded_image(self, capture: Capture, source: SourceImage) -> ImageRecord | None:
        current = self._ledger.capture(capture.capture_id)
        return None if current is None else current.images.get(source.side)

    async def _find_image(self, batch: BatchRef, upload_name: str) -> Image | None:
        found = await self._client.find_images(batch, upload_name)
        return found[0] if found else None


def rejection(capture: Capture, source: SourceImage, error: RequestRefusedError) -> QuarantinedFile:
    """The quarantine record of an image the API refused, with the server's reasons."""
    reasons = (
        "; ".join(
            f"{e.code or 'error'}{f' ({e.attr})' if e.attr else ''}: {e.detail or ''}".strip(": ")
            for e in error.errors
        )
        or error.reason
    )
    status = f"status {error.status}" if error.status is not None else "refused"
    return QuarantinedFile(
        uri=source.uri,
        reason=QuarantineReason.REJECTED_BY_API,
        detail=(
            f"{source.uri}: the API refused the {source.side} image ({status}: {reasons}); "
            f"the rest of session {capture.key} was not uploaded"
        ),
        fix=(
            f"replace {source.uri} with a readable JPEG or PNG face photo (under 30 MiB) "
            "taken from that side, then run again: the session's photos already uploaded are "
            "kept, only the new one is sent"
        ),
        subject_key=capture.subject_key,
        session_key=capture.session_key,
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, IntegrityError):
        return "the ledger refused a record another worker already made; run again"
    return f"{type(error).__name__}: {error}"
