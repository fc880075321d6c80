"""End to end: ingest a subject's weeks against the emulator, then pull and compare smoothing.

Real parts only: the emulator on loopback, the ingest and pull flows under the Prefect test
server, the Parquet they write read back by DuckDB, the ``hautflow smoothing`` commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    # pulling again replaces the rows instead of doubling them
    code, output = smoothing("pull", "--method", "all", "--subject", "amy", *ingested.args())
    assert code == 0, output
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
        local, api = round(target["value"] + 30), round(target["value"])
        assert len(wrong) == 1
        assert "redness" in wrong[0]
        assert f"local {local:>4}" in wrong[0]
        assert f"api {api:>4}" in wrong[0]
        assert lines[-1].startswith("1 disagreements among 12 values of 1 images")
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
