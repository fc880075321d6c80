"""PDF reports against the emulator over loopback HTTP, into a real lake read back by DuckDB:
``hautflow report`` for an image and for a subject's latest, the reports flow run under the
session's Prefect server, and a bucket lake (fsspec's memory filesystem)."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from pypdf import PdfReader

from flows.options import ReportOptions
from flows.reports import ReportsFailedError, reports
from haut.emulator.server import EmulatorServer
from tasks.lake import Lake
from tasks.ledger import Ledger
from tasks.ledger.location import ledger_path
from tasks.operations.reports import REPORTS_FOLDER, latest_images, report_path
from tests.operations.support import call, captures, hautflow, ingest_into_lake

pytestmark = pytest.mark.server


@pytest.fixture(autouse=True)
def haut_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HAUT_API_URL", "HAUT_USERNAME", "HAUT_PASSWORD", "HAUT_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HAUT_REQUESTS_PER_SECOND", "1000")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def ledger(state: Path) -> Iterator[Ledger]:
    ledger = Ledger.sqlite(ledger_path(state))
    yield ledger
    ledger.close()


def filled(lake: Lake, emulator: EmulatorServer, ledger: Ledger, photos: Path) -> Lake:
    """``lake`` holding alice (two sessions) and bob, uploaded and analysed for real."""
    items = captures(photos)
    call(emulator, lambda c: ingest_into_lake(c, ledger, lake, items))
    return lake


@pytest.fixture
def lake(tmp_path: Path, ledger: Ledger, emulator: EmulatorServer) -> Lake:
    return filled(Lake(str(tmp_path / "lake")), emulator, ledger, tmp_path / "photos")


def assert_pdf(data: bytes) -> None:
    assert data.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(data)).pages) >= 1


def test_report_for_an_image_and_for_a_subjects_latest_lands_at_the_documented_path(
    lake: Lake, emulator: EmulatorServer, state: Path
) -> None:
    (alice,) = latest_images(lake, ["alice"])
    assert (alice.session_key, alice.side) == ("2026-01-12", "front")  # newest session, front
    by_subject = hautflow(emulator, state, "report", "--subject", "alice", "--lake", lake.url)
    assert by_subject.exit_code == 0, by_subject.output
    expected = (
        Path(lake.root) / "reports" / "pdf" / "alice" / f"2026-01-12_front_{alice.image_id}.pdf"
    )
    assert by_subject.stdout == f"{expected}\n"
    assert_pdf(expected.read_bytes())

    (bob,) = latest_images(lake, ["bob"])
    by_id = hautflow(emulator, state, "report", bob.image_id, "--lake", lake.url)
    assert by_id.exit_code == 0, by_id.output
    assert by_id.stdout.strip() == report_path(lake, bob)
    assert_pdf(Path(by_id.stdout.strip()).read_bytes())

    again = hautflow(emulator, state, "report", bob.image_id, "--lake", lake.url)
    assert again.exit_code == 0, again.output
    assert "Already written" in again.stderr

    unknown = hautflow(emulator, state, "report", "--subject", "zed", "--lake", lake.url)
    assert unknown.exit_code == 2
    assert "'zed'" in unknown.output


def test_a_report_that_cannot_be_written_names_its_path(
    lake: Lake, emulator: EmulatorServer, state: Path
) -> None:
    (bob,) = latest_images(lake, ["bob"])
    blocker = Path(lake.root) / REPORTS_FOLDER / "bob"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the subject's folder goes")
    refused = hautflow(emulator, state, "report", "--subject", "bob", "--lake", lake.url)
    assert refused.exit_code == 2, refused.output
    assert f"cannot write the report {report_path(lake, bob)}" in refused.output
    assert "Traceback" not in refused.output


def test_the_reports_flow_writes_each_subjects_latest_skips_existing_and_survives_a_failure(
    prefect_server: str, lake: Lake, emulator: EmulatorServer, state: Path
) -> None:
    options = ReportOptions(lake=lake.url, state_dir=str(state), api_url=emulator.url)
    alice, bob = latest_images(lake)
    assert (alice.subject_key, bob.subject_key) == ("alice", "bob")

    # bob's folder cannot be made: his report fails, alice's is still written.
    blocker = Path(lake.root) / REPORTS_FOLDER / "bob"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    with pytest.raises(ReportsFailedError, match=f"images {bob.image_id}\\)"):
        asyncio.run(reports(options))
    assert_pdf(Path(report_path(lake, alice)).read_bytes())

    blocker.unlink()
    outcomes = asyncio.run(reports(options))
    assert [(o.image.subject_key, o.written) for o in outcomes] == [
        ("alice", False),  # written by the first run: not downloaded again
        ("bob", True),
    ]
    assert_pdf(Path(report_path(lake, bob)).read_bytes())


def test_reports_go_into_a_bucket_lake(
    ledger: Ledger, emulator: EmulatorServer, tmp_path: Path, state: Path
) -> None:
    bucket = Lake(f"memory://reports-{uuid.uuid4().hex[:8]}/lake")
    try:
        filled(bucket, emulator, ledger, tmp_path / "photos")
        (alice,) = latest_images(bucket, ["alice"])
        written = hautflow(emulator, state, "report", "--subject", "alice", "--lake", bucket.url)
        assert written.exit_code == 0, written.output
        url = written.stdout.strip()
        # fsspec writes the memory filesystem's URLs with its root: memory:///name/...
        expected = f"{bucket.root}/reports/pdf/alice/2026-01-12_front_{alice.image_id}.pdf"
        assert url.startswith("memory://")
        assert url.removeprefix("memory://") == expected
        with fsspec.open(url, "rb") as report:
            assert_pdf(report.read())
    finally:
        bucket.fs.rm(bucket.root, recursive=True)
