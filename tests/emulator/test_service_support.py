"""Shared helpers for the emulator service tests: a running emulator and a logged-in caller.

(Named test_service_* so it stays with the service tests; it holds no tests itself.)
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from haut.emulator.catalog import FSM2_APPLICATION_ID
from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face
from haut.emulator.server import EmulatorServer

StartEmulator = Callable[..., EmulatorServer]

# One connection pool for every test: building an httpx client (its TLS context) costs ~30 ms.
_TRANSPORT = httpx.HTTPTransport()
HTTP = httpx.Client(timeout=10, transport=_TRANSPORT)


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Starts emulators with the given config fields; all are stopped after the test."""
    running: list[EmulatorServer] = []

    def start(**settings: Any) -> EmulatorServer:
        server = EmulatorServer(EmulatorConfig(**settings)).start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """An emulator where algorithms finish at once (and no rate limit bites), one per module.

    Tests stay independent by logging in as a fresh user (own company) each time.
    """
    settings = EmulatorConfig(algorithm_delay_seconds=0, rate_limit_per_second=10_000)
    with EmulatorServer(settings) as server:
        yield server


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Caller:
    """A logged-in user of one emulator, with shortcuts for the quick-start steps."""

    http: httpx.Client
    token: str
    company_id: str
    user_id: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def company(self) -> str:
        return f"/api/v1/companies/{self.company_id}"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, headers=self.auth, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.auth, **kwargs)

    def created(self, path: str, body: Any = None) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def dataset(
        self, *, image_type_id: int = 1, algorithms: list[int] | None = None, **settings: Any
    ) -> str:
        """A dataset with Face Skin Metrics 2.0 attached; returns its path."""
        body = {"name": "dataset", "image_type_id": image_type_id, **settings}
        dataset_id = self.created(f"{self.company}/datasets/", body)["id"]
        run: dict[str, Any] = {"dataset_id": dataset_id}
        if algorithms is not None:
            run["enabled_algorithms"] = algorithms
        self.created(f"{self.company}/applications/{FSM2_APPLICATION_ID}/runs/", run)
        return f"{self.company}/datasets/{dataset_id}"

    def subject(self, dataset: str, name: str = "subject") -> str:
        return f"{dataset}/subjects/{self.created(f'{dataset}/subjects/', {'name': name})['id']}"

    def batch(self, subject: str, body: dict[str, Any] | None = None) -> str:
        return f"{subject}/batches/{self.created(f'{subject}/batches/', body)['id']}"

    def upload(self, batch: str, photo: bytes | None = None, side_id: int = 1, **extra: Any) -> str:
        """Uploads a photo (a synthetic face by default); returns the image path."""
        body = {"side_id": side_id, "light_id": 1, "b64data": b64(photo or render_face(1)), **extra}
        return f"{batch}/images/{self.created(f'{batch}/images/', body)['id']}"


def login(server: EmulatorServer, username: str | None = None) -> Caller:
    return login_on(httpx.Client(base_url=server.url, timeout=10, transport=_TRANSPORT), username)


def login_on(http: httpx.Client, username: str | None = None) -> Caller:
    """Logs in through ``http`` (a client of a running emulator, or a TestClient of its app)."""
    username = username or f"{uuid.uuid4().hex[:12]}@example.com"
    response = http.post("/api/v1/login/", json={"username": username, "password": "secret"})
    assert response.status_code == 200, response.text
    body = response.json()
    return Caller(http, body["access_token"], body["company_id"], body["id"])


def advance(server: EmulatorServer, seconds: float) -> None:
    response = HTTP.post(f"{server.url}/_emulator/clock", json={"advance_seconds": seconds})
    assert response.status_code == 200


def error_codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


@dataclass
class Receiver:
    """A webhook receiver on loopback: every request lands in ``requests``."""

    url: str
    requests: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 204

    def next_request(self, timeout: float = 10.0) -> dict[str, Any]:
        return self.requests.get(timeout=timeout)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            target = box["receiver"]
            status = target.statuses.pop(0) if target.statuses else 204
            target.requests.put(
                {"path": self.path, "headers": dict(self.headers), "body": body, "status": status}
            )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["receiver"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield box["receiver"]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
