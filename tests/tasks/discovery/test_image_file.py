"""Checking one file: one pass over its bytes, the right verdict for each kind of damage."""

from __future__ import annotations

import hashlib
import io

import pytest

from schemas.captures import QuarantineReason
from tasks.discovery import image_file
from tasks.discovery.image_file import CheckedImage, Problem, check_image
from tests.tasks.discover_support import photo


class OneWayStream(io.RawIOBase):
    """A stream that can only be read forward, once, as from a network socket."""

    def __init__(self, content: bytes) -> None:
        self._source = io.BytesIO(content)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._source.readinto(buffer)
        self.bytes_read += count
        return count


def test_a_file_is_read_once_front_to_back_and_hashed() -> None:
    content = photo(3, size=(300, 300))
    stream = OneWayStream(content)
    checked = check_image("a/s/front.jpg", stream, 30 * 2**20)
    assert isinstance(checked, CheckedImage)
    assert stream.bytes_read == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()
    assert (checked.size, checked.image_format) == (len(content), "JPEG")


def test_reading_stops_at_the_size_limit() -> None:
    content = photo(3) + bytes(4 * image_file.CHUNK)  # a listing that under-reported its size
    stream = OneWayStream(content)
    problem = check_image("a/s/front.jpg", stream, image_file.CHUNK)
    assert isinstance(problem, Problem)
    assert problem.reason is QuarantineReason.TOO_LARGE
    assert stream.bytes_read <= 2 * image_file.CHUNK < len(content)


def test_too_many_pixels_is_too_large_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_file, "MAX_PIXELS", 100)
    problem = check_image("a/s/front.png", io.BytesIO(photo(1, image_format="PNG")), 2**20)
    assert isinstance(problem, Problem)
    assert problem.reason is QuarantineReason.TOO_LARGE
    assert "48x64" in problem.detail


def test_a_png_named_jpg_is_used_as_a_png() -> None:
    checked = check_image("a/s/front.jpg", io.BytesIO(photo(1, image_format="PNG")), 2**20)
    assert isinstance(checked, CheckedImage)
    assert checked.image_format == "PNG"
