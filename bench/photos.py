"""A synthetic image folder of N captures: several subjects, single fronts and triples mixed.

Rendering a face takes tens of milliseconds, so a small pool of portraits per side is drawn
once and every written file is a pool photo with a JPEG comment naming its capture: the pixels
repeat, the bytes (and so the sha256 a capture is identified by) never do. Session folders
carry the date, so capture times come from the layout, as for a user without EXIF.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from haut.emulator.faces import render_face

SIDES_OF_TRIPLE = ("front", "right", "left")
SESSIONS_PER_SUBJECT = 10
TRIPLE_EVERY = 3  # every third capture is a front/right/left triple, the others single fronts
POOL_SIZE = 16  # distinct portraits per side
FIRST_DAY = date(2024, 1, 1)
JPEG_START = b"\xff\xd8"
JPEG_COMMENT = b"\xff\xfe"
COMMENT_PREFIX = b"hautflow-bench "


@dataclass(frozen=True)
class CaptureSet:
    """What was written: the folder and its counts."""

    root: Path
    captures: int
    images: int
    subjects: int
    triples: int


def tag_photo(photo: bytes, tag: str) -> bytes:
    """The JPEG with a comment segment right after its start marker: same pixels, new bytes."""
    if not photo.startswith(JPEG_START):
        raise ValueError("only JPEG photos can be tagged")
    payload = COMMENT_PREFIX + tag.encode()
    segment = JPEG_COMMENT + (len(payload) + 2).to_bytes(2, "big") + payload
    return JPEG_START + segment + photo[len(JPEG_START) :]


def untagged(photo: bytes) -> bytes:
    """The photo without a comment added by :func:`tag_photo` (unchanged when it has none)."""
    head = len(JPEG_START)
    if photo[head : head + 2] != JPEG_COMMENT:
        return photo
    length = int.from_bytes(photo[head + 2 : head + 4], "big")
    if photo[head + 4 : head + 4 + len(COMMENT_PREFIX)] != COMMENT_PREFIX:
        return photo
    return JPEG_START + photo[head + 2 + length :]


def _pool() -> dict[str, list[bytes]]:
    return {
        side: [
            render_face(1000 + seed, side=side, redness=seed / POOL_SIZE)
            for seed in range(POOL_SIZE)
        ]
        for side in SIDES_OF_TRIPLE
    }


def write_captures(root: Path, count: int) -> CaptureSet:
    """Write ``count`` captures under ``root`` in the default layout; returns what was written."""
    pool = _pool()
    images = triples = 0
    for number in range(count):
        subject, session = divmod(number, SESSIONS_PER_SUBJECT)
        day = FIRST_DAY + timedelta(days=session * 7 + subject % 7)
        folder = root / f"subject-{subject:05d}" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        sides = SIDES_OF_TRIPLE if number % TRIPLE_EVERY == TRIPLE_EVERY - 1 else ("front",)
        triples += len(sides) == len(SIDES_OF_TRIPLE)
        for side in sides:
            photo = pool[side][number % POOL_SIZE]
            (folder / f"{side}.jpg").write_bytes(tag_photo(photo, f"{number} {side}"))
            images += 1
    subjects = -(-count // SESSIONS_PER_SUBJECT)
    return CaptureSet(root, count, images, subjects, triples)
