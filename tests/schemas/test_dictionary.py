"""The lake's data dictionary: every column described in the schemas, carried by the Parquet
files, rendered to docs/lake.md by ``hautflow docs lake``, and that file kept current."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hautflow.cli import app
from hautflow.docs_cli import DEFAULT_OUTPUT
from schemas.captures import QuarantineReason
from schemas.dictionary import DICTIONARY_PATH, REWRITE_COMMAND, lake_dictionary
from schemas.lake import DESCRIPTION, SHARED_COLUMNS, TABLES, VALUES, field_values
from schemas.scores import FACE_SCALES, SCORE_RANGE, Better, face_scale
from schemas.views import FACE_FAMILIES, SMOOTHABLE_WIDGET, duckdb_type
from tasks.lake import Lake, LakeRows, create_views, flatten_image
from tests.tasks.lake_support import emulated_payload, uploaded_image

ROOT = Path(__file__).resolve().parents[2]
RUN_STATUSES = {
    "running",
    "died",
    "completed",
    "completed_with_quarantine",
    "completed_with_findings",
    "incomplete",
    "failed",
    "stopped",
    "dry-run",
}


@pytest.fixture(scope="module")
def lake_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    image = uploaded_image()
    payload = emulated_payload(image.image_id, seed=3)
    rows = LakeRows()
    rows.extend(flatten_image(image, payload.rows, payload.aux, run_id="r1", status="complete"))
    url = str(tmp_path_factory.mktemp("dictionary") / "lake")
    Lake(url).write(rows, run_id="r1")
    return url


def test_docs_lake_md_is_what_the_command_writes() -> None:
    checked_in = (ROOT / DICTIONARY_PATH).read_text(encoding="utf-8")
    assert checked_in == lake_dictionary(), (
        f"{DICTIONARY_PATH} is stale: run `{REWRITE_COMMAND}` from the project root and commit it"
    )


@pytest.mark.parametrize("name", list(TABLES))
def test_every_column_of_every_table_is_in_the_dictionary(name: str) -> None:
    text = lake_dictionary()
    section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
    for field in TABLES[name].schema:
        description = field.metadata[DESCRIPTION].decode()
        assert f"| `{field.name}` | {duckdb_type(field.type)}" in section
        assert description in section, (name, field.name)


def test_a_written_parquet_file_carries_descriptions_and_values(lake_url: str) -> None:
    for name in ("images", "metrics"):
        (path,) = Lake(lake_url).files(name)
        schema = pq.read_schema(path)
        spec = TABLES[name]
        for field in schema:
            assert (
                field.metadata[DESCRIPTION] == spec.schema.field(field.name).metadata[DESCRIPTION]
            )
        assert schema.metadata[b"table"] == name.encode()
    images = pq.read_schema(Lake(lake_url).files("images")[0])
    assert set(field_values(images.field("status"))) == {"complete", "no_face", "pending"}
    metrics = pq.read_schema(Lake(lake_url).files("metrics")[0])
    assert set(field_values(metrics.field("kind"))) == {"main", "sub", "debug"}
    assert "higher is better" in field_values(metrics.field("widget_type"))["bad_good_line"]
    assert "higher is better" in metrics.field("value").metadata[DESCRIPTION].decode()


def test_the_status_columns_say_what_each_status_means() -> None:
    assert set(TABLES["images"].values()["status"]) == {"complete", "no_face", "pending"}
    assert set(TABLES["runs"].values()["status"]) == RUN_STATUSES
    text = lake_dictionary()
    for status in RUN_STATUSES | {"no_face", "pending"}:
        assert f"- `{status}`: " in text


def test_every_quarantine_reason_has_its_own_meaning() -> None:
    reasons = TABLES["quarantine"].values()["reason"]
    assert set(reasons) == {reason.value for reason in QuarantineReason}
    generic = [reason for reason, meaning in reasons.items() if meaning == "see detail and fix"]
    assert generic == [], "describe these in schemas/lake.py _REASON_MEANINGS"


def test_the_kinds_of_metric_rows_are_explained_once() -> None:
    text = lake_dictionary()
    assert text.count("- `main`: ") == text.count("- `sub`: ") == text.count("- `debug`: ") == 1
    # shared columns keep one definition: the same field object in every table that has it
    for fields in SHARED_COLUMNS.values():
        for field in fields:
            assert text.count(f"`{field.name}` values:") <= 1


def test_every_face_family_has_a_scale_and_the_scores_are_the_smoothed_ones() -> None:
    assert tuple(scale.family for scale in FACE_SCALES) == FACE_FAMILIES
    for scale in FACE_SCALES:
        assert scale.is_score == (scale.widget_type == SMOOTHABLE_WIDGET)
        if scale.is_score:
            assert (scale.low, scale.high, scale.better) == (*SCORE_RANGE, Better.HIGHER)
    assert sum(scale.is_score for scale in FACE_SCALES) == 12
    assert face_scale("skin_tone") is not None
    assert (face_scale("skin_tone").low, face_scale("skin_tone").high) == (-90, 90)  # type: ignore[union-attr]
    assert face_scale("age").unit == face_scale("eyes_age").unit == "years"  # type: ignore[union-attr]
    assert face_scale("not_a_family") is None


def test_the_dictionary_says_which_way_each_score_is_better() -> None:
    text = lake_dictionary()
    scores = text.split("## Reading the scores", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(" `"): line for line in scores.splitlines() if "| `" in line}
    assert "| 0-100 | higher is better |" in rows["redness"]
    assert "| -90..90 | neither is better |" in rows["skin_tone"]
    assert "| years |" in rows["age"]
    assert "(50, 70] Average" in text
    assert "[-90, -30] dark" in text


def test_the_types_are_those_the_views_show(lake_url: str, tmp_path: Path) -> None:
    path = create_views(lake_url, tmp_path / "lake.duckdb")
    sql = "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?"
    with duckdb.connect(str(path), read_only=True) as con:
        for name in ("images", "metrics", "runs"):
            shown = dict(con.execute(sql, [name]).fetchall())
            expected = {f.name: duckdb_type(f.type) for f in TABLES[name].schema}
            aliases = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}
            assert {k: aliases.get(shown[k], shown[k]) for k in expected} == expected


def test_docs_lake_writes_and_checks(tmp_path: Path) -> None:
    assert Path(DICTIONARY_PATH) == DEFAULT_OUTPUT
    out = tmp_path / "docs" / "lake.md"
    runner = CliRunner()
    stale = runner.invoke(app, ["docs", "lake", "--check", "--output", str(out)])
    assert stale.exit_code == 1
    assert f"run `{REWRITE_COMMAND} --output {out}`" in stale.output
    written = runner.invoke(app, ["docs", "lake", "--output", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == lake_dictionary()
    fresh = runner.invoke(app, ["docs", "lake", "--check", "--output", str(out)])
    assert fresh.exit_code == 0, fresh.output
    out.write_text(lake_dictionary().replace("higher is better", "lower is better", 1))
    edited = runner.invoke(app, ["docs", "lake", "--check", "--output", str(out)])
    assert edited.exit_code == 1
    assert "is out of date" in edited.output


def test_values_metadata_is_json_only_where_a_column_has_fixed_values() -> None:
    with_values = {
        (name, field.name)
        for name, spec in TABLES.items()
        for field in spec.schema
        if VALUES in (field.metadata or {})
    }
    assert ("runs", "status") in with_values
    assert ("metrics", "value") not in with_values
