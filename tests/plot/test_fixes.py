"""The plots' sharp edges: subjects whose keys clean to the same file name, a plot that cannot be
saved, odd keys in the report's markdown, score axes, the time budget, and what ``history``
imports without ``--plot``."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from flows.options import IngestOptions
from tasks.fs import safe_file_name
from tasks.lake import Lake, LakeRows, RunRecord, flatten_image
from tasks.lake.plot import (
    PLOTS_FOLDER,
    RunPlots,
    SubjectPlot,
    build_figure,
    plot_run_subjects,
    render_png,
)
from tasks.reporting.report import draw_run_plots, plots_markdown
from tasks.reporting.summary import RunSummary
from tests.plot.test_plot import hand_made_history
from tests.tasks.lake_support import emulated_payload, uploaded_image

CLASHING_KEYS = ("a b", "a_b", "日本", "../x", "..")  # José, Josè: name tests only


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("a b", "a_b"),
        ("a/b", "a_b"),
        ("José", "Josè"),
        ("josé", unicodedata.normalize("NFD", "josé")),
        ("Alice", "alice"),  # one file on a case-insensitive disk, unless told apart
        ("x-0123abcd", "x"),
        ("..", "_"),
        ("../x", "_x"),
    ],
)
def test_two_keys_never_share_a_file_name(one: str, other: str) -> None:
    assert safe_file_name(one) != safe_file_name(other)


@pytest.mark.parametrize("key", ["alice", "a_b", "josé", "日本", "2026-w1.session"])
def test_a_plain_key_is_its_own_file_name(key: str) -> None:
    assert safe_file_name(key) == key


UNSAFE_KEYS = ["../x", "..", ".", "", "a/b", "a\\b", "a\nb", "x" * 300, "日" * 200]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_a_file_name_never_leaves_its_folder_nor_hides(key: str) -> None:
    name = safe_file_name(key)
    assert name not in {"", ".", ".."}
    assert not name.startswith(".")
    assert not {"/", "\\", "\n"} & set(name)
    assert len(name.encode()) <= 120  # room for ".png" under every filesystem's 255 bytes
    assert safe_file_name(key) == name  # the same key, the same file: the next run replaces it


@pytest.fixture(scope="module")
def clashing_lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One front photo of each subject in :data:`CLASHING_KEYS`, written by run ``r1``."""
    rows = LakeRows()
    for seed, key in enumerate(CLASHING_KEYS, start=1):
        image = uploaded_image(subject_key=key, session_key="s1")
        payload = emulated_payload(image.image_id, seed=seed)
        rows.extend(flatten_image(image, payload.rows, payload.aux, run_id="r1", status="complete"))
    url = str(tmp_path_factory.mktemp("clash") / "lake")
    Lake(url).write(rows, run_id="r1")
    return url


def test_subjects_whose_keys_clean_alike_get_a_plot_each(clashing_lake: str) -> None:
    run = plot_run_subjects(clashing_lake, "r1", limit=len(CLASHING_KEYS), dpi=30)
    assert run.problems == ()
    assert sorted(p.subject_key for p in run.plots) == sorted(CLASHING_KEYS)
    folder = Path(clashing_lake) / PLOTS_FOLDER
    saved = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert len(saved) == len(CLASHING_KEYS)
    for plot in run.plots:
        assert saved[plot.file_name] == plot.saved_png
    assert not (Path(clashing_lake) / "reports" / "x.png").exists()  # '../x' stayed inside
    assert {"a_b.png", "日本.png"} <= set(saved)


def test_a_plot_that_cannot_be_saved_costs_only_itself(
    clashing_lake: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = Path(clashing_lake) / PLOTS_FOLDER
    blocked = folder / f"{safe_file_name('../x')}.png"
    blocked.unlink(missing_ok=True)
    blocked.mkdir(parents=True)  # a folder where the picture should go: the save fails
    try:
        summary = RunSummary(record=_record("r1", rows_written=7))
        # two plots (report_plots, read with getattr until IngestOptions has the field)
        options = IngestOptions(source="/photos", lake=clashing_lake)
        options = options.model_copy(update={"report_plots": 2})
        with caplog.at_level(logging.WARNING):
            run = asyncio.run(draw_run_plots(summary, options))
    finally:
        blocked.rmdir()
    assert run is not None
    # the first two by key were drawn, both kept in the report; one was not saved
    assert [p.subject_key for p in run.plots] == ["..", "../x"]
    assert len(run.problems) == 1
    assert f"'../x' not saved as {blocked.name}: IsADirectoryError" in run.problems[0]
    assert "'../x' not saved" in caplog.text
    assert (folder / run.plots[0].file_name).read_bytes() == run.plots[0].saved_png
    markdown = plots_markdown(run)
    assert markdown.count("](data:image/png;base64,") == 2
    assert "1 plot(s) not drawn or not saved" in markdown


def test_plots_are_off_with_report_plots_0(clashing_lake: str) -> None:
    options = IngestOptions(source="/photos", lake=clashing_lake)
    off = options.model_copy(update={"report_plots": 0})
    summary = RunSummary(record=_record("r1", rows_written=7))
    assert asyncio.run(draw_run_plots(summary, off)) is None


def test_plots_past_their_time_budget_are_a_warning(
    clashing_lake: str, caplog: pytest.LogCaptureFixture
) -> None:
    options = IngestOptions(source="/photos", lake=clashing_lake)
    summary = RunSummary(record=_record("r1", rows_written=7))
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(draw_run_plots(summary, options, budget_s=0.0)) is None
    assert "plots not drawn" in caplog.text
    assert "took more than 0 s" in caplog.text
    # and the drawing thread, past its deadline, starts no subject
    late = plot_run_subjects(clashing_lake, "r1", deadline=0.0)
    assert late.plots == ()
    assert late.problems == ("time budget spent: 4 subject(s) not drawn",)


def test_odd_subject_keys_cannot_break_the_markdown() -> None:
    key = "evil`key\n# Heading](http://x) <b>"
    plot = SubjectPlot(key, b"\x89PNG", ("redness",))
    run = RunPlots(folder="/lake/reports/plots", plots=(plot,), subjects_written=1)
    markdown = plots_markdown(run)
    assert "### `evilkey # Heading](http://x) <b>`" in markdown.splitlines()
    assert "![skin diary](data:image/png;base64," in markdown
    assert "\n# Heading" not in markdown
    assert key not in markdown


def test_a_key_with_dollars_is_drawn_as_written() -> None:
    key = r"x$\frac{$"  # TeX to matplotlib, unless told otherwise: the drawing would fail
    figure = build_figure(hand_made_history(), key)
    assert render_png(figure, dpi=20).startswith(b"\x89PNG")
    assert key in figure.get_suptitle()


def test_score_panels_stay_within_0_to_100_and_read_dates_with_years() -> None:
    history = hand_made_history()
    history.loc[history["algorithm"] == "redness", ["value", "smoothed"]] = 99.0
    history.loc[history["algorithm"] == "acne", ["value", "smoothed"]] = [1.0, 2.0]
    age = history[history["algorithm"] == "acne"].assign(algorithm="age", value=150.0)
    history = pd.concat([history, age], ignore_index=True)
    figure = build_figure(history, "alice")
    FigureCanvasAgg(figure).draw()
    panels = {ax.get_title().split(" (")[0]: ax for ax in figure.axes}
    for family in ("redness", "acne"):
        bottom, top = panels[family].get_ylim()
        assert 0 <= bottom < top <= 100, family
    assert panels["redness"].get_ylim()[1] == 100
    assert panels["acne"].get_ylim()[0] == 0
    assert panels["age"].get_ylim()[1] > 150  # years: not a score, its own scale
    for ax in figure.axes:
        assert ax.get_xlabel() == "date (UTC)"
        assert {label.get_fontsize() for label in ax.get_xticklabels()} == {8}
        assert {label.get_fontsize() for label in ax.get_yticklabels()} == {8}
        assert "2026" in ax.xaxis.get_major_formatter().get_offset()


def test_history_without_plot_does_not_import_matplotlib(lake_url: str) -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from hautflow.cli import app\n"
        f"result = CliRunner().invoke(app, ['history', 'alice', '--lake', {lake_url!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Skin diary of alice' in result.output, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _record(run_id: str, rows_written: int) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=datetime(2026, 3, 1, tzinfo=UTC),
        source="/photos",
        status="completed",
        rows_written=rows_written,
    )
