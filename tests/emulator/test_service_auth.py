"""Login, tokens, private tokens, login limit and access rules of the emulator service."""
# ruff: noqa: F811 - pytest fixtures are imported from the support module and used by name

from __future__ import annotations

import base64
import json
import uuid

import pytest

from haut.emulator.server import EmulatorServer
from tests.emulator.test_service_support import (  # noqa: F401 - fixtures
    HTTP,
    StartEmulator,
    advance,
    emulator,
    error_codes,
    login,
    start_emulator,
)

pytestmark = pytest.mark.server


@pytest.mark.parametrize(
    "path", ["/api/v1/login/", "/api/v1/auth/login/", "/api/v1/login", "/api/v1/auth/login"]
)
def test_login_paths_answer_with_the_documented_shape(emulator: EmulatorServer, path: str) -> None:
    response = HTTP.post(
        emulator.url + path, json={"username": f"{uuid.uuid4()}@b.c", "password": "pw"}
    )

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["id"], int)
    uuid.UUID(body["company_id"])
    assert body["access_token"] == body["token_access"]
    _, payload, _ = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["company_id"] == body["company_id"]


def test_each_username_is_its_own_user_and_company(emulator: EmulatorServer) -> None:
    first, again, other = login(emulator, "one@x.io"), login(emulator, "one@x.io"), login(emulator)

    assert (first.user_id, first.company_id) == (again.user_id, again.company_id)
    assert other.user_id != first.user_id
    assert other.company_id != first.company_id


def test_login_without_password_is_a_validation_error(emulator: EmulatorServer) -> None:
    response = HTTP.post(f"{emulator.url}/api/v1/login/", json={"username": "a@b.c"})

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"code": "required", "detail": "This field is required.", "attr": "password"}],
    }


def test_configured_credentials_refuse_others(start_emulator: StartEmulator) -> None:
    server = start_emulator(credentials={"me@x.io": "right"})
    url = f"{server.url}/api/v1/login/"

    assert HTTP.post(url, json={"username": "me@x.io", "password": "right"}).status_code == 200
    wrong = HTTP.post(url, json={"username": "me@x.io", "password": "wrong"})
    assert wrong.status_code == 401
    assert error_codes(wrong) == ["authentication_failed"]
    assert "wrong" not in wrong.text
    assert HTTP.post(url, json={"username": "x@x.io", "password": "right"}).status_code == 401


def test_token_expires_after_an_hour_on_the_emulator_clock(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    assert caller.get(f"{caller.company}/datasets/").status_code == 200

    advance(emulator, 3601)

    expired = caller.get(f"{caller.company}/datasets/")
    assert expired.status_code == 401
    assert expired.json()["type"] == "client_error"
    assert error_codes(expired) == ["token_expired"]


@pytest.mark.parametrize("path", ["/api/v1/auth/refresh/", "/api/v1/refresh/", "/api/v1/refresh"])
def test_refresh_gives_a_working_access_token(emulator: EmulatorServer, path: str) -> None:
    username = f"refresh-{uuid.uuid4().hex}"
    first = HTTP.post(f"{emulator.url}/api/v1/login/", json={"username": username, "password": "p"})
    advance(emulator, 3601)

    refreshed = HTTP.post(
        emulator.url + path, json={"refresh_token": first.json()["refresh_token"]}
    )

    assert refreshed.status_code == 200
    token = refreshed.json()["access_token"]
    company = refreshed.json()["company_id"]
    datasets = HTTP.get(
        f"{emulator.url}/api/v1/companies/{company}/datasets/",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert datasets.status_code == 200


def test_an_access_token_is_not_a_refresh_token(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    response = caller.http.post("/api/v1/auth/refresh/", json={"refresh_token": caller.token})
    assert response.status_code == 401


def test_missing_and_forged_tokens_are_refused(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    path = f"{caller.company}/datasets/"

    missing = caller.http.get(path)
    forged = caller.http.get(path, headers={"Authorization": f"Bearer {caller.token[:-4]}AAAA"})

    assert missing.status_code == 401
    assert error_codes(missing) == ["not_authenticated"]
    assert forged.status_code == 401
    assert error_codes(forged) == ["authentication_failed"]


def test_another_company_is_off_limits(emulator: EmulatorServer) -> None:
    mine, theirs = login(emulator), login(emulator)
    assert mine.get(f"{theirs.company}/datasets/").status_code == 403


def test_profile_names_the_user(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    for path in ("/api/v1/auth/profile/", "/api/v1/auth/profile"):
        body = caller.get(path).json()
        assert body["user"]["id"] == caller.user_id
        assert body["company_id"] == caller.company_id


def test_private_tokens_are_created_listed_used_and_deleted(emulator: EmulatorServer) -> None:
    caller = login(emulator)
    created = caller.post(
        "/api/v1/auth/private_tokens/",
        {"name": "etl", "expiration_time": "2099-04-17T16:10:17.350Z"},
    )
    assert created.status_code == 201
    token = created.json()["data"]
    advance(emulator, 2 * 3600)  # the login token is long dead by now

    datasets = caller.http.get(
        f"{caller.company}/datasets/", headers={"authorization": f"Bearer {token}"}
    )
    listing = caller.http.get(
        "/api/v1/auth/private_tokens/", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert datasets.status_code == 200
    assert listing["count"] == 1
    assert listing["results"][0]["name"] == "etl"
    assert "data" not in listing["results"][0]

    token_id = created.json()["id"]
    deleted = caller.http.delete(
        f"/api/v1/auth/private_tokens/{token_id}/", headers={"Authorization": f"Bearer {token}"}
    )
    assert deleted.status_code == 204
    after = caller.http.get(
        f"{caller.company}/datasets/", headers={"Authorization": f"Bearer {token}"}
    )
    assert after.status_code == 401


def test_login_limit_per_user_per_minute(start_emulator: StartEmulator) -> None:
    server = start_emulator(login_limit_per_minute=3)
    url = f"{server.url}/api/v1/login/"
    credentials = {"username": "busy@x.io", "password": "p"}

    statuses = [HTTP.post(url, json=credentials).status_code for _ in range(3)]
    throttled = HTTP.post(url, json=credentials)

    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert error_codes(throttled) == ["throttled"]
    assert HTTP.post(url, json={"username": "calm@x.io", "password": "p"}).status_code == 200
    advance(server, 61)
    assert HTTP.post(url, json=credentials).status_code == 200


def test_usernames_are_case_insensitive(start_emulator: StartEmulator) -> None:
    server = start_emulator(login_limit_per_minute=3, credentials={"Ann@X.io": "pw"})
    url = f"{server.url}/api/v1/login/"
    spellings = ["Ann@X.io", "ann@x.io", "ANN@X.IO", "aNN@x.Io"]

    answers = [HTTP.post(url, json={"username": u, "password": "pw"}) for u in spellings]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert len({(a.json()["id"], a.json()["company_id"]) for a in answers[:3]}) == 1
    assert answers[0].json()["username"] == "ann@x.io"


@pytest.mark.parametrize(
    "path", ["/api/v1/dicts/algorithms/", "/api/v1/dicts/algorithms", "/api/v1/dicts/image_types/"]
)
def test_dictionaries_need_no_auth_and_ignore_a_malformed_header(
    emulator: EmulatorServer, path: str
) -> None:
    plain = HTTP.get(emulator.url + path)
    guide_style = HTTP.get(emulator.url + path, headers={"Authorization": "Bearer: nonsense"})

    assert plain.status_code == guide_style.status_code == 200
    assert isinstance(plain.json(), list)
    assert plain.json() == guide_style.json()
