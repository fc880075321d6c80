"""Secrets are masked in free text, URLs, log records and error messages."""

from __future__ import annotations

import logging

import httpx
import pytest

from haut.auth import PasswordCredentials, TokenCredentials, jwt_lifetime
from haut.errors import HautError, error_from_response
from haut.redaction import RedactingFilter, redact, register_secret
from schemas.url_secrets import strip_url_secrets
from tests.haut.conftest import jwt_with_exp

JWT = jwt_with_exp(1_900_000_000, "x", iat=1_899_999_880)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET https://h/images/a.jpg?token=abc123def&size=2", "abc123def"),
        ("https://h/x?access_token=zzz999&y=1", "zzz999"),
        (
            "https://storage.googleapis.com/b/o?X-Goog-Signature=deadbeef01&X-Goog-Date=1",
            "deadbeef01",
        ),
        ("https://hook.example/cb?auth_key=hook-value-7", "hook-value-7"),
        ("Authorization: Bearer opaque-tok-1", "opaque-tok-1"),
        ("> Cookie: authorization=cookie-tok-2", "cookie-tok-2"),
        ("access-token: pdf-tok-3", "pdf-tok-3"),
        ("headers={'Authorization': 'Bearer hdr-tok-4'}", "hdr-tok-4"),
        ('{"username": "u", "password": "hunter2!x"}', "hunter2!x"),
        ('{"refresh_token": "ref-tok-5", "access_token": "acc-tok-6"}', "ref-tok-5"),
        ('{"refresh_token": "ref-tok-5", "access_token": "acc-tok-6"}', "acc-tok-6"),
        (f"token was {JWT} here", JWT),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_keeps_ordinary_text() -> None:
    text = "POST /api/v1/companies/c1/datasets/d1/subjects/ status 400 - invalid_image: bad"
    assert redact(text) == text


def test_registered_opaque_secret_is_masked_anywhere() -> None:
    register_secret("plainOpaqueValue42")
    assert "plainOpaqueValue42" not in redact("server said: plainOpaqueValue42 is wrong")


def test_strip_url_secrets_keeps_the_rest_of_the_url() -> None:
    url = "https://user:pw@saas.haut.ai/images/a1.jpg?token=abc&size=2&X-Amz-Signature=s#f"
    assert strip_url_secrets(url) == "https://saas.haut.ai/images/a1.jpg?size=2#f"
    assert strip_url_secrets("/api/v1/x/?page=2") == "/api/v1/x/?page=2"


def test_log_filter_redacts_message_arguments_and_tracebacks() -> None:
    try:
        raise RuntimeError("failed with token=tb-secret-9")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "haut",
            logging.ERROR,
            __file__,
            1,
            "calling %s",
            ("https://h/x?token=arg-secret-8",),
            sys.exc_info(),
        )
    RedactingFilter().filter(record)

    assert "arg-secret-8" not in record.getMessage()
    assert record.exc_text is not None
    assert "tb-secret-9" not in record.exc_text


def test_credentials_reprs_hide_secrets() -> None:
    assert "sup3r-pass" not in repr(PasswordCredentials("me@x.com", "sup3r-pass"))
    assert "tok-value-1" not in repr(TokenCredentials("tok-value-1", "c1"))


def test_error_message_has_method_path_status_and_codes_but_no_token() -> None:
    request = httpx.Request("GET", "https://h/images/a.jpg?token=err-tok-77")
    response = httpx.Response(
        404,
        request=request,
        json={"errors": [{"code": "not_found", "detail": "no a.jpg?token=err-tok-77"}]},
    )
    error = error_from_response(response)

    assert isinstance(error, HautError)
    text = str(error)
    assert "GET" in text
    assert "/images/a.jpg" in text
    assert "404" in text
    assert "not_found" in text
    assert "err-tok-77" not in text
    assert "err-tok-77" not in (error.path or "")


def test_jwt_lifetime_is_exp_minus_iat_read_without_verification() -> None:
    assert jwt_lifetime(JWT) == 120
    assert jwt_lifetime(jwt_with_exp(1_900_000_000, "no-iat")) is None
    assert jwt_lifetime("opaque-token") is None
    assert jwt_lifetime("a.!!!.c") is None
