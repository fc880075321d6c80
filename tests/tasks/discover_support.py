"""Small photos and folder trees for the discovery tests (plain Pillow images: fast to make)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from fsspec import AbstractFileSystem
from PIL import Image

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881


def photo(
    seed: int = 1,
    *,
    taken: datetime | None = None,
    offset: str | None = None,
    image_format: str = "JPEG",
    size: tuple[int, int] = (48, 64),
) -> bytes:
    """A small valid image whose bytes differ by ``seed``, with an EXIF time when ``taken``."""
    colour = (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)
    image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    options: dict[str, object] = {}
    if taken is not None:
        exif = Image.Exif()
        tags = exif.get_ifd(EXIF_IFD)
        tags[DATE_TIME_ORIGINAL] = taken.strftime("%Y:%m:%d %H:%M:%S")
        if offset is not None:
            tags[OFFSET_TIME_ORIGINAL] = offset
        options["exif"] = exif.tobytes()
    image.save(out, image_format, **options)
    return out.getvalue()


def encoded(image_format: str) -> bytes:
    """A tiny image in any format Pillow writes (WEBP, GIF, TIFF, BMP...)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, image_format)
    return out.getvalue()


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
"""The opening of an iPhone HEIC file: Pillow cannot decode it, its magic says what it is."""


def write_local(root: Path, files: Mapping[str, bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def write_fs(fs: AbstractFileSystem, root: str, files: Mapping[str, bytes]) -> None:
    for relative, content in files.items():
        fs.pipe(f"{root.rstrip('/')}/{relative}", content)


def triple(
    subject: str, session: str, seed: int = 1, taken: datetime | None = None
) -> dict[str, bytes]:
    """A front/right/left session."""
    return {
        f"{subject}/{session}/{side}.jpg": photo(seed + n, taken=taken)
        for n, side in enumerate(("front", "right", "left"))
    }
