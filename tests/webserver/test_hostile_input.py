"""Input a client controls never yields a 500: hostile bodies on every documented route, and the specific cases
that once did (deep JSON nesting, a non-UTF-8 form, a query longer than aiohttp's default line limit)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.app import Client

DEEP_ARRAY = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "malformed json": (b'{"email": "a@b.c", "password": ', "application/json"),
    "deep array": (DEEP_ARRAY, "application/json"),
    "deep object": (DEEP_OBJECT, "application/json"),
    "non-utf8 form": (b"username=\xff\xfe&password=\xc3\x28", "application/x-www-form-urlencoded"),
    "non-utf8 json": (b'{"email": "\xff\xfe"}', "application/json"),
    "nul in json": (b'{"email": "a\\u0000@b.c", "password": "x\\u0000"}', "application/json"),
}


def assert_error_shape(status: int, body: Any) -> None:
    assert status < 500
    if status >= 400:
        assert set(body) >= {"detail", "error_code", "timestamp"}


async def test_deeply_nested_json_is_refused_before_parsing(client: Client) -> None:
    for raw in (DEEP_ARRAY, DEEP_OBJECT):
        response = await client.post(
            "/api/v1/auth/login", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert (await response.json())["error_code"] == "MALFORMED_JSON"


async def test_a_non_utf8_form_is_a_400(client: Client) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        data=b"username=\xff\xfe&password=secret-secret",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 400
    assert (await response.json())["error_code"] == "MALFORMED_FORM"


async def test_a_long_initdata_query_reaches_the_app_and_gets_the_json_shape(client: Client) -> None:
    query = "user=" + "x" * 9000 + "&hash=" + "0" * 64
    response = await client.get(f"/api/v1/auth/telegram/webapp?{query}")
    assert response.status in (401, 422)
    assert_error_shape(response.status, await response.json())
    header = await client.get("/api/v1/users/me", headers={"Authorization": "tma " + query})
    assert header.status == 401
    assert_error_shape(header.status, await header.json())


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        found.extend((method.upper(), concrete) for method in methods)
    return found


@pytest.mark.parametrize("kind", sorted(HOSTILE_BODIES))
async def test_no_route_answers_5xx_to_hostile_bodies(client: Client, kind: str) -> None:
    spec = await (await client.get("/openapi.json")).json()
    raw, content_type = HOSTILE_BODIES[kind]
    seen = 0
    for method, path in operations(spec):
        if method == "GET":
            continue
        response = await client.request(method, path, data=raw, headers={"Content-Type": content_type})
        body = await response.json() if response.content_type == "application/json" else None
        assert response.status < 500, f"{method} {path}: {response.status} {body}"
        if response.status >= 400:
            assert body is not None, f"{method} {path}: {response.status} without a JSON body"
            assert "error_code" in body, f"{method} {path}: {response.status} {body}"
        seen += 1
    assert seen > 15
