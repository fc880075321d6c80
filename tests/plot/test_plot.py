"""Pictures of the skin diary: what the figure draws, the PNG it becomes, and the command line."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image
from typer.testing import CliRunner

from hautflow.cli import app
from tasks.lake import connect
from tasks.lake.plot import (
    PLOTS_FOLDER,
    REPORT_DPI,
    EmptyHistoryError,
    build_figure,
    plot_run_subjects,
    plot_subject,
    render_png,
    smoothed_history,
)
from tests.plot.conftest import START


def hand_made_history() -> pd.DataFrame:
    """Four weekly front photos: redness and acne measured, wrinkles never (all null)."""
    rows = []
    for week in range(4):
        for family, value, smoothed in (
            ("redness", 40.0 + 10 * week, 40.0 + 5 * week),
            ("acne", 90.0 - week, 91.0 - week / 2),
            ("wrinkles", None, None),
        ):
            rows.append(
                {
                    "image_id": f"img-{week}",
                    "subject_id": "subject-1",
                    "subject_key": "alice",
                    "session_key": f"week-{week}",
                    "side": "front",
                    "captured_at": START + timedelta(weeks=week),
                    "algorithm_family": f"selfie_v2.{family}",
                    "algorithm": family,
                    "value": value,
                    "smoothed": smoothed,
                    "sample_size": week + 1,
                }
            )
    return pd.DataFrame(rows)


def line(figure: Figure, family: str, label: str) -> tuple[list[float], list[float]]:
    """The x (matplotlib day numbers) and y values of one panel's line called ``label``."""
    (ax,) = [ax for ax in figure.axes if ax.get_title() == family]
    (drawn,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    x = np.asarray(drawn.get_xdata(orig=False), dtype=float)
    return x.tolist(), np.asarray(drawn.get_ydata(), dtype=float).tolist()


def test_one_panel_per_family_with_data_in_the_usual_order() -> None:
    figure = build_figure(hand_made_history(), "alice")
    assert [ax.get_title() for ax in figure.axes] == ["redness", "acne"]  # wrinkles: no data


def test_the_smoothed_line_is_the_smoothed_values_given_over_the_measured_points() -> None:
    history = hand_made_history()
    figure = build_figure(history, "alice")
    redness = history[history["algorithm"] == "redness"]
    x, smoothed = line(figure, "redness", "smoothed")
    assert smoothed == redness["smoothed"].tolist()
    _, measured = line(figure, "redness", "measured")
    assert measured == redness["value"].tolist()
    days = [START.replace(tzinfo=None) + timedelta(weeks=w) for w in range(4)]
    assert x == pytest.approx([mdates.date2num(day) for day in days])


def test_the_title_names_the_subject_the_period_and_the_smoothing() -> None:
    figure = build_figure(hand_made_history(), "alice", until=date(2026, 2, 1))
    title = figure.get_suptitle()
    assert "alice" in title
    assert "2026-01-05 to 2026-02-01" in title
    assert "mean, 14 days, at most 10" in title


def test_the_png_is_a_real_picture_of_a_sensible_size() -> None:
    png = render_png(build_figure(hand_made_history(), "alice"), dpi=REPORT_DPI)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert 300 <= width <= 1200
    assert 150 <= height <= 1200
    assert len(png) < 60_000  # it travels in a data URI


def test_no_data_is_an_error_that_says_what_to_check() -> None:
    history = hand_made_history()
    history["value"] = None
    with pytest.raises(EmptyHistoryError, match=r"no face metrics of 'alice'.*--since/--until"):
        build_figure(history, "alice")


def test_the_lake_history_is_front_photos_cut_to_the_period(lake_url: str) -> None:
    con = connect(lake_url)
    try:
        whole = smoothed_history(con, "alice")
        cut = smoothed_history(con, "alice", since=date(2026, 1, 12), until=date(2026, 1, 19))
    finally:
        con.close()
    assert set(whole["side"]) == {"front"}
    assert whole["session_key"].nunique() == 4
    assert sorted(cut["session_key"].unique()) == ["2026-w1", "2026-w2"]
    # smoothed with the photos before the period: the window reaches back past --since
    smoothable = cut[cut["smoothed"].notna()]
    assert (smoothable["sample_size"] > 1).all()
    # age is not a bad-good score: the API does not smooth it, the picture shows its points
    age = whole[whole["algorithm"] == "age"]
    assert len(age) == 4
    assert age["value"].notna().all()
    assert age["smoothed"].isna().all()
    assert whole.loc[whole["algorithm"] == "redness", "smoothed"].notna().all()


def test_a_subject_plot_from_the_lake(lake_url: str) -> None:
    con = connect(lake_url)
    try:
        drawn = plot_subject(con, "alice", dpi=40)
        with pytest.raises(EmptyHistoryError):
            plot_subject(con, "bob")
    finally:
        con.close()
    assert {"redness", "age"} <= set(drawn.families)
    assert drawn.data_uri().startswith("data:image/png;base64,iVBORw0KGgo")


def test_the_run_plots_are_saved_in_the_lake(lake_url: str) -> None:
    run = plot_run_subjects(lake_url, "r1")
    assert run.subjects_written == 2
    assert [p.subject_key for p in run.plots] == ["alice"]  # bob has nothing to draw
    assert run.folder == str(Path(lake_url) / PLOTS_FOLDER)
    assert (Path(run.folder) / "alice.png").read_bytes() == run.plots[0].saved_png
    assert not (Path(run.folder) / "bob.png").exists()
    assert plot_run_subjects(lake_url, "another-run").plots == ()


def test_history_plot_on_the_command_line(lake_url: str, tmp_path: Path) -> None:
    out = tmp_path / "alice.png"
    result = CliRunner().invoke(
        app, ["history", "alice", "--lake", lake_url, "--since", "2026-01-12", "--plot", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Skin diary of alice (3 sessions)" in result.output  # the diary is still printed
    assert f"written to {out}" in result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size[0] >= 600


def test_history_plot_of_nobody_writes_no_file(lake_url: str, tmp_path: Path) -> None:
    out = tmp_path / "zoe.png"
    result = CliRunner().invoke(app, ["history", "zoe", "--lake", lake_url, "--plot", str(out)])
    assert result.exit_code == 1
    assert "No captures of 'zoe'" in result.output
    assert "nothing to plot" in result.output
    assert not out.exists()


def test_history_plot_makes_its_folder_and_names_what_it_cannot_write(
    lake_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "plots" / "alice.png"  # a folder that is not there yet
    made = CliRunner().invoke(app, ["history", "alice", "--lake", lake_url, "--plot", str(out)])
    assert made.exit_code == 0, made.output
    assert out.exists()

    taken = tmp_path / "taken.png"
    taken.mkdir()  # a folder where the picture should go
    refused = CliRunner().invoke(
        app, ["history", "alice", "--lake", lake_url, "--plot", str(taken)]
    )
    assert refused.exit_code == 2
    assert f"hautflow history --plot: cannot write {taken}" in refused.output
    assert "choose a file you may write" in refused.output
