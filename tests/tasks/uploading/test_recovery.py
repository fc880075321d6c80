"""A new ledger on a dataset the API already holds: the captures uploaded before are found by
name (subject, then a batch with exactly their content-derived image names) and recorded as
awaiting results, never uploaded again; subjects of other names are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from haut.client import HautClient
from haut.emulator.server import EmulatorServer
from schemas.captures import Discovery, ImageKind, Side
from tasks.ledger import ImageState, Ledger
from tasks.uploading import ensure_dataset, pending_images, plan, upload_captures
from tasks.uploading.recovery import recover_from_api
from tests.tasks.upload_support import DATASET, client, emulator, stats, write_capture

__all__ = ["client", "emulator"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.server, pytest.mark.anyio]


async def test_a_new_ledger_finds_what_the_api_holds_and_uploads_nothing_again(
    tmp_path: Path, client: HautClient, emulator: EmulatorServer
) -> None:
    uploaded = [
        write_capture(tmp_path, "alice", "2026-01-05", seed=1),
        write_capture(tmp_path, "bob", "2026-01-06", seed=2, sides=(Side.FRONT,)),
    ]
    first = Ledger.sqlite(tmp_path / "lost" / "ledger.sqlite")
    dataset = await ensure_dataset(
        client, first, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=None
    )
    done = await upload_captures(client, first, dataset, uploaded, concurrency=2)
    image_ids = {i.source.sha256: i.image_id for i in done.uploaded}
    new = write_capture(tmp_path, "alice", "2026-01-12", seed=3, sides=(Side.FRONT,))
    carol = write_capture(tmp_path, "carol", "2026-01-07", seed=4, sides=(Side.FRONT,))
    captures = [*uploaded, new, carol]

    fresh = Ledger.sqlite(tmp_path / "new" / "ledger.sqlite")
    dataset = await ensure_dataset(
        client, fresh, name=DATASET, image_kind=ImageKind.SELFIE, enabled_algorithms=None
    )
    found = await recover_from_api(
        client,
        fresh,
        captures,
        dataset=DATASET,
        dataset_id=dataset.dataset_id,
        image_kind=ImageKind.SELFIE,
    )

    assert found == uploaded
    waiting = pending_images(fresh)
    assert {i.image_id for i in waiting} == set(image_ids.values())
    assert all(image_ids[i.source.sha256] == i.image_id for i in waiting)
    planned = plan(Discovery(str(tmp_path), tuple(captures), (), 0), fresh)
    assert planned.done == tuple(uploaded)
    assert planned.new == (new, carol)
    before = stats(emulator)
    again = await upload_captures(client, fresh, dataset, planned.to_upload, concurrency=2)
    assert len(again.uploaded) == 2
    after = stats(emulator)
    assert after["images"] == before["images"] + 2
    assert set(after["uploads_by_sha256"].values()) == {1}
    recorded = fresh.capture(uploaded[0].capture_id)
    assert recorded is not None
    assert {i.state for i in recorded.images.values()} == {ImageState.PENDING}


async def test_a_dataset_of_other_people_gives_nothing_back(
    tmp_path: Path, client: HautClient
) -> None:
    ledger = Ledger.sqlite(tmp_path / "ledger.sqlite")
    dataset = await ensure_dataset(
        client, ledger, name="others", image_kind=ImageKind.SELFIE, enabled_algorithms=None
    )
    await client.create_subject(dataset.dataset_id, "someone-else")
    captures = [write_capture(tmp_path, "dora", "2026-01-05", seed=9, sides=(Side.FRONT,))]
    found = await recover_from_api(
        client,
        ledger,
        captures,
        dataset="others",
        dataset_id=dataset.dataset_id,
        image_kind=ImageKind.SELFIE,
    )
    assert found == []
    assert not ledger.holds_captures()
