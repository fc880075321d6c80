"""Client calls about captures: subjects, batches, images, their results, aux images, reports.

Mixed into :class:`haut.client.HautClient`. Creates here (subject, batch, image) stay single:
they are retried only when the request provably never reached the server, otherwise they raise
CreateInDoubtError with what to reconcile by; :meth:`CaptureCalls.find_subjects` and
:meth:`CaptureCalls.find_images` are the lookups a caller reconciles with.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import httpx

from haut import paths
from haut.errors import TransientError
from haut.session import ApiSession, TokenPlacement
from schemas.api import Batch, Image, Subject, parse_items
from schemas.api_results import (
    AuxImage,
    ResultRow,
    ResultsDecodeError,
    SmoothedValue,
    decode_aux_images,
    decode_result_rows,
)
from schemas.refs import BatchRef, ImageRef, SubjectRef
from schemas.wire_time import format_wire_time

T = TypeVar("T")

PDF_OPTIONS = {"timeout": 30000, "waitUntil": "networkidle0"}


def _decoded(decode: Callable[[bytes], list[T]], response: httpx.Response, path: str) -> list[T]:
    """An answer's items decoded from its bytes, as they came (results and aux images are
    most of a run's data: no intermediate JSON objects). Bytes that are not JSON are a
    transient failure, as for every other answer; JSON of another shape is an error."""
    try:
        return decode(response.content or b"[]")
    except ResultsDecodeError as error:
        if error.not_json:
            raise TransientError(
                "answer is not JSON", method="GET", path=path, status=response.status_code
            ) from error
        raise


def _date_param(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class CaptureCalls:
    """Subjects, batches, images and what the API computed for them."""

    _session: ApiSession

    async def company_id(self) -> str:
        raise NotImplementedError

    # --- subjects ----------------------------------------------------------------------

    async def create_subject(
        self, dataset_id: str, name: str, *, meta: Any = None, birth_date: str | None = None
    ) -> Subject:
        """Create a subject (names need not be unique: reconcile with find_subjects)."""
        body: dict[str, Any] = {"name": name, "meta": meta, "birth_date": birth_date}
        # A create: repeated only if the request never left; else CreateInDoubtError.
        answer = await self._session.json(
            "POST",
            paths.subjects(await self.company_id(), dataset_id),
            body=body,
            create=True,
            reconcile_by={"dataset_id": dataset_id, "name": name},
        )
        return Subject.model_validate(answer)

    async def iter_subjects(
        self, dataset_id: str, *, q: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Subject]:
        """Every subject of a dataset (optionally whose name contains ``q``), page by page."""
        params = {"q": q} if q else None
        path = paths.subjects(await self.company_id(), dataset_id)
        async for items in self._session.pages(path, params, page_size=page_size):
            for item in items:
                yield Subject.model_validate(item)

    async def list_subjects(self, dataset_id: str, *, q: str | None = None) -> list[Subject]:
        return [subject async for subject in self.iter_subjects(dataset_id, q=q)]

    async def find_subjects(self, dataset_id: str, name: str) -> list[Subject]:
        """Subjects named exactly ``name`` (the reconcile lookup after an in-doubt create)."""
        return [s for s in await self.list_subjects(dataset_id, q=name) if s.name == name]

    async def get_subject(self, subject: SubjectRef) -> Subject:
        path = paths.subject(await self.company_id(), subject)
        return Subject.model_validate(await self._session.json("GET", path))

    async def update_subject(self, subject: SubjectRef, **changes: Any) -> Subject:
        """PATCH a subject's fields (name, birth_date, biological_sex, meta)."""
        path = paths.subject(await self.company_id(), subject)
        return Subject.model_validate(await self._session.json("PATCH", path, body=changes))

    async def delete_subject(self, subject: SubjectRef) -> None:
        await self._session.send("DELETE", paths.subject(await self.company_id(), subject))

    async def delete_subjects(self, dataset_id: str, subject_ids: Sequence[str]) -> None:
        """Delete many subjects of a dataset at once."""
        path = paths.subjects(await self.company_id(), dataset_id) + "delete/"
        await self._session.send("DELETE", path, body={"subjects_ids": list(subject_ids)})

    # --- batches -----------------------------------------------------------------------

    async def create_batch(
        self, subject: SubjectRef, *, creation_time: datetime | None = None
    ) -> Batch:
        """Create a batch; its images take ``creation_time`` (the capture time) if given."""
        body = {"creation_time": format_wire_time(creation_time)} if creation_time else {}
        # A create: repeated only if the request never left; else CreateInDoubtError.
        answer = await self._session.json(
            "POST",
            paths.batches(await self.company_id(), subject),
            body=body,
            create=True,
            reconcile_by={"subject_id": subject.subject_id, **body},
        )
        return Batch.model_validate(answer)

    async def list_batches(self, subject: SubjectRef) -> list[Batch]:
        path = paths.batches(await self.company_id(), subject)
        return [Batch.model_validate(i) async for page in self._session.pages(path) for i in page]

    async def delete_batch(self, batch: BatchRef) -> None:
        """Delete a batch and its images."""
        await self._session.send("DELETE", paths.batch(await self.company_id(), batch))

    # --- images ------------------------------------------------------------------------

    async def upload_image(
        self,
        batch: BatchRef,
        data: bytes,
        *,
        side_id: int = 1,
        light_id: int = 1,
        name: str | None = None,
        creation_time: datetime | None = None,
    ) -> Image:
        """Upload one photo (base64) to a batch; processing starts on the server by itself."""
        body: dict[str, Any] = {
            "b64data": base64.b64encode(data).decode("ascii"),
            "side_id": side_id,
            "light_id": light_id,
        }
        if name is not None:
            body["name"] = name
        if creation_time is not None:
            body["creation_time"] = format_wire_time(creation_time)
        # A create: repeated only if the request never left; else CreateInDoubtError, and
        # the caller looks for an image of this name in the batch (find_images).
        answer = await self._session.json(
            "POST",
            paths.images(await self.company_id(), batch),
            body=body,
            create=True,
            reconcile_by={"batch_id": batch.batch_id, "name": name, "side_id": side_id},
        )
        return Image.model_validate(answer)

    async def list_images(self, batch: BatchRef) -> list[Image]:
        path = paths.images(await self.company_id(), batch)
        return [Image.model_validate(i) async for page in self._session.pages(path) for i in page]

    async def find_images(self, batch: BatchRef, name: str) -> list[Image]:
        """Images of a batch named exactly ``name`` (the reconcile lookup after an upload)."""
        return [image for image in await self.list_images(batch) if image.name == name]

    async def get_image(self, image: ImageRef) -> Image:
        path = paths.image(await self.company_id(), image)
        return Image.model_validate(await self._session.json("GET", path))

    # --- results -----------------------------------------------------------------------

    async def results(self, image: ImageRef) -> list[ResultRow]:
        """The rows computed so far for an image (one per finished algorithm)."""
        path = paths.image(await self.company_id(), image) + "results/"
        return _decoded(decode_result_rows, await self._session.send("GET", path), path)

    async def aux_images(self, image: ImageRef) -> list[AuxImage]:
        """The face-area crops of an image with their rows (URLs stripped of tokens)."""
        path = paths.image(await self.company_id(), image) + "aux/"
        return _decoded(decode_aux_images, await self._session.send("GET", path), path)

    async def aux_image_jpeg(self, aux_id: str) -> bytes:
        """The JPEG bytes of an aux image (``GET HOST/images/{id}.jpg?token=...``)."""
        response = await self._session.send(
            "GET", paths.aux_jpeg(aux_id), token=TokenPlacement.QUERY
        )
        return response.content

    async def all_results(
        self,
        subject: SubjectRef,
        *,
        date_from: date | datetime | None = None,
        date_to: date | datetime | None = None,
    ) -> list[ResultRow]:
        """Rows of every image of a subject taken in [date_from, date_to], oldest first."""
        params = {
            k: v
            for k, v in (("date_from", _date_param(date_from)), ("date_to", _date_param(date_to)))
            if v is not None
        }
        path = paths.subject(await self.company_id(), subject) + "all_results/"
        answer = await self._session.send("GET", path, params=params)
        return _decoded(decode_result_rows, answer, path)

    async def smoothed_results(
        self, image: ImageRef, *, method: str = "mean", window_days: int = 14, max_size: int = 10
    ) -> list[SmoothedValue]:
        """Main metrics smoothed over the subject's recent images (method: mean,
        mean_without_outliers or linear_approximation)."""
        params = {
            "smoothing_method": method,
            "sample_time_window": window_days,
            "sample_max_size": max_size,
        }
        path = paths.image(await self.company_id(), image) + "smoothed_results/"
        return parse_items(SmoothedValue, await self._session.json("GET", path, params=params))

    async def pdf_report(self, image: ImageRef) -> bytes:
        """The PDF report of an image, from the separate PDF service."""
        response = await self._session.send(
            "POST",
            paths.pdf_report(await self.company_id(), image),
            body=PDF_OPTIONS,
            token=TokenPlacement.ACCESS_TOKEN_HEADER,
        )
        return response.content
