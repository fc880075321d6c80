"""The views file opens in the oldest DuckDB the project allows, whichever DuckDB wrote it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import duckdb
import pytest

from tasks.lake import Lake, LakeRows, create_views, flatten_image
from tasks.lake.query import VIEWS_STORAGE_VERSION, storage_version
from tests.tasks.lake_support import capture_rows, uploaded_image

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


@pytest.fixture(scope="module")
def lake_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(tmp_path_factory.mktemp("views") / "lake")
    image = uploaded_image()
    rows = LakeRows()
    rows.extend(
        flatten_image(image, capture_rows(image.image_id), [], run_id="r1", status="complete")
    )
    Lake(url).write(rows, run_id="r1")
    return url


def test_the_format_is_that_of_the_oldest_duckdb_the_project_allows() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (floor,) = (
        re.fullmatch(r"duckdb>=([\d.]+)", d.replace(" ", ""))
        for d in dependencies
        if re.match(r"duckdb\s*[<>=!~]", d)  # the library, not duckdb-cli
    )
    assert floor is not None, dependencies
    # Storage formats are named by minor release: every 1.4.x reads and writes v1.4.0.
    major, minor = [*floor.group(1).split("."), "0"][:2]
    assert f"v{major}.{minor}.0" == VIEWS_STORAGE_VERSION


def test_a_new_views_file_is_written_in_the_compatible_format(
    lake_url: str, tmp_path: Path
) -> None:
    path = create_views(lake_url, tmp_path / "lake.duckdb")
    assert storage_version(path) == f"{VIEWS_STORAGE_VERSION}+"
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM images").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM image_metrics_wide").fetchone() == (1,)


def test_a_views_file_in_the_newest_format_is_converted_keeping_what_the_user_added(
    lake_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "lake.duckdb"
    with duckdb.connect(str(path), config={"storage_compatibility_version": "latest"}) as con:
        con.execute("CREATE TABLE notes AS SELECT 'mine' AS note")
    newest = storage_version(path)
    assert newest != f"{VIEWS_STORAGE_VERSION}+", "the pinned DuckDB writes the old format anyway"

    create_views(lake_url, path)
    assert storage_version(path) == f"{VIEWS_STORAGE_VERSION}+"
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT note FROM notes").fetchall() == [("mine",)]
        assert con.execute("SELECT count(*) FROM images").fetchone() == (1,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake.duckdb"]  # no copy left over
