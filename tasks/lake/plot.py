"""Pictures of the skin diary: a subject's face metrics over time, smoothed line on top.

One small panel per metric family that has data: the measured face score of each front photo
as points, and the local smoothing of reference §13.12 (by default a 14-day mean of at most
10 images, :data:`DIARY_SMOOTHING`) as a line over them; families the API does not smooth
(age, skin tone) get their points only. The figure is built by
:func:`build_figure` and turned into PNG bytes by :func:`render_png`, separately, so tests can
inspect what is drawn and callers choose the resolution.

Matplotlib is used through its object API (``Figure`` and the Agg renderer), never ``pyplot``:
no GUI backend, no global figure state, safe to call from a flow's worker thread.
"""

from __future__ import annotations

import base64
import io
import posixpath
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from haut.redaction import redact
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
"""For a file a person opens: sharp on a laptop screen."""
REPORT_DPI = 60
"""For the run's markdown artifact, where each PNG travels as a data URI: tens of KB."""

_PANEL_INCHES = (3.0, 2.0)
_TITLE_INCHES = 0.6
_MAX_COLUMNS = 4
_TICK_POINTS = 8
_SCORE_RANGE = (0.0, 100.0)
_NOT_SCORES = frozenset({"skin_tone", "age", "eyes_age"})
"""Face families whose value is not a 0-100 bad-good score (widget ``bad_good_line``,
:data:`schemas.views.SMOOTHABLE_WIDGET`): years and the ITA angle, drawn on their own scale."""


DIARY_SMOOTHING = Smoothing()
"""The API's own defaults (reference §13.12: mean, 14 days, at most 10 images), so the line is
what ``smoothed_results`` would give."""


class EmptyHistoryError(ValueError):
    """Nothing to draw: the subject has no front-photo face metric in the period asked for."""


@dataclass(frozen=True)
class SubjectPlot:
    """One subject's diary drawn as a PNG."""

    subject_key: str
    png: bytes
    families: tuple[str, ...]

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
    families = _families(history)
    if not families:
        raise EmptyHistoryError(
            f"no face metrics of {subject_key!r} in the lake for that period: nothing to plot; "
            "check the subject key and --since/--until (`hautflow history SUBJECT` lists its "
            "sessions)"
        )
    columns = min(len(families), _MAX_COLUMNS)
    rows = -(-len(families) // columns)
    width, height = _PANEL_INCHES[0] * columns, _PANEL_INCHES[1] * rows + _TITLE_INCHES
    figure = Figure(figsize=(width, height))
    # Fixed margins (in inches, whatever the grid): a layout engine would cost seconds here.
    figure.subplots_adjust(
        left=0.45 / width,
        right=1 - 0.15 / width,
        bottom=0.35 / height,
        top=1 - (_TITLE_INCHES + 0.25) / height,
        wspace=0.25,
        hspace=0.55,
    )
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
    figure.suptitle(
        f"Skin diary of {subject_key}: {_period(history, since, until)} ({sessions} sessions)\n"
        f"points: face score of each front photo; line: smoothed ({smoothing})",
        fontsize=11,
        parse_math=False,  # a key is a folder name: "$" in it is a dollar, not TeX
    )
    return figure


def _draw_panel(ax: Axes, family: str, series: pd.DataFrame, span: tuple[Any, Any]) -> None:
    """One family: measured points, the smoothed line over them, dates below."""
    ax.plot(
        series["when"],
        series["value"],
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
    )
    unsmoothed = " (not smoothed)" if smoothed.empty else ""
    ax.set_title(family.replace("_", " ") + unsmoothed, fontsize=10)
    ax.set_xlim(*span)
    if family not in _NOT_SCORES:
        ax.set_ylim(*_score_limits(series))
    # Concise labels put the year (and month) in the axis's offset text: a diary spans years.
    dates = AutoDateLocator(minticks=2, maxticks=4)
    ax.xaxis.set_major_locator(dates)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(dates))
    ax.xaxis.get_offset_text().set_fontsize(_TICK_POINTS)
    ax.set_xlabel("date (UTC)", fontsize=_TICK_POINTS)
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.tick_params(labelsize=_TICK_POINTS)
    ax.grid(alpha=0.3)


def _score_limits(series: pd.DataFrame) -> tuple[float, float]:
    """Y limits of a 0-100 score panel: the data with a margin, never beyond 0 or 100 (a score
    cannot be there, and an axis reaching -20 would misread as one)."""
    values = pd.concat([series["value"], series["smoothed"]]).dropna()
    low, high = float(values.min()), float(values.max())
    margin = max((high - low) * 0.1, 5.0)
    bottom, top = _SCORE_RANGE
    return max(bottom, low - margin), min(top, high + margin)


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
) -> SubjectPlot:
    """Draw ``subject_key``'s diary from the lake on ``con``; :class:`EmptyHistoryError` if none.

    ``diary``: the text diary of the same subject and period, if the caller has it (see
    :func:`smoothed_history`).
    """
    history = smoothed_history(con, subject_key, since, until, diary=diary)
    figure = build_figure(history, subject_key, since=since, until=until)
    return SubjectPlot(subject_key, render_png(figure, dpi), tuple(_families(history)))


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
    deadline: float | None = None,
) -> RunPlots:
    """Plots of the first ``limit`` subjects (by key) whose front photos ``run_id`` wrote.

    A few at most, small: they travel inside the run's report. Each is also saved as
    ``<lake>/reports/plots/<subject>.png`` (the subject's newest diary, replaced by the next
    run that writes it; the name from :func:`tasks.fs.safe_file_name`), so it exists outside
    Prefect. One subject that cannot be drawn or saved costs only its own plot: the reason goes
    to :attr:`RunPlots.problems` (for the caller to log) and the others carry on. No subject is
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
                plots.append(plot_subject(con, subject_key, dpi=dpi))
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
            lake.fs.pipe_file(posixpath.join(folder, plot.file_name), plot.png)
        except Exception as exc:  # the plot stays in the report; the next is saved
            problems.append(f"{plot.subject_key!r} not saved as {plot.file_name}: {_reason(exc)}")
    return RunPlots(lake.location(PLOTS_FOLDER), tuple(plots), len(subjects), tuple(problems))


def _reason(exc: BaseException) -> str:
    return redact(f"{exc.__class__.__name__}: {exc}")
