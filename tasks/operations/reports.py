"""PDF reports into the lake: ``<lake>/reports/pdf/<subject>/<session>_<side>_<image id>.pdf``.

Under ``reports/pdf`` (the ingest's plots are in ``reports/plots``), one folder per subject, so a
person's reports sit together; the file name sorts by session and carries the image id, so a
report is found again by the image it is of (a report already written is not downloaded again).
Written through fsspec, so a bucket lake works as a local one. Which images exist comes from the
lake's ``images`` view: the lake knows subject and session keys and the API ids the PDF service
needs.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from haut.client import HautClient
from haut.errors import AuthError, HautError
from haut.redaction import redact
from schemas.refs import ImageRef
from tasks.fs import safe_file_name
from tasks.lake.query import install_views
from tasks.lake.store import Lake
from tasks.operations.errors import OperationError

REPORTS_FOLDER = "reports/pdf"
"""Where, inside the lake, the PDF reports go (one folder per subject)."""

_IMAGE = """
SELECT image_id, dataset_id, subject_id, batch_id, subject_key, session_key, side, captured_at
FROM images WHERE image_id = ?
"""
# The newest complete image per subject (of the given ones; an empty list: every subject);
# within one session the front photo.
_LATEST = """
SELECT image_id, dataset_id, subject_id, batch_id, subject_key, session_key, side, captured_at
FROM images
WHERE status = 'complete' AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], subject_key))
QUALIFY row_number() OVER (
    PARTITION BY subject_key ORDER BY captured_at DESC, side = 'front' DESC, image_id
) = 1
ORDER BY subject_key
"""


@dataclass(frozen=True)
class ReportImage:
    """An image of the lake, with what the PDF service and the report's path need."""

    image_id: str
    dataset_id: str
    subject_id: str
    batch_id: str
    subject_key: str
    session_key: str
    side: str
    captured_at: datetime | None

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.dataset_id, self.subject_id, self.batch_id, self.image_id)


@dataclass(frozen=True)
class ReportOutcome:
    image: ReportImage
    location: str
    """Where the report is: an absolute path or a URL."""
    written: bool
    """False when it was there already and was not downloaded again."""


def report_parts(image: ReportImage) -> tuple[str, ...]:
    """The report's place inside the lake, folder by folder."""
    session, side = safe_file_name(image.session_key), safe_file_name(image.side)
    name = f"{session}_{side}_{safe_file_name(image.image_id)}.pdf"
    return (REPORTS_FOLDER, safe_file_name(image.subject_key), name)


def report_path(lake: Lake, image: ReportImage) -> str:
    """The report's filesystem path inside the lake."""
    return posixpath.join(lake.root, *report_parts(image))


def _images(lake: Lake, query: str, parameters: Sequence[Any]) -> list[ReportImage]:
    con = duckdb.connect()
    try:
        install_views(con, lake)
        rows = con.execute(query, list(parameters)).fetchall()
    finally:
        con.close()
    return [ReportImage(*row) for row in rows]


def image_in_lake(lake: Lake, image_id: str) -> ReportImage:
    """The lake's image ``image_id``; refused when the lake has no such image."""
    found = _images(lake, _IMAGE, [image_id])
    if not found:
        raise OperationError(
            f"image {image_id} is not in the lake at {lake.location()}: check the id (the "
            "images view lists them) or the --lake option, or ingest its photo first"
        )
    return found[0]


def latest_images(lake: Lake, subjects: Sequence[str] | None = None) -> list[ReportImage]:
    """The newest complete image of each subject (of ``subjects`` only, when given); a named
    subject without one is refused."""
    wanted = list(subjects or ())
    found = _images(lake, _LATEST, [wanted, wanted])
    missing = sorted(set(subjects or ()) - {image.subject_key for image in found})
    if missing:
        raise OperationError(
            f"no analysed image of subject {', '.join(map(repr, missing))} in the lake at "
            f"{lake.location()}: check the subject key (its folder name; `hautflow history "
            "SUBJECT` reads the same lake) or ingest its photos first"
        )
    return found


async def write_report(
    client: HautClient, lake: Lake, image: ReportImage, *, overwrite: bool = False
) -> ReportOutcome:
    """Download the image's PDF report into the lake, unless it is there (or ``overwrite``)."""
    path = report_path(lake, image)
    location = lake.location(*report_parts(image))
    try:
        if not overwrite and lake.fs.exists(path):
            return ReportOutcome(image, location, written=False)
    except OSError as exc:
        raise _unwritable(location, exc) from None
    pdf = await client.pdf_report(image.ref)
    if not pdf.startswith(b"%PDF"):
        raise OperationError(
            f"the PDF service answered something other than a PDF for image {image.image_id} "
            f"({len(pdf)} bytes): try again later; nothing was written"
        )
    try:
        lake.put_bytes(path, pdf)
    except OSError as exc:
        raise _unwritable(location, exc) from None
    return ReportOutcome(image, location, written=True)


def _unwritable(location: str, exc: OSError) -> OperationError:
    reason = redact(exc.strerror or str(exc) or type(exc).__name__)
    return OperationError(
        f"cannot write the report {location}: {reason}; check that the lake's folder is "
        "writable (for a bucket: its name and credentials), or give another --lake"
    )


@dataclass
class ReportRun:
    """What :func:`write_reports` did: the reports written or found, and the images that
    failed, with the error."""

    outcomes: list[ReportOutcome] = field(default_factory=list)
    failed: list[tuple[ReportImage, str]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.written)


async def write_reports(
    client: HautClient,
    lake: Lake,
    images: Sequence[ReportImage],
    *,
    overwrite: bool = False,
    on_failure: Callable[[ReportImage, str], None] | None = None,
) -> ReportRun:
    """:func:`write_report` for each image, one after another (reports are few and large).

    One image's failure does not stop the others: it is recorded (and passed to
    ``on_failure``) and the next image goes on; only a refused login, which every image would
    meet, ends the call.
    """
    run = ReportRun()
    for image in images:
        try:
            run.outcomes.append(await write_report(client, lake, image, overwrite=overwrite))
        except AuthError:
            raise
        except (HautError, OperationError, OSError) as exc:
            error = redact(str(exc) or type(exc).__name__)
            run.failed.append((image, error))
            if on_failure is not None:
                on_failure(image, error)
    return run
