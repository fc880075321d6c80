"""The vendor's quick-start guide, run as written against the emulator over real HTTP.

The guide's code (``guide_code.py``) runs unchanged in one namespace, the way a notebook runs it,
with ``requests``, ``websocket-client``, ``aiohttp`` and ``websockets`` as the guide uses them.
What the harness changes, and only that:

- ``SAAS_HOST`` and the hosts written into URLs point at the emulator on loopback, over plain
  ``http://`` / ``ws://`` (the emulator serves no TLS);
- the guide's ``time.sleep(10)`` advances the emulator's clock by 10 s instead of waiting, so the
  test proves that with the default processing delays every algorithm has finished by then;
- ``websocket.create_connection`` is the guide's call; the guide forgets ``import websocket``, so
  the harness provides the module, and once the socket is open another photo is processed (the
  stream only reports images finished after one connects);
- the streaming example's login and stream use the guide's code with the same user as the rest of
  the guide (its call has placeholder e-mail, password and company id), on websockets' legacy
  client: the guide was written for the ``websockets.connect(extra_headers=...)`` API;
- the curl examples are templates: their placeholder ids, host and token are replaced by the real
  ones, and the two that carry no credential get ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
import websockets
import websockets.legacy.client

from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face
from haut.emulator.server import EmulatorServer
from tests.quickstart import guide_code as guide

pytestmark = pytest.mark.server

GUIDE_HOST = "https://saas.haut.ai"
ALL_ALGORITHMS = 18  # the 17 algorithm families of the real capture and the face detector


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    # The emulator's default timing: the guide's 10-second wait must be enough.
    with EmulatorServer(EmulatorConfig()) as server:
        yield server


def advance_clock(emulator: EmulatorServer, seconds: float) -> None:
    response = requests.post(
        f"{emulator.url}/_emulator/clock", json={"advance_seconds": seconds}, timeout=10
    )
    response.raise_for_status()


def run_curl(
    command: str, replacements: Mapping[str, str], add_headers: Mapping[str, str] | None = None
) -> requests.Response:
    """Make the request a curl command line describes, after replacing its placeholders."""
    for placeholder, value in replacements.items():
        command = command.replace(placeholder, value)
    # The guide prints one example with its line continuations flattened to "\ " on one line.
    words = iter(shlex.split(command.replace(" \\ ", " ")))
    assert next(words) == "curl"
    method, url, data = "GET", None, None
    headers: dict[str, str] = {}
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words)
        elif word.strip() and url is None:
            url = word
    assert url is not None, command
    return requests.request(
        method, url, headers={**headers, **(add_headers or {})}, data=data, timeout=30
    )


def upload_another_photo(emulator: EmulatorServer, ns: dict[str, Any], seed: int) -> str:
    """A second photo arrives in the guide's subject, and is processed."""
    base = (
        f"{emulator.url}/api/v1/companies/{ns['company_id']}/datasets/{ns['dataset_id']}"
        f"/subjects/{ns['subject_id']}"
    )
    auth = {"Authorization": f"Bearer {ns['token']}"}
    batch = requests.post(f"{base}/batches/", headers=auth, timeout=10)
    batch.raise_for_status()
    image = requests.post(
        f"{base}/batches/{batch.json()['id']}/images/",
        json={"side_id": 1, "light_id": 1, "b64data": _b64(render_face(seed))},
        headers=auth,
        timeout=10,
    )
    image.raise_for_status()
    advance_clock(emulator, 10)
    return str(image.json()["id"])


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def wait_for(condition: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run_guide_through_upload(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> dict[str, Any]:
    """Run the guide from its imports up to the first photo's upload; return its namespace."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "face.jpg").write_bytes(render_face(seed))
    ns: dict[str, Any] = {"SAAS_HOST": emulator.url}
    for step in (guide.IMPORTS, guide.LOGIN, guide.CREATE_DATASET, guide.ATTACH_APPLICATION):
        exec(step, ns)  # noqa: S102 - the guide's own code is what is under test
    with monkeypatch.context() as patch:
        patch.setattr(time, "sleep", lambda seconds: advance_clock(emulator, seconds))
        exec(guide.UPLOAD, ns)  # noqa: S102
    return ns


def test_guide_rest_steps_run_as_written(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = run_guide_through_upload(emulator, tmp_path, monkeypatch, seed=1)
    exec(guide.ALGORITHMS, ns)  # noqa: S102

    results = requests.get(
        f"{emulator.url}/api/v1/companies/{ns['company_id']}/datasets/{ns['dataset_id']}"
        f"/subjects/{ns['subject_id']}/batches/{ns['batch_id']}/images/{ns['image_id']}/results/",
        headers={"Authorization": f"Bearer {ns['token']}"},
        timeout=10,
    ).json()
    assert len(results) == ALL_ALGORITHMS, "every algorithm finishes within the guide's 10 s"

    exec(guide.RESULTS_AND_AUX, ns)  # noqa: S102 - looks every row up in the algorithms dict
    exec(guide.HISTORY, ns)  # noqa: S102
    history = ns["resp"].json()
    assert {row["image_id"] for row in history} == {ns["image_id"]}
    assert len(history) == ALL_ALGORITHMS

    face = requests.get(
        f"{emulator.url}/api/v1/companies/{ns['company_id']}/datasets/{ns['dataset_id']}"
        f"/subjects/{ns['subject_id']}/batches/{ns['batch_id']}/images/{ns['image_id']}"
        "/aux/",
        headers={"Authorization": f"Bearer {ns['token']}"},
        timeout=10,
    ).json()
    jpeg = requests.get(
        f"{emulator.url}/images/{face[0]['id']}.jpg?token={ns['token']}", timeout=10
    )
    assert jpeg.status_code == 200
    assert jpeg.content[:3] == b"\xff\xd8\xff"


def test_guide_user_notifications_as_written(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = run_guide_through_upload(emulator, tmp_path, monkeypatch, seed=2)

    arrived: list[str] = []

    def create_connection(url: str, **options: Any) -> websocket.WebSocket:
        connection = websocket.create_connection(url, timeout=30, **options)
        arrived.append(upload_another_photo(emulator, ns, seed=3))
        return connection

    ns["websocket"] = type("websocket", (), {"create_connection": staticmethod(create_connection)})
    ws_host = emulator.url.replace("http://", "ws://")
    exec(guide.NOTIFICATIONS.replace("wss://saas.haut.ai", ws_host), ns)  # noqa: S102

    message = json.loads(ns["result"])
    assert message["event"] == "photo_calculated_by_app"
    assert message["image_id"] == arrived[0]
    assert message["company_id"] == ns["company_id"]


def test_guide_result_streaming_as_written(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = run_guide_through_upload(emulator, tmp_path, monkeypatch, seed=4)

    printed: list[Any] = []
    streaming = guide.STREAMING.replace("https://{host}", "http://{host}").replace(
        "wss://{host}", "ws://{host}"
    )
    monkeypatch.setattr(websockets, "connect", websockets.legacy.client.connect)
    exec(streaming, ns)  # noqa: S102
    ns["print"] = lambda *values: printed.append(values[0] if len(values) == 1 else values)
    host = emulator.url.removeprefix("http://")

    def messages() -> list[dict[str, Any]]:
        return [json.loads(p) for p in printed if isinstance(p, str)]

    async def stream_one_photo() -> str:
        listening = asyncio.ensure_future(
            ns["test_results"](host, "your@gmail.com", "your_password", ns["company_id"])
        )
        await asyncio.to_thread(wait_for, lambda: _listeners(emulator) > 0, "the stream to be open")
        image_id = await asyncio.to_thread(upload_another_photo, emulator, ns, 5)
        await asyncio.to_thread(
            wait_for,
            lambda: any(m.get("event") == "photo_calculated_by_app" for m in messages()),
            "the photo's completion on the stream",
        )
        listening.cancel()
        return image_id

    image_id = asyncio.run(stream_one_photo())
    rows = [m for m in messages() if m.get("event") == "algorithm_result"]
    assert len(rows) == ALL_ALGORITHMS
    assert {row["result"]["image_id"] for row in rows} == {image_id}
    assert messages()[-1]["image_id"] == image_id
    assert True in printed  # the guide prints ws.open before each message


def _listeners(emulator: EmulatorServer) -> int:
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=10).json()
    return int(stats["websocket_listeners"])


def test_guide_curl_examples_as_written(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = run_guide_through_upload(emulator, tmp_path, monkeypatch, seed=6)
    auth = {"Authorization": f"Bearer {ns['token']}"}
    host = {GUIDE_HOST: emulator.url}

    # Private tokens: the example's expiry date is long past, so it makes a token that has
    # already expired; one with a future expiry is what a user then puts to work.
    made = run_curl(guide.CURL_PRIVATE_TOKEN, host, auth)
    assert made.status_code == 201
    fresh = run_curl(guide.CURL_PRIVATE_TOKEN, {**host, "2023-04-17": "2099-04-17"}, auth)
    assert fresh.status_code == 201
    listed = run_curl(
        guide.CURL_DATASETS_WITH_PRIVATE_TOKEN,
        {**host, "companies/...": f"companies/{ns['company_id']}", "{.data}": fresh.json()["data"]},
    )
    assert listed.status_code == 200
    assert ns["dataset_id"] in {d["id"] for d in listed.json()["results"]}

    ids = {
        "8c2ce170-cfa8-45a5-85f6-f872f9d54970": ns["company_id"],
        "2f1c3e0f-45c3-448f-81c1-885c1b725ef0": ns["company_id"],
        "8b567f0a-89f1-45da-8b0e-42473e0293da": ns["dataset_id"],
        "0132ced0-f78a-4717-a301-f0e8ba0efdda": ns["dataset_id"],
        "7ec46dc1-8e3a-4d25-80ab-d751b3b2b2e7": ns["dataset_id"],
        "145d2764-c924-499f-ac17-81d2a09bb121": ns["subject_id"],
        "065de3eb-d0d3-434b-b1fc-1ec6a4612a34": ns["subject_id"],
        "84007136-7842-4c4f-87ab-61f6031831ba": ns["batch_id"],
        "d165b917-c7f0-42bf-9b88-ba117002947c": ns["batch_id"],
        "d5cc9441-12da-4841-b2c8-a6cc6acc4b20": ns["image_id"],
        "5a1177b1-dc77-465f-ae95-2ca7af887150": ns["image_id"],
        "myTocken": ns["token"],
        "yourSecretTokenHere": ns["token"],
    }
    smoothed = run_curl(guide.CURL_SMOOTHED_RESULTS, {**host, **ids}, auth)
    assert smoothed.status_code == 200
    assert {row["algorithm_tech_name"] for row in smoothed.json()} >= {"selfie_v2.redness"}

    pdf = run_curl(guide.CURL_PDF, {**host, **ids})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")

    # "As a result, only Redness Algo and Face Detector will be calculated for upcoming images."
    attached = run_curl(guide.CURL_ENABLED_ALGORITHMS, {**host, **ids})
    assert attached.status_code in (200, 201)
    upcoming = upload_another_photo(emulator, ns, seed=8)
    rows = requests.get(
        f"{emulator.url}/api/v1/companies/{ns['company_id']}/datasets/{ns['dataset_id']}"
        f"/subjects/{ns['subject_id']}/all_results/",
        headers=auth,
        timeout=10,
    ).json()
    assert sorted(r["algorithm_version_id"] for r in rows if r["image_id"] == upcoming) == [30, 40]

    # Data retention: the fields the guide names, in a PUT to the dataset.
    retention = dict.fromkeys(guide.RETENTION_FIELDS[:2], 30)
    retention[guide.RETENTION_FIELDS[2]] = True
    dataset_url = f"{emulator.url}/api/v1/companies/{ns['company_id']}/datasets/{ns['dataset_id']}/"
    assert requests.put(dataset_url, json=retention, headers=auth, timeout=10).status_code == 200
    dataset = requests.get(dataset_url, headers=auth, timeout=10).json()
    assert dataset["expire_images_after_days"] == 30
    assert dataset["expire_metadata_after_days"] == 30
    assert dataset["clean_images_as_soon_as_ready"] is True
