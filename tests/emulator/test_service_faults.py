"""Rate limits, injected faults and the inspection endpoints."""
# ruff: noqa: F811 - pytest fixtures are imported from the support module and used by name

from __future__ import annotations

import httpx
import pytest

from haut.emulator.config import FaultConfig
from haut.emulator.faces import render_face
from tests.emulator.test_service_support import (  # noqa: F401
    HTTP,
    StartEmulator,
    advance,
    error_codes,
    login,
    start_emulator,
)

pytestmark = pytest.mark.server


def test_company_rate_limit_answers_429_with_retry_after(start_emulator: StartEmulator) -> None:
    server = start_emulator(rate_limit_per_second=2)
    caller, neighbour = login(server), login(server)
    path = f"{caller.company}/datasets/"

    responses = [caller.get(path) for _ in range(6)]
    throttled = [r for r in responses if r.status_code == 429]

    assert responses[0].status_code == 200
    assert throttled
    assert int(throttled[0].headers["Retry-After"]) >= 1
    assert throttled[0].json()["type"] == "client_error"
    assert error_codes(throttled[0]) == ["throttled"]
    assert neighbour.get(f"{neighbour.company}/datasets/").status_code == 200
    assert HTTP.get(f"{server.url}/api/v1/dicts/algorithms/").status_code == 200
    advance(server, 2)
    assert caller.get(path).status_code == 200


def test_injected_throttling_and_server_errors(start_emulator: StartEmulator) -> None:
    server = start_emulator(faults=FaultConfig(rate_429=1.0, retry_after_seconds=2.5))
    url = f"{server.url}/api/v1/dicts/algorithms/"

    throttled = HTTP.get(url)
    HTTP.put(f"{server.url}/_emulator/faults", json={"rate_429": 0.0, "rate_5xx": 1.0})
    failing = HTTP.get(url)

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert failing.status_code == 503
    assert failing.json()["type"] == "server_error"
    assert HTTP.get(f"{server.url}/_emulator/stats").status_code == 200


def test_dropped_connection_after_the_work_is_done(start_emulator: StartEmulator) -> None:
    server = start_emulator(algorithm_delay_seconds=0)
    caller = login(server)
    subject = caller.subject(caller.dataset())
    HTTP.put(f"{server.url}/_emulator/faults", json={"rate_drop": 1.0})

    with pytest.raises(httpx.RemoteProtocolError):
        caller.post(f"{subject}/batches/")

    HTTP.put(f"{server.url}/_emulator/faults", json={"rate_drop": 0.0})
    assert len(caller.get(f"{subject}/batches/").json()) == 1  # the server did act on it


def test_seeded_faults_repeat(start_emulator: StartEmulator) -> None:
    def pattern() -> list[int]:
        server = start_emulator(faults=FaultConfig(rate_5xx=0.5, seed=42))
        return [HTTP.get(f"{server.url}/api/v1/dicts/image_types/").status_code for _ in range(12)]

    first, second = pattern(), pattern()

    assert first == second
    assert {200, 503} == set(first)


def test_faults_endpoint_round_trip(start_emulator: StartEmulator) -> None:
    server = start_emulator()
    changed = HTTP.put(f"{server.url}/_emulator/faults", json={"latency_seconds": 0.01, "seed": 3})
    unknown = HTTP.put(f"{server.url}/_emulator/faults", json={"no_such_fault": 1})

    assert changed.json()["latency_seconds"] == 0.01
    assert HTTP.get(f"{server.url}/_emulator/faults").json()["seed"] == 3
    assert unknown.status_code == 400


def test_stats_prove_each_photo_was_uploaded_once(start_emulator: StartEmulator) -> None:
    server = start_emulator(algorithm_delay_seconds=0)
    caller = login(server)
    subject = caller.subject(caller.dataset(algorithms=[40]))
    caller.upload(caller.batch(subject), render_face(1))
    caller.upload(caller.batch(subject), render_face(2))
    caller.upload(caller.batch(subject), render_face(1))

    stats = HTTP.get(f"{server.url}/_emulator/stats").json()

    assert stats["subjects"] == 1
    assert stats["batches"] == 3
    assert stats["images"] == 3
    assert sorted(stats["uploads_by_sha256"].values()) == [1, 2]
    assert stats["pending_jobs"] == 0


def test_clock_only_moves_forward(start_emulator: StartEmulator) -> None:
    server = start_emulator()
    before = HTTP.get(f"{server.url}/_emulator/clock").json()
    moved = HTTP.post(f"{server.url}/_emulator/clock", json={"advance_seconds": 86400}).json()
    backwards = HTTP.post(f"{server.url}/_emulator/clock", json={"advance_seconds": -5})

    assert moved["offset_seconds"] == before["offset_seconds"] + 86400
    assert moved["now"] > before["now"]
    assert backwards.status_code == 400
