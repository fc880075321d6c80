"""Pictures of the skin diary: a subject's face metrics over time, smoothed line on top.

One small panel per metric family that has data: the measured face score of each front photo
as points, and the local smoothing of reference §13.12 (by default a 14-day mean of at most
10 images, :data:`DIARY_SMOOTHING`) as a line over them; families the API does not smooth
(age, skin tone) get their points only. Every 0-100 score is drawn on the same 0-100 axis,
labelled "higher is better"; ages (years) and skin tone (the ITA angle) keep axes of their own
(:mod:`schemas.scores`). The figure is built by :func:`build_figure` and turned into PNG bytes
by :func:`render_png`, separately, so tests can inspect what is drawn and callers choose the
resolution.

The title names the subject as its folder is named, in any script: DejaVu Sans (matplotlib's
own) draws Latin, Greek and Cyrillic, and Noto Sans CJK (a pinned PyPI package, registered with
matplotlib's font manager on first use) Chinese, Japanese and Korean.

Matplotlib is used through its object API (``Figure`` and the Agg renderer), never ``pyplot``:
no GUI backend, no global figure state, safe to call from a flow's worker thread.
"""

from __future__ import annotations

import base64
import functools
import io
import posixpath
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FixedLocator, MaxNLocator

from haut.redaction import redact
from schemas.errors import HautflowError
from schemas.scores import SCORE_RANGE, Better, FaceScale, face_scale
from schemas.views import FACE_FAMILIES
from tasks.fs import safe_file_name
from tasks.lake.query import connect, subject_history
from tasks.lake.store import Lake
from tasks.smoothing.local import local_smoothed
from tasks.smoothing.settings import Smoothing

__all__ = [
    "DIARY_SMOOTHING",
    "PLOTS_FOLDER",
    "REPORT_DPI",
    "SCREEN_DPI",
    "EmptyHistoryError",
    "RunPlots",
    "SubjectPlot",
    "build_figure",
    "plot_run_subjects",
    "plot_subject",
    "render_png",
    "smoothed_history",
]

PLOTS_FOLDER = "reports/plots"
"""Where, inside the lake, the ingest run saves its subjects' plots (one PNG per subject)."""

SCREEN_DPI = 100
"""For a file a person opens (``history --plot``, the run's saved copies): sharp on a laptop
screen."""
REPORT_DPI = 60
"""For the run's markdown artifact, where each PNG travels as a data URI: tens of KB."""

_PANEL_INCHES = (3.0, 2.1)
_TITLE_INCHES = 0.8
_MIN_WIDTH_INCHES = 7.5
"""The two title lines fit on one line each, however few panels there are."""
_MAX_COLUMNS = 4
_TICK_POINTS = 8
_TITLE_POINTS = 11
_SCORE_TICKS = (0.0, 25.0, 50.0, 75.0, 100.0)
_CJK_FONT = "Noto Sans CJK TC"
_TITLE_FONTS = ("DejaVu Sans", _CJK_FONT)
"""Fonts of the title, in the order matplotlib looks for a glyph: a subject key may be in any
script."""


DIARY_SMOOTHING = Smoothing()
"""The API's own defaults (reference §13.12: mean, 14 days, at most 10 images), so the line is
what ``smoothed_results`` would give."""


@functools.cache
def _register_fonts() -> None:
    """Make the CJK font of the ``cvttf-notosanscjk-regular`` package known to matplotlib
    (once per process; a missing package only costs CJK glyphs, drawn as boxes)."""
    try:
        from cvttf_NotoSansCJK_Regular import get_TTF_path
    except ImportError:
        return
    font_manager.fontManager.addfont(get_TTF_path())


def axis_label(family: str) -> str:
    """The y axis label of a family's panel: its unit, and which way is better."""
    scale = face_scale(family)
    if scale is None:
        return "value"
    if scale.is_score:
        return "score, higher is better"
    if scale.family == "skin_tone":
        return "ITA (°), higher is lighter"
    return scale.unit if scale.better is Better.NEITHER else f"{scale.unit}, higher is better"


def _is_score(scale: FaceScale | None) -> bool:
    return scale is not None and scale.is_score


class EmptyHistoryError(HautflowError, ValueError):
    """Nothing to draw: the subject has no front-photo face metric in the period asked for."""


@dataclass(frozen=True)
class SubjectPlot:
    """One subject's diary drawn as a PNG."""

    subject_key: str
    png: bytes
    families: tuple[str, ...]
    file_png: bytes | None = None
    """The copy to save as a file, drawn at :data:`SCREEN_DPI`, when :attr:`png` is a smaller
    one for a report (None: :attr:`png` is that copy)."""

    @property
    def saved_png(self) -> bytes:
        """The PNG that goes into a file: as readable as ``history --plot``'s."""
        return self.png if self.file_png is None else self.file_png

    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, for markdown that has nowhere to link an image file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def file_name(self) -> str:
        """A file name safe on every filesystem and bucket, and no other subject's
        (:func:`tasks.fs.safe_file_name`)."""
        return f"{safe_file_name(self.subject_key)}.png"


def smoothed_history(
    con: duckdb.DuckDBPyConnection,
    subject_key: str,
    since: date | None = None,
    until: date | None = None,
    smoothing: Smoothing = DIARY_SMOOTHING,
    *,
    diary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``subject_key``'s front-photo face metrics with their smoothed values, oldest first.

    Smoothing runs over the whole history before the period is cut, so the first point of a
    ``--since`` window is smoothed with the photos before it, as the API would. Families the
    API does not smooth (age, skin tone: not bad-good scores, reference §13.12) come from the
    text diary with ``smoothed`` null, so the picture shows what the diary prints.
    ``since`` and ``until`` are inclusive days (UTC), as in the text diary. ``diary`` is that
    diary (:func:`tasks.lake.query.subject_history` of the same subject and period) when the
    caller has it already: it is not queried again.
    """
    frame = local_smoothed(
        con,
        method=smoothing.method.value,
        window_days=smoothing.window_days,
        max_size=smoothing.max_size,
        subject_key=subject_key,
    )
    days = pd.to_datetime(frame["captured_at"], utc=True).dt.date
    keep = frame["side"] == "front"
    if since is not None:
        keep &= days >= since
    if until is not None:
        keep &= days <= until
    smoothed = frame[keep]
    if diary is None:
        diary = subject_history(con, subject_key, since, until)
    unsmoothed = _unsmoothed(diary, subject_key, set(smoothed["algorithm"]))
    parts = [part for part in (smoothed, unsmoothed) if not part.empty]
    history = pd.concat(parts, ignore_index=True) if parts else smoothed
    return history.sort_values(["captured_at", "session_key"], kind="stable")


def _unsmoothed(diary: pd.DataFrame, subject_key: str, smoothed_families: set[str]) -> pd.DataFrame:
    """The diary's other face families, in the shape of :func:`local_smoothed` (no smoothing)."""
    families = [f for f in FACE_FAMILIES if f not in smoothed_families and f in diary.columns]
    long = diary.melt(
        id_vars=["session_key", "captured_at"],
        value_vars=families,
        var_name="algorithm",
        value_name="value",
    ).dropna(subset=["value"])
    return long.assign(subject_key=subject_key, side="front", smoothed=float("nan"))


def _families(history: pd.DataFrame) -> list[str]:
    """Families with at least one measured value: face families in their usual order first."""
    measured = history.loc[history["value"].notna(), "algorithm"].unique().tolist()
    known = [family for family in FACE_FAMILIES if family in measured]
    return known + sorted(set(measured) - set(known))


def _period(history: pd.DataFrame, since: date | None, until: date | None) -> str:
    days = pd.to_datetime(history["captured_at"], utc=True).dt.date
    first, last = since or days.min(), until or days.max()
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def build_figure(
    history: pd.DataFrame,
    subject_key: str,
    *,
    since: date | None = None,
    until: date | None = None,
    smoothing: Smoothing = DIARY_SMOOTHING,
) -> Figure:
    """The diary as a figure: a panel per family with data, points measured, line smoothed.

    ``history`` has the columns of :func:`tasks.smoothing.local.local_smoothed` (``captured_at``,
    ``algorithm``, ``value``, ``smoothed``, ``session_key``...), front photos only. Raises
    :class:`EmptyHistoryError` when no family has a value, rather than drawing a blank picture.
    """
    _register_fonts()
    families = _families(history)
    if not families:
        raise EmptyHistoryError(
            f"no face metrics of {subject_key!r} in the lake for that period: nothing to plot; "
            "check the subject key and --since/--until (`hautflow history SUBJECT` lists its "
            "sessions)"
        )
    columns = min(len(families), _MAX_COLUMNS)
    rows = -(-len(families) // columns)
    width = max(_PANEL_INCHES[0] * columns, _MIN_WIDTH_INCHES)
    height = _PANEL_INCHES[1] * rows + _TITLE_INCHES
    # Constrained layout places titles, axis labels and tick labels so that none overlaps or
    # leaves the picture, whatever the grid.
    layout = ConstrainedLayoutEngine(w_pad=0.06, h_pad=0.06, wspace=0.04, hspace=0.06)
    figure = Figure(figsize=(width, height), layout=layout)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    # Naive UTC instants: matplotlib draws them as they are, so the x axis reads in UTC.
    when = pd.to_datetime(history["captured_at"], utc=True).dt.tz_localize(None)
    start, end = when.min(), when.max()
    margin = max((end - start) * 0.05, pd.Timedelta(days=1))
    sessions = history["session_key"].nunique()
    for ax, family in zip(axes, families, strict=False):
        of_family = (history["algorithm"] == family).to_numpy()
        series = pd.DataFrame(
            {
                "when": when[of_family].to_numpy(),
                "value": history["value"][of_family].to_numpy(),
                "smoothed": history["smoothed"][of_family].to_numpy(),
            }
        )
        _draw_panel(ax, family, series, (start - margin, end + margin))
    for ax in axes[len(families) :]:
        figure.delaxes(ax)
    title = (
        f"Skin diary of {subject_key}: {_period(history, since, until)} ({sessions} sessions)",
        f"points: face score of each front photo; line: smoothed ({smoothing})",
    )
    font = FontProperties(family=list(_TITLE_FONTS), size=_TITLE_POINTS)
    # Broken to the picture's width here: the layout engine sees the lines as they are drawn.
    width_points = (width - 0.3) * 72
    figure.suptitle(
        "\n".join(line for text in title for line in _fit(text, font, width_points)),
        fontproperties=font,
        parse_math=False,  # a key is a folder name: "$" in it is a dollar, not TeX
    )
    return figure


def _text_width(text: str, font: FontProperties) -> float:
    """Width of one line of ``text`` in points, as the Agg renderer draws it."""
    from matplotlib.backends.backend_agg import RendererAgg

    width, _, _ = RendererAgg(1, 1, 72).get_text_width_height_descent(text, font, ismath=False)
    return float(width)


def _fit(text: str, font: FontProperties, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` points: at spaces; a word too wide
    alone (a long key) after its dashes, underscores, dots or slashes, else anywhere."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if _text_width(candidate, font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for piece in _pieces(word, font, width):
            if line and _text_width(line + piece, font) > width:
                lines.append(line)
                line = ""
            line += piece
    return [*lines, line] if line else lines


def _pieces(word: str, font: FontProperties, width: float) -> list[str]:
    """``word`` cut after its separators, and any part still too wide into characters."""
    parts = [part for part in re.split(r"(?<=[-_./])", word) if part]
    return [
        piece for part in parts for piece in (part if _text_width(part, font) > width else [part])
    ]


def _draw_panel(ax: Axes, family: str, series: pd.DataFrame, span: tuple[Any, Any]) -> None:
    """One family: measured points, the smoothed line over them, dates below."""
    # Not clipped: a score of 0 or 100 sits on the axis's edge and is drawn whole.
    ax.plot(
        series["when"],
        series["value"],
        clip_on=False,
        linestyle="none",
        marker="o",
        markersize=3.5,
        color="tab:blue",
        alpha=0.55,
        label="measured",
    )
    smoothed = series[series["smoothed"].notna()]
    ax.plot(
        smoothed["when"],
        smoothed["smoothed"],
        color="tab:orange",
        linewidth=2.0,
        label="smoothed",
        zorder=3,
        clip_on=False,
    )
    unsmoothed = " (not smoothed)" if smoothed.empty else ""
    ax.set_title(family.replace("_", " ") + unsmoothed, fontsize=10)
    ax.set_xlim(*span)
    scale = face_scale(family)
    if _is_score(scale):
        # One scale for every score, so panels compare at a glance.
        ax.set_ylim(*SCORE_RANGE)
        ax.yaxis.set_major_locator(FixedLocator(_SCORE_TICKS))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))  # years, degrees: whole
    ax.set_ylabel(axis_label(family), fontsize=_TICK_POINTS)
    # Concise labels put the year (and month) in the axis's offset text: a diary spans years.
    dates = AutoDateLocator(minticks=2, maxticks=4)
    ax.xaxis.set_major_locator(dates)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(dates))
    ax.xaxis.get_offset_text().set_fontsize(_TICK_POINTS)
    ax.set_xlabel("date (UTC)", fontsize=_TICK_POINTS)
    ax.tick_params(labelsize=_TICK_POINTS)
    ax.grid(alpha=0.3)


def render_png(figure: Figure, dpi: int = SCREEN_DPI) -> bytes:
    """The figure as PNG bytes, drawn by the Agg renderer (no display needed).

    Stored with a palette of at most 64 colours: a line chart has few, and the file is about a
    third of the full-colour one, which matters for a PNG carried in a data URI.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def plot_subject(
    con: duckdb.DuckDBPyConnection,
    subject_key: str,
    since: date | None = None,
    until: date | None = None,
    *,
    dpi: int = SCREEN_DPI,
    diary: pd.DataFrame | None = None,
    file_dpi: int | None = None,
) -> SubjectPlot:
    """Draw ``subject_key``'s diary from the lake on ``con``; :class:`EmptyHistoryError` if none.

    ``diary``: the text diary of the same subject and period, if the caller has it (see
    :func:`smoothed_history`). ``file_dpi``: also draw the same figure at that resolution, as
    the copy to save (:attr:`SubjectPlot.file_png`).
    """
    history = smoothed_history(con, subject_key, since, until, diary=diary)
    figure = build_figure(history, subject_key, since=since, until=until)
    png = render_png(figure, dpi)
    file_png = None
    if file_dpi is not None and file_dpi != dpi:
        # The layout is in inches, the same at any resolution: computed once, for the first.
        figure.set_layout_engine("none")
        file_png = render_png(figure, file_dpi)
    return SubjectPlot(subject_key, png, tuple(_families(history)), file_png)


_RUN_SUBJECTS_SQL = """
SELECT DISTINCT subject_key FROM images
WHERE run_id = $run_id AND side = 'front' AND subject_key IS NOT NULL
ORDER BY subject_key
"""


@dataclass(frozen=True)
class RunPlots:
    """The plots of one ingest run: where they were saved, and of how many subjects."""

    folder: str
    """``<lake>/reports/plots`` as users see it (absolute path or URL)."""
    plots: tuple[SubjectPlot, ...]
    subjects_written: int
    """Subjects whose front photos the run wrote; only the first few (by key) are drawn."""
    problems: tuple[str, ...] = ()
    """One line per plot not drawn or not saved (secrets redacted); the others are unaffected."""


def plot_run_subjects(
    lake_url: str,
    run_id: str,
    *,
    storage_options: Mapping[str, Any] | None = None,
    limit: int = 4,
    dpi: int = REPORT_DPI,
    file_dpi: int = SCREEN_DPI,
    deadline: float | None = None,
) -> RunPlots:
    """Plots of the first ``limit`` subjects (by key) whose front photos ``run_id`` wrote.

    A few at most, small: they travel inside the run's report. Each is also saved as
    ``<lake>/reports/plots/<subject>.png`` (the subject's newest diary, replaced by the next
    run that writes it; the name from :func:`tasks.fs.safe_file_name`), so it exists outside
    Prefect; that copy is drawn at ``file_dpi``, as readable as ``history --plot``'s. One
    subject that cannot be drawn or saved costs only its own plot: the reason goes to
    :attr:`RunPlots.problems` (for the caller to log) and the others carry on. No subject is
    started after ``deadline`` (a :func:`time.monotonic` instant): the caller's time budget.
    """
    lake = Lake(lake_url, storage_options)
    problems: list[str] = []
    plots: list[SubjectPlot] = []
    con = connect(lake_url, storage_options=storage_options)
    try:
        subjects = [row[0] for row in con.execute(_RUN_SUBJECTS_SQL, {"run_id": run_id}).fetchall()]
        chosen = subjects[:limit]
        for done, subject_key in enumerate(chosen):
            if deadline is not None and time.monotonic() > deadline:
                problems.append(f"time budget spent: {len(chosen) - done} subject(s) not drawn")
                break
            try:
                plots.append(plot_subject(con, subject_key, dpi=dpi, file_dpi=file_dpi))
            except EmptyHistoryError:
                continue  # e.g. only photos without a face: nothing to draw for this one
            except Exception as exc:  # one subject's picture, never the others
                problems.append(f"{subject_key!r} not drawn: {_reason(exc)}")
    finally:
        con.close()
    folder = posixpath.join(lake.root, PLOTS_FOLDER)
    for plot in plots:
        try:
            lake.fs.makedirs(folder, exist_ok=True)
            lake.fs.pipe_file(posixpath.join(folder, plot.file_name), plot.saved_png)
        except Exception as exc:  # the plot stays in the report; the next is saved
            problems.append(f"{plot.subject_key!r} not saved as {plot.file_name}: {_reason(exc)}")
    return RunPlots(lake.location(PLOTS_FOLDER), tuple(plots), len(subjects), tuple(problems))


def _reason(exc: BaseException) -> str:
    return redact(f"{exc.__class__.__name__}: {exc}")
