"""The lake's data dictionary as markdown (``docs/lake.md``), rendered from the schemas.

Everything it says comes from :mod:`schemas.lake` (each column's ``description`` and ``values``
field metadata, which also travel inside every Parquet file), :mod:`schemas.scores` (how to read
a face score) and :mod:`schemas.views` (the wide view's columns), so the document cannot say
something the files do not. ``hautflow docs lake`` writes it; a test fails when the checked-in
file is not what this module renders.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from schemas.lake import (
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    SHARED_COLUMNS,
    TABLES,
    TableSpec,
    field_values,
)
from schemas.scores import FACE_SCALES, ITA_CLASSES, SCORE_CLASSES, Better, FaceScale
from schemas.views import FACE_FAMILIES, IMAGE_COLUMNS, WIDE_VIEW, duckdb_type

__all__ = ["DICTIONARY_PATH", "REWRITE_COMMAND", "lake_dictionary"]

DICTIONARY_PATH = "docs/lake.md"
"""Where the dictionary lives, from the project root."""
REWRITE_COMMAND = "hautflow docs lake"
"""The command that writes :data:`DICTIONARY_PATH` (``--check`` compares instead)."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(title: str) -> str:
    """The link target GitHub gives a heading: lower case, spaces as dashes."""
    return "#" + "".join(c for c in title.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def _shared_group(field: pa.Field) -> str | None:
    """The shared group this very column (name, type and metadata) is defined in, if any."""
    for group, fields in SHARED_COLUMNS.items():
        if any(field.equals(shared, check_metadata=True) for shared in fields):
            return group
    return None


def _type(field: pa.Field) -> str:
    text = duckdb_type(field.type)
    return text if field.nullable else f"{text}, never null"


def _description(field: pa.Field) -> str:
    return (field.metadata or {}).get(b"description", b"").decode()


def _values_lines(fields: Iterable[pa.Field]) -> list[str]:
    lines = []
    for field in fields:
        values = field_values(field)
        if not values:
            continue
        lines += ["", f"`{field.name}` values:", ""]
        lines += [f"- `{value}`: {meaning}" for value, meaning in values.items()]
    return lines


def _column_rows(fields: Iterable[pa.Field], *, link_shared: bool) -> list[str]:
    rows = ["| column | type | description |", "| --- | --- | --- |"]
    for field in fields:
        group = _shared_group(field) if link_shared else None
        text = _cell(_description(field))
        if group:
            text += f" ([{group}]({_anchor(group)}))"
        rows.append(f"| `{field.name}` | {_type(field)} | {text} |")
    return rows


def _table_section(spec: TableSpec) -> list[str]:
    partitions = ", ".join(f"`{c}`" for c in spec.partition_by)
    layout = f"partitioned by {partitions}" if partitions else "not partitioned"
    lines = [
        f"### {spec.name}",
        "",
        f"{spec.description}. Id: `{spec.id_column}`; {layout}; files under `<lake>/{spec.name}/`.",
        "",
        *_column_rows(spec.schema, link_shared=True),
    ]
    own = [field for field in spec.schema if _shared_group(field) is None]
    return lines + _values_lines(own)


def _shared_section() -> list[str]:
    lines = [
        "## Shared columns",
        "",
        "Columns several tables carry, each defined once; what their values mean is listed "
        "here only.",
    ]
    for group, fields in SHARED_COLUMNS.items():
        users = [
            name
            for name, spec in TABLES.items()
            if any(_shared_group(f) == group for f in spec.schema)
        ]
        lines += [
            "",
            f"### {group}",
            "",
            f"In {', '.join(f'`{name}`' for name in users)}.",
            "",
            *_column_rows(fields, link_shared=False),
            *_values_lines(fields),
        ]
    return lines


def _better(scale: FaceScale) -> str:
    return "higher is better" if scale.better is Better.HIGHER else "neither is better"


def _classes(classes: Iterable[tuple[float, float, str]], lowest: float) -> str:
    parts = []
    for above, upto, name in classes:
        interval = f"[{above:g}, {upto:g}]" if above == lowest else f"({above:g}, {upto:g}]"
        parts.append(f"{interval} {name}")
    return " · ".join(parts)


def _scores_section() -> list[str]:
    lines = [
        "## Reading the scores",
        "",
        "A face score is the `metrics` row of an image with `kind = 'main'` and "
        f"`area_name = 'face'`; `{WIDE_VIEW}` has one column per family. Its `widget_type` says "
        "how to read `value` (see [metric value](#metric-value)): `bad_good_line` families are "
        "scores from 0 to 100 where higher is better, the ages are years, skin tone is the ITA "
        "angle. Sub-metrics (`kind = 'sub'`) are read the same way by their own `widget_type`; "
        "`number_of_regions` and `pores_number` are counts.",
        "",
        "| family | main metric (`tech_name`) | widget_type | unit | range | which way | what |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scale in FACE_SCALES:
        lines.append(
            f"| `{scale.family}` | `{scale.metric}` | `{scale.widget_type}` | {scale.unit} | "
            f"{scale.range_text} | {_better(scale)} | {_cell(scale.meaning)} |"
        )
    lines += [
        "",
        "Classes of a `bad_good_line` score (the vendor's docs): "
        f"{_classes(SCORE_CLASSES, lowest=0)}.",
        "",
        f"Classes of the ITA angle (skin tone): {_classes(ITA_CLASSES, lowest=-90)}.",
    ]
    return lines


def _views_section() -> list[str]:
    images = TABLES["images"].schema
    families = {scale.family: scale for scale in FACE_SCALES}
    lines = [
        "## Views",
        "",
        "`data/state/lake.duckdb` (written by every run, or `hautflow views`) has a view of the "
        "same name per table, reading its Parquet files as they are, and:",
        "",
        f"### {WIDE_VIEW}",
        "",
        "One row per image, a column per face family's score; "
        f"`{WIDE_VIEW}_of('SUBJECT')` gives one subject's rows and reads only theirs.",
        "",
        "| column | type | description |",
        "| --- | --- | --- |",
    ]
    for name in IMAGE_COLUMNS:
        field = images.field(name)
        lines.append(f"| `{name}` | {duckdb_type(field.type)} | as in `images` |")
    for family in FACE_FAMILIES:
        scale = families[family]
        lines.append(
            f"| `{family}` | DOUBLE | `{scale.metric}`: {scale.unit}, {scale.range_text}, "
            f"{_better(scale)} (see [Reading the scores](#reading-the-scores)) |"
        )
    return lines


def lake_dictionary() -> str:
    """The whole dictionary as markdown, ending in one newline."""
    lines = [
        "# The lake: data dictionary",
        "",
        f"<!-- Written by `{REWRITE_COMMAND}` from schemas/lake.py, schemas/scores.py and "
        "schemas/views.py: edit those, then run it. A test fails when this file is stale. -->",
        "",
        "Hive-partitioned Parquet under the lake (`--lake`, default `data/lake/`), one folder "
        "per table. Every row has a stable id, the `run_id` that wrote it and `written_at`; "
        "the files hold each id once (a row written again replaces the older one, newest "
        "`written_at` wins, when its run publishes), so any reader takes them as they are. "
        "Rows a run has written but not yet published wait under `_staging/`, which readers "
        "skip. Each column's description, and for a column with "
        "a fixed set of values what each value means, travel inside every Parquet file as "
        "field metadata (`description`, `values`: JSON). Each file's schema metadata also "
        f"carries the lake's schema version (`{SCHEMA_VERSION_KEY.decode()}`, now "
        f"{SCHEMA_VERSION}); a new version only adds tables or nullable columns, never removes, "
        "renames, retypes or changes the nullability of one (each version's columns are in "
        "`schemas/lake_history.json`):",
        "",
        "```python",
        "import pyarrow.parquet as pq",
        "",
        'schema = pq.read_schema("data/lake/images/capture_month=2026-01/FILE.parquet")',
        'schema.field("status").metadata',
        f'schema.metadata[b"{SCHEMA_VERSION_KEY.decode()}"]',
        "```",
        "",
        "```sh",
        ".venv/bin/duckdb data/state/lake.duckdb -c "
        '"SELECT subject_key, captured_at, redness, age FROM image_metrics_wide"',
        "```",
        "",
        *_scores_section(),
        "",
        "## Tables",
    ]
    for spec in TABLES.values():
        lines += ["", *_table_section(spec)]
    lines += ["", *_shared_section(), "", *_views_section()]
    return "\n".join(lines) + "\n"
