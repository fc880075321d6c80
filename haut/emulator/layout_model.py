"""The vocabulary of FSM 2.0 result payload layouts: metrics, masks, one family's layout.

:mod:`haut.emulator.layouts` holds the per-family tables written in these terms; the small
builders here keep those tables short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

HEATMAP = "heatmap_mask"
POLYGON = "polygon_mask"
POLYLINE = "polyline_mask"
POINT = "point_mask"

GEOMETRY_BY_MASK_TYPE = {
    HEATMAP: "MultiPolygon",
    POLYGON: "MultiPolygon",
    POLYLINE: "MultiLineString",
    POINT: "MultiPoint",
}


@dataclass(frozen=True)
class Metric:
    """A metric's identity: tech name, display name, widget type."""

    tech_name: str
    name: str
    widget_type: str


@dataclass(frozen=True)
class MaskSpec:
    """A mask's identity; ``region`` says which part of the face it covers (our choice)."""

    tech_name: str
    name: str
    mask_type: str
    fill: str | None
    region: str


Subs = tuple[Metric, ...] | None


@dataclass(frozen=True)
class ResultLayout:
    """The shape of one family's ``result`` payload."""

    algorithm_tech_name: str
    areas: tuple[str, ...]
    main: Metric | None
    face_subs: Subs = None
    area_subs: Subs = None
    masks_original: tuple[MaskSpec, ...] | None = None
    masks_restored: tuple[MaskSpec, ...] | None = None
    main_by_area: dict[str, Metric] = field(default_factory=dict)
    area_results_null: bool = False  # front_face_areas reports null, landmarks []

    def main_metric(self, area: str) -> Metric:
        """The main metric reported for ``area``."""
        metric = self.main_by_area.get(area, self.main)
        if metric is None:
            raise KeyError(area)
        return metric

    def sub_metrics(self, area: str) -> Subs:
        """The sub-metrics reported for ``area`` (None means JSON null)."""
        return self.face_subs if area == "face" else self.area_subs


def metric(tech_name: str, name: str, widget_type: str = "bad_good_line") -> Metric:
    """A metric; most are ``bad_good_line`` scores."""
    return Metric(tech_name, name, widget_type)


def mask_pair(
    original: str, restored: str, name: str, mask_type: str, fill: str | None, region: str
) -> tuple[MaskSpec, MaskSpec]:
    """The same mask on the original and on the face-aligned ("restored") image."""
    return (
        MaskSpec(original, name, mask_type, fill, region),
        MaskSpec(restored, name, mask_type, fill, region),
    )


class MaskTables(TypedDict):
    masks_original: tuple[MaskSpec, ...]
    masks_restored: tuple[MaskSpec, ...]


def masks(*pairs: tuple[MaskSpec, MaskSpec]) -> MaskTables:
    """``ResultLayout`` keyword arguments for these mask pairs."""
    return {
        "masks_original": tuple(p[0] for p in pairs),
        "masks_restored": tuple(p[1] for p in pairs),
    }
