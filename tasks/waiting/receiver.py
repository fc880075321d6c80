"""The webhook receiver the webhook waiter starts: a tiny Starlette app under uvicorn.

It runs in a daemon thread on its own event loop (like the emulator), so it needs nothing from
the caller's loop, installs no signal handlers, and stops cleanly. Every delivery must carry
the configured authorization (reference §4.9: ``?key=value``, HTTP basic or a bearer token) or
it is refused with 401. An accepted delivery (reference §7)::

    {"event": "photo_calculated_by_app", "image_id": "...", "batch_id": "...", "dataset_id": "...",
     "application_run_id": "...", "area_results": [...]}

is handed to ``on_delivery(image_id)``; one that names no image (a GET webhook, an unknown
event) is handed on as ``on_delivery(None)``: "something finished, look again".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import uvicorn
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haut.redaction import get_logger, register_secret
from schemas.api_results import WebhookPayload
from schemas.url_secrets import strip_url_secrets

log = get_logger(__name__)

DEFAULT_PATH = "/hautflow/webhook/"
START_TIMEOUT_SECONDS = 15.0
MAX_FIELD_LENGTH = 128  # the API's limit for authorization_key / authorization_value

OnDelivery = Callable[[str | None], None]


class WebhookAuthScheme(StrEnum):
    """How the API proves a delivery is ours (the webhook's ``authorization`` field)."""

    QUERY = "query"
    BASIC = "basic"
    BEARER = "bearer"


def _random_secret() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class WebhookAuth:
    """The authorization the API adds to each delivery, and the check the receiver applies.

    Default: a bearer token, random per waiter. ``key`` is the query parameter name (query) or
    the user name (basic); ``value`` is the secret, never shown in reprs or logs.
    """

    scheme: WebhookAuthScheme = WebhookAuthScheme.BEARER
    key: str = "hautflow"
    value: SecretStr = field(default_factory=_random_secret)

    def __post_init__(self) -> None:
        secret = self.value.get_secret_value()
        if not (0 < len(self.key) <= MAX_FIELD_LENGTH and 0 < len(secret) <= MAX_FIELD_LENGTH):
            raise ValueError(
                f"webhook authorization key and value must be 1..{MAX_FIELD_LENGTH} characters"
            )
        register_secret(self.value)

    @classmethod
    def bearer(cls, token: str | SecretStr | None = None) -> WebhookAuth:
        return cls(WebhookAuthScheme.BEARER, value=_secret(token))

    @classmethod
    def basic(cls, username: str, password: str | SecretStr | None = None) -> WebhookAuth:
        return cls(WebhookAuthScheme.BASIC, key=username, value=_secret(password))

    @classmethod
    def query(cls, key: str, value: str | SecretStr | None = None) -> WebhookAuth:
        return cls(WebhookAuthScheme.QUERY, key=key, value=_secret(value))

    def accepts(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Whether a request carries this authorization (constant-time comparisons)."""
        if self.scheme is WebhookAuthScheme.QUERY:
            return _same(query.get(self.key), self.value.get_secret_value())
        kind, _, credential = headers.get("authorization", "").partition(" ")
        if self.scheme is WebhookAuthScheme.BEARER:
            return kind.lower() == "bearer" and _same(credential.strip(), self._secret)
        if kind.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credential.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return _same(decoded, f"{self.key}:{self._secret}")

    @property
    def _secret(self) -> str:
        return self.value.get_secret_value()


def _secret(value: str | SecretStr | None) -> SecretStr:
    if value is None:
        return _random_secret()
    return value if isinstance(value, SecretStr) else SecretStr(value)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class WebhookReceiver:
    """Receives dataset webhook deliveries on ``host:port`` (port 0: a free one)."""

    def __init__(
        self,
        auth: WebhookAuth,
        on_delivery: OnDelivery,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = DEFAULT_PATH,
        public_url: str | None = None,
    ) -> None:
        self.auth = auth
        self.host, self.port, self.path = host, port, path
        self.public_url = public_url
        self.accepted = 0
        self.refused = 0
        self._on_delivery = on_delivery
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.url!r}, scheme={self.auth.scheme.value!r})"

    @property
    def url(self) -> str:
        """Where the API must send deliveries (the public URL when one is configured)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}{self.path}"

    def start(self) -> WebhookReceiver:
        """Bind (so the port is known at once), serve in a thread, return once serving."""
        if self._thread is not None:
            raise RuntimeError("the webhook receiver is already running")
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        app = Starlette(routes=[Route(self.path, self._deliver, methods=["POST", "GET"])])
        # No access log: with query authorization the secret is in every request line.
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"hautflow-webhook-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_serving()
        log.info("webhook receiver listening at %s", strip_url_secrets(self.url))
        return self

    def _wait_until_serving(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the webhook receiver did not start on {self.host}")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    async def _deliver(self, request: Request) -> Response:
        if not self.auth.accepts(request.headers, request.query_params):
            self.refused += 1
            log.warning("refused a webhook delivery without the right authorization")
            return Response(status_code=401)
        image_id: str | None = None
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                return Response(status_code=400)
            image_id = _image_id(body)
        self.accepted += 1
        self._on_delivery(image_id)
        return Response(status_code=204)


def _image_id(body: object) -> str | None:
    """The finished image a delivery names, if it is a photo_calculated_by_app payload."""
    try:
        return WebhookPayload.model_validate(body).image_id
    except ValidationError:
        return None
