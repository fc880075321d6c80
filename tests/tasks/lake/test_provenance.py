"""A lake never mixes the emulator's results with the real service's by accident: the runs
table says who answered each run, and a run of the other kind is refused unless allowed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.lake import Lake, RunRecord, run_rows
from tasks.lake.provenance import MixedServicesError, check_one_kind_of_service, services_in_lake

REAL = "saas.haut.ai"


def lake_with_runs(tmp_path: Path, *runs: tuple[str | None, int]) -> Lake:
    """A lake whose runs table holds one run per (service, rows written)."""
    lake = Lake(str(tmp_path / "lake"))
    for n, (service, rows) in enumerate(runs):
        record = RunRecord(
            run_id=f"20260101T00000{n}Z-run{n}",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            source="photos/",
            status="completed",
            rows_written=rows,
            service=service,
        )
        lake.write(run_rows(record), run_id=record.run_id)
    return lake


def test_an_empty_lake_takes_either_kind(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    assert services_in_lake(lake) == set()
    check_one_kind_of_service(lake, REAL, allow_mixed=False)
    check_one_kind_of_service(lake, "emulator", allow_mixed=False)


def test_the_same_kind_is_welcome(tmp_path: Path) -> None:
    emulated = lake_with_runs(tmp_path / "a", ("emulator", 10))
    check_one_kind_of_service(emulated, "emulator", allow_mixed=False)
    real = lake_with_runs(tmp_path / "b", (REAL, 10), ("eu.saas.haut.ai", 5))
    check_one_kind_of_service(real, REAL, allow_mixed=False)


def test_real_results_are_refused_in_an_emulated_lake_and_the_other_way(tmp_path: Path) -> None:
    emulated = lake_with_runs(tmp_path / "a", ("emulator", 10))
    with pytest.raises(MixedServicesError, match="holds the emulator's results") as refused:
        check_one_kind_of_service(emulated, REAL, allow_mixed=False)
    assert "--allow-mixed-services" in str(refused.value)
    real = lake_with_runs(tmp_path / "b", (REAL, 10))
    with pytest.raises(MixedServicesError, match=r"results of the real service \(saas"):
        check_one_kind_of_service(real, "emulator", allow_mixed=False)
    check_one_kind_of_service(real, "emulator", allow_mixed=True)


def test_runs_that_wrote_nothing_do_not_count(tmp_path: Path) -> None:
    lake = lake_with_runs(tmp_path, ("emulator", 0), (None, 0))
    assert services_in_lake(lake) == set()
    check_one_kind_of_service(lake, REAL, allow_mixed=False)


def test_runs_from_before_the_service_was_recorded_keep_real_results_out(tmp_path: Path) -> None:
    lake = lake_with_runs(tmp_path, (None, 10))
    assert services_in_lake(lake) == {None}
    with pytest.raises(MixedServicesError, match="before hautflow recorded who answered"):
        check_one_kind_of_service(lake, REAL, allow_mixed=False)
    check_one_kind_of_service(lake, "emulator", allow_mixed=False)
