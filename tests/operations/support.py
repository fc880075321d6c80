"""Shared by the operations tests: the commands as a user types them, a client logged in as
the commands' user, the dataset as the emulator answers it, and a lake holding real uploaded
images (uploaded, awaited and flattened by the ingest's own functions)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from typer.testing import CliRunner, Result

from haut.auth import PasswordCredentials
from haut.client import HautClient
from haut.emulator.server import EmulatorServer
from hautflow.cli import app
from schemas.captures import Capture, ImageKind, Side
from tasks.lake import Lake, flatten_image
from tasks.ledger import Ledger
from tasks.service.settings import EMULATOR_USERNAME
from tasks.uploading import ensure_dataset, mark_written, upload_captures
from tasks.waiting import make_waiter
from tests.tasks.upload_support import BASE_TIME, DATASET, write_capture

T = TypeVar("T")

runner = CliRunner()


def hautflow(emulator: EmulatorServer, state: Path, *args: str) -> Result:
    """``hautflow ARGS --api-url <emulator> --state <state>``: never the default data/state."""
    # Wide, so that error boxes do not wrap the messages the tests look for.
    return runner.invoke(
        app, [*args, "--api-url", emulator.url, "--state", str(state)], env={"COLUMNS": "400"}
    )


def open_client(emulator: EmulatorServer) -> HautClient:
    """A client logged in as the user the commands log in as (no credentials configured)."""
    credentials = PasswordCredentials(EMULATOR_USERNAME, "emulator")
    return HautClient(emulator.url, credentials, requests_per_second=None)


def call(emulator: EmulatorServer, work: Callable[[HautClient], Awaitable[T]]) -> T:
    """Run ``work`` with a client, from a plain test (the commands run their own event loop)."""

    async def main() -> T:
        async with open_client(emulator) as haut:
            return await work(haut)

    return asyncio.run(main())


def dataset_at_emulator(emulator: EmulatorServer, name: str) -> dict[str, Any]:
    """The dataset as the emulator's own GET answers it (the CLI's user logs in the same way)."""
    with httpx.Client(base_url=emulator.url) as http:
        login = http.post(
            "/api/v1/login/", json={"username": EMULATOR_USERNAME, "password": "emulator"}
        ).json()
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        company = login["company_id"]
        found = http.get(
            f"/api/v1/companies/{company}/datasets/short_list/", params={"q": name}, headers=headers
        ).json()
        (dataset_id,) = [d["id"] for d in found if d["name"] == name]
        doc: dict[str, Any] = http.get(
            f"/api/v1/companies/{company}/datasets/{dataset_id}/", headers=headers
        ).json()
        return doc


def enabled_at_emulator(emulator: EmulatorServer, name: str) -> list[int]:
    (entry,) = dataset_at_emulator(emulator, name)["connected_applications"]
    return sorted(entry["enabled_algorithms"])


def captures(photos: Path) -> list[Capture]:
    """alice twice (a week apart, the second a front/right/left triple) and bob once."""
    return [
        write_capture(photos, "alice", "2026-01-05", seed=1, sides=(Side.FRONT,)),
        write_capture(
            photos, "alice", "2026-01-12", seed=2, captured_at=BASE_TIME + timedelta(days=7)
        ),
        write_capture(photos, "bob", "2026-01-06", seed=3, sides=(Side.FRONT,)),
    ]


async def ingest_into_lake(
    client: HautClient, ledger: Ledger, lake: Lake, items: Sequence[Capture]
) -> None:
    """What the ingest flow does, without Prefect: dataset, uploads, results, lake rows."""
    dataset = await ensure_dataset(
        client, ledger, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=[30]
    )
    uploads = await upload_captures(client, ledger, dataset, items)
    assert not uploads.failed
    assert not uploads.quarantined
    results = await make_waiter("poll").wait(
        client, uploads.uploaded, expected_algorithms=dataset.enabled_algorithms, timeout=30
    )
    assert all(result.complete for result in results)
    for result in results:
        rows = flatten_image(result.image, result.rows, result.aux, run_id="t", status="complete")
        lake.write(rows, run_id="t")
    mark_written(ledger, [result.image.image_id for result in results])
