"""The client's error tree: names that say what each thing is, and what a 4xx turns into."""

from __future__ import annotations

import httpx
import pydantic

import haut.errors
from haut.errors import ErrorItem, HautError, RequestRefusedError, error_from_response


def _public_names() -> dict[str, object]:
    """What :mod:`haut.errors` defines itself (not what it imports)."""
    return {
        name: value
        for name, value in vars(haut.errors).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == haut.errors.__name__
    }


def test_only_exceptions_are_named_error() -> None:
    # An item of the server's errors[] list is data, not something one raises or catches.
    misnamed = [
        name
        for name, value in _public_names().items()
        if name.endswith("Error") and not (isinstance(value, type) and issubclass(value, Exception))
    ]
    assert misnamed == []


def test_no_error_shares_a_name_with_pydantic() -> None:
    # ``except ValidationError`` must not depend on which of two imports came last.
    assert sorted(set(_public_names()) & set(pydantic.__all__)) == []


def test_a_4xx_refusal_is_a_refused_request_with_its_items() -> None:
    body = {
        "type": "validation_error",
        "errors": [{"code": "invalid_image", "detail": "Not a JPEG.", "attr": "b64data"}],
    }
    request = httpx.Request("POST", "https://haut.test/api/v1/companies/c/datasets/")
    error = error_from_response(httpx.Response(400, json=body, request=request))

    assert isinstance(error, RequestRefusedError)
    assert isinstance(error, HautError)
    assert error.errors == [ErrorItem(code="invalid_image", detail="Not a JPEG.", attr="b64data")]
    assert "invalid_image (b64data): Not a JPEG." in str(error)
