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
- *duplicate*: a new or resumed capture holding a photo whose content was already analysed, or
  is about to be, under another subject, session or side (a copied folder, a reorganised tree). The
  service charges per analysis and would score the copy as a second visit, so the session is
  held back with a fix, unless the run allows duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from schemas.captures import Capture, Discovery, QuarantinedFile, QuarantineReason, Side
from tasks.ledger import (
    AnalysedPhoto,
    CaptureRecord,
    CaptureState,
    ImageRecord,
    Ledger,
    rejected_version,
)
from tasks.uploading.recovery import Recovery

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
    (a run stopped while waiting): :func:`~tasks.uploading.ledger_moves.pending_images` lists
    those."""
    changed: tuple[QuarantinedFile, ...]
    """CHANGED_AFTER_UPLOAD: one record per file that differs from what was uploaded."""
    done_elsewhere: tuple[tuple[str, int], ...] = ()
    """Of ``done``: how many were uploaded into a dataset other than the run's, by dataset name
    (sorted by name). Empty when :func:`plan` was not given the run's dataset."""
    duplicates: tuple[QuarantinedFile, ...] = ()
    """DUPLICATE_PHOTO: one record per file of a new or resumed capture whose content was met
    before; those captures are in neither ``new`` nor ``resume``."""
    recovered: Recovery = field(default_factory=Recovery)
    """What a new ledger took from the lake before planning (see :mod:`.recovery`)."""

    def found_at_the_api(self, found: Sequence[Capture]) -> Plan:
        """This plan once :func:`~.recovery.recover_from_api` recorded ``found`` (new captures
        the API already holds): they are done, not new."""
        ids = {capture.capture_id for capture in found}
        if not ids:
            return self
        return replace(
            self,
            new=tuple(c for c in self.new if c.capture_id not in ids),
            done=self.done + tuple(c for c in self.new if c.capture_id in ids),
            recovered=replace(self.recovered, at_the_api=self.recovered.at_the_api + len(ids)),
        )

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
    ``allow_duplicates`` uploads captures whose photos were met before."""
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
        held, duplicates = _without_duplicates(resume + new, discovery.captures, ledger)
        resume = [capture for capture in resume if capture.capture_id not in held]
        new = [capture for capture in new if capture.capture_id not in held]
    return Plan(
        tuple(new),
        tuple(resume),
        tuple(done),
        tuple(changed),
        tuple(sorted(elsewhere.items())),
        tuple(duplicates),
    )


DUPLICATE_FIX = (
    "the same photo is {where} under another subject, session or side (the detail names it): "
    "remove the copy (or move its session aside), or pass --allow-duplicate-photos to analyse "
    "it again (each analysis is charged)"
)


@dataclass(frozen=True)
class _Holder:
    """Where a photo's content was met first: in the ledger, or earlier in this run."""

    subject_key: str
    session_key: str
    uri: str
    analysed: bool

    def describe(self) -> str:
        done = "analysed by an earlier run" if self.analysed else "planned in this run"
        return f"{self.uri} (subject {self.subject_key}, session {self.session_key}, {done})"


def _without_duplicates(
    candidates: Sequence[Capture], captures: Sequence[Capture], ledger: Ledger
) -> tuple[set[str], list[QuarantinedFile]]:
    """The ids of the candidate captures (new or resumed) to hold back, and a record per photo
    that was met before: recorded in the ledger under another session (an earlier version of
    the same session is no copy), held by a capture earlier in discovery order that goes up
    (done, or a candidate not held back itself), or by another side of the same capture."""
    wanted = {capture.capture_id for capture in candidates}
    recorded = ledger.photos_by_content(i.sha256 for c in candidates for i in c.images)
    first_seen: dict[str, _Holder] = {}
    held_ids: set[str] = set()
    held: list[QuarantinedFile] = []
    for capture in captures:
        if capture.capture_id not in wanted:
            _remember(first_seen, capture, analysed=True)
            continue
        seen_here: dict[str, str] = {}
        found = []
        for image in capture.images:
            earlier = _recorded_elsewhere(recorded.get(image.sha256, ()), capture)
            earlier = earlier or first_seen.get(image.sha256)
            if earlier is None and image.sha256 in seen_here:
                same = seen_here[image.sha256]
                earlier = _Holder(capture.subject_key, capture.session_key, same, analysed=False)
            if earlier is not None:
                found.append(_duplicate(capture, image.uri, earlier))
            seen_here.setdefault(image.sha256, image.uri)
        if found:
            held_ids.add(capture.capture_id)
            held.extend(found)
        else:
            _remember(first_seen, capture, analysed=False)
    return held_ids, held


def _remember(first_seen: dict[str, _Holder], capture: Capture, *, analysed: bool) -> None:
    for image in capture.images:
        holder = _Holder(capture.subject_key, capture.session_key, image.uri, analysed)
        first_seen.setdefault(image.sha256, holder)


def _recorded_elsewhere(photos: Sequence[AnalysedPhoto], capture: Capture) -> _Holder | None:
    """The oldest ledger record of this content under another subject or session."""
    for photo in photos:
        if (photo.subject_key, photo.session_key) != (capture.subject_key, capture.session_key):
            return _Holder(photo.subject_key, photo.session_key, photo.uri, analysed=True)
    return None


def _duplicate(capture: Capture, uri: str, first: _Holder) -> QuarantinedFile:
    where = "already analysed" if first.analysed else "planned in this run"
    return QuarantinedFile(
        uri=uri,
        reason=QuarantineReason.DUPLICATE_PHOTO,
        detail=f"{uri}: the same photo content as {first.describe()}",
        fix=DUPLICATE_FIX.format(where=where),
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
