"""What the service says about the photos, end to end: a photo without a face is a finding (its
own status, counted, listed with the fix, part of --fail-on); a service that answers like the
real captures (no face-detector row) still completes every image; a photo met again under
another subject or session is held back before upload; every run records who answered it, a
lake never mixes the emulator's results with the real service's, and no flow falls back to the
emulator unless asked."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.backfill import backfill
from flows.options import BackfillOptions, IngestOptions, ReportOptions
from flows.reports import reports
from haut.emulator.config import DetectorRow
from haut.emulator.faces import render_no_face
from hautflow.cli import app
from hautflow.exit_policy import FailOn
from hautflow.ingest_cli import exit_code
from schemas.captures import QuarantineReason
from tasks.lake import Lake, RunRecord, connect, run_rows
from tasks.lake.provenance import MixedServicesError, services_in_lake
from tasks.lake.writer import BufferedLakeWriter
from tasks.service.settings import ConfigurationError
from tests.flows.support import (
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    options_in,
    run_flow,
    running_emulator,
    scalar,
    small_sample,
    write_capture,
)

pytestmark = pytest.mark.server


def with_a_landscape(root: Path) -> Path:
    """The small sample (five face photos) plus cal's one photo: a landscape, no face."""
    small_sample(root)
    landscape = root / "cal" / "2026-01-05" / "front.jpg"
    landscape.parent.mkdir(parents=True)
    landscape.write_bytes(render_no_face(7))
    return landscape


def test_a_photo_without_a_face_is_a_finding_not_a_success(
    tmp_path: Path, emulator: Emulator
) -> None:
    landscape = with_a_landscape(tmp_path / "photos")
    options = options_in(tmp_path, emulator)

    summary = run_flow(options)

    record = summary.record
    assert (record.images_uploaded, record.images_complete, record.images_no_face) == (6, 5, 1)
    assert record.images_pending == 0
    assert record.status == "completed_with_findings"
    (found,) = summary.unanalysed
    assert found.image.source.uri == str(landscape)
    assert found.finding == "No face detected"
    assert "facing the camera" in found.fix
    assert "'2026-01-05-2'" in found.fix
    assert not summary.ok
    assert exit_code(summary, FailOn.QUARANTINE) == 1
    assert exit_code(summary, FailOn.FAILURE) == 0
    markdown = summary.markdown()
    assert "## Not analysable" in markdown
    assert "No face detected" in markdown
    assert re.search(r"\| images not analysable \(no face\) \| 1 \|", markdown)

    con = connect(options.lake)
    assert_lake_complete(con, emulator.stats(), no_face=1)
    statuses = con.execute(
        "SELECT status, finding FROM images WHERE source_uri = ?", [str(landscape)]
    ).fetchall()
    assert statuses == [("no_face", "No face detected")]
    assert scalar(con, "SELECT images_no_face FROM runs") == 1
    con.close()

    # Analysed once: the next run skips it like any photo already done.
    again = run_flow(options)
    assert (again.record.images_uploaded, again.record.images_no_face) == (0, 0)
    assert_each_photo_uploaded_once(emulator.stats(), 6)


@pytest.fixture(params=[DetectorRow.WHEN_NO_FACE, DetectorRow.NEVER])
def capture_like(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An emulator that, like the real captures, sends no face-detector row for a face."""
    with running_emulator(detector_row=request.param) as running:
        yield running


def test_a_service_without_the_detector_row_completes_every_image(
    tmp_path: Path, capture_like: Emulator
) -> None:
    with_a_landscape(tmp_path / "photos")
    # A short timeout: an image that waited for a row that never comes would fail fast.
    options = options_in(tmp_path, capture_like, results_timeout=30)

    summary = run_flow(options)

    record = summary.record
    assert (record.images_complete, record.images_no_face, record.images_pending) == (5, 1, 0)
    con = connect(options.lake)
    per_image = dict(
        con.execute(
            "SELECT i.status, count(*) // count(DISTINCT r.image_id) FROM images i "
            "JOIN results r USING (image_id) GROUP BY ALL"
        ).fetchall()
    )
    assert per_image["complete"] == 17  # the capture's 17 families, no detector row
    detector_rows = scalar(con, "SELECT count(*) FROM results WHERE algorithm_version_id = 40")
    no_face_rows = 18 if capture_like.server.config.detector_row is DetectorRow.WHEN_NO_FACE else 17
    assert per_image["no_face"] == no_face_rows
    assert detector_rows == no_face_rows - 17
    con.close()


def test_a_copied_folder_is_held_back_unless_duplicates_are_allowed(
    tmp_path: Path, emulator: Emulator
) -> None:
    photos = tmp_path / "photos"
    write_capture(photos, "amy", "2026-01-05", 1, triple=True)
    # The same three photos again, under another name and session: a reorganised tree.
    for side in ("front", "right", "left"):
        copy = photos / "amy_smith" / "week-1" / f"{side}.jpg"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes((photos / "amy" / "2026-01-05" / f"{side}.jpg").read_bytes())
    options = options_in(tmp_path, emulator, source=photos)

    summary = run_flow(options)

    held = [q for q in summary.quarantined if q.reason is QuarantineReason.DUPLICATE_PHOTO]
    assert sorted(Path(q.uri).name for q in held) == ["front.jpg", "left.jpg", "right.jpg"]
    assert all("amy_smith" in q.uri and "amy/2026-01-05" in q.detail for q in held)
    assert summary.record.images_uploaded == 3
    assert_each_photo_uploaded_once(emulator.stats(), 3)
    con = connect(options.lake)
    assert scalar(con, "SELECT count(*) FROM quarantine WHERE reason = 'duplicate_photo'") == 3
    con.close()

    allowed = run_flow(options.model_copy(update={"allow_duplicate_photos": True}))
    assert allowed.record.images_uploaded == 3
    assert set(emulator.stats()["uploads_by_sha256"].values()) == {2}


def test_runs_record_who_answered_and_a_lake_never_mixes_the_two(
    tmp_path: Path, emulator: Emulator
) -> None:
    options = options_in(tmp_path, emulator, source=small_sample(tmp_path / "photos"))
    run_flow(options)
    con = connect(options.lake)
    assert con.execute("SELECT DISTINCT service FROM runs").fetchall() == [("emulator",)]
    con.close()

    # A run by the real service wrote into this lake too (as its manifest row says).
    real = RunRecord(
        run_id="20260101T000000Z-realrun1",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        source="s3://clinic/photos",
        status="completed",
        rows_written=120,
        service="saas.haut.ai",
    )
    Lake(options.lake).write(run_rows(real), run_id=real.run_id)
    write_capture(tmp_path / "photos", "dee", "2026-01-05", 8, triple=False)
    uploads = emulator.stats()["images"]

    with pytest.raises(MixedServicesError, match=r"real service \(saas\.haut\.ai\)"):
        run_flow(options)
    assert emulator.stats()["images"] == uploads  # refused before anything was uploaded

    mixed = run_flow(options.model_copy(update={"allow_mixed_services": True}))
    assert mixed.record.images_uploaded == 1
    assert mixed.record.service == "emulator"


def test_a_failed_run_keeps_who_answered_and_what_it_wrote(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that fails after writing results: its manifest row still names the service and
    counts the rows, so the lake's provenance check sees them."""
    flush = BufferedLakeWriter.flush

    async def flush_then_fail(self: BufferedLakeWriter) -> None:
        await flush(self)
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(BufferedLakeWriter, "flush", flush_then_fail)
    options = options_in(tmp_path, emulator, source=small_sample(tmp_path / "photos"))
    with pytest.raises(RuntimeError, match="the disk went away"):
        run_flow(options)
    con = connect(options.lake)
    ((status, service, rows),) = con.execute(
        "SELECT status, service, rows_written FROM runs"
    ).fetchall()
    con.close()
    assert (status, service) == ("failed", "emulator")
    assert rows > 0
    assert services_in_lake(Lake(options.lake)) == {"emulator"}


def test_no_flow_falls_back_to_the_emulator_unless_asked(tmp_path: Path) -> None:
    options = IngestOptions(
        source=str(small_sample(tmp_path / "photos")),
        lake=str(tmp_path / "lake"),
        state_dir=str(tmp_path / "state"),
    )
    with pytest.raises(ConfigurationError, match=r"no Haut\.AI credentials") as refused:
        run_flow(options)
    assert "HAUT_API_TOKEN" in str(refused.value)
    assert "emulator: true" in str(refused.value)
    assert not (tmp_path / "lake").exists()
    assert not (tmp_path / "state").exists()
    # The other flows that talk to the service refuse the same way, before writing anything.
    with pytest.raises(ConfigurationError, match=r"no Haut\.AI credentials"):
        asyncio.run(backfill(BackfillOptions(lake=options.lake, state_dir=options.state_dir)))
    with pytest.raises(ConfigurationError, match=r"no Haut\.AI credentials"):
        asyncio.run(reports(ReportOptions(lake=options.lake, state_dir=options.state_dir)))
    assert not (tmp_path / "lake").exists()


def test_the_command_line_says_first_that_the_emulator_answers(tmp_path: Path) -> None:
    photos = small_sample(tmp_path / "photos")
    lake, state = tmp_path / "lake", tmp_path / "state"
    runner = CliRunner()

    refused = runner.invoke(
        app, ["ingest", str(photos), "--lake", str(lake), "--state", str(state), "--no-emulator"]
    )
    assert refused.exit_code == 2, refused.output
    assert "no Haut.AI credentials" in refused.output
    assert not lake.exists()

    landscape = photos / "cal" / "2026-01-05" / "front.jpg"
    landscape.parent.mkdir(parents=True)
    landscape.write_bytes(render_no_face(7))
    args = ["ingest", str(photos), "--lake", str(lake), "--state", str(state)]
    ran = runner.invoke(app, [*args, "--fail-on", "failure"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    assert "Photos the service could not analyse" in ran.output
    assert "No face detected" in ran.output
    assert "completed_with_findings" in ran.output
    first_line = ran.output.lstrip().splitlines()[0]
    assert first_line.startswith("hautflow: No Haut.AI credentials: the embedded emulator"), (
        ran.output
    )
    con = connect(str(lake))
    assert con.execute("SELECT service FROM runs").fetchall() == [("emulator",)]
    con.close()
