"""The image's PDF report (reference §13.10): every metric of an image, its subject's history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from haut.emulator.store import Doc

if TYPE_CHECKING:
    from fpdf import FPDF

_HISTORY_COLUMNS = 6  # metrics per history table row, so the table fits the page width


def _latin1(text: object) -> str:
    # The core PDF fonts cover Latin-1 only; anything else becomes "?" rather than failing.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _metric_lines(row: Doc) -> list[tuple[str, str, str]]:
    """(area, metric, value) lines of one result row, or its error."""
    result = row.get("result") or {}
    if not row.get("is_ok"):
        return [("-", "error", str(result.get("error", "not available")))]
    lines = []
    for area in result.get("area_results") or []:
        metric = area.get("main_metric") or {}
        lines.append(
            (str(area.get("area_name")), str(metric.get("name")), str(metric.get("value")))
        )
        subs = area.get("sub_metrics")
        if isinstance(subs, list):
            lines += [("", f"  {s.get('name')}", str(s.get("value"))) for s in subs]
        elif isinstance(subs, dict):
            lines += [("", f"  {name}", str(value)) for name, value in subs.items()]
    if lines:
        return lines
    if "detection_params" in result:
        detected = (result.get("detection_params") or {}).get("face_detected")
        return [("face", "Face detected", "yes" if detected else "no")]
    return [("-", "(masks only)", "")]


def _metrics_section(report: FPDF, rows: Sequence[Doc]) -> None:
    report.set_font("Helvetica", "B", 13)
    report.cell(0, 9, "Metrics", new_x="LMARGIN", new_y="NEXT")
    for row in rows:
        report.set_font("Helvetica", "B", 10)
        report.cell(
            0, 6, _latin1(row.get("algorithm_family_tech_name")), new_x="LMARGIN", new_y="NEXT"
        )
        report.set_font("Helvetica", "", 9)
        for area, metric, value in _metric_lines(row):
            report.cell(40, 5, _latin1(area))
            report.cell(90, 5, _latin1(metric))
            report.cell(0, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")


def _history_section(report: FPDF, history: Sequence[tuple[str, dict[str, float]]]) -> None:
    report.add_page()
    report.set_font("Helvetica", "B", 13)
    report.cell(0, 9, "History of the subject (face main metrics)", new_x="LMARGIN", new_y="NEXT")
    families = sorted({family for _, values in history for family in values})
    for start in range(0, len(families), _HISTORY_COLUMNS):
        columns = families[start : start + _HISTORY_COLUMNS]
        report.set_font("Helvetica", "B", 7)
        report.cell(34, 6, "image time", border=1)
        for family in columns:
            report.cell(26, 6, _latin1(family.split(".")[-1][:18]), border=1)
        report.ln()
        report.set_font("Helvetica", "", 8)
        for taken, values in history:
            report.cell(34, 5, _latin1(taken), border=1)
            for family in columns:
                value = values.get(family)
                report.cell(26, 5, "" if value is None else f"{value:g}", border=1)
            report.ln()
        report.ln(4)


def image_report(
    *, subject: Doc, image: Doc, rows: Sequence[Doc], history: Sequence[tuple[str, dict[str, Any]]]
) -> bytes:
    """A PDF (bytes) with the image's metrics and the subject's history."""
    from fpdf import FPDF  # imported here: fpdf takes over a second to import

    report = FPDF(format="A4")
    report.set_title("Skin analysis report")
    report.add_page()
    report.set_font("Helvetica", "B", 16)
    report.cell(0, 10, "Skin analysis report", new_x="LMARGIN", new_y="NEXT")
    report.set_font("Helvetica", "", 10)
    facts = [
        ("Subject", subject["name"]),
        ("Image", image["id"]),
        ("Taken", image["creation_time"]),
        ("Size", f"{image['width']} x {image['height']} {image['image_format']}"),
        ("Algorithms finished", str(len(rows))),
    ]
    for label, value in facts:
        report.cell(45, 6, label)
        report.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    report.ln(3)
    _metrics_section(report, rows)
    _history_section(report, history)
    return bytes(report.output())
