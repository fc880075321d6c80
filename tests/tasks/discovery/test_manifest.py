"""The manifest CSV: it overrides the folder layout; bad rows and unlisted photos are reported."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.captures import QuarantineReason, Side
from tasks.discovery import ManifestError, discover
from tasks.discovery.manifest import read_manifest
from tests.tasks.discover_support import photo, write_local

R = QuarantineReason
PHOTOS = {
    "dump/0001.jpg": photo(1, taken=datetime(2026, 1, 5, 9, 0)),
    "dump/0002.jpg": photo(2),
    "dump/0003.jpg": photo(3),
    "dump/0004.jpg": photo(4),
    "dump/0005.jpg": photo(5),
    "dump/forgotten.jpg": photo(6),
}


def test_manifest_rows_make_captures_whatever_the_folders_look_like(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "Path,Subject,Session,Side,Light,Captured_At\n"
        "dump/0001.jpg,alice,visit-1,front,,\n"
        "dump/0002.jpg,alice,visit-1,2,,\n"
        f"{tmp_path / 'src/dump/0003.jpg'},alice,visit-1,L,3,2026-01-05T10:00:00+01:00\n"
        "dump/0004.jpg,bob,2026-02-01,front,,\n"
        "dump/0005.jpg,bob,later,sideways,,\n"
        "dump/missing.jpg,bob,later,front,,\n"
        ",bob,later,front,,\n"
    )
    src = write_local(tmp_path / "src", PHOTOS)
    found = discover(str(src), manifest=str(manifest))
    alice, bob = found.captures
    assert (alice.key, [i.side for i in alice.images]) == (
        "alice/visit-1",
        [Side.FRONT, Side.RIGHT, Side.LEFT],
    )
    assert [i.light_id for i in alice.images] == [1, 1, 3]
    assert [i.captured_at_source for i in alice.images] == ["exif", "mtime", "manifest"]
    assert alice.images[2].captured_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert (bob.key, bob.captured_at) == ("bob/2026-02-01", datetime(2026, 2, 1, tzinfo=UTC))
    details = {q.detail.split(": ", 1)[0]: q for q in found.quarantined}
    assert {k: q.reason for k, q in details.items()} == {
        f"{manifest} line 6": R.BAD_MANIFEST_ROW,
        f"{manifest} line 7": R.BAD_MANIFEST_ROW,
        f"{manifest} line 8": R.BAD_MANIFEST_ROW,
        "dump/forgotten.jpg is not listed in the manifest " + str(manifest): R.OUTSIDE_LAYOUT,
    }
    assert "sideways" in details[f"{manifest} line 6"].detail
    assert "no file at dump/missing.jpg" in details[f"{manifest} line 7"].detail
    assert details[f"{manifest} line 8"].uri.endswith("manifest.csv#L8")


def test_a_row_without_side_takes_it_from_the_file_name(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"x/IMG_1_front.jpg": photo(1), "x/odd.jpg": photo(2)})
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,subject,session\nx/IMG_1_front.jpg,a,s\nx/odd.jpg,b,s\n")
    found = discover(str(src), manifest=str(manifest))
    assert [(c.key, c.images[0].side) for c in found.captures] == [("a/s", Side.FRONT)]
    (unnamed,) = found.quarantined
    assert (unnamed.reason, unnamed.subject_key) == (R.OUTSIDE_LAYOUT, "b")


def test_a_manifest_inside_the_source_is_not_a_photo(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"a.jpg": photo(1)})
    (src / "manifest.csv").write_text("path,subject,session,side\na.jpg,a,s,front\n")
    found = discover(str(src), manifest=str(src / "manifest.csv"))
    assert [c.key for c in found.captures] == ["a/s"]
    assert (found.quarantined, found.files_seen) == ((), 2)


def test_one_file_listed_twice_in_any_spelling_is_a_bad_row(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"p.jpg": photo(1), "x/q.jpg": photo(2)})
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,subject,session,side\n"
        "p.jpg,alice,s1,front\n"
        "p.jpg,bob,s1,front\n"
        "./p.jpg,carol,s1,front\n"
        "x/../p.jpg,dan,s1,front\n"
        f"{src}//p.jpg,erin,s1,front\n"
        f"{src.as_uri()}/x/./../p.jpg,fay,s1,front\n"
        "x//q.jpg,gus,s1,front\n"
    )
    found = discover(str(src), manifest=str(manifest))
    # One file, analysed once: not once per spelling (nor once per subject).
    assert [(c.key, c.images[0].uri) for c in found.captures] == [
        ("alice/s1", str(src / "p.jpg")),
        ("gus/s1", str(src / "x/q.jpg")),
    ]
    assert [(q.uri, q.reason) for q in found.quarantined] == [
        (str(src / "p.jpg"), R.BAD_MANIFEST_ROW)
    ] * 5
    details = sorted(q.detail for q in found.quarantined)
    assert details[0] == f"{manifest} line 3: p.jpg is already listed on line 2"
    assert details[1] == f"{manifest} line 4: ./p.jpg is already listed on line 2 (as p.jpg)"
    assert all(
        q.fix == "list each photo once; delete one of the two rows" for q in found.quarantined
    )
    assert found.files_seen == 2


@pytest.mark.parametrize(
    "path",
    [
        "../outside.jpg",
        "dump/../../outside.jpg",
        "{tmp}/outside.jpg",
        "file://{tmp}/outside.jpg",
        "{tmp}/src/../outside.jpg",
        "s3://bucket/outside.jpg",
        "http://127.0.0.1:9/outside.jpg",
    ],
)
def test_a_row_leading_outside_the_source_is_refused_unread(tmp_path: Path, path: str) -> None:
    src = write_local(tmp_path / "src", {"dump/0001.jpg": photo(1)})
    (tmp_path / "outside.jpg").write_bytes(photo(2))
    path = path.format(tmp=tmp_path)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,subject,session,side\ndump/0001.jpg,a,s,f\n{path},b,s,f\n")

    found = discover(str(src), manifest=str(manifest))

    assert [c.key for c in found.captures] == ["a/s"]
    (refused,) = found.quarantined
    assert refused.reason is R.BAD_MANIFEST_ROW
    assert refused.detail == f"{manifest} line 3: {path} is outside the source folder {src}"
    assert "relative to the source folder" in refused.fix
    assert "--allow-outside-source" in refused.fix
    assert found.files_seen == 1


def test_rows_outside_the_source_are_read_when_allowed(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"dump/0001.jpg": photo(1)})
    write_local(tmp_path, {"outside.jpg": photo(2), "far/away.jpg": photo(3)})
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,subject,session,side\n"
        "../outside.jpg,a,s,front\n"
        f"{tmp_path.as_uri()}/far/away.jpg,b,s,front\n"
        f"{tmp_path}/src/../outside.jpg,c,s,front\n"
    )
    found = discover(str(src), manifest=str(manifest), allow_outside_source=True)
    assert [(c.key, c.images[0].uri) for c in found.captures] == [
        ("a/s", str(tmp_path / "outside.jpg")),
        ("b/s", str(tmp_path / "far/away.jpg")),
    ]
    # Outside the source, one file in two spellings is still one file.
    assert sorted((q.uri, q.reason) for q in found.quarantined) == [
        (str(tmp_path / "outside.jpg"), R.BAD_MANIFEST_ROW),
        (str(src / "dump/0001.jpg"), R.OUTSIDE_LAYOUT),
    ]
    twice = next(q for q in found.quarantined if q.reason is R.BAD_MANIFEST_ROW)
    assert twice.detail.endswith("is already listed on line 2 (as ../outside.jpg)")
    assert found.files_seen == 3  # the one below the source and the two above it


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        ("a.jpg,a,s,front,zero,", "light"),
        ("a.jpg,a,s,front,1,yesterday", "not a date"),
        ("a.jpg,a,s,front,1,,extra", "more cells"),
        ("a.jpg,,s,front,1,", "subject is empty"),
    ],
)
def test_bad_rows_name_their_line_and_what_is_wrong(row: str, complaint: str) -> None:
    text = f"path,subject,session,side,light,captured_at\nb.jpg,b,s,,,\n{row}\n"
    rows, bad = read_manifest(io.StringIO(text), "m.csv")
    assert [r.path for r in rows] == ["b.jpg"]
    (only,) = bad
    assert only.detail.startswith("m.csv line 3: ")
    assert complaint in only.detail
    assert only.fix


def test_a_manifest_without_a_required_column_or_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no session column"):
        read_manifest(io.StringIO("path,subject\na.jpg,a\n"), "m.csv")
    with pytest.raises(ManifestError, match="cannot be read"):
        discover(str(tmp_path), manifest=str(tmp_path / "absent.csv"))


def test_a_row_whose_path_cannot_be_opened_is_quarantined_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    src = write_local(tmp_path / "src", {"x/a.jpg": photo(1)})
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "path,subject,session,side\n"
        "foo://x/y.jpg,bob,s,front\n"  # a protocol fsspec does not know
        "oci://bucket/z.jpg,carol,s,front\n"  # a filesystem whose package is not installed
        "x/a.jpg,alice,s,front\n"
    )
    # Other filesystems are outside the source: only when allowed are they opened at all.
    found = discover(str(src), manifest=str(manifest), allow_outside_source=True)
    assert [c.key for c in found.captures] == ["alice/s"]
    bad = {q.uri: q for q in found.quarantined}
    assert set(bad) == {"foo://x/y.jpg", "oci://bucket/z.jpg"}
    assert all(q.reason is R.BAD_MANIFEST_ROW for q in bad.values())
    assert bad["foo://x/y.jpg"].detail.startswith(f"{manifest} line 2: foo://x/y.jpg")
    assert "Protocol not known" in bad["foo://x/y.jpg"].detail
    assert bad["oci://bucket/z.jpg"].detail.startswith(f"{manifest} line 3: ")
    assert "ocifs" in bad["oci://bucket/z.jpg"].detail
    assert "correct the path" in bad["oci://bucket/z.jpg"].fix


def test_a_manifest_at_an_unknown_protocol_is_a_clear_error(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {"x/a.jpg": photo(1)})
    with pytest.raises(ManifestError, match=r"foo://m\.csv cannot be opened"):
        discover(str(src), manifest="foo://m.csv")


def test_a_subject_or_session_in_either_unicode_spelling_is_one_key(tmp_path: Path) -> None:
    src = write_local(tmp_path / "src", {f"{n}.jpg": photo(n) for n in range(1, 4)})
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,subject,session,side\n"
        "1.jpg,Jos\u00e9,caf\u00e9,front\n"
        "2.jpg,Jose\u0301,cafe\u0301,right\n"
        "3.jpg,Jose\u0301,caf\u00e9,left\n",
        encoding="utf-8",
    )
    found = discover(str(src), manifest=str(manifest))
    (capture,) = found.captures
    assert (capture.subject_key, capture.session_key) == ("Jos\u00e9", "caf\u00e9")
    assert [i.side for i in capture.images] == [Side.FRONT, Side.RIGHT, Side.LEFT]
    assert found.quarantined == ()
