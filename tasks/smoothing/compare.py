"""Local smoothing against the API's: every image, family and setting, side by side.

The API rounds half up (reference §13.12), so a local value is rounded the same way before the
two are compared; any difference, and any family one side has and the other lacks, is a
disagreement. On the emulator they agree for every image and method: a disagreement means the
lake and the API no longer hold the same scores (an image analysed again, results missing from
the lake), or the two implementations of §13.12 have drifted apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.lake.rows import Row
from tasks.smoothing.local import local_smoothed
from tasks.smoothing.settings import Smoothing, method_named

if TYPE_CHECKING:
    import duckdb


def round_half_up(value: float) -> int:
    """Nearest integer, halves up (70.5 -> 71), as the API rounds smoothed values."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class Disagreement:
    """One image x family x setting where local and API smoothing differ (None: absent)."""

    image_id: str
    subject_key: str
    session_key: str
    side: str
    algorithm: str
    setting: Smoothing
    local: int | None
    api: float | None

    def describe(self) -> str:
        local = "-" if self.local is None else str(self.local)
        api = "-" if self.api is None else f"{self.api:g}"
        return (
            f"{self.image_id}  {self.subject_key}/{self.session_key} {self.side:<5}  "
            f"{self.algorithm:<12} {self.setting.method.value:<21}  local {local:>4}  api {api:>4}"
        )


@dataclass
class Comparison:
    """The outcome of comparing local and API smoothing over a set of images."""

    settings: Sequence[Smoothing]
    images: int = 0
    values: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Images the API did not know (404): not compared."""

    @property
    def agree(self) -> bool:
        return not self.disagreements

    def verdict(self) -> str:
        """One line: agreement, or how many values disagree."""
        methods = ", ".join(dict.fromkeys(s.method.value for s in self.settings))
        windows = "; ".join(
            dict.fromkeys(f"{s.window_days} days, at most {s.max_size}" for s in self.settings)
        )
        scope = f"{self.values} values of {self.images} images ({methods}; {windows})"
        skipped = f"; {len(self.missing)} images unknown to the API" if self.missing else ""
        if self.agree:
            return f"Local and API smoothing agree on all {scope}{skipped}."
        return f"{len(self.disagreements)} disagreements among {scope}{skipped}."


def _local_values(
    con: duckdb.DuckDBPyConnection, setting: Smoothing, subjects: Sequence[str] | None
) -> dict[str, dict[str, Row]]:
    """Image id -> family -> the local row, for one setting."""
    frames = [
        local_smoothed(
            con,
            method=setting.method.value,
            window_days=setting.window_days,
            max_size=setting.max_size,
            subject_key=subject,
        )
        for subject in (list(subjects) if subjects else [None])
    ]
    by_image: dict[str, dict[str, Row]] = {}
    for frame in frames:
        for row in frame.to_dict("records"):
            by_image.setdefault(str(row["image_id"]), {})[str(row["algorithm_family"])] = row
    return by_image


def compare(
    con: duckdb.DuckDBPyConnection,
    api_rows: Iterable[Row],
    settings: Sequence[Smoothing],
    *,
    subjects: Sequence[str] | None = None,
    missing: Sequence[str] = (),
) -> Comparison:
    """Compare ``smoothed_results`` rows pulled from the API with the lake's own smoothing.

    Only images the API was asked about are compared (every image in ``api_rows``, the marker
    rows of images it smoothed to nothing included).
    """
    by_setting: dict[Smoothing, dict[str, list[Row]]] = {}
    for row in api_rows:
        setting = Smoothing(method_named(row["method"]), row["window_days"], row["max_size"])
        by_setting.setdefault(setting, {}).setdefault(row["image_id"], []).append(row)
    result = Comparison(settings=settings, missing=list(missing))
    images: set[str] = set()
    for setting in settings:
        pulled = by_setting.get(setting, {})
        images.update(pulled)
        local = _local_values(con, setting, subjects)
        for image_id, rows in pulled.items():
            api = {row["algorithm_family"]: row for row in rows if row["algorithm_family"]}
            mine = local.get(image_id, {})
            for family in sorted(set(api) | set(mine)):
                result.values += 1
                disagreement = _disagreement(setting, rows[0], api.get(family), mine.get(family))
                if disagreement is not None:
                    result.disagreements.append(disagreement)
    result.images = len(images)
    return result


def _disagreement(
    setting: Smoothing, context: Row, api: Row | None, local: Row | None
) -> Disagreement | None:
    api_value = None if api is None else api["value"]
    local_value = None if local is None else round_half_up(float(local["smoothed"]))
    if api_value is not None and local_value is not None and float(api_value) == local_value:
        return None
    family: Any = (api or local or {}).get("algorithm_family", "")
    return Disagreement(
        image_id=context["image_id"],
        subject_key=context["subject_key"],
        session_key=context["session_key"],
        side=context["side"],
        algorithm=str(family).rsplit(".", 1)[-1],
        setting=setting,
        local=local_value,
        api=None if api_value is None else float(api_value),
    )
