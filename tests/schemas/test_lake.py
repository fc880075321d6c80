"""The lake's table schemas: ids, partitions, run columns, descriptions, denormalised context."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemas.lake import TABLES, table_spec

IMAGE_DERIVED = ("batches", "images", "results", "metrics", "aux_images", "aux_metrics", "masks")


@pytest.mark.parametrize("name", list(TABLES))
def test_every_table_has_a_required_id_run_id_and_written_at(name: str) -> None:
    spec = TABLES[name]
    assert not spec.schema.field(spec.id_column).nullable
    assert spec.schema.field("run_id").type == pa.string()
    assert spec.schema.field("written_at").type == pa.timestamp("us", tz="UTC")
    assert len(set(spec.schema.names)) == len(spec.schema.names)


@pytest.mark.parametrize("name", list(TABLES))
def test_every_column_is_described(name: str) -> None:
    described = TABLES[name].describe()
    assert [column for column, text in described.items() if not text] == []


@pytest.mark.parametrize("name", IMAGE_DERIVED)
def test_image_tables_are_partitioned_by_capture_month(name: str) -> None:
    spec = TABLES[name]
    assert spec.partition_by == ("capture_month",)
    assert "capture_month" not in spec.file_schema.names
    assert "capture_month" in spec.schema.names


def test_run_tables_are_partitioned_by_run_date_and_subjects_not_at_all() -> None:
    assert TABLES["runs"].partition_by == TABLES["quarantine"].partition_by == ("run_date",)
    assert TABLES["runs"].schema.field("run_date").type == pa.date32()
    assert TABLES["subjects"].partition_by == ()


@pytest.mark.parametrize("name", ["metrics", "aux_metrics"])
def test_metric_rows_answer_who_and_when_without_joins(name: str) -> None:
    names = set(TABLES[name].schema.names)
    assert {"subject_key", "subject_id", "batch_id", "session_key", "side", "captured_at"} <= names
    assert {"kind", "widget_type", "value", "value_text", "area_name", "tech_name"} <= names
    assert TABLES[name].schema.field("value").type == pa.float64()


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="metrics"):
        table_spec("metric")
