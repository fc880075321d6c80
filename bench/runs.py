"""The benchmark's runs: the guide's loop and hautflow's ingest, each against a fresh emulator.

Every run gets an emulator process of its own (same latency, rate limit and algorithm delay
for the throughput runs), so no run inherits another's state or request budget. hautflow's
ingest runs in a child process (:mod:`bench.ingest_run`) so its peak memory is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.emulator_process import EmulatorProcess
from bench.guide_loop import GuideRun, run_guide
from bench.photos import CaptureSet
from flows.options import IngestOptions
from haut.emulator.config import EmulatorConfig, FaultConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
INGEST_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class ServiceSettings:
    """The emulated service a run talks to, and how hard the client may push it."""

    latency: float
    rate_limit: float  # requests per second, 0: none
    algorithm_delay: float
    client_concurrency: int = 8
    reuse_analysis: bool = False

    def emulator_config(self) -> EmulatorConfig:
        return EmulatorConfig(
            algorithm_delay_seconds=self.algorithm_delay,
            rate_limit_per_second=self.rate_limit,
            faults=FaultConfig(latency_seconds=self.latency),
        )


@dataclass
class IngestRun:
    """hautflow's run (from :mod:`bench.ingest_run`) and what the emulator saw of it."""

    report: dict[str, Any]
    emulator: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(self.report["seconds"])

    @property
    def images(self) -> int:
        return int(self.report["images_complete"])

    @property
    def requests(self) -> dict[str, int]:
        counts: dict[str, int] = self.emulator.get("requests", {})
        return counts


def guide_run(
    service: ServiceSettings, captures: CaptureSet, count: int
) -> tuple[GuideRun, dict[str, Any]]:
    """The guide's loop over the first ``count`` captures; with the emulator's counts."""
    with EmulatorProcess(service.emulator_config()) as emulator:
        run = run_guide(emulator.url, captures.root, captures=count)
        return run, emulator.stats()


def _child_environment(service: ServiceSettings, prefect_home: Path) -> dict[str, str]:
    # No HAUT_* of the caller's (credentials, URL) reaches the run: it talks to our emulator.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HAUT_")}
    environment.update(
        HAUT_REQUESTS_PER_SECOND=str(service.rate_limit),
        HAUT_MAX_CONCURRENCY=str(service.client_concurrency),
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # A fresh PREFECT_HOME migrates its database first: on a busy 2-core machine that
        # outlasts the default 20 s.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return environment


def ingest_run(
    service: ServiceSettings, captures: CaptureSet, workdir: Path, **options: Any
) -> IngestRun:
    """hautflow's ingest of every capture, in a child process, against a fresh emulator."""
    workdir.mkdir(parents=True, exist_ok=True)
    with EmulatorProcess(service.emulator_config(), reuse_analysis=service.reuse_analysis) as emu:
        ingest_options = IngestOptions(
            source=str(captures.root),
            lake=str(workdir / "lake"),
            state_dir=str(workdir / "state"),
            api_url=emu.url,
            **options,
        )
        child = subprocess.run(
            [sys.executable, "-m", "bench.ingest_run", ingest_options.model_dump_json()],
            env=_child_environment(service, workdir.parent / "prefect-home"),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=INGEST_TIMEOUT_SECONDS,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"the ingest run failed:\n{child.stderr[-4000:]}")
        report = json.loads(child.stdout.strip().splitlines()[-1])
        return IngestRun(report=report, emulator=emu.stats())
