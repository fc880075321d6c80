"""Websocket notifications and dataset webhooks, over real loopback connections."""
# ruff: noqa: F811 - pytest fixtures are imported from the support module and used by name

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import websocket  # websocket-client, as in the vendor's quick start
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from haut.emulator.server import EmulatorServer
from tests.emulator.test_service_support import (  # noqa: F401
    HTTP,
    Receiver,
    StartEmulator,
    emulator,
    login,
    receiver,
    start_emulator,
)
from tests.support import wait_until

pytestmark = pytest.mark.server


def ws_url(server: EmulatorServer, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def test_user_notifications_as_in_the_quick_start(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset()))
    ws = websocket.create_connection(
        ws_url(emulator, f"/notifications/?user_id={caller.user_id}"),
        cookie=f"authorization={caller.token}",
        timeout=10,
    )
    try:
        image = caller.upload(batch)
        message = json.loads(ws.recv())
    finally:
        ws.close()

    assert message["event"] == "photo_calculated_by_app"
    assert message["image_id"] == image.rsplit("/", 1)[1]
    assert message["batch_id"] == batch.rsplit("/", 1)[1]
    assert message["company_id"] == caller.company_id
    assert {"dataset_id", "subject_id", "application_id", "application_run_id"} <= set(message)


def test_user_notifications_refuse_a_bad_cookie(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    url = ws_url(emulator, f"/notifications/?user_id={caller.user_id}")
    with pytest.raises(InvalidStatus):
        connect(url, additional_headers={"Cookie": "authorization=nonsense"}, open_timeout=5)


@pytest.mark.parametrize("scheme", ["", "Bearer "])
def test_results_stream_sends_every_row_then_the_image(
    emulator: EmulatorServer, scheme: str
) -> None:
    caller = login(emulator)
    batch = caller.batch(caller.subject(caller.dataset(algorithms=[30, 31, 40])))
    url = ws_url(emulator, f"/notifications/results/?company_id={caller.company_id}")
    with connect(
        url, additional_headers={"Authorization": scheme + caller.token}, open_timeout=5
    ) as ws:
        image_id = caller.upload(batch).rsplit("/", 1)[1]
        messages = [json.loads(ws.recv(timeout=10)) for _ in range(4)]

    assert [m["event"] for m in messages] == ["algorithm_result"] * 3 + ["photo_calculated_by_app"]
    assert sorted(m["result"]["algorithm_version_id"] for m in messages[:3]) == [30, 31, 40]
    assert all(m["result"]["image_id"] == image_id for m in messages[:3])
    assert messages[0]["batch_id"] == batch.rsplit("/", 1)[1]


def test_results_stream_is_per_company(emulator: EmulatorServer) -> None:
    caller, other = login(emulator), login(emulator)
    url = ws_url(emulator, f"/notifications/results/?company_id={other.company_id}")
    with pytest.raises(InvalidStatus):
        connect(url, additional_headers={"Authorization": caller.token}, open_timeout=5)


def test_websocket_drop_fault_closes_after_a_message(start_emulator: StartEmulator) -> None:
    server = start_emulator(algorithm_delay_seconds=0)
    HTTP.put(f"{server.url}/_emulator/faults", json={"websocket_drop": 1.0})
    caller = login(server)
    batch = caller.batch(caller.subject(caller.dataset(algorithms=[30, 40])))
    url = ws_url(server, f"/notifications/results/?company_id={caller.company_id}")
    with connect(url, additional_headers={"Authorization": caller.token}, open_timeout=5) as ws:
        caller.upload(batch)
        first = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert first["event"] == "algorithm_result"


def _hook(caller: Any, dataset: str, receiver: Receiver, **auth: Any) -> dict[str, Any]:
    return dict(caller.created(f"{dataset}/webhooks/", {"url": receiver.url, **auth}))


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        (
            {
                "authorization": "query",
                "authorization_key": "auth_key",
                "authorization_value": "s3",
            },
            lambda r: r["path"] == "/hook?auth_key=s3",
        ),
        (
            {"authorization": "bearer", "authorization_value": "s3"},
            lambda r: r["headers"]["authorization"] == "Bearer s3",
        ),
        (
            {"authorization": "basic", "authorization_key": "me", "authorization_value": "s3"},
            lambda r: base64.b64decode(r["headers"]["authorization"].split()[1]) == b"me:s3",
        ),
    ],
)
def test_webhook_is_delivered_with_its_authorization(
    emulator: EmulatorServer, receiver: Receiver, auth: dict[str, str], check: Any
) -> None:
    caller = login(emulator)
    dataset = caller.dataset(algorithms=[30, 40])
    hook = _hook(caller, dataset, receiver, **auth)
    batch = caller.batch(caller.subject(dataset, name="Ann"))

    image_id = caller.upload(batch).rsplit("/", 1)[1]
    request = receiver.next_request()

    assert hook["secret_key"]
    assert check(request)
    body = request["body"]
    assert body["event"] == "photo_calculated_by_app"
    assert body["image_id"] == image_id
    assert body["subject_name"] == "Ann"
    assert body["application_name"] == "Face Skin Metrics 2.0"
    assert any(a["area_name"] == "face" for a in body["area_results"])
    assert caller.get(f"{dataset}/webhooks/").json()[0]["id"] == hook["id"]


def test_webhook_retries_after_failures(start_emulator: StartEmulator, receiver: Receiver) -> None:
    server = start_emulator(algorithm_delay_seconds=0, webhook_backoff_seconds=0.01)
    caller = login(server)
    dataset = caller.dataset(algorithms=[40])
    _hook(
        caller,
        dataset,
        receiver,
        authorization="query",
        authorization_key="k",
        authorization_value="s3cr3t-value",
    )
    receiver.statuses = [500]
    HTTP.put(f"{server.url}/_emulator/faults", json={"webhook_failure": 1.0, "seed": 7})
    caller.upload(caller.batch(caller.subject(dataset)))

    def deliveries() -> list[dict[str, Any]]:
        return list(HTTP.get(f"{server.url}/_emulator/webhook_deliveries").json())

    wait_until(
        lambda: bool(deliveries()) and deliveries()[0]["attempts"] >= 2, "two failed attempts"
    )
    HTTP.put(f"{server.url}/_emulator/faults", json={"webhook_failure": 0.0})
    refused = receiver.next_request()
    accepted = receiver.next_request()
    wait_until(lambda: deliveries()[0]["state"] == "delivered", "the delivery")

    assert refused["status"] == 500
    assert accepted["status"] == 204
    log = deliveries()
    assert log[0]["state"] == "delivered"
    assert log[0]["attempts"] >= 4
    assert accepted["path"] == "/hook?k=s3cr3t-value"
    assert log[0]["url"] == receiver.url  # as configured: the query secret is not logged
    assert urlsplit(log[0]["url"]).query == ""


def test_webhook_gives_up_after_five_retries(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    server = start_emulator(algorithm_delay_seconds=0, webhook_backoff_seconds=0.001)
    caller = login(server)
    dataset = caller.dataset(algorithms=[40])
    _hook(caller, dataset, receiver)
    receiver.statuses = [503] * 10
    caller.upload(caller.batch(caller.subject(dataset)))

    def delivery() -> dict[str, Any]:
        return dict(HTTP.get(f"{server.url}/_emulator/webhook_deliveries").json()[0])

    wait_until(lambda: delivery()["state"] == "failed", "the delivery to be given up")
    sends = [receiver.next_request()["status"] for _ in range(6)]

    assert delivery()["attempts"] == 6  # the first send and 5 retries (reference §13.8)
    assert sends == [503] * 6
    assert receiver.requests.empty()


def test_webhooks_ignore_proxy_settings(
    start_emulator: StartEmulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = start_emulator(algorithm_delay_seconds=0)
    caller = login(server)
    dataset = caller.dataset(algorithms=[40])
    _hook(caller, dataset, receiver)

    image_id = caller.upload(caller.batch(caller.subject(dataset))).rsplit("/", 1)[1]

    assert receiver.next_request()["body"]["image_id"] == image_id


def test_a_new_webhook_replaces_the_old_one(emulator: EmulatorServer, receiver: Receiver) -> None:
    caller = login(emulator)
    dataset = caller.dataset()
    first, second = _hook(caller, dataset, receiver), _hook(caller, dataset, receiver)

    listed = caller.get(f"{dataset}/webhooks/").json()
    deleted = caller.http.delete(f"{dataset}/webhooks/{second['id']}/", headers=caller.auth)

    assert [h["id"] for h in listed] == [second["id"]]
    assert first["id"] != second["id"]
    assert deleted.status_code == 204
    assert caller.get(f"{dataset}/webhooks/").json() == []
