"""A refused session, fixed by the user, takes the place of its refused version.

When the API refuses one photo of a session (say the right), the photos before it (the front)
are already in the session's batch. The user replaces the refused file, as the quarantine's fix
says; the session's content, hence its capture id, changes. The new version *takes over* the
refused one: it gets the refused version's batch and the images already uploaded with the same
bytes, and only the new files are uploaded. Without that, the session would be a changed
capture (a second batch for one session), a dead end for a user who did what the fix said.

A take-over is allowed only when that refused version is the one version of the session with
images at the API, and every one of those images is still in the session with the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, case
from sqlalchemy.engine import Connection

import tasks.ledger.tables as t
from schemas.captures import Capture, SourceImage
from tasks.ledger.records import CaptureRecord
from tasks.ledger.tables import ON_THE_API, CaptureState, ImageState


def rejected_version(capture: Capture, records: Sequence[CaptureRecord]) -> CaptureRecord | None:
    """The refused version of ``capture``'s session it can take over, or None."""
    others = [r for r in records if r.capture_id != capture.capture_id]
    if any(r.state is CaptureState.UPLOADED for r in others):
        return None
    at_the_api = [r for r in others if r.images_on_the_api]
    if len(at_the_api) != 1:
        return None
    (refused,) = at_the_api
    if refused.state is not CaptureState.REJECTED or refused.batch_id is None:
        return None
    wanted = {image.side: image.sha256 for image in capture.images}
    uploaded = refused.images_on_the_api.values()
    return refused if all(wanted.get(i.side) == i.sha256 for i in uploaded) else None


def take_over(connection: Connection, refused: CaptureRecord, capture: Capture) -> bool:
    """Move ``refused``'s batch and matching uploaded images to ``capture``, in the caller's
    transaction; False when another run took them first (nothing changed then)."""
    released = connection.execute(
        t.captures.update()
        .where(
            t.captures.c.capture_id == refused.capture_id,
            t.captures.c.batch_id == refused.batch_id,
            t.captures.c.state == CaptureState.REJECTED,
        )
        .values(batch_id=None, detail=f"taken over by capture {capture.capture_id}")
    )
    if released.rowcount != 1:
        return False
    connection.execute(
        t.captures.insert().values(
            capture_id=capture.capture_id,
            capture_key=capture.key,
            subject_key=capture.subject_key,
            session_key=capture.session_key,
            content_hash=capture.content_hash,
            image_kind=capture.image_kind.value,
            dataset_name=refused.dataset_name,
            dataset_id=refused.dataset_id,
            subject_id=refused.subject_id,
            captured_at=refused.captured_at,  # the batch's creation time, set by the refused one
            batch_id=refused.batch_id,
            state=CaptureState.CREATED,
        )
    )
    for source in capture.images:
        _move_image(connection, refused.capture_id, capture.capture_id, source)
    return True


def _move_image(connection: Connection, old: str, new: str, source: SourceImage) -> None:
    """The old capture's uploaded image of this side and these bytes becomes the new one's."""
    image = t.images.c
    connection.execute(
        t.images.update()
        .where(
            and_(
                image.capture_id == old,
                image.side == source.side.value,
                image.sha256 == source.sha256,
                image.state.in_([state.value for state in ON_THE_API]),
            )
        )
        .values(
            capture_id=new,
            uri=source.uri,
            # Written under the refused capture's id: the lake gets the image again, under
            # the capture it now belongs to (its results are finished, so this is quick).
            state=case((image.state == ImageState.WRITTEN, ImageState.UPLOADED), else_=image.state),
        )
    )
