"""Discovery on real folder trees: captures by the layout, every bad input quarantined, times."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.captures import Discovery, ImageKind, QuarantineReason, Side
from tasks.discovery import SourceError, discover
from tests.tasks.discover_support import HEIC, encoded, photo, triple, write_local

R = QuarantineReason


def reasons(found: Discovery) -> dict[str, R]:
    """Quarantined files by their path below the source."""
    return {q.uri.split("/src/", 1)[1]: q.reason for q in found.quarantined}


def run(tmp_path: Path, files: dict[str, bytes], **options: object) -> Discovery:
    return discover(str(write_local(tmp_path / "src", files)), **options)  # type: ignore[arg-type]


def test_triple_and_single_front_become_captures_in_side_order(tmp_path: Path) -> None:
    files = {**triple("alice", "2026-01-05"), "bob/s1/front.jpg": photo(9)}
    found = run(tmp_path, files)
    assert [c.key for c in found.captures] == ["alice/2026-01-05", "bob/s1"]
    alice, bob = found.captures
    assert [(i.side, i.side.side_id) for i in alice.images] == [
        (Side.FRONT, 1),
        (Side.RIGHT, 2),
        (Side.LEFT, 3),
    ]
    assert [i.side for i in bob.images] == [Side.FRONT]
    assert alice.images[0].uri == str(tmp_path / "src/alice/2026-01-05/front.jpg")
    assert alice.images[0].image_format == "JPEG"
    assert alice.images[0].size == len(files["alice/2026-01-05/front.jpg"])
    assert found.quarantined == ()
    assert found.files_seen == 4


@pytest.mark.parametrize(
    ("front", "right", "left"),
    [
        ("Front.JPG", "R.jpg", "l.jpeg"),
        ("IMG_0001_front.jpg", "IMG_0001_right.jpg", "IMG_0001_left.jpg"),
        ("img-0001-Front.JPG", "img-0002-RIGHT.png", "img 0003 Left.jpg"),
        ("frontal.png", "photo.r.jpg", "x_L.jpg"),
        ("F.jpg", "scan-right.jpeg", "LEFT.JPEG"),
    ],
)
def test_side_words_in_any_case_and_as_a_suffix(
    tmp_path: Path, front: str, right: str, left: str
) -> None:
    files = {
        f"p/s/{name}": photo(n, image_format="PNG" if name.endswith(".png") else "JPEG")
        for n, name in enumerate((front, right, left))
    }
    (capture,) = run(tmp_path, files).captures
    assert [Path(i.uri).name for i in capture.images] == [front, right, left]
    assert [i.side for i in capture.images] == [Side.FRONT, Side.RIGHT, Side.LEFT]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("front.jpg", b"", R.EMPTY),
        ("front.jpg", photo(1)[:200], R.CORRUPT),
        ("front.png", photo(1, image_format="PNG")[:-30], R.CORRUPT),
        ("front.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", R.CORRUPT),
        ("front.jpg", b"meeting notes, not a photo\n", R.NOT_AN_IMAGE),
        ("front.webp", encoded("WEBP"), R.UNSUPPORTED_FORMAT),
        ("front.tif", encoded("TIFF"), R.UNSUPPORTED_FORMAT),
        ("front.jpg", encoded("BMP"), R.UNSUPPORTED_FORMAT),
        ("front.heic", HEIC, R.UNSUPPORTED_FORMAT),
        ("front.jpg", HEIC, R.UNSUPPORTED_FORMAT),
        ("front.gif", encoded("GIF"), R.UNSUPPORTED_FORMAT),
    ],
)
def test_each_bad_file_is_quarantined_with_its_reason_and_a_fix(
    tmp_path: Path, name: str, content: bytes, reason: R
) -> None:
    found = run(tmp_path, {f"erin/s1/{name}": content, **triple("alice", "s1")})
    assert [c.key for c in found.captures] == ["alice/s1"]
    (bad,) = found.quarantined
    assert bad.reason is reason
    assert f"erin/s1/{name}" in bad.detail
    assert bad.fix
    assert (bad.subject_key, bad.session_key) == ("erin", "s1")


def test_a_file_over_the_size_limit_is_too_large(tmp_path: Path) -> None:
    big = photo(1, size=(400, 400))
    found = run(tmp_path, {"a/s/front.jpg": big, "b/s/front.jpg": photo(2)}, max_bytes=2000)
    assert reasons(found) == {"a/s/front.jpg": R.TOO_LARGE}
    assert "at most" in found.quarantined[0].detail
    assert [c.key for c in found.captures] == ["b/s"]


def test_the_default_limit_is_thirty_mebibytes(tmp_path: Path) -> None:
    files = {"a/s/front.jpg": photo(1), "b/s/front.jpg": photo(2)}
    write_local(tmp_path / "src", files)
    with (tmp_path / "src/a/s/front.jpg").open("r+b") as handle:
        handle.truncate(30 * 2**20 + 1)  # sparse: no 30 MiB written
    found = discover(str(tmp_path / "src"))
    assert reasons(found) == {"a/s/front.jpg": R.TOO_LARGE}
    # The listing knows the whole size: the message says it, and the limit.
    assert (
        "a/s/front.jpg is 30.0 MiB (31,457,281 bytes); the API takes at most 30 MiB"
        in found.quarantined[0].detail
    )


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (("right.jpg", "left.jpg"), R.NO_FRONT_IMAGE),
        (("front.jpg", "IMG_1_front.jpg"), R.DUPLICATE_SIDE),
        (("front.jpg", "f.jpg", "right.jpg", "left.jpg"), R.TOO_MANY_IMAGES),
        (("front.jpg", "right.jpg", "left.jpg", "IMG_9_r.jpg"), R.TOO_MANY_IMAGES),
        (("front.jpg", "right.jpg"), R.INCOMPLETE_TRIPLE),
        (("front.jpg", "left.jpg"), R.INCOMPLETE_TRIPLE),
    ],
)
def test_a_wrongly_shaped_session_is_held_back_whole(
    tmp_path: Path, names: tuple[str, ...], reason: R
) -> None:
    files = {f"erin/s1/{name}": photo(n) for n, name in enumerate(names)}
    found = run(tmp_path, files)
    assert found.captures == ()
    assert reasons(found) == {f"erin/s1/{name}": reason for name in names}
    assert all("held back" in q.detail for q in found.quarantined)


def test_a_triple_with_one_broken_side_is_held_back_and_says_why(tmp_path: Path) -> None:
    files = {**triple("erin", "s1"), "erin/s1/left.jpg": b""}
    found = run(tmp_path, files)
    assert found.captures == ()
    by_name = {q.uri.rsplit("/", 1)[1]: q for q in found.quarantined}
    assert by_name["left.jpg"].reason is R.EMPTY
    assert "is empty" in by_name["left.jpg"].detail
    for usable in ("front.jpg", "right.jpg"):
        assert "held back" in by_name[usable].detail
        assert "erin/s1/left.jpg" in by_name[usable].detail


@pytest.mark.parametrize(
    ("relative", "subject"),
    [
        ("stray.jpg", None),
        ("erin/holiday.jpg", "erin"),
        ("erin/s1/raw/front.jpg", "erin"),
        ("erin/s1/a/b/c/front.heic", "erin"),
    ],
)
def test_photos_outside_the_layout_are_quarantined(
    tmp_path: Path, relative: str, subject: str | None
) -> None:
    found = run(tmp_path, {relative: photo(1), "bob/s/front.jpg": photo(2)})
    (outside,) = found.quarantined
    assert (outside.reason, outside.subject_key) == (R.OUTSIDE_LAYOUT, subject)
    assert relative in outside.detail
    assert [c.key for c in found.captures] == ["bob/s"]


def test_a_photo_naming_no_side_holds_its_whole_session_back(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        {"a/s/front.jpg": photo(1), "a/s/IMG_1234.jpg": photo(2), "b/s/front.jpg": photo(3)},
    )
    # The unnamed photo may be the session's right or left: the front alone must not go up.
    assert [c.key for c in found.captures] == ["b/s"]
    by_name = {q.uri.rsplit("/", 1)[-1]: q for q in found.quarantined}
    assert {name: q.reason for name, q in by_name.items()} == {
        "IMG_1234.jpg": R.OUTSIDE_LAYOUT,
        "front.jpg": R.OUTSIDE_LAYOUT,
    }
    assert "names no side" in by_name["IMG_1234.jpg"].detail
    held = by_name["front.jpg"]
    assert "held back" in held.detail
    assert "IMG_1234.jpg" in held.detail
    assert "rename" in held.fix


def test_clutter_is_counted_but_not_quarantined_and_notes_in_a_session_are(tmp_path: Path) -> None:
    files = {
        ".DS_Store": b"x",
        "a/._front.jpg": b"x",
        "a/s/Thumbs.db": b"x",
        "README.md": b"# photos",
        "a/s/front.jpg": photo(1),
        "a/s/notes.txt": b"felt good today",
        ".git/objects/ab": b"x",
    }
    found = run(tmp_path, files)
    assert [c.key for c in found.captures] == ["a/s"]
    assert reasons(found) == {"a/s/notes.txt": R.NOT_AN_IMAGE}
    assert found.files_seen == 6  # hidden folders are not walked


def test_skin_sessions_take_exactly_one_image_of_any_name(tmp_path: Path) -> None:
    files = {"a/s1/cheek.jpg": photo(1), "a/s2/one.jpg": photo(2), "a/s2/two.jpg": photo(3)}
    found = run(tmp_path, files, image_kind=ImageKind.SKIN)
    (capture,) = found.captures
    assert (capture.key, capture.image_kind, capture.images[0].side) == (
        "a/s1",
        ImageKind.SKIN,
        Side.FRONT,
    )
    assert reasons(found) == {"a/s2/one.jpg": R.TOO_MANY_IMAGES, "a/s2/two.jpg": R.TOO_MANY_IMAGES}


def test_capture_time_prefers_exif_then_folder_date_then_file_time(tmp_path: Path) -> None:
    files = {
        "a/2026-01-05/front.jpg": photo(1, taken=datetime(2026, 2, 1, 10, 0), offset="+02:00"),
        "a/2026-01-06_0930/front.jpg": photo(2),
        "a/session-3/front.jpg": photo(3),
    }
    write_local(tmp_path / "src", files)
    file_time = datetime(2026, 3, 3, 7, 0, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "src/a/session-3/front.jpg", (file_time, file_time))
    times = {
        c.session_key: (c.captured_at, c.images[0].captured_at_source)
        for c in discover(str(tmp_path / "src")).captures
    }
    assert times == {
        "2026-01-05": (datetime(2026, 2, 1, 8, 0, tzinfo=UTC), "exif"),
        "2026-01-06_0930": (datetime(2026, 1, 6, 9, 30, tzinfo=UTC), "folder"),
        "session-3": (datetime(2026, 3, 3, 7, 0, tzinfo=UTC), "mtime"),
    }


def test_same_folder_gives_the_same_capture_ids_and_a_changed_photo_a_new_one(
    tmp_path: Path,
) -> None:
    files = triple("a", "s")
    first = run(tmp_path, files)
    again = discover(str(tmp_path / "src"))
    assert [c.capture_id for c in first.captures] == [c.capture_id for c in again.captures]
    (tmp_path / "src/a/s/left.jpg").write_bytes(photo(99))
    changed = discover(str(tmp_path / "src"))
    assert changed.captures[0].capture_id != first.captures[0].capture_id
    assert changed.captures[0].key == first.captures[0].key


def test_a_missing_source_or_a_file_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        discover(str(tmp_path / "nowhere"))
    (tmp_path / "file.jpg").write_bytes(photo(1))
    with pytest.raises(SourceError, match="is a file"):
        discover(str(tmp_path / "file.jpg"))


def test_an_empty_source_finds_nothing(tmp_path: Path) -> None:
    found = discover(str(tmp_path))
    assert (found.captures, found.quarantined, found.files_seen) == ((), (), 0)


def test_file_urls_work_like_paths(tmp_path: Path) -> None:
    write_local(tmp_path / "src", triple("a", "s"))
    by_path = discover(str(tmp_path / "src"))
    by_url = discover((tmp_path / "src").as_uri())
    assert by_url.captures == by_path.captures


COMPOSED, DECOMPOSED = "Jos\u00e9", "Jose\u0301"  # "José" as most keyboards and as macOS write it


def test_a_folder_name_in_either_unicode_spelling_is_one_subject(tmp_path: Path) -> None:
    files = {
        f"{COMPOSED}/caf\u00e9/front.jpg": photo(1),
        f"{DECOMPOSED}/cafe\u0301/right.jpg": photo(2),
        f"{DECOMPOSED}/cafe\u0301/left.jpg": photo(3),
        f"{DECOMPOSED}/s2/front.jpg": photo(4),
    }
    found = run(tmp_path, files)
    assert [(c.subject_key, c.session_key, len(c.images)) for c in found.captures] == [
        (COMPOSED, "caf\u00e9", 3),
        (COMPOSED, "s2", 1),
    ]
    assert found.quarantined == ()
