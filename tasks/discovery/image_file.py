"""Check one file: read it once (hashing as it streams), decode it, read its EXIF time.

The bytes are spooled to a temporary file that stays in memory only while small, so checking a
folder of 30 MiB photos holds at most a few megabytes per file in flight. A file is usable when
Pillow decodes it completely as JPEG or PNG; anything else gets a :class:`Problem` naming the
file and the fix.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol

from PIL import Image, UnidentifiedImageError

from schemas.captures import QuarantineReason
from tasks.discovery.capture_time import exif_time
from tasks.discovery.layout import SUPPORTED_FORMATS, extension

CHUNK = 1 << 20
SPOOL_IN_MEMORY = 4 << 20
_JPEG_MAGIC = b"\xff\xd8"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
"""Pillow's decompression-bomb threshold (about 89 megapixels): larger is refused unread."""
CONVERT_FIX = "convert it to JPEG (or PNG) and put the converted file in its place"


class Readable(Protocol):
    """What checking needs of a file: reading it forward (a local file, a bucket object...)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Problem:
    """Why a file cannot be uploaded, and what to do about it."""

    reason: QuarantineReason
    detail: str
    fix: str


@dataclass(frozen=True)
class CheckedImage:
    """A decodable JPEG or PNG: its hash, size, format and EXIF capture time."""

    sha256: str
    size: int
    image_format: str
    exif_time: datetime | None


def check_size(name: str, size: int | None, max_bytes: int) -> Problem | None:
    """Oversized files are known from the listing, before reading a byte.

    A listed size of 0 is not trusted: a dangling link lists as 0 bytes too. The read tells an
    empty file (0 bytes read) from one that cannot be opened.
    """
    if size is not None and size > max_bytes:
        return _too_large(name, size, max_bytes)
    return None


def _empty(name: str) -> Problem:
    return Problem(
        QuarantineReason.EMPTY,
        f"{name} is empty (0 bytes)",
        "copy the photo again from the camera or phone; the transfer did not finish",
    )


def _too_large(name: str, size: int, max_bytes: int, *, whole: bool = True) -> Problem:
    # Reading stops at the limit, so a file found too large while reading has no full size.
    measured = f"{size / 2**20:.1f} MiB ({size:,} bytes)" if whole else "more than that"
    return Problem(
        QuarantineReason.TOO_LARGE,
        f"{name} is {measured}; the API takes at most {max_bytes / 2**20:g} MiB per image",
        "export it smaller (e.g. JPEG quality 90 or a lower resolution) and replace the file",
    )


def check_image(name: str, stream: Readable, max_bytes: int) -> CheckedImage | Problem:
    """Read ``stream`` once, hash it and decode it; ``name`` is only for messages."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                return _too_large(name, size, max_bytes, whole=False)
            digest.update(chunk)
            spool.write(chunk)
        if size == 0:
            return _empty(name)
        spool.seek(0)
        head = spool.read(16)
        spool.seek(0)
        decoded = _decode(name, spool, head)
    if isinstance(decoded, Problem):
        return decoded
    image_format, taken = decoded
    return CheckedImage(digest.hexdigest(), size, image_format, taken)


def _decode(name: str, spool: IO[bytes], head: bytes) -> tuple[str, datetime | None] | Problem:
    try:
        with Image.open(spool) as image:
            image_format = image.format or "unknown"
            if image_format not in SUPPORTED_FORMATS:
                return _unsupported(name, image_format)
            if MAX_PIXELS is not None and image.width * image.height > MAX_PIXELS:
                return _too_many_pixels(name, image.width, image.height)
            taken = exif_time(image)
            _load_small(image)
            return image_format, taken
    except UnidentifiedImageError:
        return _unidentified(name, head)
    except Image.DecompressionBombError:
        return _too_many_pixels(name, None, None)
    except Exception as error:  # Pillow's decoders raise assorted errors on damaged input
        return _corrupt(name, error)


def _too_many_pixels(name: str, width: int | None, height: int | None) -> Problem:
    pixels = f" ({width}x{height})" if width and height else ""
    return Problem(
        QuarantineReason.TOO_LARGE,
        f"{name} has too many pixels{pixels} to decode safely",
        "export it at a lower resolution (e.g. 4000 pixels on the long side) and replace it",
    )


def _load_small(image: Image.Image) -> None:
    # JPEG decodes at 1/8 scale: the whole entropy-coded stream is still read (so truncation
    # shows), but the pixels held are 64 times fewer.
    if image.format == "JPEG":
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def _unsupported(name: str, image_format: str) -> Problem:
    return Problem(
        QuarantineReason.UNSUPPORTED_FORMAT,
        f"{name} is a {image_format} image; the API takes JPEG and PNG only",
        CONVERT_FIX,
    )


def _unidentified(name: str, head: bytes) -> Problem:
    if head.startswith((_JPEG_MAGIC, _PNG_MAGIC)):
        return _corrupt(name, "its header is damaged")
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return _unsupported(name, "HEIC/HEIF" if head[8:12] != b"avif" else "AVIF")
    if extension(name) in {"heic", "heif", "avif", "dng", "raw", "cr2", "cr3", "nef", "arw"}:
        return _unsupported(name, extension(name).upper())
    return Problem(
        QuarantineReason.NOT_AN_IMAGE,
        f"{name} is not an image (its content is no picture format, whatever its name says)",
        "move it out of the photo folders, or replace it with the photo it should be",
    )


def _corrupt(name: str, error: Any) -> Problem:
    return Problem(
        QuarantineReason.CORRUPT,
        f"{name} is a damaged image that cannot be decoded ({error})",
        "copy the photo again from the original device or backup and replace the file",
    )
