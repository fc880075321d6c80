"""The emulator as a process: restart from its state file, and clean start/stop."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from tests.emulator.test_service_support import HTTP, advance, login

pytestmark = pytest.mark.server


def test_a_restarted_emulator_is_the_same_service(tmp_path: Path) -> None:
    config = EmulatorConfig(algorithm_delay_seconds=100, state_path=tmp_path / "haut.sqlite")
    with EmulatorServer(config) as first:
        caller = login(first, "keeper@x.io")
        image = caller.upload(caller.batch(caller.subject(caller.dataset())))
        advance(first, 30)
        rows_before = caller.get(f"{image}/results/").json()
        offset = HTTP.get(f"{first.url}/_emulator/clock").json()["offset_seconds"]

    with EmulatorServer(config) as second:
        caller.http = httpx.Client(base_url=second.url)
        rows_after = caller.get(f"{image}/results/").json()  # the old token still works
        again = login(second, "keeper@x.io")
        clock = HTTP.get(f"{second.url}/_emulator/clock").json()
        advance(second, 100)
        finished = caller.get(f"{image}/results/").json()
        stats = HTTP.get(f"{second.url}/_emulator/stats").json()

    assert 0 < len(rows_before) < len(finished)
    assert rows_after[: len(rows_before)] == rows_before
    assert (again.user_id, again.company_id) == (caller.user_id, caller.company_id)
    assert clock["offset_seconds"] == offset
    assert stats["pending_jobs"] == 0
    assert stats["images"] == 1
    assert list(stats["uploads_by_sha256"].values()) == [1]


def test_memory_state_is_not_shared_between_emulators() -> None:
    with EmulatorServer() as first:
        login(first)
        first_users = HTTP.get(f"{first.url}/_emulator/stats").json()["users"]
    with EmulatorServer() as second:
        second_users = HTTP.get(f"{second.url}/_emulator/stats").json()["users"]
    assert (first_users, second_users) == (1, 0)


def test_starting_and_stopping_leaks_no_threads() -> None:
    before = threading.active_count()
    urls = set()
    for _ in range(5):
        with EmulatorServer(EmulatorConfig(algorithm_delay_seconds=0)) as server:
            urls.add(server.url)
            assert HTTP.get(f"{server.url}/api/v1/dicts/image_types").status_code == 200
    assert threading.active_count() == before
    with pytest.raises(httpx.ConnectError):
        HTTP.get(f"{urls.pop()}/api/v1/dicts/image_types/")
