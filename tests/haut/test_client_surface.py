"""HautClient against a scripted fake API: throttling, secrets, private tokens, pages, files."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
import pytest

from haut.auth import PasswordCredentials, TokenCredentials
from haut.client import HautClient
from haut.errors import (
    AuthError,
    NotFoundError,
    RequestRefusedError,
)
from schemas.refs import ImageRef
from tests.haut.conftest import (
    PASSWORD,
    USERNAME,
    FakeHaut,
    answer,
    error_body,
)

pytestmark = pytest.mark.anyio

ClientFactory = Callable[..., HautClient]


async def test_concurrency_cap_is_respected(fake: FakeHaut, make_client: ClientFactory) -> None:
    fake.hold_seconds = 0.005
    async with make_client(max_concurrency=3) as client:
        await client.login()
        await asyncio.gather(*(client.get_dataset("ds-1") for _ in range(15)))

    assert fake.max_in_flight == 3


async def test_request_rate_is_limited(fake: FakeHaut, make_client: ClientFactory) -> None:
    async with make_client(requests_per_second=40, max_concurrency=50) as client:
        await client.login()  # one token of the bucket
        started = time.monotonic()
        await asyncio.gather(*(client.get_dataset("ds-1") for _ in range(59)))
        elapsed = time.monotonic() - started

    # a burst of 40, then 20 more at 40/s: at least ~0.5 s
    assert elapsed >= 0.4


async def test_secrets_never_reach_errors_reprs_or_logs(
    fake: FakeHaut, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.on(
        "/images/aux-1.jpg",
        lambda request: httpx.Response(
            404, json=error_body("not_found", f"no image for {request.url}")
        ),
    )
    fake.on("/datasets/ds-1/", answer(503), answer(400, json=error_body("bad", "x")))
    async with make_client() as client:
        await client.login()
        token = fake.valid_tokens.copy().pop()
        with pytest.raises(NotFoundError) as not_found:
            await client.aux_image_jpeg("aux-1")
        with pytest.raises(RequestRefusedError) as refused:
            await client.get_dataset("ds-1")
        shown = [
            str(not_found.value),
            repr(not_found.value),
            str(refused.value),
            repr(client),
            repr(client.session.tokens.grant),
            repr(PasswordCredentials(USERNAME, PASSWORD)),
        ]
        logged = [record.getMessage() for record in caplog.records]

    assert any("aux-1" in text for text in shown)
    assert any("retrying" in text for text in logged)
    assert any("HTTP Request" in text for text in logged)  # httpx's own log line, redacted
    for text in shown + logged:
        assert token not in text
        assert PASSWORD not in text
        assert "refresh-1-Rr" not in text


async def test_private_token_is_used_as_is_and_never_refreshed(fake: FakeHaut) -> None:
    fake.valid_tokens.add("private-token-abc123")
    credentials = TokenCredentials("private-token-abc123", company_id="comp-0001")
    async with HautClient(
        "https://haut.test", credentials, transport=httpx.MockTransport(fake)
    ) as client:
        await client.get_dataset("ds-1")
        fake.expire_all_tokens()
        with pytest.raises(AuthError):
            await client.get_dataset("ds-1")

    assert fake.logins == fake.refreshes == 0
    assert "private-token-abc123" not in repr(client) + repr(credentials)


async def test_pages_are_followed_to_the_end(fake: FakeHaut, make_client: ClientFactory) -> None:
    base = "https://elsewhere.example/api/v1/companies/comp-0001/datasets/ds-1/subjects/"
    fake.on(
        "/subjects/",
        answer(
            200,
            json={
                "count": 3,
                "next": base + "?page=2&page_size=2",
                "previous": None,
                "results": [{"id": "s1", "name": "a"}, {"id": "s2", "name": "b"}],
            },
        ),
        answer(
            200,
            json={
                "count": 3,
                "next": None,
                "previous": base,
                "results": [{"id": "s3", "name": "a"}],
            },
        ),
    )
    async with make_client() as client:
        found = await client.find_subjects("ds-1", "a")

    assert [s.id for s in found] == ["s1", "s3"]


async def test_pdf_and_aux_jpeg_carry_the_token_where_the_service_expects_it(
    fake: FakeHaut, make_client: ClientFactory
) -> None:
    seen: list[httpx.Request] = []

    def record(status: int, content: bytes) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(status, content=content)

        return respond

    fake.on("/pdf/", record(200, b"%PDF-1.4"))
    fake.on("/images/aux-9.jpg", record(200, b"\xff\xd8jpeg"))
    image = ImageRef("ds-1", "subj-1", "batch-1", "img-1")
    async with make_client() as client:
        assert await client.pdf_report(image) == b"%PDF-1.4"
        assert await client.aux_image_jpeg("aux-9") == b"\xff\xd8jpeg"
        token = next(iter(fake.valid_tokens))

    pdf, jpeg = seen
    assert pdf.url.path == (
        "/service/pdf-generator/companies/comp-0001/datasets/ds-1/subjects/"
        "subj-1/batches/batch-1/images/img-1/pdf/"
    )
    assert pdf.headers["access-token"] == token
    assert jpeg.url.params["token"] == token
