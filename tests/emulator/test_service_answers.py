"""The ready answers of ``/results/`` and ``/aux/`` (:mod:`haut.emulator.answers`) are byte for
byte what the routes build from the stored documents: for a finished image, a partly finished
one, and after rows or crops were deleted behind them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haut.emulator.answers import AnswerCache
from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face, render_no_face
from haut.emulator.server import EmulatorServer
from tests.emulator.test_service_support import Caller, advance, login

DELAY = 1000.0


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(algorithm_delay_seconds=DELAY, ticker_interval_seconds=3600)
    with EmulatorServer(config) as running:
        yield running


def answers(caller: Caller, image: str) -> tuple[bytes, bytes]:
    results, aux = caller.get(f"{image}/results/"), caller.get(f"{image}/aux/")
    assert results.status_code == aux.status_code == 200
    assert results.headers["content-type"] == aux.headers["content-type"] == "application/json"
    return results.content, aux.content


def built_from_the_store(server: EmulatorServer, caller: Caller, image: str) -> tuple[bytes, bytes]:
    server.state.answers = AnswerCache()  # as after a restart: nothing ready
    return answers(caller, image)


@pytest.mark.parametrize("photo", [render_face(3), render_no_face(4)], ids=["face", "no-face"])
def test_ready_answers_are_the_stored_ones_byte_for_byte(
    server: EmulatorServer, photo: bytes
) -> None:
    caller = login(server)
    image = caller.upload(caller.batch(caller.subject(caller.dataset())), photo)
    advance(server, DELAY * 0.32)  # some rows, no aux images yet
    partly = answers(caller, image)
    assert partly == built_from_the_store(server, caller, image)
    advance(server, DELAY * 2)
    ready = answers(caller, image)
    assert b'"urls":{"original":"http' in ready[1] or ready[1] == b"[]"
    assert ready == built_from_the_store(server, caller, image)
    assert len(ready[0]) > len(partly[0])


def test_rows_changed_behind_the_ready_answers_are_answered_from_the_store(
    server: EmulatorServer,
) -> None:
    caller = login(server)
    image = caller.upload(caller.batch(caller.subject(caller.dataset())), render_face(5))
    advance(server, DELAY * 2)
    before = caller.get(f"{image}/results/").json()
    image_id = image.rsplit("/", 1)[-1]
    store = server.state.store
    store.delete("results", store.children("results", image_id)[0]["id"])
    store.delete("aux_images", store.children("aux_images", image_id)[0]["id"])
    after = answers(caller, image)
    assert len(caller.get(f"{image}/results/").json()) == len(before) - 1
    assert after == built_from_the_store(server, caller, image)
