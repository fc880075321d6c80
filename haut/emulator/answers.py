"""Ready answers for the two reads every analysed image gets: its results and its aux images.

A pipeline reads ``/results/`` of an image (more than once while it is processed) and then
``/aux/``. Answering from the stored documents means parsing every row's JSON, checking it
against the answer's type and serialising it again, for ~200 KB per image. Instead, each row is
serialised once, when processing writes it, and each aux image once, when the image completes;
an answer is those pieces joined, byte for byte what the route would have built (pydantic's
JSON, as FastAPI writes it). The pieces are kept for the most recent images only, and an
answer is given from them only when their count matches the store's, so anything that
bypassed them (a restart from a state file, a deletion, a rolled-back write) is answered from
the store as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_json

MAX_IMAGES = 256
_URL_MARK = "\x00url\x00"  # no id, name or row holds it: the URL goes where it appears
_URL_MARK_JSON = to_json(_URL_MARK)
AUX_HIDDEN = ("box", "image_id", "results")
"""Fields of a stored aux image that its answer leaves out (``results`` is put last)."""


def aux_answer(aux: dict[str, Any], url: str) -> dict[str, Any]:
    """One aux image as ``/aux/`` answers it: its fields, the crop's URL, then its rows."""
    return {
        **{k: v for k, v in aux.items() if k not in AUX_HIDDEN},
        "urls": {"original": url},
        "results": aux["results"],
    }


@dataclass
class _AuxPiece:
    """An aux image's answer around its URL: ``head`` + url JSON + ``tail``."""

    aux_id: str
    head: bytes
    tail: bytes


@dataclass
class _Image:
    rows: list[bytes] = field(default_factory=list)
    parsed: list[dict[str, Any]] | None = field(default_factory=list)  # until it completes
    aux: list[_AuxPiece] | None = None


class AnswerCache:
    """Serialised rows and aux images of the most recently processed images."""

    def __init__(self, max_images: int = MAX_IMAGES) -> None:
        self._images: OrderedDict[str, _Image] = OrderedDict()
        self._max_images = max_images

    def _entry(self, image_id: str) -> _Image:
        entry = self._images.get(image_id)
        if entry is None:
            entry = self._images[image_id] = _Image()
            while len(self._images) > self._max_images:
                self._images.popitem(last=False)
        return entry

    def row_added(self, image_id: str, row: dict[str, Any], text: bytes | None = None) -> None:
        """A results row was stored for the image (after its transaction committed); ``text``
        is its JSON (``to_json(row)``) when the caller made it already."""
        entry = self._entry(image_id)
        entry.rows.append(to_json(row) if text is None else text)
        if entry.parsed is not None:
            entry.parsed.append(row)

    def rows_of(self, image_id: str, stored_rows: int) -> list[dict[str, Any]] | None:
        """The image's rows as stored, if they were all added here (``stored_rows`` of them)
        and the image is not complete yet."""
        entry = self._images.get(image_id)
        if entry is None or entry.parsed is None or len(entry.parsed) != stored_rows:
            return None
        return entry.parsed

    def aux_added(self, image_id: str, docs: Iterable[dict[str, Any]]) -> None:
        """The image's aux images were stored (after their transaction committed)."""
        pieces = []
        for doc in docs:
            head, _, tail = to_json(aux_answer(doc, _URL_MARK)).partition(_URL_MARK_JSON)
            pieces.append(_AuxPiece(doc["id"], head, tail))
        entry = self._entry(image_id)
        entry.aux, entry.parsed = pieces, None

    def forget(self, image_id: str) -> None:
        """The image's rows or aux images changed other than by processing (deleted)."""
        self._images.pop(image_id, None)

    def results(self, image_id: str, stored_rows: int) -> bytes | None:
        """The ``/results/`` answer, if the pieces are the ``stored_rows`` rows stored."""
        entry = self._images.get(image_id)
        if entry is None or len(entry.rows) != stored_rows:
            return None
        return b"[" + b",".join(entry.rows) + b"]"

    def aux(self, image_id: str, stored_ids: list[str], urls: list[str]) -> bytes | None:
        """The ``/aux/`` answer, if the pieces are the aux images stored (``stored_ids``, in
        order, with their ``urls``)."""
        entry = self._images.get(image_id)
        if entry is None or entry.aux is None:
            return None
        if [piece.aux_id for piece in entry.aux] != stored_ids:
            return None
        answers = [
            piece.head + to_json(url) + piece.tail
            for piece, url in zip(entry.aux, urls, strict=True)
        ]
        return b"[" + b",".join(answers) + b"]"
