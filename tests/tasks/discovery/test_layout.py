"""Layout rules: side words in file names, where a file sits, what is clutter."""

from __future__ import annotations

import pytest

from schemas.captures import Side
from tasks.discovery.layout import (
    DEFAULT_LAYOUT,
    DEFAULT_SIDE_WORDS,
    Placement,
    SideWords,
    is_system_file,
)


@pytest.mark.parametrize(
    ("name", "side"),
    [
        ("front.jpg", Side.FRONT),
        ("FRONTAL.PNG", Side.FRONT),
        ("f.jpeg", Side.FRONT),
        ("Right.jpg", Side.RIGHT),
        ("r.jpg", Side.RIGHT),
        ("left.JPG", Side.LEFT),
        ("L.png", Side.LEFT),
        ("IMG_0001_left.jpg", Side.LEFT),
        ("img-0001-Front.JPG", Side.FRONT),
        ("2026 01 05 right.jpg", Side.RIGHT),
        ("session.3.f.jpg", Side.FRONT),
        ("front", Side.FRONT),
        ("IMG_0001.jpg", None),
        ("left_cheek.jpg", None),
        ("frontier.jpg", None),
        ("wrong.jpg", None),
        ("r", Side.RIGHT),
    ],
)
def test_side_from_file_name(name: str, side: Side | None) -> None:
    assert DEFAULT_SIDE_WORDS.side_in_name(name) is side


def test_side_words_are_a_value_that_can_be_extended() -> None:
    words = SideWords(front=frozenset({"front", "face", "vorne"}))
    assert words.side_in_name("IMG_1_vorne.jpg") is Side.FRONT
    assert words.side_in_name("f.jpg") is None


@pytest.mark.parametrize(
    ("parts", "placement", "subject", "session"),
    [
        (("front.jpg",), Placement.ABOVE, None, None),
        (("alice", "front.jpg"), Placement.ABOVE, "alice", None),
        (("alice", "s1", "front.jpg"), Placement.SESSION, "alice", "s1"),
        (("alice", "s1", "raw", "front.jpg"), Placement.BELOW, "alice", "s1"),
    ],
)
def test_where_a_file_sits_in_the_layout(
    parts: tuple[str, ...], placement: Placement, subject: str | None, session: str | None
) -> None:
    where = DEFAULT_LAYOUT.locate(parts)
    assert (where.placement, where.subject_key, where.session_key) == (placement, subject, session)


@pytest.mark.parametrize(
    ("name", "clutter"),
    [
        (".DS_Store", True),
        ("._front.jpg", True),
        ("Thumbs.db", True),
        ("desktop.ini", True),
        ("front.jpg", False),
        ("notes.txt", False),
    ],
)
def test_system_files(name: str, clutter: bool) -> None:
    assert is_system_file(name) is clutter
