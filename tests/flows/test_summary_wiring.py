"""Flows only wire: the run's summary, its warnings (which read the lake), the commands it
prints and its plots are worked out in ``tasks/reporting``; ``flows/`` imports none of the
lake's or the plots' machinery itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLOWS = Path(__file__).parents[2] / "flows"

MACHINERY = ("pyarrow", "duckdb", "matplotlib", "shlex", "tasks.lake.plot", "tasks.lake.query")
"""What reads the lake's files, draws, or builds command lines: tasks/ do that."""


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


@pytest.mark.parametrize("path", sorted(FLOWS.glob("*.py")), ids=lambda p: p.name)
def test_no_flow_imports_the_lake_or_plot_machinery(path: Path) -> None:
    assert sorted(m for m in _imports(path) if _within(m, MACHINERY)) == []


def test_the_summary_flow_module_reads_no_lake() -> None:
    """flows/summary.py publishes what tasks/reporting worked out: no lake, no summary rows."""
    imported = _imports(FLOWS / "summary.py")
    assert sorted(m for m in imported if _within(m, ("tasks.lake", "schemas", "re"))) == []
    assert {"tasks.reporting.summary", "tasks.reporting.warnings", "tasks.reporting.report"} & {
        m.rsplit(".", 1)[0] for m in imported
    }
