"""Folder-layout rules: which side a file name names, where a file sits, which files to skip.

The default layout is ``<root>/<subject>/<session>/<side>.<ext>``. A side word is the whole file
name (``front.jpg``, ``R.png``) or its last ``_``/``-``/space/``.``-separated token
(``IMG_0001_left.jpg``, ``img-0001-Front.JPG``), in any case. These are plain values, so a
differently shaped tree is one more :class:`FolderLayout` or :class:`SideWords`, not new code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from schemas.captures import Side

_TOKEN_SPLIT = re.compile(r"[\s_.\-]+")


@dataclass(frozen=True)
class SideWords:
    """The words that name a side in a file name, compared case-insensitively."""

    front: frozenset[str] = frozenset({"front", "frontal", "f"})
    right: frozenset[str] = frozenset({"right", "r"})
    left: frozenset[str] = frozenset({"left", "l"})

    def side_of(self, word: str) -> Side | None:
        word = word.casefold()
        for side, words in ((Side.FRONT, self.front), (Side.RIGHT, self.right)):
            if word in words:
                return side
        return Side.LEFT if word in self.left else None

    def side_in_name(self, file_name: str) -> Side | None:
        """The side a file name names: the whole stem, else its last token; None if neither."""
        stem = file_name.rsplit(".", 1)[0] if "." in file_name.lstrip(".") else file_name
        whole = self.side_of(stem)
        if whole is not None:
            return whole
        tokens = [token for token in _TOKEN_SPLIT.split(stem) if token]
        return self.side_of(tokens[-1]) if len(tokens) > 1 else None


DEFAULT_SIDE_WORDS = SideWords()

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG"})
"""What the API accepts (Pillow's format names)."""

IMAGE_EXTENSIONS = frozenset(
    {
        *("jpg", "jpeg", "jpe", "jfif", "png"),
        *("heic", "heif", "avif", "webp", "gif", "tif", "tiff", "bmp"),
        *("dng", "raw", "cr2", "cr3", "nef", "arw", "orf", "rw2"),
    }
)
"""Extensions that claim a photo, supported or not: such a file is never ignored."""

SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "icon\r"})
"""Operating-system clutter that sits beside photos and is never one."""


def key_of(name: str) -> str:
    """A subject or session key from a folder name or a manifest cell, in one spelling (NFC).

    "José" typed with a precomposed é and with e + a combining accent look the same and are one
    subject; macOS writes folder names decomposed, most keyboards compose them.
    """
    return unicodedata.normalize("NFC", name)


def extension(file_name: str) -> str:
    """Lower-case extension without the dot; empty when there is none."""
    stem, dot, ext = file_name.rpartition(".")
    return ext.casefold() if dot and stem else ""


def claims_image(file_name: str) -> bool:
    """True when the name's extension says "photo" (whether or not the API takes it)."""
    return extension(file_name) in IMAGE_EXTENSIONS


def is_system_file(file_name: str) -> bool:
    """Hidden files (``.DS_Store``, AppleDouble ``._front.jpg``, ``.gitkeep``) and OS clutter.

    These are metadata, not photos: discovery counts them in ``files_seen`` and skips them.
    """
    return file_name.startswith(".") or file_name.casefold() in SYSTEM_FILES


def is_hidden_folder(folder_name: str) -> bool:
    """``.git``, ``.Trashes``, ``@eaDir`` (Synology thumbnails): never walked into."""
    return folder_name.startswith((".", "@"))


class Placement(StrEnum):
    """Where a file sits relative to the layout."""

    SESSION = "session"
    """Inside a session folder, where photos belong."""
    ABOVE = "above"
    """At the root or in a subject folder: not in any session."""
    BELOW = "below"
    """In a folder below a session folder."""


@dataclass(frozen=True)
class Location:
    """A file's place in the tree: its subject and session (when it has them)."""

    placement: Placement
    subject_key: str | None = None
    session_key: str | None = None


@dataclass(frozen=True)
class FolderLayout:
    """``<root>/<subject>/<session>/<file>``: which folder levels are subject and session."""

    side_words: SideWords = field(default_factory=SideWords)

    def locate(self, parts: Sequence[str]) -> Location:
        """Place a file given its path parts below the root (the last part is its name)."""
        folders = parts[:-1]
        if len(folders) < 2:
            subject = key_of(folders[0]) if folders else None
            return Location(Placement.ABOVE, subject_key=subject)
        placement = Placement.SESSION if len(folders) == 2 else Placement.BELOW
        return Location(placement, subject_key=key_of(folders[0]), session_key=key_of(folders[1]))


DEFAULT_LAYOUT = FolderLayout()
