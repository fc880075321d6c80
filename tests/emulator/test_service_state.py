"""The emulator as a process: restart from its state file, and clean start/stop."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from haut.emulator import server as server_module
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer, serve
from haut.emulator.store import StateFileError, Store
from tests.emulator.test_service_support import HTTP, Caller, advance, login, login_on
from tests.support import wait_until

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


def test_a_state_file_in_a_new_folder_is_created(tmp_path: Path) -> None:
    """``hautflow emulator --state runs/new/haut.sqlite``: the folders are made, not a crash."""
    state = tmp_path / "runs" / "new" / "haut.sqlite"
    with EmulatorServer(EmulatorConfig(state_path=state)) as emulator:
        login(emulator, "keeper@x.io")
    with EmulatorServer(EmulatorConfig(state_path=state)) as again:
        users = HTTP.get(f"{again.url}/_emulator/stats").json()["users"]
    assert state.is_file()
    assert users == 1


def test_an_unusable_state_file_is_named_in_the_error(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not SQLite " * 200)
    with pytest.raises(StateFileError, match=r"notes\.txt: file is not a database; pass"):
        Store(not_a_database)
    with pytest.raises(StateFileError, match=r"notes\.txt"):
        Store(not_a_database / "haut.sqlite")  # its folder would be a file


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


def _fetch_aux_jpeg_with_token(caller: Caller) -> str:
    """Uploads a face and fetches one aux JPEG by its ``?token=`` URL; returns that token."""
    image = caller.upload(caller.batch(caller.subject(caller.dataset())))
    aux = caller.get(f"{image}/aux/").json()
    jpeg = caller.http.get(f"/images/{aux[0]['id']}.jpg", params={"token": caller.token})
    assert jpeg.status_code == 200
    return caller.token


def test_the_console_emulator_prints_no_tokens(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    running: list[uvicorn.Server] = []

    class RecordedServer(uvicorn.Server):  # so the test can stop what serve() runs
        def __init__(self, config: uvicorn.Config):
            super().__init__(config)
            running.append(self)

    monkeypatch.setattr(uvicorn, "Server", RecordedServer)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = EmulatorConfig(algorithm_delay_seconds=0)
    foreground = threading.Thread(
        target=serve, args=(config,), kwargs={"host": "127.0.0.1", "port": port}, daemon=True
    )
    foreground.start()
    try:
        wait_until(lambda: bool(running) and running[0].started, "the emulator to start")
        caller = login_on(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))
        token = _fetch_aux_jpeg_with_token(caller)
    finally:
        wait_until(lambda: bool(running), "the emulator to exist")
        running[0].should_exit = True
        foreground.join(timeout=10)
    console = "".join(capfd.readouterr())

    assert "Uvicorn running on" in console  # the console does show the server's own log
    assert token not in console
    assert "token=" not in console


def test_stop_leaves_the_state_open_while_the_server_thread_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    async def slow_shutdown() -> None:  # webhook sends that take their time to end
        await asyncio.to_thread(release.wait)

    server = EmulatorServer().start()
    state, thread = server.state, server._thread
    assert thread is not None
    monkeypatch.setattr(state.webhooks, "aclose", slow_shutdown)
    monkeypatch.setattr(server_module, "STOP_TIMEOUT_SECONDS", 0.2)
    with caplog.at_level(logging.WARNING):
        server.stop()

    still_usable = state.store.execute("SELECT COUNT(*) FROM users")
    release.set()
    thread.join(timeout=10)
    state.store.close()
    assert still_usable == [(0,)]
    assert "did not stop" in caplog.text
    assert not thread.is_alive()
