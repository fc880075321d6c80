"""The benchmark's figures as Markdown tables, printed and written into BENCHMARKS.md.

BENCHMARKS.md holds prose written by people around blocks the benchmark owns, one per
measurement (``throughput``, ``memory``) between ``<!-- bench:NAME:begin -->`` and
``<!-- bench:NAME:end -->`` comments; ``--write`` replaces only the blocks it measured (or
appends them).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.emulator_process import THROTTLED
from bench.guide_loop import GuideRun
from bench.ideal import Ideal
from bench.photos import CaptureSet
from bench.runs import IngestRun, ServiceSettings

REQUEST_KINDS = (
    "image upload",
    "results read",
    "aux read",
    "batch create",
    "subject create",
    "subject lookup",
    "login",
    "other",
    THROTTLED,
)
STAGES = ("discover", "upload", "wait for results", "flatten", "write parquet", "views")


@dataclass(frozen=True)
class Throughput:
    """The three ways side by side, measured in one run."""

    command: str
    service: ServiceSettings
    captures: CaptureSet
    ideal: Ideal
    guide: GuideRun
    guide_requests: dict[str, Any]
    hautflow: IngestRun


@dataclass(frozen=True)
class MemoryPoint:
    captures: CaptureSet
    run: IngestRun
    service: ServiceSettings


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def throughput_lines(t: Throughput) -> list[str]:
    s, ideal, guide, flow = t.service, t.ideal, t.guide, t.hautflow
    guide_rate = guide.images / guide.seconds
    flow_rate = flow.images / flow.seconds
    flow_requests = sum(v for k, v in flow.requests.items() if k != THROTTLED)
    rows = [
        ("(a) ideal at the rate limit", ideal.images, f"{ideal.seconds:.1f}",
         f"{ideal.images_per_second:.2f}", "100%", ideal.requests),
        (f"(b) guide's loop ({guide.captures} captures)", guide.images, f"{guide.seconds:.1f}",
         f"{guide_rate:.2f}", f"{guide_rate / ideal.images_per_second:.0%}", guide.requests),
        ("hautflow ingest", flow.images, f"{flow.seconds:.1f}", f"{flow_rate:.2f}",
         f"{flow_rate / ideal.images_per_second:.0%}", flow_requests),
    ]  # fmt: skip
    return [
        f"Service: {s.latency * 1000:.0f} ms added per request, {s.rate_limit:g} requests/s "
        f"per company, algorithms finish {s.algorithm_delay:g} s x their delay factor after "
        f"upload (the last at ~{0.95 * s.algorithm_delay:.1f} s). {t.captures.captures} "
        f"captures ({t.captures.triples} triples, the rest single fronts) of "
        f"{t.captures.subjects} subjects: {t.captures.images} images.",
        "",
        *_table(("way", "images", "seconds", "images/s", "share of ideal", "requests"), rows),
        "",
        f"hautflow is **{flow_rate / guide_rate:.1f}x** the guide's loop and "
        f"**{flow_rate / ideal.images_per_second:.0%}** of the ideal (run status "
        f"`{flow.report['status']}`, {flow.report['images_pending']} pending, "
        f"{flow.report['images_failed']} failed).",
    ]


def requests_lines(t: Throughput) -> list[str]:
    per_image = t.hautflow.images or 1
    guide_images = t.guide.images or 1
    rows = [
        (kind, t.hautflow.requests.get(kind, 0),
         f"{t.hautflow.requests.get(kind, 0) / per_image:.2f}",
         f"{t.guide_requests.get('requests', {}).get(kind, 0) / guide_images:.2f}")
        for kind in REQUEST_KINDS
    ]  # fmt: skip
    return _table(("request", "hautflow", "hautflow per image", "guide per image"), rows)


def time_lines(t: Throughput) -> list[str]:
    report, emulator = t.hautflow.report, t.hautflow.emulator
    rows: list[tuple[str, str]] = [
        (f"stage: {stage}", f"{report['stages'].get(stage, 0.0):.1f}") for stage in STAGES
    ]
    rows += [
        ("ingest time (until its data, manifest and views are in the lake)",
         f"{t.hautflow.seconds:.1f}"),
        ("run report after it: warnings, skin-diary plots, Prefect artifacts (not in the "
         "ingest time)", f"{report.get('report_seconds', 0.0):.1f}"),
        ("pipeline process CPU", f"{report['cpu_seconds']:.1f}"),
        ("emulator process CPU (whole run)", f"{emulator.get('cpu_seconds', 0.0):.1f}"),
        ("Prefect temporary server start (not in the ingest time)",
         f"{report['prefect_start_seconds']:.1f}"),
    ]  # fmt: skip
    return _table(("where the time went", "seconds"), rows)


def memory_lines(points: Sequence[MemoryPoint], service: ServiceSettings) -> list[str]:
    rows = [
        (p.captures.captures, p.captures.images, f"{p.run.seconds:.0f}",
         f"{p.run.images / p.run.seconds:.1f}", f"{p.run.report['max_rss_before_kib'] / 1024:.0f}",
         f"{p.run.report['max_rss_kib'] / 1024:.0f}", p.run.report["rows_written"],
         f"{p.run.report['cpu_seconds']:.0f}",
         f"{1000 * p.run.report['cpu_seconds'] / max(1, p.run.images):.0f}",
         f"{p.run.emulator.get('cpu_seconds', 0.0):.0f}",
         f"{1000 * p.run.emulator.get('cpu_seconds', 0.0) / max(1, p.run.images):.0f}")
        for p in points
    ]  # fmt: skip
    header = (
        "captures", "images", "ingest s", "images/s", "RSS before MiB", "peak RSS MiB",
        "rows written", "pipeline CPU s", "ms/image", "emulator CPU s", "ms/image",
    )  # fmt: skip
    return [
        f"Service: {service.latency * 1000:.0f} ms per request, no rate limit, results at "
        f"once (algorithm delay {service.algorithm_delay:g}), analysis reused per picture; "
        f"client concurrency {service.client_concurrency}.",
        "",
        *_table(header, rows),
    ]


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"


def _heading(command: str) -> list[str]:
    return [
        f"Command: `{command}`  ",
        f"Machine: {machine()}; run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]


def throughput_block(t: Throughput) -> str:
    begin, end = _markers("throughput")
    lines = [begin, *_heading(t.command), *throughput_lines(t), ""]
    lines += ["Requests made, by kind:", "", *requests_lines(t), ""]
    lines += [*time_lines(t), end]
    return "\n".join(lines)


def memory_block(points: Sequence[MemoryPoint], command: str) -> str:
    begin, end = _markers("memory")
    lines = [begin, *_heading(command), *memory_lines(points, points[0].service), end]
    return "\n".join(lines)


def write_block(path: Path, text: str) -> None:
    """Replace the block named by ``text``'s first line in ``path`` (append it if missing)."""
    begin = text.split("\n", 1)[0]
    end = begin.replace(":begin -->", ":end -->")
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        path.write_text(head + text + rest.split(end, 1)[1])
    else:
        path.write_text(current.rstrip("\n") + "\n\n" + text + "\n")
