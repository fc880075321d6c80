"""The plots in the ingest run's report: which subjects, how they are embedded, and that a
failure to draw costs the run nothing but the pictures."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from flows.options import IngestOptions
from tasks.lake import RunRecord
from tasks.lake.plot import PLOTS_FOLDER, RunPlots
from tasks.reporting.report import draw_run_plots, plots_markdown
from tasks.reporting.summary import RunSummary


def summary_of(run_id: str, rows_written: int) -> RunSummary:
    record = RunRecord(
        run_id=run_id,
        started_at=datetime(2026, 3, 1, tzinfo=UTC),
        source="/photos",
        status="completed",
        rows_written=rows_written,
    )
    return RunSummary(record=record)


def test_the_run_plots_are_drawn_saved_and_embedded(lake_url: str) -> None:
    options = IngestOptions(source="/photos", lake=lake_url)
    run_plots = asyncio.run(draw_run_plots(summary_of("r1", rows_written=10), options))
    assert run_plots is not None
    assert [p.subject_key for p in run_plots.plots] == ["alice"]
    markdown = plots_markdown(run_plots)
    assert "1 of the 2 subjects this run wrote" in markdown
    assert f"`{Path(lake_url) / PLOTS_FOLDER}`" in markdown
    assert "hautflow history SUBJECT --plot FILE.png" in markdown
    assert "### `alice`" in markdown
    prefix = "![skin diary](data:image/png;base64,"
    start = markdown.index(prefix) + len(prefix)
    png = base64.b64decode(markdown[start : markdown.index(")", start)])
    assert png == run_plots.plots[0].png
    # the saved file is the same picture, drawn as sharp as `history --plot` draws it
    assert (Path(lake_url) / PLOTS_FOLDER / "alice.png").read_bytes() == run_plots.plots[
        0
    ].saved_png
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
    assert len(markdown) < 100_000  # tens of KB per subject, no more


def test_a_run_that_wrote_nothing_has_no_plots(tmp_path: Path) -> None:
    options = IngestOptions(source="/photos", lake=str(tmp_path / "no-lake"))
    assert asyncio.run(draw_run_plots(summary_of("r2", rows_written=0), options)) is None
    assert not (tmp_path / "no-lake").exists()
    assert plots_markdown(RunPlots(folder="x", plots=(), subjects_written=0)) == ""


def test_a_plot_failure_is_a_warning_not_a_failed_run(caplog: pytest.LogCaptureFixture) -> None:
    options = IngestOptions(source="/photos", lake="nosuchscheme://bucket/lake")
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(draw_run_plots(summary_of("r3", rows_written=5), options)) is None
    assert "plots not drawn" in caplog.text
    assert "the data written is unaffected" in caplog.text
