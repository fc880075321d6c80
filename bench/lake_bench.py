"""The lake's read side at analyst scale: whole-lake questions, smoothing, one subject, compaction.

``python -m bench.lake_bench [--rows 10000000] [--small-rows 1000000] [--write BENCHMARKS.md]``.

**The lake** is built without the API in well under a minute: the real captured FSM 2.0 answer
(``tests/fixtures/fsm2_image_results.json``) is flattened by hautflow's own code into one image's
rows (183 metric rows, 17 results, 50 masks), and DuckDB replicates them over a grid of subjects
x weekly sessions x sides (20 sessions each; every third a front/right/left triple, the others a
front alone; first sessions spread over half a year). Every id, subject key, session, side,
capture time and month is rewritten per image, each bad-to-good face score moves by -10..+10
(a hash of image and metric) so smoothing has something to smooth, and the rows are written as
the lake writes them: the tables' own Arrow schemas, one ``part-<token>-<n>.parquet`` set per
monthly partition, sorted by subject and time, files of up to 128 MB. Only ``results.raw_json``
is left null on the replicas (113 KB of JSON per image, 6 GB at 10 M rows, which no measured
query reads).

**Each figure** is taken in a child process of its own (so one query's memory is not another's),
through the views file (``tasks.lake.create_views``) as an analyst opens it; whole-lake
questions are also run as the same SQL on the raw files (``read_parquet`` of the table's folder)
in the same run, so the ratio is of one moment of the machine. Seconds are the best of three
runs (one for the whole-lake smoothing), peak RSS is the child's ``VmHWM``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from bench.flatten_bench import FIXTURE, _image
from bench.report import _heading, _markers, _table, write_block
from schemas.api_results import decode_result_rows
from schemas.lake import TABLES, TableSpec
from tasks.lake.flatten import flatten_image
from tasks.lake.merge import ROW_GROUP_ROWS, sort_columns, write_rolling

COMMAND = "python -m bench.lake_bench --write BENCHMARKS.md"
SESSIONS = 20
"""Weekly sessions per subject; every third is a front/right/left triple."""
IMAGES_PER_SUBJECT = SESSIONS + 2 * math.ceil(SESSIONS / 3)
SUBJECT = "subject-00007"
"""The one subject of the one-subject figures."""

# Every replica's ids and capture facts, one row per image: s (subject), k (session), side.
_GRID_SQL = f"""
CREATE TABLE grid AS
WITH images AS (
  SELECT s, k, side, side_id,
         TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_days(CAST((s * 7919) % 180 + 7 * k AS INTEGER))
           + to_minutes(CAST(s % 600 AS BIGINT)) + to_seconds(CAST(10 * (side_id - 1) AS BIGINT))
           AS captured_at
  FROM range($subjects) AS a(s), range({SESSIONS}) AS b(k),
       (VALUES ('front', 1), ('right', 2), ('left', 3)) AS c(side, side_id)
  WHERE side = 'front' OR k % 3 = 0
)
SELECT s, k, side, side_id, captured_at,
       printf('subject-%05d', s) AS subject_key,
       CAST(CAST(md5('subject:' || s) AS UUID) AS VARCHAR) AS subject_id,
       strftime(captured_at, '%Y-%m-%d') AS session_key,
       strftime(captured_at, '%Y-%m') AS capture_month,
       CAST(CAST(md5('batch:' || s || ':' || k) AS UUID) AS VARCHAR) AS batch_id,
       md5('capture:' || s || ':' || k) AS capture_id,
       CAST(CAST(md5('image:' || s || ':' || k || ':' || side) AS UUID) AS VARCHAR) AS image_id,
       'image:' || s || ':' || k || ':' || side AS image_key,
       captured_at + INTERVAL 1 DAY AS uploaded_at,
       printf('/photos/subject-%05d/%s/%s.jpg', s, strftime(captured_at, '%Y-%m-%d'), side)
         AS source_uri,
       md5('sha:' || s || ':' || k || side) || md5('sha2:' || s || ':' || k || side) AS sha256,
       md5('capture:' || s || ':' || k) || '-' || side || '.jpg' AS upload_name
FROM images
"""  # noqa: S608 (our own constants)

_FROM_GRID = (
    "subject_id",
    "subject_key",
    "session_key",
    "side",
    "captured_at",
    "batch_id",
    "capture_id",
    "image_id",
    "uploaded_at",
    "source_uri",
    "sha256",
    "upload_name",
)


def _column_sql(table: str, spec: TableSpec, column: str) -> str:
    """How one column of a replica is made from the seed row ``t`` and the grid row ``g``."""
    if column in _FROM_GRID:
        return f"g.{column}"
    if column == "side_id" and table == "images":
        return "g.side_id"
    if column == "result_id":
        return "CAST(CAST(md5(t.result_id || g.image_key) AS UUID) AS VARCHAR)"
    if column == spec.id_column:  # metric_id, mask_id: 32 hex digits, as hautflow makes them
        return f"md5(t.{column} || g.image_key)"
    if column == "value" and table == "metrics":
        return (
            "CASE WHEN t.widget_type = 'bad_good_line' AND t.value IS NOT NULL THEN "
            "greatest(0.0, least(100.0, t.value + CAST(hash(g.image_key, t.tech_name) % 21 "
            "AS INTEGER) - 10)) ELSE t.value END"
        )
    if column == "raw_json":
        return "NULL"
    if column == "computed_at":
        return "g.uploaded_at + INTERVAL 1 MINUTE"
    if column == "run_id":
        return "'bench-lake'"
    if column == "written_at":
        return "$written_at"
    return f"t.{column}"


def _replica_sql(table: str, spec: TableSpec) -> str:
    columns = ", ".join(
        f'{_column_sql(table, spec, f.name)} AS "{f.name}"' for f in spec.file_schema
    )
    order = ", ".join(f'"{name}"' for name in sort_columns(spec))
    if table == "subjects":
        grid = "(SELECT DISTINCT subject_id, subject_key FROM grid)"
    elif table == "batches":
        grid = "(FROM grid WHERE side = 'front' AND capture_month = $month)"
    else:
        grid = "(FROM grid WHERE capture_month = $month)"
    return f"SELECT {columns} FROM seed_{table} AS t CROSS JOIN {grid} AS g ORDER BY {order}"  # noqa: S608


@dataclass(frozen=True)
class Built:
    path: Path
    subjects: int
    images: int
    metrics: int
    files: int
    megabytes: float
    seconds: float


def build_lake(path: Path, rows: int) -> Built:
    """A lake of about ``rows`` metric rows at ``path`` (replaced)."""
    started = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    seed = flatten_image(
        _image(0), decode_result_rows(FIXTURE.read_bytes()), [], run_id="seed", status="complete"
    ).tables()
    per_image = seed["metrics"].num_rows
    subjects = max(1, math.ceil(rows / (per_image * IMAGES_PER_SUBJECT)))
    files = 0
    with tempfile.TemporaryDirectory(prefix="hautflow-lake-bench-") as spill:
        con = duckdb.connect(config={"memory_limit": "4GB", "temp_directory": spill})
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(_GRID_SQL, {"subjects": subjects})
            months = [m for (m,) in con.sql("SELECT DISTINCT capture_month FROM grid").fetchall()]
            written_at = datetime.now(UTC)
            for name, table in seed.items():
                if table.num_rows == 0:
                    continue
                con.register(f"seed_{name}", table)
                spec = TABLES[name]
                folders = [f"capture_month={m}" for m in months] if spec.partition_by else [""]
                for folder in folders:
                    params: dict[str, Any] = {"written_at": written_at}
                    if folder:
                        params["month"] = folder.split("=", 1)[1]
                    reader = con.sql(_replica_sql(name, spec), params=params).to_arrow_reader(
                        ROW_GROUP_ROWS
                    )
                    files += write_rolling(reader, spec.file_schema, _opener(path / name / folder))[
                        1
                    ]
            ((images,),) = con.sql("SELECT count(*) FROM grid").fetchall()
        finally:
            con.close()
    size = sum(f.stat().st_size for f in path.rglob("*.parquet")) / 2**20
    return Built(
        path,
        subjects,
        int(images),
        int(images) * per_image,
        files,
        size,
        time.perf_counter() - started,
    )


def _opener(folder: Path) -> Callable[[int], IO[bytes]]:
    token = uuid.uuid4().hex[:16]

    def open_target(n: int) -> IO[bytes]:
        folder.mkdir(parents=True, exist_ok=True)
        return (folder / f"part-{token}-{n}.parquet").open("wb")

    return open_target


# --- the questions ---------------------------------------------------------------------------

_RAW = "read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = true)"

WHOLE_LAKE = {
    "count(*) of metrics": "SELECT count(*) FROM {metrics}",
    "weekly mean of redness, all subjects": (
        "SELECT date_trunc('week', captured_at) AS week, avg(value) AS redness, "
        "count(DISTINCT subject_key) AS subjects FROM {metrics} "
        "WHERE algorithm = 'redness' AND kind = 'main' AND area_name = 'face' "
        "GROUP BY week ORDER BY week"
    ),
    "distribution of every metric": (
        "SELECT algorithm, tech_name, count(*) AS n, avg(value) AS mean, "
        "quantile_cont(value, [0.05, 0.5, 0.95]) AS quantiles FROM {metrics} "
        "WHERE value IS NOT NULL GROUP BY algorithm, tech_name ORDER BY algorithm, tech_name"
    ),
}

SMOOTHING_ALL = (
    "SELECT count(*), sum(mean), sum(mean_without_outliers), sum(linear_approximation) "
    "FROM smoothing_all(NULL, 14, 10)"
)

ONE_SUBJECT = {
    "history (skin diary)": "history",
    "wide metrics": f"FROM image_metrics_wide_of('{SUBJECT}')",
    "smoothing points": f"FROM smoothing_points_of('{SUBJECT}')",
    "smoothing, three methods": f"FROM smoothing_all('{SUBJECT}', 14, 10)",
}


def _child(arguments: list[str]) -> dict[str, Any]:
    """Run this module in a child process with ``arguments``; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.lake_bench", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench child {arguments} failed:\n{done.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _peak_mib() -> float:
    """This process's peak RSS: ``VmHWM``, which starts afresh at exec (Linux's ``ru_maxrss``
    carries the forking parent's peak into the child)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time_query(views: str, lake: str, sql: str, repeats: int) -> dict[str, Any]:
    """(child) The query's best wall seconds over ``repeats``, its rows and the peak RSS."""
    from tasks.lake.query import subject_history

    con = duckdb.connect(views, read_only=True)
    best, rows, first = float("inf"), 0, None
    before = _peak_mib()
    for _ in range(repeats):
        started = time.perf_counter()
        if sql == "history":
            rows = len(subject_history(con, SUBJECT))
        else:
            found = con.sql(sql.format(metrics=_RAW.format(lake=lake, table="metrics"))).fetchall()
            rows, first = len(found), found[0][0] if found else None
        best = min(best, time.perf_counter() - started)
    con.close()
    return {
        "seconds": best,
        "rows": rows,
        "first": first,
        "peak_mib": _peak_mib(),
        "before_mib": before,
    }


def _publish_delta(lake: str) -> dict[str, Any]:
    """(child) Stage a newer copy of 1,000 rows of the largest metrics partition and publish:
    the partition is merged whole, as a run's publish does."""
    from tasks.lake import Lake

    store = Lake(lake)
    folders: dict[str, int] = {}
    for path in store.files("metrics"):
        folder = os.path.dirname(path)
        folders[folder] = folders.get(folder, 0) + os.path.getsize(path)
    largest = max(folders, key=folders.__getitem__)
    staging = Path(lake) / "_staging" / "metrics" / os.path.basename(largest)
    staging.mkdir(parents=True, exist_ok=True)
    duckdb.sql(
        f"COPY (SELECT * REPLACE (now() AS written_at) FROM read_parquet('{largest}/*.parquet') "  # noqa: S608
        f"LIMIT 1000) TO '{staging}/delta.parquet' (FORMAT parquet)"
    )
    (rows,) = duckdb.execute(f"SELECT count(*) FROM '{largest}/*.parquet'").fetchone() or (0,)  # noqa: S608
    before = _peak_mib()
    started = time.perf_counter()
    report = store.publish(["metrics"])
    return {
        "seconds": time.perf_counter() - started,
        "partition_rows": int(rows),
        "rows_after": report.rows_after,
        "files_after": report.files_after,
        "file_mib": max(os.path.getsize(p) for p in store.files("metrics")) / 2**20,
        "peak_mib": _peak_mib(),
        "before_mib": before,
    }


def _history_command(lake: Path) -> float:
    """Wall seconds of ``hautflow history SUBJECT --lake LAKE`` from a fresh process."""
    hautflow = Path(sys.executable).with_name("hautflow")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [str(hautflow), "history", SUBJECT, "--lake", str(lake)],
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - started)
    return best


@dataclass
class LakeFigures:
    built: Built
    whole: dict[str, tuple[dict[str, Any], dict[str, Any]]]  # (views, raw)
    smoothing: dict[str, Any]
    one: dict[str, dict[str, Any]]
    history_command_s: float
    publish: dict[str, Any]


def measure(built: Built, *, full: bool) -> LakeFigures:
    from tasks.lake import create_views

    lake = str(built.path)
    views = str(built.path.parent / f"{built.path.name}.duckdb")
    create_views(lake, Path(views))
    whole: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    one: dict[str, dict[str, Any]] = {}
    if full:
        for name, sql in WHOLE_LAKE.items():
            through_views = _child(["--query", sql.replace("{metrics}", "metrics"), views, lake])
            raw = _child(["--query", sql, views, lake])
            whole[name] = (through_views, raw)
        for name, sql in ONE_SUBJECT.items():
            one[name] = _child(["--query", sql, views, lake])
    smoothing = _child(["--query", SMOOTHING_ALL, views, lake, "--repeats", "1"])
    history_s = _history_command(built.path) if full else float("nan")
    publish = _child(["--publish", lake]) if full else {}
    return LakeFigures(built, whole, smoothing, one, history_s, publish)


def block(big: LakeFigures, small: LakeFigures) -> str:
    begin, end = _markers("lake")
    b = big.built
    lines = [begin, *_heading(COMMAND)]
    lines += [
        f"The lake: {b.subjects:,} subjects, {b.images:,} images, {b.metrics:,} metric rows, "
        f"{b.files} files, {b.megabytes:,.0f} MB; built in {b.seconds:.1f} s "
        f"(the {small.built.metrics:,}-row lake in {small.built.seconds:.1f} s).",
        "",
        "Whole-lake questions, through the views and as the same SQL on the raw files:",
        "",
    ]
    rows = [
        [
            name,
            f"{views['seconds'] * 1000:.0f}",
            f"{raw['seconds'] * 1000:.0f}",
            f"{views['seconds'] / raw['seconds']:.2f}x",
            f"{views['peak_mib']:.0f}",
        ]
        for name, (views, raw) in big.whole.items()
    ]
    lines += _table(["question", "views ms", "raw ms", "views / raw", "peak RSS MiB"], rows)
    s_big, s_small = big.smoothing, small.smoothing
    growth = (s_big["seconds"] / s_small["seconds"]) / (b.metrics / small.built.metrics)
    lines += [
        "",
        "`smoothing_all(NULL, 14, 10)` (every subject, all three methods, window and max size "
        "as the API's defaults):",
        "",
        *_table(
            ["lake", "smoothed values", "seconds", "peak RSS MiB"],
            [
                [
                    f"{f.built.metrics:,} rows",
                    f"{f.smoothing['first']:,}",
                    f"{f.smoothing['seconds']:.2f}",
                    f"{f.smoothing['peak_mib']:.0f}",
                ]
                for f in (small, big)
            ],
        ),
        "",
        f"Time per row at {b.metrics / 1e6:.0f} M over {small.built.metrics / 1e6:.0f} M: "
        f"{growth:.2f}x (1.00x is linear).",
        "",
        f"One subject ({SUBJECT}: {IMAGES_PER_SUBJECT} images), query only:",
        "",
        *_table(
            ["query", "ms"],
            [[name, f"{figure['seconds'] * 1000:.1f}"] for name, figure in big.one.items()],
        ),
        "",
        f"`hautflow history {SUBJECT} --lake LAKE`, the whole command from a fresh process: "
        f"{big.history_command_s:.2f} s.",
        "",
        f"Publish of a run's delta (1,000 rows staged into the largest metrics partition, "
        f"{big.publish['partition_rows']:,} rows, merged whole): {big.publish['seconds']:.1f} s, "
        f"peak RSS {big.publish['peak_mib']:.0f} MiB (before it {big.publish['before_mib']:.0f}), "
        f"{big.publish['files_after']} file(s), the largest {big.publish['file_mib']:.0f} MB.",
        end,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="metric rows of the lake")
    parser.add_argument(
        "--small-rows", type=int, default=1_000_000, help="metric rows of the lake to compare"
    )
    parser.add_argument("--root", type=Path, help="where the lakes go (default: a temporary dir)")
    parser.add_argument("--write", type=Path, help="replace the lake block of this file")
    parser.add_argument(
        "--query", nargs=3, metavar=("SQL", "VIEWS", "LAKE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--publish", metavar="LAKE", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.query:
        sql, views, lake = arguments.query
        print(json.dumps(_time_query(views, lake, sql, arguments.repeats), default=str))
        return
    if arguments.publish:
        print(json.dumps(_publish_delta(arguments.publish)))
        return
    root = arguments.root or Path(tempfile.mkdtemp(prefix="hautflow-lake-bench-"))
    try:
        small = measure(build_lake(root / "lake-small", arguments.small_rows), full=False)
        big = measure(build_lake(root / "lake", arguments.rows), full=True)
    finally:
        if arguments.root is None:
            shutil.rmtree(root, ignore_errors=True)
    text = block(big, small)
    print(text)
    if arguments.write:
        write_block(arguments.write, text)


if __name__ == "__main__":
    main()
