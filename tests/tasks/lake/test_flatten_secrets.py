"""No secret the service could send reaches the lake, wherever in its answers it is.

The answers are given as bytes, the way the client receives them, and go through the whole
path: decoded, flattened, written to Parquet, read back by DuckDB. Every secret below sits in a
different place of the results or aux answer; each must be gone from every column of every
table, and the clean payload next to them must come through byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from haut.redaction import bytes_may_hold_secret, may_hold_secret, register_secret
from schemas.api_results import decode_aux_images, decode_result_rows
from tasks.lake import Lake
from tasks.lake.flatten import flatten_image
from tests.tasks.lake_support import FIXTURES, uploaded_image

REGISTERED = "opaque-Q7v2Lk9mZx"  # no telltale word: masked because it is registered
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"

# Each secret, and where it sits. Several have no word near them a reader would notice.
SECRETS = {
    "aux-url-token": "tok-aux-8f3k2",
    "aux-url-userinfo": "pw-aux-user-61",
    "aux-unknown-field": "sk-aux-field-77",
    "row-unknown-field": "tok-row-field-12",
    "nested-unknown-field": "tok-nested-34",
    "error-bearer": "bearer-val-5521",
    "feedback-jwt": JWT,
    "metric-name-url": "sig-metric-9931",
    "metric-text-registered": REGISTERED,
    "widget-meta-password": "pw-widget-4410",
    "debug-metric-key-url": "tok-debug-key-88",
    "mask-name-escaped-url": "tok-mask-escaped-73",
    "image-type-escaped-word": "hidden-escaped-5150",
}


def _face(row: dict[str, Any]) -> dict[str, Any]:
    face: dict[str, Any] = row["result"]["area_results"][0]
    return face


def _results_answer() -> bytes:
    """The real capture with one secret in each of several rows: every one must be seen on
    its own, not thanks to another secret of the same row."""
    rows = json.loads((FIXTURES / "fsm2_image_results.json").read_text())
    by_family = {r["algorithm_family_tech_name"].split(".")[-1]: r for r in rows}
    by_family["redness"]["token_access"] = SECRETS["row-unknown-field"]
    by_family["hydration"]["result"]["extra"] = {
        "auth": {"api_key": SECRETS["nested-unknown-field"]}
    }
    _face(by_family["uniformness"])["main_metric"]["name"] = (
        f"Uniformness (see https://cdn.example/r.png?X-Goog-Signature={SECRETS['metric-name-url']})"
    )
    _face(by_family["eye_bags"])["main_metric"]["value"] = f"category {REGISTERED}"
    _face(by_family["wrinkles"])["main_metric"]["widget_meta"] = {
        "password": SECRETS["widget-meta-password"]
    }
    _face(by_family["sagging"])["debug_metrics"] = {
        f"https://x.example/d?token={SECRETS['debug-metric-key-url']}": 1,
        "plain": 2,
    }
    by_family["quality"]["result"]["feedback"]["overlay"] = f"session {JWT}"
    acne = by_family["acne"]
    acne["is_ok"] = False
    acne["result"] = {"error": f"upstream said: Authorization: Bearer {SECRETS['error-bearer']}"}
    by_family["pores"]["result"]["masks_original"][0]["name"] = "MASK_NAME_PLACEHOLDER"
    by_family["pigmentation"]["result"]["image_type"] = "IMAGE_TYPE_PLACEHOLDER"
    text = json.dumps(rows)
    # Escapes a check of bytes cannot read: "\/" in a URL, "\u0074" for the "t" of "token".
    text = text.replace(
        '"IMAGE_TYPE_PLACEHOLDER"', f'"\\u0074oken={SECRETS["image-type-escaped-word"]}"'
    )
    return text.replace(
        '"MASK_NAME_PLACEHOLDER"',
        f'"https:\\/\\/cdn.example\\/m.png?token={SECRETS["mask-name-escaped-url"]}"',
    ).encode()


def _aux_item(tech_name: str, image_id: str, **fields: Any) -> dict[str, Any]:
    rows = json.loads((FIXTURES / "fsm2_image_results.json").read_text())[:2]
    return {
        "id": f"aux-{tech_name}",
        "aux_image_type": {"id": 1, "name": tech_name.title(), "tech_name": tech_name},
        "creation_time": "2026-01-06 10:00:05",
        "urls": {"original": f"https://saas.example/images/{tech_name}.jpg"},
        "results": [dict(row, image_id=image_id) for row in rows],
        **fields,
    }


def _aux_answer(image_id: str) -> bytes:
    items = [
        _aux_item(
            "forehead",
            image_id,
            urls={
                "original": (f"https://saas.example/images/a.jpg?token={SECRETS['aux-url-token']}")
            },
        ),
        _aux_item(
            "nose",
            image_id,
            urls={"original": f"https://bob:{SECRETS['aux-url-userinfo']}@mirror.example/a.jpg"},
        ),
        _aux_item("chin", image_id, secret_key=SECRETS["aux-unknown-field"]),
        _aux_item("restored", image_id),
    ]
    return json.dumps(items).encode()


@pytest.fixture(scope="module")
def lake_text(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every table of the lake written from the doctored answers, as DuckDB reads it back."""
    register_secret(REGISTERED)
    image = uploaded_image()
    rows = flatten_image(
        image,
        decode_result_rows(_results_answer()),
        decode_aux_images(_aux_answer(image.image_id)),
        run_id="r",
        status="complete",
        include_coordinates=True,
    )
    root = tmp_path_factory.mktemp("lake")
    Lake(str(root)).write(rows, run_id="r")
    con = duckdb.connect()
    tables = {}
    # Every folder with files: the tables (and the staging area, were anything left there).
    for folder in sorted(p for p in Path(root).iterdir() if any(p.rglob("*.parquet"))):
        glob = str(folder / "**" / "*.parquet")
        frame = con.sql(
            "SELECT * FROM read_parquet($glob, union_by_name = true)", params={"glob": glob}
        )
        tables[folder.name] = json.dumps(frame.fetchall(), default=str)
    assert {"results", "metrics", "masks", "aux_images", "aux_metrics"} <= tables.keys()
    return tables


@pytest.mark.parametrize("place", sorted(SECRETS))
def test_no_secret_reaches_any_table(lake_text: dict[str, str], place: str) -> None:
    secret = SECRETS[place]
    found = [table for table, text in lake_text.items() if secret in text]
    assert found == [], f"the secret at {place} is in {found}"


def test_what_was_around_the_secrets_is_still_there(lake_text: dict[str, str]) -> None:
    assert "selfie_v2.redness" in lake_text["results"]
    assert "https://saas.example/images/a.jpg" in lake_text["aux_images"]
    assert "mirror.example/a.jpg" in lake_text["aux_images"]
    assert "upstream said" in lake_text["results"]
    assert "Uniformness (see https://cdn.example/r.png" in lake_text["metrics"]
    assert "category ***" in lake_text["metrics"]


def test_a_clean_answer_is_stored_byte_for_byte() -> None:
    answer = (FIXTURES / "fsm2_image_results.json").read_bytes()
    rows = decode_result_rows(answer)
    image = uploaded_image()
    stored = flatten_image(image, rows, [], run_id="r", status="complete").tables()["results"]
    ids, texts = stored.column("result_id").to_pylist(), stored.column("raw_json").to_pylist()
    by_id = dict(zip(ids, texts, strict=True))
    for row in rows:
        assert by_id[row.id].encode() == row.raw
        assert row.raw in answer


@pytest.mark.parametrize(
    "text",
    [
        "plain metric name",
        "Access_Token: x",
        "see https://a.example/p?q=1",
        "https://user:pw@host.example/",
        "Bearer abc.def",
        "eyJhbGciOi.eyJzdWIi.sig",
        "my PassWord",
        "X-CSRFToken",
        "b64data",
        f"opaque {REGISTERED} here",
        "https://cdn.example/a.jpg",
    ],
)
def test_the_bytes_check_sees_whatever_the_text_check_sees(text: str) -> None:
    register_secret(REGISTERED)
    if may_hold_secret(text) or "?" in text or "@" in text:
        assert bytes_may_hold_secret(json.dumps(text).encode())
    else:
        assert not bytes_may_hold_secret(json.dumps(text).encode())
