"""The vendor quick-start guide's way of ingesting, as a user following it would write it.

One request at a time with ``requests``, no session reuse: log in once, create the dataset and
attach Face Skin Metrics 2.0 once, then for each subject folder create a subject, for each
session a batch, and for each image upload it, wait for its results, read them and its aux
images, before the next image. Two departures from the guide, both in its favour: instead of
its fixed ``time.sleep(10)`` the loop polls ``/results/`` every ``poll_interval`` seconds until
every enabled algorithm has a row (the last poll is the guide's results read); and a 429 answer
is waited out (``Retry-After``) instead of ending the script at ``raise_for_status()``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from haut.paths import FSM2_APPLICATION_ID

SIDE_IDS = {"front": 1, "right": 2, "left": 3}
TIMEOUT_SECONDS = 60.0
RESULTS_TIMEOUT_SECONDS = 120.0


@dataclass
class GuideRun:
    """What the guide's loop did, and how long it took."""

    captures: int = 0
    images: int = 0
    requests: int = 0
    polls: int = 0
    throttled: int = 0
    seconds: float = 0.0


class GuideClient:
    """The guide's calls, each a plain ``requests`` call with the bearer token."""

    def __init__(self, host: str, run: GuideRun) -> None:
        self.host = host
        self.run = run
        self.token = ""
        self.company = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        while True:
            answer = requests.request(
                method,
                f"{self.host}/api/v1/{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.token}"} if self.token else None,
                timeout=TIMEOUT_SECONDS,
            )
            self.run.requests += 1
            if answer.status_code != 429:
                answer.raise_for_status()
                return answer.json()
            self.run.throttled += 1
            time.sleep(float(answer.headers.get("Retry-After", "1")))

    def login(self) -> None:
        grant = self.call("POST", "login/", {"username": "guide@localhost", "password": "guide"})
        self.token, self.company = grant["access_token"], grant["company_id"]

    def company_path(self, rest: str) -> str:
        return f"companies/{self.company}/{rest}"


def _sessions(root: Path, limit: int) -> Iterator[tuple[str, list[list[Path]]]]:
    """Subject folders with their session folders' images (front, right, left), ``limit``
    sessions in all."""
    left = limit
    for subject in sorted(p for p in root.iterdir() if p.is_dir()):
        sessions = [
            [s / f"{side}.jpg" for side in SIDE_IDS if (s / f"{side}.jpg").exists()]
            for s in sorted(p for p in subject.iterdir() if p.is_dir())
        ][:left]
        if not sessions:
            return
        yield subject.name, sessions
        left -= len(sessions)


def _wait_for_results(guide: GuideClient, image_path: str, expected: int, interval: float) -> Any:
    deadline = time.monotonic() + RESULTS_TIMEOUT_SECONDS
    while True:
        rows = guide.call("GET", f"{image_path}/results/")
        guide.run.polls += 1
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(interval)


def _ingest_session(
    guide: GuideClient, subject_path: str, images: list[Path], expected: int, interval: float
) -> None:
    batch = guide.call("POST", f"{subject_path}/batches/")
    batch_path = f"{subject_path}/batches/{batch['id']}"
    for photo in images:
        b64data = base64.b64encode(photo.read_bytes()).decode()
        body = {"side_id": SIDE_IDS[photo.stem], "light_id": 1, "b64data": b64data}
        image = guide.call("POST", f"{batch_path}/images/", body)
        image_path = f"{batch_path}/images/{image['id']}"
        _wait_for_results(guide, image_path, expected, interval)
        guide.call("GET", f"{image_path}/aux/")
        guide.run.images += 1
    guide.run.captures += 1


def run_guide(host: str, root: Path, *, captures: int, poll_interval: float = 0.5) -> GuideRun:
    """Ingest the first ``captures`` captures under ``root`` the guide's way."""
    run = GuideRun()
    guide = GuideClient(host, run)
    started = time.perf_counter()
    guide.login()
    dataset = guide.call(
        "POST", guide.company_path("datasets/"), {"name": "guide", "image_type_id": 1}
    )
    attached = guide.call(
        "POST",
        guide.company_path(f"applications/{FSM2_APPLICATION_ID}/runs/"),
        {"dataset_id": dataset["id"]},
    )
    expected = len(attached["enabled_algorithms"])
    guide.call("GET", "dicts/algorithms/")
    for subject_name, sessions in _sessions(root, captures):
        subject_root = guide.company_path(f"datasets/{dataset['id']}/subjects/")
        subject = guide.call("POST", subject_root, {"name": subject_name})
        for images in sessions:
            _ingest_session(
                guide, f"{subject_root}{subject['id']}", images, expected, poll_interval
            )
    run.seconds = time.perf_counter() - started
    return run
