"""Lake maintenance as a flow: merge the small files runs leave behind, then refresh the views.

Every ingest or backfill run adds a file per table-partition it touches, so a lake fed nightly
grows thousands of small files and every DuckDB scan opens all of them. ``prefect.yaml``
schedules this flow weekly. It is safe beside a running ingest: :meth:`tasks.lake.Lake.compact`
writes each merged file before deleting the ones it merged, and a file written after it listed
a partition is left alone, so nothing is lost and the views (newest row per id) hide the
duplicates a crash in between would leave.

Orchestration only: one task per table, so the Prefect UI shows which table took the time or
failed. Bucket lakes take their credentials from the environment (``AWS_*``, ``GOOGLE_*``), like
the ingest's deployments: flow parameters are recorded by Prefect, so no secret goes in them.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.options import DEFAULT_LAKE, DEFAULT_STATE
from schemas.lake import TABLES, table_spec
from tasks.lake import CompactionReport, Lake, create_views

VIEWS_FILE = "lake.duckdb"
"""The views file in the state folder, as the ingest writes it (``IngestOptions.views_path``)."""


@task(name="compact-table", cache_policy=NO_CACHE)
def compact_table(lake: Lake, table: str) -> CompactionReport:
    return lake.compact(table)


@task(name="refresh-views", cache_policy=NO_CACHE)
def refresh_views(lake: str, state_dir: str) -> Path:
    return create_views(lake, Path(state_dir) / VIEWS_FILE)


@flow(name="compact-lake", log_prints=False)
async def compact_lake(
    lake: str = DEFAULT_LAKE, state_dir: str = DEFAULT_STATE, table: str | None = None
) -> CompactionReport:
    """Merge each partition's files of ``lake`` into one (newest row per id; nothing is lost),
    then rewrite the views file in ``state_dir``. ``table``: that table only; None: all."""
    names = [table_spec(table).name] if table else list(TABLES)
    store = Lake(lake)
    report = CompactionReport()
    for name in names:
        report += compact_table(store, name)
    views = refresh_views(lake, state_dir)
    get_run_logger().info("Compacted %s: %s; views in %s", lake, report, views)
    return report
