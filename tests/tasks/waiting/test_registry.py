"""One registry of wait strategies: a strategy registered there is accepted by the options and
made by ``make_waiter`` with no other edit, and reading the names imports no waiter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import ValidationError

from flows.options import IngestOptions
from tasks.waiting import make_waiter, registry


class CarrierPigeonWaiter:
    """A stand-in strategy: it takes one option of its own."""

    name = "pigeon"

    def __init__(self, *, pigeons: int = 1) -> None:
        self.pigeons = pigeons

    @asynccontextmanager
    async def listening(
        self, client: Any, *, dataset_ids: Collection[str] = ()
    ) -> AsyncIterator[None]:
        yield

    async def wait(
        self,
        client: Any,
        images: Sequence[Any],
        *,
        expected_algorithms: Collection[int],
        timeout: float,  # noqa: ASYNC109 - the protocol's wait budget
    ) -> list[Any]:
        return []


@pytest.fixture
def pigeon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.STRATEGIES, "pigeon", f"{__name__}:CarrierPigeonWaiter")


def test_an_unregistered_strategy_is_refused_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="choose one of poll, websocket, webhook"):
        IngestOptions(source="photos", wait="pigeon")
    with pytest.raises(ValueError, match="unknown result waiter 'pigeon'"):
        make_waiter("pigeon")


@pytest.mark.usefixtures("pigeon")
def test_a_registered_strategy_is_accepted_everywhere() -> None:
    options = IngestOptions(source="photos", wait="pigeon", wait_options={"pigeons": 3})
    waiter = make_waiter(options.wait, **options.wait_options)
    assert isinstance(waiter, CarrierPigeonWaiter)
    assert waiter.pigeons == 3
    assert "pigeon" in registry.names()
    assert "pigeon" in IngestOptions.model_json_schema()["properties"]["wait"]["enum"]
    # Its options are its own: another strategy's are refused, naming that strategy.
    with pytest.raises(ValidationError, match=r"wait='webhook'"):
        IngestOptions(source="photos", wait="pigeon", wait_options={"public_url": "http://a/"})
    with pytest.raises(ValidationError, match=r"\(options of wait='pigeon'\)"):
        IngestOptions(source="photos", wait="poll", wait_options={"pigeons": 3})


def test_the_built_in_strategies_are_registered() -> None:
    assert registry.names() == ("poll", "websocket", "webhook")
    for name in registry.names():
        assert registry.waiter_class(name).name == name


def test_reading_the_names_imports_no_waiter() -> None:
    """The options (and so ``hautflow --help``) validate ``wait`` without the waiters' web
    server and websocket client."""
    program = (
        "import sys, flows.options; "
        "print(sorted(m for m in sys.modules if m.startswith('tasks.waiting.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "['tasks.waiting.registry']"
