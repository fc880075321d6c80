"""What a command costs before it does anything: ``hautflow --help``, what the commands import,
and a no-op rerun of data/sample, with each way of finding a Prefect server.

Run as ``python -m bench.startup [--write BENCHMARKS.md]``. Every command runs as a user would
run it, in a fresh process with a fresh environment: ``PREFECT_HOME`` a new folder, no
``PREFECT_API_URL`` unless the row says so, the lake and state in a temporary folder.

Rows of the no-op rerun (``hautflow ingest data/sample --fail-on failure`` a second time):

- *temporary*: ``HAUTFLOW_PREFECT_SERVER=temporary``, Prefect's per-process server (what every
  run did before hautflow kept a server);
- *first start*: no server configured and none running, so the command starts hautflow's;
- *reuse*: the server the previous command started is running (``make run`` twice);
- *PREFECT_API_URL set*: the user's server (here hautflow's, named by the variable).

``--pythonpath TREE`` runs another checkout's code (e.g. ``git archive`` of an older commit)
with this venv, for a before/after from one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.report import machine, write_block

ROOT = Path(__file__).resolve().parents[1]
HAUTFLOW = Path(sys.executable).parent / "hautflow"
SAMPLE = "data/sample"
NO_FLOW_COMMANDS = (
    ("history", "alice"),
    ("views",),
    ("compact",),
    ("datasets", "list"),
    ("tokens", "list"),
    ("applications", "list"),
    ("docs", "lake", "--check"),
)
IMPORTS = """
import sys
from hautflow.cli import app
for words in [w.split() for w in sys.argv[1:]]:
    try:
        app(words, prog_name="hautflow")
    except SystemExit:
        pass
    print("@@prefect", "prefect" in sys.modules, flush=True)
"""


@dataclass
class Timed:
    seconds: float
    code: int
    stdout: str
    stderr: str


class Bench:
    def __init__(self, workdir: Path, pythonpath: str | None) -> None:
        self.workdir = workdir
        self.pythonpath = pythonpath

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """A fresh shell's environment: no Prefect server configured, a Prefect home of its own."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAUT"))}
        env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env

    def run(self, args: list[str], env: dict[str, str]) -> Timed:
        started = time.perf_counter()
        done = subprocess.run(
            args, env=env, cwd=self.pythonpath or ROOT, capture_output=True, text=True, check=False
        )
        return Timed(time.perf_counter() - started, done.returncode, done.stdout, done.stderr)

    def ingest(self, home: Path, lake: Path, **extra: str) -> Timed:
        words = [str(HAUTFLOW), "ingest", SAMPLE, "--lake", str(lake / "lake")]
        words += ["--state", str(lake / "state"), "--fail-on", "failure"]
        timed = self.run(words, self.env(home, **extra))
        if timed.code != 0:
            raise SystemExit(f"hautflow ingest failed ({timed.code}):\n{timed.stderr[-3000:]}")
        return timed

    def stop_server(self, home: Path) -> None:
        if self.has_server_command():
            self.run([str(HAUTFLOW), "server", "stop"], self.env(home))

    def has_server_command(self) -> bool:
        tree = Path(self.pythonpath) if self.pythonpath else ROOT
        return (tree / "hautflow" / "prefect_server.py").exists()


def help_seconds(bench: Bench, home: Path, repeat: int) -> list[float]:
    return [bench.run([str(HAUTFLOW), "--help"], bench.env(home)).seconds for _ in range(repeat)]


def help_import_seconds(bench: Bench, home: Path) -> tuple[float, int]:
    """``-X importtime`` of ``hautflow --help``: the seconds spent importing, and how many
    modules were imported."""
    done = bench.run(
        [sys.executable, "-X", "importtime", "-m", "hautflow.cli", "--help"], bench.env(home)
    )
    timed = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    selves = [line.split("|")[0].removeprefix("import time:").strip() for line in timed]
    lines = [text for text in selves if text.isdigit()]  # the first line is the header
    total = sum(int(text) for text in lines)  # each module's own microseconds
    return total / 1e6, len(lines)


def _where(command: tuple[str, ...], lake: Path) -> list[str]:
    if command[0] in ("history", "views", "compact"):
        return ["--lake", str(lake / "lake")]
    if command[0] in ("datasets", "tokens", "applications"):
        return ["--state", str(lake / "state")]
    return []


def measure(bench: Bench, repeat: int) -> dict[str, object]:
    root = bench.workdir
    figures: dict[str, object] = {}
    home = root / "home-help"
    figures["help"] = help_seconds(bench, home, repeat)
    figures["help_imports"] = help_import_seconds(bench, home)

    lake, home = root / "sample", root / "home"
    temporary = {"HAUTFLOW_PREFECT_SERVER": "temporary"}
    figures["first_ingest"] = bench.ingest(home, lake, **temporary).seconds
    figures["prefect_by_no_flow_commands"] = _prefect_imports(bench, home, lake)
    figures["noop_temporary"] = bench.ingest(home, lake, **temporary).seconds
    if bench.has_server_command():
        bench.stop_server(home)
        figures["noop_first_start"] = bench.ingest(home, lake).seconds
        figures["noop_reuse"] = bench.ingest(home, lake).seconds
        status = bench.run([str(HAUTFLOW), "server", "status", "--json"], bench.env(home))
        url = json.loads(status.stdout)["url"] if status.code == 0 else None
        if url:
            figures["noop_api_url"] = bench.ingest(home, lake, PREFECT_API_URL=url).seconds
        bench.stop_server(home)
    else:
        figures["noop_reuse"] = bench.ingest(home, lake).seconds  # a temporary server each
    return figures


def _prefect_imports(bench: Bench, home: Path, lake: Path) -> dict[str, bool]:
    """For each command that runs no flow, run one after the other in one fresh interpreter:
    whether Prefect was imported by then."""
    words = [" ".join([*command, *_where(command, lake)]) for command in NO_FLOW_COMMANDS]
    done = bench.run([sys.executable, "-c", IMPORTS, *words], bench.env(home))
    lines = [line for line in done.stdout.splitlines() if line.startswith("@@prefect ")]
    return {
        " ".join(command): line.endswith(" True")
        for command, line in zip(NO_FLOW_COMMANDS, lines, strict=True)
    }


def bytecode() -> str:
    """Whether imports read compiled bytecode: with none, every process compiles what it
    imports (PYTHONDONTWRITEBYTECODE=1 and a venv installed without it)."""
    site = Path(sys.executable).parents[1] / "lib"
    compiled = next(site.glob("python*/site-packages/prefect/__pycache__/*.pyc"), None)
    written = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    return f"site-packages bytecode {'compiled' if compiled else 'not compiled'}, writing {written}"


def block(figures: dict[str, object], command: str) -> str:
    helps = figures["help"]
    assert isinstance(helps, list)
    imports = figures["help_imports"]
    assert isinstance(imports, tuple)
    seconds, modules = imports
    prefect = figures["prefect_by_no_flow_commands"]
    assert isinstance(prefect, dict)
    importing = [name for name, imported in prefect.items() if imported]
    rows = [
        (
            f"`hautflow --help` wall (median of {len(helps)})",
            f"{statistics.median(helps):.2f} s",
            "≤ 1 s",
        ),
        ("`hautflow --help` imports", f"{modules} modules, {seconds:.2f} s", ""),
        (
            "commands that run no flow importing Prefect",
            ", ".join(importing) or f"none of {len(prefect)}",
            "none",
        ),
        (
            "first ingest of data/sample (70 files; Prefect's temporary server)",
            f"{figures['first_ingest']:.1f} s",
            "",
        ),
        (
            "no-op rerun, Prefect's temporary server (`HAUTFLOW_PREFECT_SERVER=temporary`)",
            f"{figures['noop_temporary']:.1f} s",
            "",
        ),
    ]
    if "noop_first_start" in figures:
        rows.append(
            (
                "no-op rerun, no server configured, none running (first start)",
                f"{figures['noop_first_start']:.1f} s",
                "",
            )
        )
    rows.append(
        (
            "no-op rerun, no server configured, hautflow's running (`make run` twice)",
            f"{figures['noop_reuse']:.1f} s",
            "≤ 8 s",
        )
    )
    if "noop_api_url" in figures:
        rows.append(
            (
                "no-op rerun, `PREFECT_API_URL` set to a running server",
                f"{figures['noop_api_url']:.1f} s",
                "≤ 3 s",
            )
        )
    lines = [
        "<!-- bench:startup:begin -->",
        f"Command: `{command}`  ",
        f"Machine: {machine()}; {bytecode()}; load average before the run "
        f"{os.getloadavg()[0]:.1f}; run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC.",
        "",
        "| measured | figure | goal |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "<!-- bench:startup:end -->",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, help="Write the block into this Markdown file.")
    parser.add_argument("--repeat", type=int, default=5, help="Runs of `hautflow --help`.")
    parser.add_argument("--pythonpath", help="Run another checkout's code (its root folder).")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hautflow-bench-startup-"))
    load = os.getloadavg()[0]
    bench = Bench(workdir, args.pythonpath)
    try:
        figures = measure(bench, args.repeat)
    finally:
        for home in workdir.glob("home*"):
            bench.stop_server(home)
        shutil.rmtree(workdir, ignore_errors=True)
    command = "python -m bench.startup" + (f" --write {args.write}" if args.write else "")
    text = block(figures, command).replace(
        f"load average before the run {os.getloadavg()[0]:.1f}",
        f"load average before the run {load:.1f}",
    )
    print(text)
    if args.write:
        write_block(args.write, text)


if __name__ == "__main__":
    main()
