"""One hautflow ingest run in a process of its own, reporting its time, stages and memory.

``python -m bench.ingest_run '<IngestOptions as JSON>'`` prints one JSON object. Run as a child
of the benchmark so that its peak resident set (``ru_maxrss``) is this run's alone. The client's
request rate and concurrency come from ``HAUT_REQUESTS_PER_SECOND`` / ``HAUT_MAX_CONCURRENCY``
set by the parent.

Prefect's temporary server is started first by a trivial flow and timed apart (``prefect_start``):
it is a fixed cost per process, not a cost per photo. So is the run's report, drawn once the
run's data is in the lake (``report_seconds``; ``seconds`` ends before it). Stages are timed
by wrapping the flow's plain functions; chunks overlap (several in flight), so a stage's
seconds are summed over chunks and may exceed the wall time ("wait for results" is each
chunk's wait from the end of its upload until its last image is settled).
"""

from __future__ import annotations

import asyncio
import functools
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from prefect import flow

import flows.ingest
import tasks.lake.store
import tasks.lake.writer
import tasks.waiting.session
from flows.options import IngestOptions

R = TypeVar("R")
stage_seconds: defaultdict[str, float] = defaultdict(float)


def _timed(stage: str, function: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> R:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            stage_seconds[stage] += time.perf_counter() - started

    return timed


def _timed_async(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            stage_seconds[stage] += time.perf_counter() - started

    return timed


in_the_lake: float | None = None
"""When the run's data, manifest and views were in the lake (the end of ``flows.ingest._run``);
the run's report (warnings, skin-diary plots, Prefect artifacts) is drawn after it."""


def _until_in_the_lake(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        global in_the_lake
        try:
            return await function(*args, **kwargs)
        finally:
            in_the_lake = time.perf_counter()

    return timed


def _instrument() -> None:
    flows.ingest._run = _until_in_the_lake(flows.ingest._run)
    session = tasks.waiting.session.WaitSession
    session.settled = _timed_async("wait for results", session.settled)  # type: ignore[method-assign]
    flows.ingest.discover = _timed("discover", flows.ingest.discover)
    flows.ingest.plan = _timed("plan", flows.ingest.plan)
    flows.ingest.upload_captures = _timed_async("upload", flows.ingest.upload_captures)
    tasks.lake.writer.flatten_image = _timed("flatten", tasks.lake.writer.flatten_image)
    tasks.lake.store.Lake.write = _timed("write parquet", tasks.lake.store.Lake.write)  # type: ignore[method-assign]
    flows.ingest.create_views = _timed("views", flows.ingest.create_views)


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


@flow(name="bench-warm-up")
async def warm_up() -> None:
    """Nothing: running it starts Prefect's temporary server for the run that follows."""


def main(options_json: str) -> dict[str, Any]:
    options = IngestOptions.model_validate_json(options_json)
    started = time.perf_counter()
    asyncio.run(warm_up())
    prefect_start = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_SELF)
    _instrument()
    started = time.perf_counter()
    summary = asyncio.run(flows.ingest.ingest(options))
    wall_seconds = time.perf_counter() - started
    seconds = (in_the_lake or time.perf_counter()) - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    record = summary.record
    return {
        "seconds": seconds,
        "report_seconds": wall_seconds - seconds,
        "wall_seconds": wall_seconds,
        "prefect_start_seconds": prefect_start,
        "cpu_seconds": _cpu(after) - _cpu(before),
        "max_rss_kib": after.ru_maxrss,
        "max_rss_before_kib": before.ru_maxrss,
        "stages": dict(stage_seconds),
        "status": record.status,
        "captures": record.captures_new,
        "images_uploaded": record.images_uploaded,
        "images_complete": record.images_complete,
        "images_failed": record.images_failed,
        "images_pending": record.images_pending,
        "rows_written": record.rows_written,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1])) + "\n")
