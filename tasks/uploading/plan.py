"""The plan: which discovered captures to upload, finish, skip, or hold back as changed.

A capture's identity is its key (subject/session) and its images' content hashes. Against the
ledger it is:

- *new*: never recorded (a new session of a known subject is new);
- *resume*: recorded, but not every image is known to be at the API (a run stopped part way,
  a create in doubt, a transient failure, or an image the API refused last time); or a new
  version of a session the API refused, its refused photo replaced: it takes over the refused
  version's batch and uploaded photos, and only the new photos go up;
- *done*: every image uploaded: nothing to do. The ledger knows a capture once, whatever the
  dataset it went to: one analysed into dataset A is done for a run into dataset B too (each
  photo is analysed once per ledger); the plan counts those, so the run can say so;
- *changed*: the same key was already uploaded with other bytes. Uploading it would put a
  second batch for one session at the API, so its files are quarantined with a fix instead;
- *duplicate*: a new capture holding a photo whose content was already analysed, or is about
  to be, under another subject, session or side (a copied folder, a reorganised tree). The
  service charges per analysis and would score the copy as a second visit, so the session is
  held back with a fix, unless the run allows duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.captures import Capture, Discovery, QuarantinedFile, QuarantineReason, Side
from tasks.ledger import (
    AnalysedPhoto,
    CaptureRecord,
    CaptureState,
    ImageRecord,
    Ledger,
    rejected_version,
)

CHANGED_FIX = (
    "this session was already uploaded with other photos: to analyse the new photos, move them "
    "to a new session folder (e.g. '{session}-2'); to keep the uploaded ones, restore the "
    "original files"
)


@dataclass(frozen=True)
class Plan:
    new: tuple[Capture, ...]
    """Never seen: upload."""
    resume: tuple[Capture, ...]
    """Started before (some creates done or in doubt): reconcile, then finish."""
    done: tuple[Capture, ...]
    """Fully uploaded: nothing to upload. Their results may still be missing from the lake
    (a run stopped while waiting): :func:`tasks.uploading.upload.pending_images` lists those."""
    changed: tuple[QuarantinedFile, ...]
    """CHANGED_AFTER_UPLOAD: one record per file that differs from what was uploaded."""
    done_elsewhere: tuple[tuple[str, int], ...] = ()
    """Of ``done``: how many were uploaded into a dataset other than the run's, by dataset name
    (sorted by name). Empty when :func:`plan` was not given the run's dataset."""
    duplicates: tuple[QuarantinedFile, ...] = ()
    """DUPLICATE_PHOTO: one record per file of a new capture whose content was met before."""

    @property
    def to_upload(self) -> tuple[Capture, ...]:
        """What the uploader gets: resumed captures first, then new ones."""
        return self.resume + self.new


def plan(
    discovery: Discovery,
    ledger: Ledger,
    *,
    dataset: str | None = None,
    allow_duplicates: bool = False,
) -> Plan:
    """Sort the discovered captures against what the ledger recorded; ``dataset``, the run's
    dataset name, to count the done captures uploaded into another (``done_elsewhere``);
    ``allow_duplicates`` uploads new captures whose photos were met before."""
    recorded = ledger.captures_by_key(capture.key for capture in discovery.captures)
    new: list[Capture] = []
    resume: list[Capture] = []
    done: list[Capture] = []
    changed: list[QuarantinedFile] = []
    elsewhere: Counter[str] = Counter()
    for capture in discovery.captures:
        records = recorded.get(capture.key, [])
        same = next((r for r in records if r.capture_id == capture.capture_id), None)
        if same is not None:
            if not _is_done(same):
                resume.append(capture)
                continue
            done.append(capture)
            if dataset is not None and same.dataset_name != dataset:
                elsewhere[same.dataset_name] += 1
            continue
        if rejected_version(capture, records) is not None:
            # The user replaced a photo the API refused: the new version finishes the refused
            # one's batch (see tasks.ledger.takeover).
            resume.append(capture)
            continue
        uploaded = _uploaded_images(records)
        if uploaded:
            changed.extend(changed_files(capture, uploaded))
        else:
            # Earlier versions of this session never got an image to the API (refused or
            # stopped before): the new content simply takes their place.
            new.append(capture)
    duplicates: list[QuarantinedFile] = []
    if not allow_duplicates:
        new, duplicates = _without_duplicates(new, discovery.captures, ledger)
    return Plan(
        tuple(new),
        tuple(resume),
        tuple(done),
        tuple(changed),
        tuple(sorted(elsewhere.items())),
        tuple(duplicates),
    )


DUPLICATE_FIX = (
    "the same photo was already analysed as {first}: remove the copy (or move the session "
    "aside) if it is one, or pass --allow-duplicate-photos to analyse it again (each analysis "
    "is charged)"
)


def _without_duplicates(
    new: Sequence[Capture], captures: Sequence[Capture], ledger: Ledger
) -> tuple[list[Capture], list[QuarantinedFile]]:
    """The new captures none of whose photos was met before, and a record per photo that was.

    Met before: recorded in the ledger for another capture, or held by a capture earlier in
    discovery order (every capture: a done or resumed one keeps its photos), or by another side
    of the same capture.
    """
    recorded = ledger.photos_by_content(i.sha256 for c in new for i in c.images)
    new_ids = {capture.capture_id for capture in new}
    first_seen: dict[str, str] = {}
    kept: list[Capture] = []
    held: list[QuarantinedFile] = []
    for capture in captures:
        found = []
        for image in capture.images:
            earlier = _first_holder(recorded.get(image.sha256), capture) or first_seen.get(
                image.sha256
            )
            if earlier is not None and capture.capture_id in new_ids:
                found.append(_duplicate(capture, image.uri, earlier))
            first_seen.setdefault(image.sha256, image.uri)
        if capture.capture_id not in new_ids:
            continue
        if found:
            held.extend(found)
        else:
            kept.append(capture)
    return kept, held


def _first_holder(photo: AnalysedPhoto | None, capture: Capture) -> str | None:
    """Where the ledger first recorded this content, unless it is this capture itself."""
    if photo is None or photo.capture_id == capture.capture_id:
        return None
    return f"{photo.uri} (subject {photo.subject_key}, session {photo.session_key})"


def _duplicate(capture: Capture, uri: str, first: str) -> QuarantinedFile:
    return QuarantinedFile(
        uri=uri,
        reason=QuarantineReason.DUPLICATE_PHOTO,
        detail=f"{uri}: the same photo content as {first}",
        fix=DUPLICATE_FIX.format(first=first),
        subject_key=capture.subject_key,
        session_key=capture.session_key,
    )


def _is_done(record: CaptureRecord) -> bool:
    return record.state is CaptureState.UPLOADED


def _uploaded_images(records: Sequence[CaptureRecord]) -> dict[Side, ImageRecord]:
    """What is at the API for this session key, over every recorded version of it."""
    uploaded: dict[Side, ImageRecord] = {}
    for record in records:
        uploaded.update(record.images_on_the_api)
    return uploaded


def changed_files(capture: Capture, uploaded: Mapping[Side, ImageRecord]) -> list[QuarantinedFile]:
    """One quarantine record per file that differs from what was uploaded for its session."""
    fix = CHANGED_FIX.format(session=capture.session_key)
    files = []
    for image in capture.images:
        before = uploaded.get(image.side)
        if before is not None and before.sha256 == image.sha256:
            continue
        was = f"a different {image.side} photo" if before else f"no {image.side} photo"
        files.append(
            _changed(
                capture,
                image.uri,
                f"{image.uri}: session {capture.key} was already uploaded with {was}",
                fix,
            )
        )
    if not files:
        # Only removals: every remaining file matches, but the session lost sides.
        missing = ", ".join(
            sorted(s.value for s in uploaded.keys() - {i.side for i in capture.images})
        )
        front = capture.images[0]
        detail = f"{front.uri}: session {capture.key} was uploaded with {missing} photos, now gone"
        files.append(_changed(capture, front.uri, detail, fix))
    return files


def _changed(capture: Capture, uri: str, detail: str, fix: str) -> QuarantinedFile:
    return QuarantinedFile(
        uri=uri,
        reason=QuarantineReason.CHANGED_AFTER_UPLOAD,
        detail=detail,
        fix=fix,
        subject_key=capture.subject_key,
        session_key=capture.session_key,
    )
