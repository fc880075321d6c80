"""A run killed before it could finish is marked ``died`` by the next run on its ledger; runs
that ended, and runs of a dry run, are not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tasks.lake import Lake, RunRecord, connect, run_rows
from tasks.lake.run_history import DIED, record_died_runs
from tasks.ledger import Ledger


def start(lake: Lake, run_id: str, status: str = "running") -> None:
    record = RunRecord(
        run_id=run_id,
        started_at=datetime(2026, 1, 5, tzinfo=UTC),
        source="photos/",
        status=status,
        images_uploaded=3,
    )
    lake.write(run_rows(record), run_id=run_id)


def test_the_next_holder_of_the_ledger_learns_which_runs_never_ended(tmp_path: Path) -> None:
    ledger = Ledger.sqlite(tmp_path / "ledger.sqlite")
    with ledger.run_lock("ended"):
        pass
    ledger._begin_run("killed")  # what run_lock does first: the process then died
    reopened = Ledger.sqlite(tmp_path / "ledger.sqlite")
    with reopened.run_lock("next"):
        assert reopened.unfinished_runs == ["killed"]
        reopened.forget_runs(reopened.unfinished_runs)
    with reopened.run_lock("after"):
        assert reopened.unfinished_runs == []


def test_a_dead_run_is_marked_died_and_keeps_what_it_had_written(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    start(lake, "killed")
    start(lake, "finished")
    start(lake, "finished", status="completed")
    assert record_died_runs(lake, ["killed", "finished", "never-wrote-a-row"]) == ["killed"]
    con = connect(lake.url)
    rows = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    (uploaded, error) = con.execute(
        "SELECT images_uploaded, error FROM runs WHERE run_id = 'killed'"
    ).fetchone() or (None, None)
    con.close()
    assert rows == {"killed": DIED, "finished": "completed"}
    assert uploaded == 3
    assert "killed" in str(error)
    assert record_died_runs(lake, []) == []
