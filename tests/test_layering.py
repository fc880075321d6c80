"""Imports run one way: schemas < haut < tasks < flows < hautflow.

A module may import its own layer or a lower one, never a higher one: the data shapes know no
client, the client knows no Prefect tasks, tasks know no flows, flows know no command line. The
graph is read from the source with :mod:`ast` (every import, including those inside functions,
which the project uses to keep ``hautflow --help`` fast), so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = ("schemas", "haut", "tasks", "flows", "hautflow")
"""Lowest first."""

ALLOWED: frozenset[tuple[str, str]] = frozenset()
"""(importing module, imported module) pairs allowed against the order; none today. The
emulator (``haut.emulator``) needs no exception: it imports only ``schemas`` and ``haut``."""


@dataclass(frozen=True)
class Import:
    """One import statement: which module, at which line, imports which module."""

    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        path = self.module.replace(".", "/")
        return f"{path}.py:{self.line}: {self.module} imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path) -> list[Import]:
    """Every import in one file, relative ones made absolute."""
    module = _module_name(path)
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend(Import(module, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported = _resolve(module, path.name == "__init__.py", node)
            found.append(Import(module, node.lineno, imported))
    return found


def import_graph() -> list[Import]:
    """Every import of every module in the layered packages."""
    return [
        found
        for package in LAYERS
        for path in sorted((ROOT / package).rglob("*.py"))
        for found in imports_of(path)
    ]


def layer(module: str) -> int | None:
    """The layer of a project module (0 the lowest), None for anything else."""
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def upward(graph: list[Import]) -> list[Import]:
    """The imports that reach a higher layer than their module's, less the allowed ones."""
    return [
        found
        for found in graph
        if (to := layer(found.imported)) is not None
        and to > (layer(found.module) or 0)
        and (found.module, found.imported) not in ALLOWED
    ]


def test_imports_run_one_way() -> None:
    graph = import_graph()
    assert len({found.module for found in graph}) > 100, "the graph misses most of the project"
    offending = [str(found) for found in upward(graph)]
    assert offending == [], "imports of a higher layer:\n" + "\n".join(offending)


def test_an_upward_import_is_named_with_its_line() -> None:
    # The check itself: a data shape that imports the client is caught and named.
    graph = [Import("schemas.api", 28, "haut.redaction"), Import("haut.client", 3, "schemas.api")]
    assert [str(found) for found in upward(graph)] == [
        "schemas/api.py:28: schemas.api imports haut.redaction"
    ]


def test_the_client_knows_no_prefect() -> None:
    # haut/ is the wire only: it must run (and the emulator start) without a Prefect install.
    offending = [
        str(found)
        for found in import_graph()
        if layer(found.module) == LAYERS.index("haut") and found.imported.split(".")[0] == "prefect"
    ]
    assert offending == []


def test_every_allowed_exception_is_still_used() -> None:
    pairs = {(found.module, found.imported) for found in import_graph()}
    assert sorted(ALLOWED - pairs) == []
