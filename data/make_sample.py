"""Generate data/sample/: synthetic face photos in the default layout, plus one of each bad input.

Usage: ``python data/make_sample.py [OUT]`` (default: ``data/sample`` beside this script).
The output is the same bytes on every run. Four people are photographed weekly for eight weeks
(triples and single fronts, EXIF ``DateTimeOriginal`` set, redness and blemishes drifting so a
skin history shows movement); a fifth, ``erin``, holds every kind of bad input. See
``data/README.md`` for the tree and what discovery makes of each file.

The oversized photo (over the API's 30 MiB) is written as a sparse file and git-ignored, so the
repository stays small: it exists only where this script has run.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from haut.emulator.faces import render_face, render_no_face
from tasks.discovery.capture_time import DATE_TIME_ORIGINAL, EXIF_IFD, OFFSET_TIME_ORIGINAL

MARKER = ".hautflow-sample"
FIRST_WEEK = datetime(2026, 1, 5, 9, 30)
OVERSIZED = "erin/2026-02-09/front.jpg"
OVERSIZED_BYTES = 31 * 2**20


@dataclass(frozen=True)
class Person:
    """One subject's photo habit: how often, which sides, how the skin drifts, file names."""

    key: str
    seed: int
    tone: float
    redness: tuple[float, float]
    """At the first and the last session: the drift in between is linear."""
    blemishes: tuple[int, int]
    sessions: int
    triple: bool
    names: str
    """Pattern for file names, ``{side}`` and ``{n}`` filled in."""
    folder: str
    """Pattern for session folder names, ``{date}`` and ``{n}`` filled in."""
    offset: str | None = None
    """EXIF ``OffsetTimeOriginal`` when the camera writes one."""
    image_format: str = "JPEG"
    size: tuple[int, int] = (480, 640)


_PNG: dict[str, Any] = {"image_format": "PNG", "size": (300, 400)}
PEOPLE = (
    Person("alice", 11, 0.75, (0.65, 0.15), (9, 2), 8, True, "{side}.jpg", "{date}", "+01:00"),
    Person("bob", 23, 0.45, (0.10, 0.55), (1, 6), 8, False, "{side}.jpg", "session-{n:02d}"),
    Person("chen", 37, 0.60, (0.30, 0.30), (4, 0), 4, True, "IMG_{n:04d}_{side}.jpg", "{date}"),
    Person("dara", 41, 0.30, (0.20, 0.40), (2, 2), 4, False, "{side}.png", "week-{n}", **_PNG),
)


def exif_bytes(taken: datetime, offset: str | None) -> bytes:
    """An EXIF block carrying ``DateTimeOriginal`` (and ``OffsetTimeOriginal``)."""
    exif = Image.Exif()
    tags = exif.get_ifd(EXIF_IFD)
    tags[DATE_TIME_ORIGINAL] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if offset is not None:
        tags[OFFSET_TIME_ORIGINAL] = offset
    return exif.tobytes()


def with_exif(photo: bytes, taken: datetime | None, offset: str | None = None) -> bytes:
    """Re-encode ``photo`` in its own format with an EXIF capture time (None: without EXIF)."""
    with Image.open(io.BytesIO(photo)) as image:
        image_format = image.format or "JPEG"
        out = io.BytesIO()
        options: dict[str, object] = {"quality": 85} if image_format == "JPEG" else {}
        if taken is not None:
            options["exif"] = exif_bytes(taken, offset)
        image.save(out, image_format, **options)
    return out.getvalue()


def person_files(person: Person) -> Iterator[tuple[str, bytes]]:
    """Every photo of one person: (path below the sample root, bytes)."""
    sides = ("front", "right", "left") if person.triple else ("front",)
    for n in range(1, person.sessions + 1):
        progress = (n - 1) / max(1, person.sessions - 1)
        taken = FIRST_WEEK + timedelta(weeks=(n - 1) * (8 // person.sessions), minutes=n * 7)
        redness = person.redness[0] + (person.redness[1] - person.redness[0]) * progress
        spots = round(person.blemishes[0] + (person.blemishes[1] - person.blemishes[0]) * progress)
        folder = person.folder.format(date=taken.date().isoformat(), n=n)
        for side in sides:
            photo = render_face(
                person.seed * 100 + n,
                redness=redness,
                tone=person.tone,
                blemishes=spots,
                side=side,
                image_format=person.image_format,
                size=person.size,
            )
            name = person.names.format(side=side, n=n)
            yield f"{person.key}/{folder}/{name}", with_exif(photo, taken, person.offset)


def no_exif_session() -> Iterator[tuple[str, bytes]]:
    """chen's phone lost EXIF once: the time comes from the session folder's date."""
    for side in ("front", "right", "left"):
        photo = render_face(3799, redness=0.3, tone=0.6, blemishes=1, side=side)
        yield f"chen/2026-02-23_0815/IMG_0099_{side}.jpg", with_exif(photo, None)


def erin_face(folder: str, n: int, side: str = "front") -> bytes:
    """One of erin's photos, its EXIF time the session folder's date at noon."""
    taken = datetime.fromisoformat(folder.rsplit("/", 1)[-1]).replace(hour=12)
    return with_exif(render_face(5100 + n, tone=0.5, side=side), taken)


def bad_inputs() -> Iterator[tuple[str, bytes]]:
    """One of each bad-input kind (and a no-face photo, which is valid input), all for erin."""
    good = erin_face("2026-01-12", 0)
    yield "erin/2026-01-12/front.jpg", good[: len(good) // 2]  # corrupt: cut in half
    yield "erin/2026-01-19/front.jpg", b""  # empty
    yield "erin/2026-01-26/front.jpg", b"Dear diary, no photo today.\n"  # not an image
    webp = io.BytesIO()
    Image.open(io.BytesIO(erin_face("2026-02-02", 0))).save(webp, "WEBP", quality=60)
    yield "erin/2026-02-02/front.webp", webp.getvalue()  # unsupported format
    for n, side in enumerate(("right", "left"), start=1):  # no front image
        yield f"erin/2026-02-16/{side}.jpg", erin_face("2026-02-16", n, side)
    for n, name in enumerate(("front", "IMG_0042_front"), start=3):  # two front images
        yield f"erin/2026-02-23/{name}.jpg", erin_face("2026-02-23", n)
    for n, name in enumerate(("front", "right", "left", "IMG_0043_r"), start=5):  # four images
        side = "right" if name.endswith("_r") else name
        yield f"erin/2026-03-02/{name}.jpg", erin_face("2026-03-02", n, side)
    for n, side in enumerate(("front", "right"), start=9):  # a triple without its left
        yield f"erin/2026-03-09/{side}.jpg", erin_face("2026-03-09", n, side)
    yield "erin/holiday.jpg", erin_face("2026-03-14", 11)  # outside the layout
    no_face = with_exif(render_no_face(5200), datetime(2026, 3, 16, 12))  # valid: the API says
    yield "erin/2026-03-16/front.jpg", no_face  # "no face" (not a quarantine case)


def sample_files() -> Iterator[tuple[str, bytes]]:
    for person in PEOPLE:
        yield from person_files(person)
    yield from no_exif_session()
    yield from bad_inputs()
    yield "alice/.DS_Store", b"\x00\x00\x00\x01Bud1"  # OS clutter: counted, never a photo
    yield (
        ".gitignore",
        f"# made by make_sample.py, over 30 MiB: not for git\n/{OVERSIZED}\n".encode(),
    )
    yield MARKER, b"generated by data/make_sample.py; safe to delete and regenerate\n"


def prepare(out: Path) -> None:
    """Empty ``out`` if it is an earlier sample; refuse to touch any other non-empty folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            sys.exit(f"{out} is not empty and not a generated sample: give an empty folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def write_oversized(out: Path) -> None:
    """A valid JPEG padded with zeros past 30 MiB, sparse on disk (truncate writes no blocks)."""
    path = out / OVERSIZED
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(erin_face(OVERSIZED.split("/")[1], 12))
    with path.open("r+b") as handle:
        handle.truncate(OVERSIZED_BYTES)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "sample"
    prepare(out)
    count = 0
    for relative, content in sample_files():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        count += 1
    write_oversized(out)
    print(f"wrote {count + 1} files to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
