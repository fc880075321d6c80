"""End to end: ingest a subject's weeks against the emulator, then pull and compare smoothing.

Real parts only: the emulator on loopback, the ingest and pull flows under the Prefect test
server, the Parquet they write read back by DuckDB, the ``hautflow smoothing`` commands.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.options import IngestOptions
from hautflow.cli import app
from tasks.lake import Lake, LakeRows, connect
from tests.flows.support import Emulator, run_flow, running_emulator, write_capture

pytestmark = pytest.mark.server

# amy: four sessions over three weeks (two triples), so samples span sessions and sides;
# ben: one front. Seeds pick the synthetic faces (and so the scores).
SESSIONS = (
    ("amy", "2026-01-05", 11, True),
    ("amy", "2026-01-09", 12, False),
    ("amy", "2026-01-16", 13, True),
    ("amy", "2026-01-26", 14, False),
    ("ben", "2026-01-07", 15, False),
)
IMAGES = 9  # amy 3 + 1 + 3 + 1, ben 1
SMOOTHABLE_FAMILIES = 12


@dataclass
class Ingested:
    emulator: Emulator
    lake: Path
    state: Path

    def args(self) -> list[str]:
        return [
            "--lake",
            str(self.lake),
            "--state",
            str(self.state),
            "--api-url",
            self.emulator.url,
        ]

    def copy(self, root: Path) -> Ingested:
        """The same lake in ``root`` (a test that writes to it leaves the shared one alone)."""
        shutil.copytree(self.lake, root / "lake")
        return replace(self, lake=root / "lake", state=root / "state")


@pytest.fixture(scope="module")
def ingested(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    root = tmp_path_factory.mktemp("smoothing")
    photos = root / "photos"
    for subject, session, seed, triple in SESSIONS:
        write_capture(photos, subject, session, seed, triple=triple)
    with pytest.MonkeyPatch.context() as env, running_emulator() as emulator:
        for name in ("HAUT_API_URL", "HAUT_USERNAME", "HAUT_PASSWORD", "HAUT_API_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("HAUT_REQUESTS_PER_SECOND", "1000")
        env.setenv("HAUT_MAX_CONCURRENCY", "16")
        options = IngestOptions(
            source=str(photos),
            lake=str(root / "lake"),
            state_dir=str(root / "state"),
            api_url=emulator.url,
        )
        summary = run_flow(options)
        assert summary.record.images_complete == IMAGES
        yield Ingested(emulator, root / "lake", root / "state")


def smoothing(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["smoothing", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_local_and_api_smoothing_agree_for_every_image_and_method(ingested: Ingested) -> None:
    code, output = smoothing("compare", "--method", "all", *ingested.args())
    assert code == 0, output
    last = output.strip().splitlines()[-1]
    values = IMAGES * SMOOTHABLE_FAMILIES * 3
    assert last.startswith(f"Local and API smoothing agree on all {values} values of {IMAGES}")
    # a short window and sample change the values, and they still agree
    code, output = smoothing("compare", "--window", "5", "--max-size", "2", *ingested.args())
    assert code == 0, output


def test_pull_writes_the_api_values_with_their_settings(ingested: Ingested) -> None:
    code, output = smoothing("pull", "--method", "all", "--subject", "amy", *ingested.args())
    assert code == 0, output
    con = connect(str(ingested.lake))
    counts = con.execute(
        "SELECT method, window_days, max_size, count(*), count(DISTINCT image_id) "
        "FROM smoothed_results GROUP BY ALL ORDER BY method"
    ).fetchall()
    amy_images = IMAGES - 1
    assert counts == [
        (method, 14, 10, amy_images * SMOOTHABLE_FAMILIES, amy_images)
        for method in ("linear_approximation", "mean", "mean_without_outliers")
    ]
    # the table holds the API's integers, and they are the lake's own smoothing rounded
    joined = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE a.value = l.rounded), "
        "count(*) FILTER (WHERE a.value = round(a.value)) "
        "FROM smoothed_results AS a JOIN subject_smoothing('amy', 'linear_approximation') AS l "
        "USING (image_id, algorithm_family) WHERE a.method = 'linear_approximation'"
    ).fetchone()
    assert joined == (amy_images * SMOOTHABLE_FAMILIES,) * 3
    # pulling again replaces the rows instead of doubling them; --json says so to a script
    code, output = smoothing(
        "pull", "--method", "all", "--subject", "amy", "--json", *ingested.args()
    )
    assert code == 0, output
    pulled = json.loads(output)
    assert (pulled["images"], pulled["rows_written"]) == (
        amy_images,
        3 * amy_images * SMOOTHABLE_FAMILIES,
    )
    assert sorted(s["method"] for s in pulled["settings"]) == [
        "linear_approximation",
        "mean",
        "mean_without_outliers",
    ]
    again = con.execute("SELECT count(*) FROM smoothed_results").fetchone()
    assert again == (3 * amy_images * SMOOTHABLE_FAMILIES,)


def test_a_doctored_score_is_reported_as_a_disagreement(ingested: Ingested, tmp_path: Path) -> None:
    lake = Lake(str(ingested.lake))
    metrics = lake.read("metrics").to_pylist()
    target = next(
        row
        for row in metrics
        if row["algorithm"] == "redness"
        and row["kind"] == "main"
        and row["area_name"] == "face"
        and row["subject_key"] == "ben"
    )
    doctored = LakeRows()
    doctored.add("metrics", {**target, "value": target["value"] + 30})
    lake.write(doctored, run_id="doctored")
    try:
        code, output = smoothing(
            "compare", "--method", "mean", "--subject", "ben", *ingested.args()
        )
        assert code == 1, output
        lines = output.strip().splitlines()
        wrong = [line for line in lines if target["image_id"] in line]
        # the API rounds half up (Python's round() goes half to even: 70.5 -> 70)
        local, api = math.floor(target["value"] + 30.5), math.floor(target["value"] + 0.5)
        assert len(wrong) == 1
        assert "redness" in wrong[0]
        assert f"local {local:>4}" in wrong[0]
        assert f"api {api:>4}" in wrong[0]
        assert lines[-1].startswith("1 disagreements among 12 values of 1 images")
        code, output = smoothing(
            "compare", "--method", "mean", "--subject", "ben", "--json", *ingested.args()
        )
        assert code == 1, output
        compared = json.loads(output)
        assert (compared["agree"], compared["values"], compared["images"]) == (False, 12, 1)
        ((disagreement,),) = [compared["disagreements"]]
        assert (disagreement["image_id"], disagreement["algorithm"]) == (
            target["image_id"],
            "redness",
        )
        assert (disagreement["local"], disagreement["api"]) == (local, api)
    finally:
        restored = LakeRows()
        restored.add("metrics", target)
        lake.write(restored, run_id="restored")
    code, output = smoothing("compare", "--method", "mean", "--subject", "ben", *ingested.args())
    assert code == 0, output


def test_nothing_to_compare_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    code, output = smoothing(
        "compare",
        "--lake",
        str(tmp_path / "empty"),
        "--state",
        str(tmp_path / "state"),
        "--api-url",
        "http://127.0.0.1:9",
    )
    assert code == 2
    assert "hautflow ingest" in output


def test_a_service_that_is_down_exits_2_naming_the_options(
    ingested: Ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAUT_API_URL", "")
    args = ["--lake", str(ingested.lake), "--state", str(ingested.state)]
    for command in ("compare", "pull"):
        code, output = smoothing(
            command, "--subject", "ben", *args, "--api-url", "http://127.0.0.1:9"
        )
        assert code == 2, output
        assert "http://127.0.0.1:9 is up (--api-url)" in output
        assert "--state" in output
        assert "Traceback" not in output


def test_images_unknown_to_the_api_disagree_unless_allowed(
    ingested: Ingested, tmp_path: Path
) -> None:
    copy = ingested.copy(tmp_path)
    lake = Lake(str(copy.lake))
    ben = next(row for row in lake.read("images").to_pylist() if row["subject_key"] == "ben")
    ghost = LakeRows()
    ghost.add("images", {**ben, "image_id": "00000000-0000-4000-8000-000000000000"})
    lake.write(ghost, run_id="ghost")
    code, output = smoothing("compare", "--method", "mean", "--subject", "ben", *copy.args())
    assert code == 1, output
    assert "1 images unknown to the API" in output
    assert "00000000-0000-4000-8000-000000000000" in output
    code, output = smoothing(
        "compare", "--method", "mean", "--subject", "ben", "--allow-missing", *copy.args()
    )
    assert code == 0, output


def _results_of(emulator: Emulator, image_id: str) -> list[dict[str, Any]]:
    return emulator.server.state.store.children("results", image_id)


def test_readers_see_only_the_newest_fetch_of_an_image(ingested: Ingested, tmp_path: Path) -> None:
    copy = ingested.copy(tmp_path)
    con = connect(str(copy.lake))
    (ben,) = con.execute("SELECT image_id FROM images WHERE subject_key = 'ben'").fetchone() or ()
    code, output = smoothing("pull", "--subject", "ben", *copy.args())
    assert code == 0, output
    # The service withdraws ben's results (every row fails now): smoothed_results says [].
    store = copy.emulator.server.state.store
    before = _results_of(copy.emulator, ben)
    try:
        for row in before:
            store.replace("results", {**row, "is_ok": False})
        code, output = smoothing("pull", "--subject", "ben", *copy.args())
        assert code == 0, output
    finally:
        for row in before:
            store.replace("results", row)
    con = connect(str(copy.lake))
    every = con.execute(
        "SELECT count(*) FROM smoothed_results WHERE subject_key = 'ben'"
    ).fetchone()
    assert every == (SMOOTHABLE_FAMILIES + 1,)  # the first answer's rows are still on disk
    latest = con.execute(
        "SELECT algorithm_family, values_returned FROM smoothed_results_latest "
        "WHERE subject_key = 'ben'"
    ).fetchall()
    assert latest == [(None, 0)]  # only the marker of the newest answer
    runs = con.execute(
        "SELECT status, images_complete, rows_written FROM runs "
        "WHERE source LIKE 'smoothing pull%' ORDER BY started_at DESC LIMIT 2"
    ).fetchall()
    assert runs == [("completed", 1, 1), ("completed", 1, SMOOTHABLE_FAMILIES)]
