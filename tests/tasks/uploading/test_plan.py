"""Planning against the ledger: new, resume, done, and sessions changed after their upload."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.captures import Capture, Discovery, QuarantineReason, Side
from tasks.ledger import CaptureState, Ledger
from tasks.uploading import plan
from tests.tasks.upload_support import fake_capture

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger.sqlite(tmp_path / "ledger.sqlite")
    ledger.dataset_creating("ds", 1)
    ledger.dataset_created("ds", "dataset-1")
    return ledger


def discovered(*captures: Capture) -> Discovery:
    return Discovery("/photos", captures, (), sum(len(c.images) for c in captures))


def record(
    ledger: Ledger, capture: Capture, *, uploaded: int, finished: bool = True, dataset: str = "ds"
) -> None:
    """What the uploader leaves behind after uploading the first ``uploaded`` images."""
    if ledger.subject(dataset, capture.subject_key) is None:
        ledger.subject_creating(dataset, capture.subject_key)
        ledger.subject_created(dataset, capture.subject_key, f"subject-{capture.subject_key}")
    ledger.batch_creating(
        capture,
        dataset_name=dataset,
        dataset_id=f"dataset-{dataset}",
        subject_id=f"subject-{capture.subject_key}",
    )
    ledger.batch_created(capture.capture_id, f"batch-{capture.capture_id}")
    for image in capture.images[:uploaded]:
        ledger.image_creating(capture.capture_id, image)
        ledger.image_uploaded(
            capture.capture_id, image.side, f"{capture.capture_id}-{image.side}", NOW
        )
    if finished and uploaded == len(capture.images):
        ledger.capture_finished(capture.capture_id, CaptureState.UPLOADED, None)


def test_an_empty_ledger_plans_everything_as_new(ledger: Ledger) -> None:
    captures = (fake_capture("alice", "s1"), fake_capture("bob", "s1", sides=1))
    result = plan(discovered(*captures), ledger)
    assert result.new == captures
    assert (result.resume, result.done, result.changed) == ((), (), ())


def test_uploaded_sessions_are_done_and_a_new_session_of_a_known_subject_is_new(
    ledger: Ledger,
) -> None:
    first = fake_capture("alice", "s1")
    record(ledger, first, uploaded=3)
    second = fake_capture("alice", "s2")
    result = plan(discovered(first, second), ledger)
    assert result.done == (first,)
    assert result.new == (second,)
    assert result.to_upload == (second,)


def test_a_session_stopped_part_way_is_resumed(ledger: Ledger) -> None:
    batch_only = fake_capture("alice", "s1")
    one_image = fake_capture("bob", "s1")
    record(ledger, batch_only, uploaded=0)
    record(ledger, one_image, uploaded=1)
    result = plan(discovered(batch_only, one_image), ledger)
    assert result.resume == (batch_only, one_image)
    assert result.new == ()


def test_a_session_the_api_refused_is_tried_again(ledger: Ledger) -> None:
    refused = fake_capture("alice", "s1")
    record(ledger, refused, uploaded=1)
    ledger.image_creating(refused.capture_id, refused.images[1])
    ledger.image_rejected(refused.capture_id, Side.RIGHT, "invalid_image")
    ledger.capture_finished(refused.capture_id, CaptureState.REJECTED, "invalid_image")
    assert plan(discovered(refused), ledger).resume == (refused,)


def test_a_changed_photo_under_an_uploaded_session_is_quarantined_not_uploaded(
    ledger: Ledger,
) -> None:
    original = fake_capture("alice", "s1", version="a")
    record(ledger, original, uploaded=3)
    edited = fake_capture("alice", "s1", version="b")  # same session, other bytes
    result = plan(discovered(edited), ledger)
    assert (result.new, result.resume, result.done) == ((), (), ())
    assert {q.uri for q in result.changed} == {i.uri for i in edited.images}
    quarantined = result.changed[0]
    assert quarantined.reason is QuarantineReason.CHANGED_AFTER_UPLOAD
    assert quarantined.uri in quarantined.detail
    assert "new session folder" in quarantined.fix
    assert (quarantined.subject_key, quarantined.session_key) == ("alice", "s1")


def test_only_the_changed_file_of_a_session_is_named(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1", version="a")
    record(ledger, original, uploaded=3)
    edited = Capture(
        "alice",
        "s1",
        (
            original.images[0],
            original.images[1],
            fake_capture("alice", "s1", version="b").images[2],
        ),
    )
    result = plan(discovered(edited), ledger)
    assert [q.uri for q in result.changed] == [edited.images[2].uri]


def test_a_session_that_lost_a_side_after_upload_is_reported(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1")
    record(ledger, original, uploaded=3)
    front_only = Capture("alice", "s1", original.images[:1])
    result = plan(discovered(front_only), ledger)
    assert len(result.changed) == 1
    assert "left, right" in result.changed[0].detail


def test_new_content_replaces_a_version_that_never_reached_the_api(ledger: Ledger) -> None:
    never_uploaded = fake_capture("alice", "s1", version="a")
    record(ledger, never_uploaded, uploaded=0)
    replaced = fake_capture("alice", "s1", version="b")
    result = plan(discovered(replaced), ledger)
    assert result.new == (replaced,)
    assert result.changed == ()


def refuse_right(ledger: Ledger, capture: Capture) -> None:
    """The front went up, then the API refused the right photo."""
    record(ledger, capture, uploaded=1)
    ledger.image_creating(capture.capture_id, capture.images[1])
    ledger.image_rejected(capture.capture_id, Side.RIGHT, "invalid_image")
    ledger.capture_finished(capture.capture_id, CaptureState.REJECTED, "invalid_image")


def test_replacing_the_refused_photo_resumes_the_session_in_its_batch(ledger: Ledger) -> None:
    refused = fake_capture("alice", "s1", version="a")
    refuse_right(ledger, refused)
    new_right = fake_capture("alice", "s1", version="b").images[1]
    fixed = Capture("alice", "s1", (refused.images[0], new_right, refused.images[2]))
    result = plan(discovered(fixed), ledger)
    assert (result.resume, result.new, result.changed) == ((fixed,), (), ())


def test_a_refused_session_whose_uploaded_photo_changed_too_is_still_changed(
    ledger: Ledger,
) -> None:
    refused = fake_capture("alice", "s1", version="a")
    refuse_right(ledger, refused)
    everything_new = fake_capture("alice", "s1", version="b")  # the uploaded front differs
    result = plan(discovered(everything_new), ledger)
    assert result.resume == ()
    assert everything_new.images[0].uri in {q.uri for q in result.changed}


def test_done_captures_of_another_dataset_are_done_and_counted_by_dataset(ledger: Ledger) -> None:
    """The ledger knows a photo once per state, whatever the dataset: a run into another
    dataset skips it too, and the plan says how many, and where they went."""
    for name in ("old", "older"):
        ledger.dataset_creating(name, 1)
        ledger.dataset_created(name, f"dataset-{name}")
    here = fake_capture("alice", "s1")
    record(ledger, here, uploaded=3)
    old = (fake_capture("bob", "s1"), fake_capture("bob", "s2"))
    for capture in old:
        record(ledger, capture, uploaded=3, dataset="old")
    older = fake_capture("carol", "s1")
    record(ledger, older, uploaded=3, dataset="older")
    resumed = fake_capture("dan", "s1")  # not done: resumed, so not counted
    record(ledger, resumed, uploaded=1, dataset="old")
    found = discovered(here, *old, older, resumed)

    result = plan(found, ledger, dataset="ds")
    assert result.done == (here, *old, older)
    assert result.resume == (resumed,)
    assert result.done_elsewhere == (("old", 2), ("older", 1))
    assert plan(found, ledger, dataset="old").done_elsewhere == (("ds", 1), ("older", 1))
    assert plan(found, ledger).done_elsewhere == ()  # no dataset given: nothing to compare


def copy_of(capture: Capture, subject: str, session: str) -> Capture:
    """The same photos under another subject and session: a copied folder."""
    images = tuple(
        replace(image, uri=f"/photos/{subject}/{session}/{image.side.value}.jpg")
        for image in capture.images
    )
    return Capture(subject, session, images)


def test_a_copied_folder_is_held_back_before_upload(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1")
    copy = copy_of(original, "alicia", "2026-01-05")
    result = plan(discovered(original, copy), ledger)
    assert result.new == (original,)
    assert [q.reason for q in result.duplicates] == [QuarantineReason.DUPLICATE_PHOTO] * 3
    assert {q.uri for q in result.duplicates} == {i.uri for i in copy.images}
    front = next(q for q in result.duplicates if q.uri.endswith("front.jpg"))
    assert "/photos/alice/s1/front.jpg" in front.detail
    assert "--allow-duplicate-photos" in front.fix
    assert (front.subject_key, front.session_key) == ("alicia", "2026-01-05")


def test_a_photo_already_analysed_in_an_earlier_run_is_held_back(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1")
    record(ledger, original, uploaded=3)
    copy = copy_of(original, "bob", "s9")
    result = plan(discovered(copy), ledger)  # the original folder is gone from the source
    assert (result.new, result.done) == ((), ())
    assert len(result.duplicates) == 3
    assert all("subject alice, session s1" in q.detail for q in result.duplicates)


def test_one_copied_photo_holds_back_its_whole_session(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1", sides=1)
    other = fake_capture("bob", "s1")
    mixed = Capture("bob", "s1", (original.images[0], *other.images[1:]))
    result = plan(discovered(original, mixed), ledger)
    assert result.new == (original,)
    assert [q.uri for q in result.duplicates] == [original.images[0].uri]


def test_the_same_photo_as_two_sides_of_one_session_is_a_duplicate(ledger: Ledger) -> None:
    capture = fake_capture("alice", "s1")
    front = capture.images[0]
    twice = Capture("alice", "s1", (front, replace(capture.images[1], sha256=front.sha256)))
    result = plan(discovered(twice), ledger)
    assert result.new == ()
    assert [q.uri for q in result.duplicates] == ["/photos/alice/s1/right.jpg"]


def test_duplicates_go_up_when_the_run_allows_them(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1")
    copy = copy_of(original, "alicia", "s1")
    result = plan(discovered(original, copy), ledger, allow_duplicates=True)
    assert result.new == (original, copy)
    assert result.duplicates == ()


def test_a_refused_photo_is_no_duplicate_of_its_retry(ledger: Ledger) -> None:
    original = fake_capture("alice", "s1", sides=1)
    record(ledger, original, uploaded=0)
    ledger.image_creating(original.capture_id, original.images[0])
    ledger.image_rejected(original.capture_id, Side.FRONT, "400 invalid_image")
    copy = copy_of(original, "alice", "s2")
    assert plan(discovered(copy), ledger).new == (copy,)


def test_an_earlier_version_of_the_same_session_is_no_copy(ledger: Ledger) -> None:
    """The front upload was in doubt when the run stopped; then the user replaced the left
    photo: the new version keeps the same front, which is no copy of another session."""
    first = fake_capture("alice", "s1")
    record(ledger, first, uploaded=0)
    ledger.image_creating(first.capture_id, first.images[0])
    second = fake_capture("alice", "s1", version="b")
    second = Capture("alice", "s1", (first.images[0], *second.images[1:]))
    result = plan(discovered(second), ledger)
    assert result.new == (second,)
    assert result.duplicates == ()


def test_a_refused_photo_replaced_by_a_copy_holds_the_resumed_session_back(
    ledger: Ledger,
) -> None:
    bob = fake_capture("bob", "s1")
    record(ledger, bob, uploaded=3)
    alice = fake_capture("alice", "s1")
    record(ledger, alice, uploaded=1, finished=False)
    ledger.image_creating(alice.capture_id, alice.images[1])
    ledger.image_rejected(alice.capture_id, Side.RIGHT, "400 invalid_image")
    ledger.capture_finished(alice.capture_id, CaptureState.REJECTED, "right refused")
    # The user replaces the refused right photo: with a copy of bob's.
    right = replace(bob.images[1], uri=alice.images[1].uri)
    copied = Capture("alice", "s1", (alice.images[0], right, alice.images[2]))
    allowed = plan(discovered(copied), ledger, allow_duplicates=True)
    assert allowed.resume == (copied,)  # a takeover of the refused version's batch

    result = plan(discovered(copied), ledger)
    assert (result.resume, result.new) == ((), ())
    (held,) = result.duplicates
    assert held.uri == alice.images[1].uri
    assert "subject bob, session s1, analysed by an earlier run" in held.detail


def test_a_copy_of_a_held_back_photo_is_held_as_planned_not_analysed(ledger: Ledger) -> None:
    """xavier's photo was analysed; amy's session copies it (held back) and ben's copies amy's
    right photo, which nothing uploads: ben's goes up, amy's right is his first copy."""
    xavier = fake_capture("xavier", "s1", sides=1)
    record(ledger, xavier, uploaded=1)
    amy = fake_capture("amy", "s1")
    amy = Capture("amy", "s1", (replace(xavier.images[0], uri=amy.images[0].uri), *amy.images[1:]))
    ben = Capture(
        "ben", "s1", (replace(amy.images[1], uri="/photos/ben/s1/front.jpg", side=Side.FRONT),)
    )
    result = plan(discovered(amy, ben), ledger)
    assert result.new == (ben,)
    assert [q.uri for q in result.duplicates] == [amy.images[0].uri]
    assert "analysed by an earlier run" in result.duplicates[0].detail
    assert "already analysed" in result.duplicates[0].fix

    later = plan(discovered(ben, copy_of(ben, "cal", "s1")), ledger)
    assert later.new == (ben,)
    assert "planned in this run" in later.duplicates[0].detail


def test_the_fix_names_no_path(ledger: Ledger) -> None:
    """The detail names the first copy (and is redacted where it is shown); the fix is advice."""
    original = fake_capture("alice", "s1", sides=1)
    signed = replace(original.images[0], uri="s3://b/alice/front.jpg?X-Amz-Signature=abc123")
    result = plan(
        discovered(Capture("alice", "s1", (signed,)), copy_of(original, "bob", "s1")), ledger
    )
    (held,) = result.duplicates
    assert "X-Amz-Signature" in held.detail
    assert "alice" not in held.fix
    assert "X-Amz" not in held.fix
