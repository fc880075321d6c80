"""The ingest benchmark: images per second against a realistic emulator, and peak memory.

Usage::

    python -m bench.ingest_bench                          # throughput, 200 captures (~3 min)
    python -m bench.ingest_bench --captures 1000 --write BENCHMARKS.md
    python -m bench.ingest_bench --no-throughput --memory 1000 10000 --write BENCHMARKS.md

Throughput, measured in one run, each way against a fresh emulator process with the same
latency, rate limit and algorithm timing: (a) the ideal the rate limit allows
(:mod:`bench.ideal`), (b) the vendor guide's one-at-a-time loop over the first
``--guide-captures`` captures (:mod:`bench.guide_loop`; it is slow, so it gets a sample), and
hautflow's ingest flow over all of them. Memory: hautflow's ingest of each ``--memory`` size in
a child process, against an emulator with no rate limit and instant results, so a large run
ends in minutes; the figure is the child's peak resident set.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.ideal import ideal
from bench.photos import write_captures
from bench.report import (
    MemoryPoint,
    Throughput,
    memory_block,
    throughput_block,
    write_block,
)
from bench.runs import ServiceSettings, guide_run, ingest_run


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__)
    add = parser.add_argument
    add("--captures", type=int, default=200, help="captures for the throughput runs")
    add("--guide-captures", type=int, default=6, help="captures the guide's loop ingests")
    add("--rate-limit", type=float, default=20.0, help="emulator requests/s per company")
    add("--latency", type=float, default=0.05, help="seconds added to every request")
    add("--algorithm-delay", type=float, default=3.0, help="emulator base processing time")
    add("--chunk-size", type=int, default=50, help="hautflow captures per upload task")
    add("--concurrency", type=int, default=8, help="hautflow captures uploaded at once")
    add("--client-concurrency", type=int, default=8, help="HAUT_MAX_CONCURRENCY")
    add("--memory", type=int, nargs="*", default=[], help="capture counts for memory runs")
    add("--no-throughput", action="store_true", help="skip the throughput runs")
    add("--write", type=Path, help="update this Markdown file's benchmark blocks")
    add("--workdir", type=Path, help="keep photos, lakes and state here (default: temporary)")
    return parser.parse_args(argv)


def _say(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")


def measure_throughput(args: argparse.Namespace, workdir: Path, command: str) -> Throughput:
    service = ServiceSettings(
        latency=args.latency,
        rate_limit=args.rate_limit,
        algorithm_delay=args.algorithm_delay,
        client_concurrency=args.client_concurrency,
    )
    captures = write_captures(workdir / "photos", args.captures)
    _say(f"wrote {captures.captures} captures ({captures.images} images)")
    guide, guide_requests = guide_run(service, captures, min(args.guide_captures, args.captures))
    _say(f"guide's loop: {guide.images} images in {guide.seconds:.1f} s")
    hautflow = ingest_run(
        service,
        captures,
        workdir / "hautflow",
        chunk_size=args.chunk_size,
        concurrency=args.concurrency,
    )
    _say(f"hautflow: {hautflow.images} images in {hautflow.seconds:.1f} s")
    return Throughput(
        command=command,
        service=service,
        captures=captures,
        ideal=ideal(captures, args.rate_limit),
        guide=guide,
        guide_requests=guide_requests,
        hautflow=hautflow,
    )


def measure_memory(args: argparse.Namespace, workdir: Path) -> list[MemoryPoint]:
    service = ServiceSettings(
        latency=args.latency,
        rate_limit=0.0,
        algorithm_delay=0.0,
        client_concurrency=max(args.client_concurrency, 32),
        reuse_analysis=True,
    )
    points = []
    for count in args.memory:
        captures = write_captures(workdir / f"photos-{count}", count)
        _say(f"memory run: {count} captures ({captures.images} images)")
        run = ingest_run(
            service,
            captures,
            workdir / f"memory-{count}",
            chunk_size=args.chunk_size,
            concurrency=max(args.concurrency, 16),
        )
        _say(f"{run.images} images in {run.seconds:.0f} s, peak RSS "
             f"{run.report['max_rss_kib'] / 1024:.0f} MiB")  # fmt: skip
        points.append(MemoryPoint(captures, run, service))
    return points


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    command = "python -m bench.ingest_bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="hautflow-bench-") as scratch:
        workdir = args.workdir or Path(scratch)
        blocks = []
        if not args.no_throughput:
            blocks.append(throughput_block(measure_throughput(args, workdir, command)))
        if args.memory:
            blocks.append(memory_block(measure_memory(args, workdir), command))
    for text in blocks:
        sys.stdout.write(text + "\n\n")
        if args.write is not None:
            write_block(args.write, text)


if __name__ == "__main__":
    main()
