"""The vendor's quick-start guide, walked through with hautflow's own client.

Each step is the guide's, in the guide's order: log in, create (or reuse) a dataset, attach
Face Skin Metrics 2.0, create a subject and a batch, upload a front photo, wait until every
algorithm has a row, then read results, aux images, the subject's history, smoothed results and
the PDF report. Against the embedded emulator it needs nothing but this machine.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from haut.client import HautClient
from schemas.api_results import ResultRow
from schemas.refs import ImageRef, SubjectRef
from tasks.service.connection import connect

DATASET_NAME = "hautflow quickstart"
RESULTS_TIMEOUT_SECONDS = 60.0
POLL_INTERVAL_SECONDS = 0.5

console = Console()


def _sample_photo(image: Path | None) -> bytes:
    if image is not None:
        return image.read_bytes()
    from haut.emulator.faces import render_face

    return render_face(7, redness=0.3, blemishes=3)


async def _wait_for_results(client: HautClient, image: ImageRef, expected: int) -> list[ResultRow]:
    """Poll ``/results/`` until every enabled algorithm has a row (the guide waits 10 s)."""
    deadline = time.monotonic() + RESULTS_TIMEOUT_SECONDS
    rows = await client.results(image)
    while len(rows) < expected and time.monotonic() < deadline:
        await asyncio.sleep(POLL_INTERVAL_SECONDS)
        rows = await client.results(image)
    return rows


def _results_table(rows: list[ResultRow], names: dict[int, str]) -> Table:
    table = Table(title="Results (face-area main metric per algorithm)")
    table.add_column("algorithm")
    table.add_column("ok")
    table.add_column("face value", justify="right")
    for row in sorted(rows, key=lambda r: r.algorithm_family_tech_name or ""):
        name = names.get(row.algorithm_version_id or -1, row.algorithm_family_tech_name or "?")
        value = row.face_value()
        shown = "" if value is None or isinstance(value, list | dict) else str(value)
        table.add_row(name, "yes" if row.is_ok else "no", shown)
    return table


async def run_quickstart(*, api_url: str | None, image: Path | None, out: Path) -> None:
    """Run the walk-through and print what each step returned."""
    async with connect(api_url=api_url, allow_emulator=True) as connection:
        client = connection.client
        where = "embedded emulator" if connection.embedded_emulator else "service"
        console.print(f"[bold]Haut.AI {where}[/] at {connection.url}")
        console.print(f"company {await client.company_id()}, user {await client.user_id()}")

        dataset = await client.find_dataset(DATASET_NAME) or await client.create_dataset(
            DATASET_NAME, image_type_id=1
        )
        run = await client.attach_application(dataset.id)
        console.print(f"dataset {dataset.id}: Face Skin Metrics 2.0 attached ({run.id})")

        subject = await client.create_subject(dataset.id, "quickstart subject")
        subject_ref = SubjectRef(dataset.id, subject.id)
        batch = await client.create_batch(subject_ref)
        uploaded = await client.upload_image(
            subject_ref.batch(batch.id), _sample_photo(image), side_id=1, light_id=1
        )
        image_ref = subject_ref.batch(batch.id).image(uploaded.id)
        console.print(f"subject {subject.id}, batch {batch.id}, image {uploaded.id}: uploaded")

        expected = len(run.enabled_algorithms) or len(await client.algorithms())
        rows = await _wait_for_results(client, image_ref, expected)
        names = {
            a.id: _algorithm_name(a.algorithm_family, a.version) for a in await client.algorithms()
        }
        console.print(_results_table(rows, names))
        if len(rows) < expected:
            console.print(f"[yellow]{len(rows)} of {expected} algorithms finished in time[/]")

        aux = await client.aux_images(image_ref)
        segments = [a.aux_image_type.name or "?" for a in aux if a.aux_image_type]
        console.print(f"aux images: {', '.join(segments)}")
        week_ago = datetime.now(UTC) - timedelta(weeks=1)
        history = await client.all_results(subject_ref, date_from=week_ago)
        console.print(f"history since {week_ago:%Y-%m-%d}: {len(history)} result rows")
        smoothed = await client.smoothed_results(image_ref, method="mean")
        console.print(
            "smoothed (mean, 14 days, 10 images): "
            + ", ".join(f"{s.algorithm_name} {s.value}" for s in smoothed)
        )

        report = out / f"report-{uploaded.id}.pdf"
        _save(report, await client.pdf_report(image_ref))
        console.print(f"PDF report: {report}")


def _save(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _algorithm_name(family: object, version: str | None) -> str:
    name = getattr(family, "name", None) or "?"
    return f"{name} {version}" if version else name
