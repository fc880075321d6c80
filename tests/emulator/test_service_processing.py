"""Processing failures and crashes: an image always completes, and no request pays for it.

The background ticker is slowed to once an hour, so processing happens only when a request
or the test settles: the failure points are deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from haut.emulator import analysis, processing
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from haut.emulator.state import EmulatorState
from haut.emulator.webhooks import WebhookDispatcher
from tests.emulator.test_service_support import HTTP, Caller, login

pytestmark = pytest.mark.server

DELAY = 10.0  # every algorithm finishes within DELAY of the upload
ALGORITHMS = [30, 31, 40]


class Crash(BaseException):
    """Stands for the process dying: nothing in the emulator catches it."""


def quiet_config(**settings: Any) -> EmulatorConfig:
    """Algorithms take DELAY; the ticker settles once at start, then only requests do."""
    return EmulatorConfig(algorithm_delay_seconds=DELAY, ticker_interval_seconds=3600, **settings)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(quiet_config()) as running:
        yield running


def upload_with_webhook(caller: Caller) -> str:
    """Uploads a face into a dataset with a (loopback) webhook; returns the image path."""
    dataset = caller.dataset(algorithms=ALGORITHMS)
    caller.created(f"{dataset}/webhooks/", {"url": "http://127.0.0.1:9/hook"})
    return caller.upload(caller.batch(caller.subject(dataset)))


def failing(original: Any, when: Any) -> Any:
    def replacement(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            raise RuntimeError("analysis blew up")
        return original(*args, **kwargs)

    return replacement


def break_redness(monkeypatch: pytest.MonkeyPatch, state: EmulatorState) -> None:
    broken = failing(analysis.algorithm_outcome, lambda photo, spec, **_: spec.id == 31)
    monkeypatch.setattr(analysis, "algorithm_outcome", broken)


def break_aux(monkeypatch: pytest.MonkeyPatch, state: EmulatorState) -> None:
    monkeypatch.setattr(analysis, "aux_outcomes", failing(analysis.aux_outcomes, lambda *a, **k: 1))


def break_photo(monkeypatch: pytest.MonkeyPatch, state: EmulatorState) -> None:
    state.photos.clear()  # as after a restart: the photo must be read again
    monkeypatch.setattr(analysis, "inspect_photo", failing(analysis.inspect_photo, lambda d: 1))


@pytest.mark.parametrize(
    ("breakage", "failed_algorithms", "has_aux"),
    [(break_redness, [31], True), (break_aux, [], False), (break_photo, ALGORITHMS, False)],
)
def test_an_analysis_error_becomes_an_error_row_and_the_image_completes(
    server: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    breakage: Any,
    failed_algorithms: list[int],
    has_aux: bool,
) -> None:
    caller = login(server)
    image = upload_with_webhook(caller)
    image_id = image.rsplit("/", 1)[1]
    state = server.state
    breakage(monkeypatch, state)
    state.advance_clock(DELAY)

    with caplog.at_level(logging.ERROR):
        rows = caller.get(f"{image}/results/")
    aux = caller.get(f"{image}/aux/")

    assert rows.status_code == 200
    failed = sorted(r["algorithm_version_id"] for r in rows.json() if not r["is_ok"])
    assert failed == failed_algorithms
    assert all(
        r["result"] == {"error": "Internal processing error"} for r in rows.json() if not r["is_ok"]
    )
    assert len(rows.json()) == len(ALGORITHMS)
    assert bool(aux.json()) is has_aux
    deliveries = HTTP.get(f"{server.url}/_emulator/webhook_deliveries").json()
    assert [d["image_id"] for d in deliveries] == [image_id]  # queued on completion
    assert "analysis blew up" in caplog.text


def test_a_processing_error_never_fails_the_request_that_triggered_it(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_settle(state: EmulatorState) -> None:
        raise RuntimeError("settle blew up")

    monkeypatch.setattr(processing, "settle", broken_settle)
    with caplog.at_level(logging.ERROR):
        answers = [HTTP.get(f"{server.url}/api/v1/dicts/image_types/") for _ in range(3)]

    assert [a.status_code for a in answers] == [200] * 3
    logged = [r for r in caplog.records if r.exc_info and "settle blew up" in str(r.exc_info[1])]
    assert len(logged) == 3


def test_a_crash_before_completion_is_redone_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = quiet_config(state_path=tmp_path / "haut.sqlite")
    with EmulatorServer(config) as first:
        caller = login(first)
        image = upload_with_webhook(caller)

        def crash(self: WebhookDispatcher, *args: Any) -> None:
            raise Crash

        with monkeypatch.context() as patched:
            patched.setattr(WebhookDispatcher, "enqueue", crash)
            first.state.advance_clock(DELAY)
            with pytest.raises(Crash):
                processing.settle(first.state)  # dies while completing the image

    with EmulatorServer(config) as second:
        caller.http = httpx.Client(base_url=second.url)
        rows = caller.get(f"{image}/results/").json()  # settles what the crash left
        aux = caller.get(f"{image}/aux/").json()
        deliveries = HTTP.get(f"{second.url}/_emulator/webhook_deliveries").json()
        stats = HTTP.get(f"{second.url}/_emulator/stats").json()

    aux_kinds = [a["aux_image_type"]["tech_name"] for a in aux]
    assert sorted(r["algorithm_version_id"] for r in rows) == ALGORITHMS
    assert aux_kinds
    assert len(aux_kinds) == len(set(aux_kinds))
    assert [d["image_id"] for d in deliveries] == [image.rsplit("/", 1)[1]]
    assert stats["pending_jobs"] == 0
