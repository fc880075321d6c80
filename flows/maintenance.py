"""Lake maintenance as a flow: publish what killed runs staged, merge doubled partitions, and
refresh the views.

Every run publishes its own rows (:meth:`tasks.lake.Lake.publish`), so a healthy lake holds
each id once in few large files and this flow finds little to do. It is the safety net
``prefect.yaml`` schedules weekly: rows a killed run left in ``_staging/`` are published, and a
partition a publish was killed in the middle of (its new files in place, the old ones not yet
deleted) is merged again. It is safe beside a running ingest: publishes of one local lake take
turns, and each writes its new files before deleting the ones it merged, so nothing is lost.

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
    """Publish what is staged in ``lake`` and merge any partition whose files are not of one
    publish (newest row per id; nothing is lost), then rewrite the views file in
    ``state_dir``. ``table``: that table only; None: all."""
    names = [table_spec(table).name] if table else list(TABLES)
    store = Lake(lake)
    report = CompactionReport()
    for name in names:
        report += compact_table(store, name)
    views = refresh_views(lake, state_dir)
    get_run_logger().info("Compacted %s: %s; views in %s", lake, report, views)
    return report
