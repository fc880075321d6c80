"""The diary picture reads well: labelled axes that say which way is better, one 0-100 scale for
every score, no label cut or over another, any script in the title, and saved copies as sharp as
``history --plot``'s."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image

from schemas.scores import face_scale
from schemas.views import FACE_FAMILIES
from tasks.lake import connect
from tasks.lake.plot import (
    PLOTS_FOLDER,
    SCREEN_DPI,
    axis_label,
    build_figure,
    plot_run_subjects,
    plot_subject,
    render_png,
)
from tests.plot.conftest import START
from tests.plot.test_plot import hand_made_history

CJK_KEY = "山田太郎 김민준 张伟"
LONG_KEY = "subject-" + "with-a-very-long-folder-name-" * 4


def every_family_history(weeks: int = 3) -> pd.DataFrame:
    """Weekly front photos with a value for each face family: scores, ITA and ages."""
    rows = []
    for week in range(weeks):
        for position, family in enumerate(FACE_FAMILIES):
            scale = face_scale(family)
            assert scale is not None
            value = 30.0 + 5 * position + week if scale.is_score else 20.0 + 7 * week
            rows.append(
                {
                    "subject_key": "alice",
                    "session_key": f"week-{week}",
                    "side": "front",
                    "captured_at": START + timedelta(weeks=week),
                    "algorithm": family,
                    "value": value,
                    "smoothed": value if scale.is_score else None,
                }
            )
    return pd.DataFrame(rows)


def panels(figure: Figure) -> dict[str, Axes]:
    return {ax.get_title().split(" (")[0].replace(" ", "_"): ax for ax in figure.axes}


def test_every_score_is_on_one_0_to_100_axis_that_says_higher_is_better() -> None:
    figure = build_figure(every_family_history(), "alice")
    FigureCanvasAgg(figure).draw()
    drawn = panels(figure)
    assert set(drawn) == set(FACE_FAMILIES)
    for family, ax in drawn.items():
        scale = face_scale(family)
        assert scale is not None
        label = ax.get_ylabel()
        if scale.is_score:
            assert ax.get_ylim() == (0, 100), family
            assert label == "score, higher is better"
        else:
            assert "higher is better" not in label, family
    assert drawn["age"].get_ylabel() == drawn["eyes_age"].get_ylabel() == "years"
    assert "ITA" in drawn["skin_tone"].get_ylabel()
    # years and degrees keep their own scale: the ages are not squeezed onto 0-100
    assert drawn["age"].get_ylim() != (0, 100)
    assert axis_label("a_family_added_later") == "value"


def _inside(inner: Bbox, outer: Bbox, slack: float = 0.5) -> bool:
    return (
        inner.x0 >= outer.x0 - slack
        and inner.y0 >= outer.y0 - slack
        and inner.x1 <= outer.x1 + slack
        and inner.y1 <= outer.y1 + slack
    )


def _overlap(one: Bbox, other: Bbox) -> bool:
    return Bbox.intersection(one, other) is not None and (
        min(one.x1, other.x1) - max(one.x0, other.x0) > 0.5
        and min(one.y1, other.y1) - max(one.y0, other.y0) > 0.5
    )


@pytest.mark.parametrize(
    ("history", "key"),
    [
        (hand_made_history()[lambda h: h["algorithm"] == "redness"], "alice"),
        (every_family_history(), "alice"),
        (hand_made_history(), LONG_KEY),
        (every_family_history(), CJK_KEY),
    ],
    ids=["one-panel", "every-family", "long-key", "cjk-key"],
)
def test_no_label_is_cut_or_over_another(history: pd.DataFrame, key: str) -> None:
    figure = build_figure(history, key)
    figure.set_dpi(SCREEN_DPI)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    picture = figure.bbox
    title = figure._suptitle.get_window_extent(renderer)  # type: ignore[union-attr]
    boxes = [ax.get_tightbbox(renderer) for ax in figure.axes]
    assert _inside(title, picture), "the title leaves the picture"
    for ax, box in zip(figure.axes, boxes, strict=True):
        assert box is not None
        assert _inside(box, picture), f"{ax.get_title()}: cut at the picture's edge"
        assert not _overlap(box, title), f"{ax.get_title()}: under the title"
        xlabel = ax.xaxis.label.get_window_extent(renderer)
        year = ax.xaxis.get_offset_text().get_window_extent(renderer)
        assert not _overlap(xlabel, year), f"{ax.get_title()}: x label over the year"
    for i, one in enumerate(boxes):
        for j, other in enumerate(boxes[i + 1 :], start=i + 1):
            assert one is not None
            assert other is not None
            titles = figure.axes[i].get_title(), figure.axes[j].get_title()
            assert not _overlap(one, other), f"panels {titles} overlap"


def test_a_long_key_wraps_in_the_title_rather_than_leaving_the_picture() -> None:
    figure = build_figure(hand_made_history(), LONG_KEY)
    lines = figure.get_suptitle().splitlines()
    assert len(lines) > 2
    assert lines[1].endswith("-")  # broken after a dash, not inside a word
    assert "".join(lines).replace(" ", "").startswith(f"Skindiaryof{LONG_KEY}")


@pytest.mark.filterwarnings("error::UserWarning")
def test_a_cjk_key_is_drawn_with_its_glyphs_not_boxes() -> None:
    figure = build_figure(hand_made_history(), CJK_KEY)
    assert render_png(figure, dpi=30).startswith(b"\x89PNG")  # a missing glyph: an error here
    found = font_manager.findfont("Noto Sans CJK TC", fallback_to_default=False)
    assert Path(found).name == "NotoSansCJKtc-Regular.otf"


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def test_the_saved_copies_are_as_sharp_as_history_plot(lake_url: str) -> None:
    run = plot_run_subjects(lake_url, "r1")
    (plot,) = run.plots
    saved = (Path(run.folder) / plot.file_name).read_bytes()
    con = connect(lake_url)
    try:
        terminal = plot_subject(con, "alice")  # what `history alice --plot FILE` writes
    finally:
        con.close()
    assert _size(saved) == _size(terminal.png)
    assert saved == plot.saved_png
    assert _size(plot.png)[0] < _size(saved)[0]  # the report's copy stays small
    assert (Path(lake_url) / PLOTS_FOLDER).is_dir()
