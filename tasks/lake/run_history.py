"""Runs that died: the manifest rows of runs killed or crashed before they could finish.

A run writes its ``runs`` row when it starts ("running") and again when it ends, whatever the
outcome; a run killed by a signal, or a machine that went down, leaves only the first. The
ledger knows which runs held its run lock and never ended (:attr:`Ledger.unfinished_runs`);
the next run that takes the lock writes their row once more with the status ``died``, so no
run stays "running" for ever. Their work is not lost: the ledger resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow.compute as pc
import pyarrow.dataset as ds

from schemas.lake import table_spec
from tasks.lake.rows import LakeRows, run_date
from tasks.lake.store import Lake, newest_per_id

DIED = "died"
DIED_ERROR = (
    "the run stopped without finishing (killed, or the machine or process went down); what it "
    "did is in the ledger, and later runs resume the rest"
)
_UNFINISHED = ("running", "planned")


def record_died_runs(lake: Lake, run_ids: Sequence[str]) -> list[str]:
    """Write a ``died`` row for each of these runs still "running" in the lake; their ids."""
    files = lake.files("runs")
    if not run_ids or not files:
        return []
    spec = table_spec("runs")
    table = ds.dataset(files, filesystem=lake.fs, format="parquet", schema=spec.schema).to_table(
        filter=pc.field("run_id").isin(list(run_ids))
    )
    rows = LakeRows()
    died = []
    for row in newest_per_id(table, "run_id").to_pylist():
        if row["status"] in _UNFINISHED:
            # Read from the files alone, the row lacks its partition value (in the path).
            row.update(status=DIED, error=DIED_ERROR, run_date=run_date(row["started_at"]))
            rows.add("runs", row)
            died.append(row["run_id"])
    if died:
        lake.write(rows, run_id=died[0])
    return sorted(died)
