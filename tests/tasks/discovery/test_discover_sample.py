"""data/sample: the generator is deterministic, and discovery finds what data/README.md says."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

from schemas.captures import Discovery, QuarantineReason
from tasks.discovery import discover

R = QuarantineReason
DATA = Path(__file__).resolve().parents[3] / "data"


def tree_digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("make_sample", DATA / "make_sample.py")
    assert spec is not None
    assert spec.loader is not None
    make_sample = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = make_sample  # dataclasses look their module up there
    spec.loader.exec_module(make_sample)
    out = tmp_path_factory.mktemp("sample")
    assert make_sample.main(["make_sample.py", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def found(generated: Path) -> Discovery:
    return discover(str(generated))


@pytest.mark.slow
def test_the_committed_sample_is_what_the_script_makes(generated: Path) -> None:
    committed = tree_digests(DATA / "sample")
    committed.pop("erin/2026-02-09/front.jpg", None)  # git-ignored: over 30 MiB
    made = tree_digests(generated)
    assert made.pop("erin/2026-02-09/front.jpg")
    assert made == committed


@pytest.mark.slow
def test_sample_discovery_counts(found: Discovery) -> None:
    assert len(found.captures) == 26
    sizes = Counter(len(c.images) for c in found.captures)
    assert sizes == {3: 13, 1: 13}
    assert {c.subject_key for c in found.captures} == {"alice", "bob", "chen", "dara", "erin"}
    assert Counter(q.reason for q in found.quarantined) == {
        R.CORRUPT: 1,
        R.EMPTY: 1,
        R.NOT_AN_IMAGE: 1,
        R.UNSUPPORTED_FORMAT: 1,
        R.TOO_LARGE: 1,
        R.NO_FRONT_IMAGE: 2,
        R.DUPLICATE_SIDE: 2,
        R.TOO_MANY_IMAGES: 4,
        R.INCOMPLETE_TRIPLE: 2,
        R.OUTSIDE_LAYOUT: 1,
    }
    clutter = 3  # .gitignore, .hautflow-sample, alice/.DS_Store
    images = sum(len(c.images) for c in found.captures)
    assert found.files_seen == images + len(found.quarantined) + clutter


@pytest.mark.slow
def test_sample_history_spans_weeks_with_exif_and_one_folder_dated_session(
    found: Discovery,
) -> None:
    alice = [c for c in found.captures if c.subject_key == "alice"]
    span = alice[-1].captured_at - alice[0].captured_at
    assert span.days == 49
    sources = Counter(c.images[0].captured_at_source for c in found.captures)
    assert sources == {"exif": 25, "folder": 1}
    assert {c.images[0].image_format for c in found.captures} == {"JPEG", "PNG"}
