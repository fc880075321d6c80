"""The emulator in a process of its own, counting the requests it answers by kind.

Run in the pipeline's process, the emulator would share its interpreter lock and hide which of
the two is the bottleneck; here it has its own, and reports its own CPU time. Requests are
counted by what they do (upload, results read, ...) so a run shows where its request budget
went; ``GET /_bench/stats`` answers the counts.

``reuse_analysis`` makes the emulator analyse each distinct *picture* once: the benchmark's
photos are a small pool of portraits made unique by a JPEG comment (see :mod:`bench.photos`),
so stripping the comment finds the analysis already done. Only the memory runs use it, so that
ten thousand captures are not bound by the emulator's ~30 ms of analysis per photo.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import resource
import socket
from collections import Counter
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.photos import untagged
from haut.emulator.config import EmulatorConfig

STATS_PATH = "/_bench/stats"
START_TIMEOUT_SECONDS = 30.0
THROTTLED = "throttled (429)"


def request_kind(method: str, path: str) -> str:
    """What an API request does, from its method and path."""
    if "/login/" in path or path.endswith("/auth/refresh/"):
        return "login"
    for suffix, post, get in (
        ("/subjects/", "subject create", "subject lookup"),
        ("/batches/", "batch create", "batch list"),
        ("/images/", "image upload", "image list"),
    ):
        if path.endswith(suffix):
            return post if method == "POST" else get
    if method == "GET" and path.endswith("/results/"):
        return "results read"
    if method == "GET" and path.endswith("/aux/"):
        return "aux read"
    return "other"


class RequestCounter:
    """ASGI middleware: counts requests by kind and 429 answers; serves the counts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == STATS_PATH:
            await _send_json(send, self.stats())
            return
        throttled = False

        async def watching(message: Message) -> None:
            nonlocal throttled
            if message["type"] == "http.response.start":
                throttled = message["status"] == 429
            await send(message)

        await self.app(scope, receive, watching)
        self.counts[request_kind(scope["method"], scope["path"])] += 1
        self.counts[THROTTLED] += throttled

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "requests": dict(self.counts),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "max_rss_kib": usage.ru_maxrss,
        }


async def _send_json(send: Send, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _reuse_analysis() -> None:
    """Analyse each pool picture once; every tagged copy gets its analysis, with its own sha256.

    The rows and crops drawn from a photo depend on the analysis alone, never on the sha256
    (:class:`haut.emulator.photo.Photo`), so they are computed once per picture too.
    """
    from haut.emulator import analysis

    measure = analysis.inspect_photo
    algorithm_outcome, aux_outcomes = analysis.algorithm_outcome, analysis.aux_outcomes
    done: dict[bytes, analysis.Photo] = {}
    picture_of: dict[str, bytes] = {}  # a copy's sha256 -> its picture's
    outcomes: dict[tuple[Any, ...], Any] = {}

    def inspect_photo(data: bytes) -> analysis.Photo:
        picture = untagged(data)
        key = hashlib.sha256(picture).digest()
        if key not in done:
            done[key] = measure(picture)
        copy = dataclasses.replace(done[key], sha256=hashlib.sha256(data).hexdigest())
        picture_of[copy.sha256] = key
        return copy

    def once(compute: Any, name: str) -> Any:
        def per_picture(photo: analysis.Photo, *args: Any, **options: Any) -> Any:
            picture = picture_of.get(photo.sha256)
            if picture is None:
                return compute(photo, *args, **options)
            rows = options.get("rows") or ()
            key = (
                name,
                picture,
                tuple(tuple(a) if isinstance(a, list) else getattr(a, "id", a) for a in args),
                tuple(sorted((k, v) for k, v in options.items() if k != "rows")),
                # Rows come from the cache above, so the same rows are the same objects.
                tuple((spec.id, ok, id(payload)) for spec, ok, payload in rows),
            )
            if key not in outcomes:
                outcomes[key] = compute(photo, *args, **options)
            return outcomes[key]

        return per_picture

    analysis.inspect_photo = inspect_photo
    analysis.algorithm_outcome = once(algorithm_outcome, "row")
    analysis.aux_outcomes = once(aux_outcomes, "aux")


def _serve(config: EmulatorConfig, reuse_analysis: bool, parent: Connection) -> None:
    from haut.emulator.app import create_app

    if reuse_analysis:
        _reuse_analysis()
    app = RequestCounter(create_app(config))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    parent.send(listener.getsockname()[1])
    settings = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(settings).run(sockets=[listener])


class EmulatorProcess:
    """``with EmulatorProcess(config) as emulator:`` an emulator at ``emulator.url``."""

    def __init__(self, config: EmulatorConfig, *, reuse_analysis: bool = False) -> None:
        self.config = config
        self.reuse_analysis = reuse_analysis
        self.url = ""
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> EmulatorProcess:
        context = multiprocessing.get_context("spawn")
        receiving, sending = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve, args=(self.config, self.reuse_analysis, sending), daemon=True
        )
        self._process.start()
        if not receiving.poll(START_TIMEOUT_SECONDS):
            self.__exit__(None, None, None)
            raise RuntimeError("the emulator process did not start")
        self.url = f"http://127.0.0.1:{receiving.recv()}"
        self._wait_until_serving()
        return self

    def _wait_until_serving(self) -> None:
        with httpx.Client(timeout=START_TIMEOUT_SECONDS) as client:
            client.get(self.url + STATS_PATH).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """Requests answered by kind, the emulator's CPU seconds and peak memory so far."""
        answer = httpx.get(self.url + STATS_PATH, timeout=30.0)
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=15)
            self._process = None
