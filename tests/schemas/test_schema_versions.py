"""The lake's schema version: in every file written, recorded for each version in
schemas/lake_history.json, and each version only adding to the one before."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import lake_history
from schemas.lake import SCHEMA_VERSION, SCHEMA_VERSION_KEY, schema_version_of
from schemas.lake_history import (
    HistoryError,
    SchemaVersion,
    breaking_changes,
    changes,
    current_version,
    load_history,
    record,
    render_history,
    unrecorded_change,
)
from tasks.lake import Lake, LakeRows, RunRecord, flatten_image, run_rows
from tests.tasks.lake_support import capture_rows, uploaded_image

PHOTO_ID = {"name": "photo_id", "type": "string", "nullable": False}
TAKEN_AT = {"name": "taken_at", "type": "timestamp[us, tz=UTC]", "nullable": True}
MONTH = {"name": "month", "type": "string", "nullable": True}


def version(number: int, *columns: dict[str, Any], **tables: dict[str, Any]) -> SchemaVersion:
    """A synthetic version: table ``photos`` with ``columns`` (by default its first ones)."""
    photos = {
        "id_column": "photo_id",
        "partition_by": ["month"],
        "columns": list(columns or (PHOTO_ID, TAKEN_AT, MONTH)),
    }
    return SchemaVersion.from_json({"version": number, "tables": {"photos": photos, **tables}})


def test_the_recorded_versions_are_numbered_one_by_one() -> None:
    numbers = [v.version for v in load_history()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_each_recorded_version_only_adds_to_the_one_before() -> None:
    history = load_history()
    for old, new in pairwise(history):
        assert breaking_changes(old, new) == [], f"version {new.version}"


def test_the_schemas_are_the_newest_recorded_version() -> None:
    history = load_history()
    problem = unrecorded_change(history, current_version())
    assert problem is None, problem
    assert history[-1].version == SCHEMA_VERSION


def _rows() -> LakeRows:
    image = uploaded_image()
    rows = LakeRows()
    rows.extend(
        flatten_image(image, capture_rows(image.image_id), [], run_id="r", status="complete")
    )
    rows.extend(run_rows(RunRecord("r", datetime(2026, 1, 6, tzinfo=UTC), "/photos", "running")))
    return rows


def _assert_versioned(path: str, table: str) -> None:
    schema = pq.read_schema(path)
    assert schema.metadata[SCHEMA_VERSION_KEY] == str(SCHEMA_VERSION).encode(), path
    assert schema_version_of(schema) == SCHEMA_VERSION
    recorded = load_history()[-1].tables[table]
    in_files = [c for c in recorded.columns if c.name not in recorded.partition_by]
    assert [(f.name, str(f.type), f.nullable) for f in schema] == [
        (c.name, c.type, c.nullable) for c in in_files
    ], path


def test_every_file_the_lake_writes_carries_the_schema_version(tmp_path: Path) -> None:
    rows = _rows()
    tables = list(rows.tables())
    assert {"images", "metrics", "results", "runs"} <= set(tables)
    lake = Lake(str(tmp_path / "lake"))

    lake.write(rows, run_id="r", publish=False)
    for table in tables:  # staged: written by pyarrow's write_table
        assert lake.staged_files(table), table
        for path in lake.staged_files(table):
            _assert_versioned(path, table)

    lake.publish()
    for table in tables:  # published: merged and written by a ParquetWriter
        assert lake.files(table), table
        for path in lake.files(table):
            _assert_versioned(path, table)


def test_a_file_written_before_versions_has_none(tmp_path: Path) -> None:
    pq.write_table(pa.table({"image_id": ["i1"]}), tmp_path / "old.parquet")
    assert schema_version_of(pq.read_schema(tmp_path / "old.parquet")) is None


def test_new_tables_and_nullable_columns_are_additive() -> None:
    added = {"name": "lens", "type": "string", "nullable": True}
    subjects = {"id_column": "subject_id", "partition_by": [], "columns": [PHOTO_ID]}
    new = version(2, PHOTO_ID, added, TAKEN_AT, MONTH, subjects=subjects)
    assert breaking_changes(version(1), new) == []
    assert [str(c) for c in changes(version(1), new)] == [
        "photos: column lens added (string)",
        "subjects: table added",
    ]


@pytest.mark.parametrize(
    ("new", "said"),
    [
        (version(2, PHOTO_ID, MONTH), "column taken_at removed"),
        (version(2, PHOTO_ID, {**TAKEN_AT, "name": "shot_at"}, MONTH), "taken_at removed"),
        (version(2, PHOTO_ID, {**TAKEN_AT, "type": "string"}, MONTH), "taken_at retyped"),
        (version(2, PHOTO_ID, {**TAKEN_AT, "nullable": False}, MONTH), "made never null"),
        (
            version(
                2, PHOTO_ID, TAKEN_AT, MONTH, {"name": "lens", "type": "string", "nullable": False}
            ),
            "column lens added never null",
        ),
        (version(2, TAKEN_AT, PHOTO_ID, MONTH), "columns reordered"),
    ],
    ids=["removed", "renamed", "retyped", "made-required", "new-required", "reordered"],
)
def test_changes_that_do_not_only_add_are_rejected(new: SchemaVersion, said: str) -> None:
    broken = breaking_changes(version(1), new)
    assert broken, said
    assert any(said in str(change) for change in broken), broken


def test_a_removed_table_or_changed_partitions_are_rejected() -> None:
    old = version(1, subjects={"id_column": "subject_id", "partition_by": [], "columns": []})
    assert [str(c) for c in breaking_changes(old, version(2))] == ["subjects: table removed"]
    unpartitioned = {"id_column": "photo_id", "partition_by": [], "columns": [PHOTO_ID, TAKEN_AT]}
    repartitioned = SchemaVersion.from_json({"version": 2, "tables": {"photos": unpartitioned}})
    texts = [str(c) for c in breaking_changes(version(1), repartitioned)]
    assert any("partitions" in text for text in texts), texts


def _history_file(tmp_path: Path, *versions: SchemaVersion) -> Path:
    path = tmp_path / "lake_history.json"
    path.write_text(render_history(versions), encoding="utf-8")
    return path


def test_recording_appends_an_additive_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _history_file(tmp_path, version(1))
    new = version(
        2, PHOTO_ID, TAKEN_AT, MONTH, {"name": "lens", "type": "string", "nullable": True}
    )
    monkeypatch.setattr(lake_history, "current_version", lambda: new)

    assert "recorded version 2" in record(path)
    assert load_history(path) == [version(1), new]
    assert "recorded already" in record(path)


@pytest.mark.parametrize(
    ("current", "said"),
    [
        (version(2, PHOTO_ID, MONTH), "does not only add"),
        (version(1, PHOTO_ID, MONTH), "set SCHEMA_VERSION in schemas/lake.py to 2"),
        (version(3, PHOTO_ID, TAKEN_AT, MONTH), "set it to 2"),
    ],
    ids=["not-additive", "version-not-bumped", "version-skipped"],
)
def test_recording_refuses_and_leaves_the_history_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, current: SchemaVersion, said: str
) -> None:
    path = _history_file(tmp_path, version(1))
    before = path.read_text(encoding="utf-8")
    monkeypatch.setattr(lake_history, "current_version", lambda: current)

    with pytest.raises(HistoryError, match=said):
        record(path)
    assert path.read_text(encoding="utf-8") == before


def test_the_checked_in_history_is_as_recording_writes_it() -> None:
    text = lake_history.HISTORY_PATH.read_text(encoding="utf-8")
    assert text == render_history(load_history())
