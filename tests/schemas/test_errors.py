"""One root error: every exception class the project defines derives from HautflowError."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

from schemas.errors import HautflowError

PACKAGES = ("schemas", "haut", "tasks", "flows", "hautflow")

NOT_THE_PIPELINES = {
    # The emulator is a stand-in for the Haut.AI service: these are its side of the wire (an
    # HTTP error answer, token checks and an unreadable upload that become 4xx answers, a
    # simulated dropped connection), raised and handled inside the server; the client sees
    # them only as responses, mapped onto haut.errors.
    "haut.emulator.errors.ApiError",
    "haut.emulator.tokens.TokenInvalid",
    "haut.emulator.tokens.TokenExpired",
    "haut.emulator.photo.UnreadableImage",
    "haut.emulator.faults.ConnectionDropped",
}
"""Exception classes allowed outside the root, each with the reason above."""


def _modules() -> Iterator[str]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield name
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            yield module.name


def exception_classes() -> list[type[BaseException]]:
    """Every exception class defined (not merely imported) in the project's modules."""
    found: list[type[BaseException]] = []
    for name in _modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == name
            ):
                found.append(value)
    return found


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_error_the_project_defines_derives_from_the_root() -> None:
    classes = exception_classes()
    assert len(classes) > 10, "the walk found too few exception classes to be looking right"
    outside = sorted(
        _name(cls)
        for cls in classes
        if not issubclass(cls, HautflowError) and _name(cls) not in NOT_THE_PIPELINES
    )
    assert outside == [], f"derive these from schemas.errors.HautflowError: {outside}"


def test_the_allowed_exceptions_still_exist() -> None:
    # A stale allowance would let a new class of the same name in unnoticed.
    names = {_name(cls) for cls in exception_classes()}
    assert sorted(NOT_THE_PIPELINES - names) == []


@pytest.mark.parametrize(
    ("qualified", "builtin"),
    [
        ("tasks.service.settings.ConfigurationError", ValueError),
        ("tasks.lake.provenance.MixedServicesError", ValueError),
        ("tasks.ledger.lock.LedgerBusyError", RuntimeError),
        ("tasks.operations.errors.OperationError", RuntimeError),
        ("flows.backfill.BackfillError", RuntimeError),
    ],
)
def test_the_root_keeps_the_builtin_bases(qualified: str, builtin: type[Exception]) -> None:
    module, _, name = qualified.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, HautflowError)
    assert issubclass(cls, builtin)  # existing ``except ValueError`` clauses still catch it
