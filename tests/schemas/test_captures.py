"""The capture shapes: API ids, upload names and stable capture identities."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from schemas.captures import Capture, ImageKind, Side, SourceImage, UploadedImage
from schemas.refs import ImageRef

MOMENT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def image(side: Side, digest: str, image_format: str = "JPEG") -> SourceImage:
    return SourceImage(
        uri=f"s3://b/alice/s1/{side}.jpg",
        side=side,
        sha256=digest * 64,
        size=1000,
        image_format=image_format,
        captured_at=MOMENT,
        captured_at_source="exif",
    )


def test_sides_and_kinds_carry_the_vendor_ids() -> None:
    assert [s.side_id for s in (Side.FRONT, Side.RIGHT, Side.LEFT)] == [1, 2, 3]
    kinds = (ImageKind.SELFIE, ImageKind.SKIN, ImageKind.VISIA)
    assert [k.image_type_id for k in kinds] == [1, 2, 3]
    assert Side("left") is Side.LEFT


def test_upload_name_is_the_content_hash_side_and_format() -> None:
    assert image(Side.RIGHT, "a").upload_name == f"{'a' * 32}-right.jpg"
    assert image(Side.FRONT, "b", "PNG").upload_name == f"{'b' * 32}-front.png"
    assert image(Side.FRONT, "a").light_id == 1


def test_capture_identity_depends_on_key_and_content_not_order_or_place() -> None:
    triple = (image(Side.FRONT, "1"), image(Side.RIGHT, "2"), image(Side.LEFT, "3"))
    capture = Capture("alice", "s1", triple)
    shuffled = Capture("alice", "s1", (triple[2], triple[0], triple[1]))
    moved = Capture("alice", "s1", tuple(replace(i, uri=f"/elsewhere/{i.side}") for i in triple))
    assert capture.key == "alice/s1"
    assert len(capture.capture_id) == 32
    assert capture.capture_id == shuffled.capture_id == moved.capture_id
    assert capture.content_hash == shuffled.content_hash
    other_session = Capture("alice", "s2", triple)
    changed = Capture("alice", "s1", (triple[0], image(Side.RIGHT, "9"), triple[2]))
    swapped_sides = Capture(
        "alice",
        "s1",
        (triple[0], replace(triple[1], side=Side.LEFT), replace(triple[2], side=Side.RIGHT)),
    )
    ids = {
        capture.capture_id,
        other_session.capture_id,
        changed.capture_id,
        swapped_sides.capture_id,
    }
    assert len(ids) == 4


def test_capture_time_is_the_front_images() -> None:
    front = replace(image(Side.FRONT, "1"), captured_at=datetime(2026, 2, 1, tzinfo=UTC))
    capture = Capture("a", "s", (front, image(Side.RIGHT, "2"), image(Side.LEFT, "3")))
    assert capture.captured_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert capture.image_kind is ImageKind.SELFIE


def test_uploaded_image_knows_its_side_and_api_reference() -> None:
    uploaded = UploadedImage(
        capture_id="c" * 32,
        subject_key="alice",
        session_key="s1",
        dataset_id="d",
        subject_id="su",
        batch_id="b",
        image_id="i",
        source=image(Side.LEFT, "3"),
        uploaded_at=MOMENT,
    )
    assert uploaded.side is Side.LEFT
    assert uploaded.ref == ImageRef("d", "su", "b", "i")
