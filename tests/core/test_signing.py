from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from core.clock import ManualClock, SystemClock
from core.signing import (
    SignatureError,
    SigningClient,
    canonical_request,
    nonce_key,
    sign,
    verify_signed_request,
)

SECRET_OLD = "old-secret-0123456789abcdef0123456789abcdef"
SECRET_NEW = "new-secret-fedcba9876543210fedcba9876543210"
CLIENT = SigningClient("partner-bot", (SECRET_OLD, SECRET_NEW))
CLIENTS = {CLIENT.client_id: CLIENT}
NOW = 1_900_000_000
PATH = "/api/v1/auth/token/get?x=a%20b&y=2"
BODY = b'{"chat_id":123456789}'
NONCE = "nonce-0123456789abcdef"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "signed-calls.md"


class NonceStore:
    """An in-memory stand-in for the key-value store's atomic set-if-absent."""

    def __init__(self) -> None:
        self.claimed: dict[str, int] = {}

    async def claim(self, key: str, ttl: int) -> bool:
        if key in self.claimed:
            return False
        self.claimed[key] = ttl
        return True


def signed_headers(
    *,
    secret: str = SECRET_OLD,
    client_id: str = CLIENT.client_id,
    method: str = "POST",
    path: str = PATH,
    timestamp: int = NOW,
    nonce: str = NONCE,
    body: bytes = BODY,
) -> dict[str, str]:
    return {
        "X-Client-Id": client_id,
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


async def verify(
    headers: Mapping[str, str],
    *,
    store: NonceStore | None = None,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    now: float = NOW,
    clients: Mapping[str, SigningClient] = CLIENTS,
) -> str:
    clock = ManualClock()
    clock.advance(now - clock.time())
    return await verify_signed_request(
        headers=headers,
        method=method,
        path=path,
        body=body,
        clients=clients,
        clock=clock,
        claim_nonce=(store or NonceStore()).claim,
    )


async def refused(headers: Mapping[str, str], **kwargs: Any) -> str:
    with pytest.raises(SignatureError) as caught:
        await verify(headers, **kwargs)
    return caught.value.reason


# --- canonical form -------------------------------------------------------------------------------------


def test_canonical_request_layout() -> None:
    expected = (
        "POST\n/api/v1/auth/token/get?x=a%20b&y=2\n1900000000\nnonce-0123456789abcdef\n"
        + hashlib.sha256(BODY).hexdigest()
    ).encode()
    assert canonical_request("post", PATH, NOW, NONCE, BODY) == expected


def test_empty_body_hashes_the_empty_string() -> None:
    assert canonical_request("GET", "/x", 1, NONCE, b"").endswith(
        b"\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_sign_is_hex_hmac_sha256_of_the_canonical_request() -> None:
    canonical = canonical_request("POST", PATH, NOW, NONCE, BODY)
    assert (
        sign(SECRET_OLD, "POST", PATH, NOW, NONCE, BODY)
        == hmac.new(SECRET_OLD.encode(), canonical, hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize(
    ("method", "path", "timestamp", "nonce"),
    [
        ("PO ST", "/x", 1, NONCE),
        ("POST", "x", 1, NONCE),
        ("POST", "/x\nGET", 1, NONCE),
        ("POST", "/x y", 1, NONCE),
        ("POST", "/x", -1, NONCE),
        ("POST", "/x", 1, "short"),
        ("POST", "/x", 1, "n" * 129),
        ("POST", "/x", 1, "bad nonce with spaces"),
    ],
)
def test_canonical_request_refuses_unusable_parts(method: str, path: str, timestamp: int, nonce: str) -> None:
    with pytest.raises(ValueError, match=r"method|path|timestamp|nonce"):
        canonical_request(method, path, timestamp, nonce, b"")


@pytest.mark.parametrize(
    ("client_id", "secrets"),
    [("", (SECRET_OLD,)), ("has space", (SECRET_OLD,)), ("ok", ()), ("ok", ("short",)), ("ok", (SECRET_OLD,) * 3)],
)
def test_signing_client_is_validated(client_id: str, secrets: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"client_id|secret"):
        SigningClient(client_id, secrets)


# --- verification ---------------------------------------------------------------------------------------


async def test_correct_call_passes_and_claims_the_nonce_once() -> None:
    store = NonceStore()
    assert await verify(signed_headers(), store=store) == "partner-bot"
    assert store.claimed == {nonce_key("partner-bot", NONCE): 600}


async def test_header_names_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in signed_headers().items()}
    assert await verify(headers) == "partner-bot"
    assert await verify(CIMultiDict(signed_headers())) == "partner-bot"


@pytest.mark.parametrize("header", ["X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature"])
async def test_missing_header_is_refused(header: str) -> None:
    headers = signed_headers()
    del headers[header]
    assert "missing" in await refused(headers)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Client-Id", ""),
        ("X-Client-Id", "partner bot"),
        ("X-Timestamp", ""),
        ("X-Timestamp", "1900000000.0"),
        ("X-Timestamp", "-1900000000"),
        ("X-Timestamp", "01900000000"),
        ("X-Timestamp", "1e9"),
        ("X-Nonce", "short"),
        ("X-Nonce", "n" * 129),
        ("X-Nonce", "nonce with spaces here"),
        ("X-Signature", ""),
        ("X-Signature", "A" * 64),
        ("X-Signature", "0" * 63),
        ("X-Signature", "g" * 64),
    ],
)
async def test_malformed_header_is_refused(header: str, value: str) -> None:
    headers = signed_headers()
    headers[header] = value
    await refused(headers)


async def test_repeated_header_is_refused() -> None:
    headers = CIMultiDict(signed_headers())
    headers.add("x-nonce", "another-nonce-0123456789")
    assert "repeated" in await refused(headers)


async def test_wrong_signature_is_refused_and_does_not_burn_the_nonce() -> None:
    store = NonceStore()
    forged = signed_headers(secret="attacker-secret-0123456789abcdef0123456789")
    assert await refused(forged, store=store) == "signature mismatch"
    assert store.claimed == {}
    assert await verify(signed_headers(), store=store) == "partner-bot"


async def test_stale_and_future_timestamps() -> None:
    assert await verify(signed_headers(timestamp=NOW - 300)) == "partner-bot"
    assert await verify(signed_headers(timestamp=NOW + 300)) == "partner-bot"
    store = NonceStore()
    assert await refused(signed_headers(timestamp=NOW - 301), store=store) == "timestamp outside window"
    assert await refused(signed_headers(timestamp=NOW + 301), store=store) == "timestamp outside window"
    assert store.claimed == {}


async def test_replayed_nonce_is_refused() -> None:
    store = NonceStore()
    headers = signed_headers()
    assert await verify(headers, store=store) == "partner-bot"
    assert await refused(headers, store=store) == "nonce already used"


async def test_nonces_are_per_client() -> None:
    other = SigningClient("other-bot", (SECRET_NEW,))
    clients = {**CLIENTS, "other-bot": other}
    store = NonceStore()
    assert await verify(signed_headers(), store=store, clients=clients) == "partner-bot"
    headers = signed_headers(client_id="other-bot", secret=SECRET_NEW)
    assert await verify(headers, store=store, clients=clients) == "other-bot"


async def test_body_changed_after_signing_is_refused() -> None:
    await refused(signed_headers(), body=b'{"chat_id":123456780}')
    await refused(signed_headers(), body=BODY + b" ")
    await refused(signed_headers(), body=b"")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/token/get",
        "/api/v1/auth/token/get?x=a+b&y=2",
        "/api/v1/auth/token/get?y=2&x=a%20b",
        "/api/v1/auth/token/GET?x=a%20b&y=2",
        "/api/v1/auth/token/get?x=a%20b&y=2&",
    ],
)
async def test_path_or_query_changed_is_refused(path: str) -> None:
    assert await refused(signed_headers(), path=path) == "signature mismatch"


async def test_method_changed_is_refused() -> None:
    await refused(signed_headers(), method="PUT")


async def test_either_rotated_secret_is_accepted() -> None:
    assert await verify(signed_headers(secret=SECRET_OLD)) == "partner-bot"
    assert await verify(signed_headers(secret=SECRET_NEW, nonce="another-nonce-123456")) == "partner-bot"
    single = {"partner-bot": SigningClient("partner-bot", (SECRET_NEW,))}
    assert await refused(signed_headers(secret=SECRET_OLD), clients=single) == "signature mismatch"


async def test_unknown_client_is_refused_without_claiming() -> None:
    store = NonceStore()
    assert await refused(signed_headers(client_id="stranger"), store=store) == "unknown client"
    assert await refused(signed_headers(client_id="stranger", timestamp=NOW - 999), store=store)
    assert store.claimed == {}


async def test_unknown_client_costs_the_same_hmac_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing cannot be measured reliably in a test, so count the work instead: an unknown client, a
    known client with one secret and one with two all run the same number of HMACs and comparisons."""
    counts = {"hmac": 0, "compare": 0}
    real_new: Callable[..., Any] = hmac.new
    real_compare: Callable[..., bool] = hmac.compare_digest

    def counting_new(*args: Any, **kwargs: Any) -> Any:
        counts["hmac"] += 1
        return real_new(*args, **kwargs)

    def counting_compare(a: Any, b: Any) -> bool:
        counts["compare"] += 1
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "new", counting_new)
    monkeypatch.setattr(hmac, "compare_digest", counting_compare)
    single = SigningClient("single-bot", (SECRET_NEW,))
    clients = {**CLIENTS, "single-bot": single}
    bad = "0" * 64
    observed = []
    for client_id in ("stranger", "partner-bot", "single-bot"):
        headers = signed_headers(client_id=client_id)
        headers["X-Signature"] = bad
        counts.update(hmac=0, compare=0)
        await refused(headers, clients=clients)
        observed.append(dict(counts))
    assert observed[0] == observed[1] == observed[2] == {"hmac": 2, "compare": 2}


async def test_a_match_on_the_first_secret_still_compares_the_second(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[bytes] = []
    real_compare: Callable[..., bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert await verify(signed_headers(secret=SECRET_OLD)) == "partner-bot"
    assert len(compared) == 2


async def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        await verify_signed_request(
            headers=signed_headers(),
            method="POST",
            path=PATH,
            body=BODY,
            clients=CLIENTS,
            clock=SystemClock(),
            claim_nonce=NonceStore().claim,
            window=0,
        )


# --- the shell example in docs/signed-calls.md ------------------------------------------------------------

needs_shell_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "openssl", "sha256sum", "curl")),
    reason="bash, openssl, sha256sum and curl are needed to run the documented example",
)


def shell_example() -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- signed-call-shell-example[^>]*-->\n```sh\n(.*?)```", text, re.DOTALL)
    assert match, "the shell example block is missing from docs/signed-calls.md"
    return match.group(1)


def example_value(script: str, name: str) -> str:
    match = re.search(rf"^{name}=['\"](.*)['\"]$", script, re.MULTILINE)
    assert match, name
    return match.group(1)


@needs_shell_tools
async def test_shell_signature_with_fixed_inputs_equals_sign() -> None:
    script = shell_example()
    signing_part = script[: script.index("curl ")]
    signing_part = re.sub(r"^TIMESTAMP=.*$", f"TIMESTAMP={NOW}", signing_part, flags=re.MULTILINE)
    signing_part = re.sub(r"^NONCE=.*$", f"NONCE={NONCE}", signing_part, flags=re.MULTILINE)
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        signing_part + 'printf "%s" "$SIGNATURE"',
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    expected = sign(
        example_value(script, "SECRET"),
        example_value(script, "METHOD"),
        example_value(script, "REQ_PATH"),
        NOW,
        NONCE,
        example_value(script, "BODY").encode(),
    )
    assert stdout.decode() == expected


@needs_shell_tools
async def test_shell_example_is_accepted_by_the_verifier_over_real_http() -> None:
    """Runs the documented script unchanged except for BASE_URL, with real curl against a local server."""
    script = shell_example()
    client = SigningClient(example_value(script, "CLIENT_ID"), (example_value(script, "SECRET"),))
    store = NonceStore()
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        try:
            client_id = await verify_signed_request(
                headers=request.headers,
                method=request.method,
                path=request.raw_path,
                body=await request.read(),
                clients={client.client_id: client},
                clock=SystemClock(),
                claim_nonce=store.claim,
            )
        except SignatureError as error:
            seen.append(error.reason)
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"client": client_id})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base_url = str(server.make_url("")).rstrip("/")
        runnable = re.sub(r"^BASE_URL=.*$", f'BASE_URL="{base_url}"', script, flags=re.MULTILINE)
        process = await asyncio.create_subprocess_exec(
            "bash", "-euo", "pipefail", "-c", runnable, stdout=asyncio.subprocess.PIPE
        )
        stdout, _ = await process.communicate()
    finally:
        await server.close()
    assert process.returncode == 0
    assert seen == []
    assert json.loads(stdout) == {"client": "partner-bot"}
    assert len(store.claimed) == 1


def test_python_snippet_in_the_docs_matches_sign() -> None:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match, "the Python example is missing from docs/signed-calls.md"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    documented = namespace["sign"]
    for method, path, body in (("post", PATH, BODY), ("GET", "/x", b""), ("PUT", "/y?a=%C3%A9", "é".encode())):
        assert documented(SECRET_OLD, method, path, NOW, NONCE, body) == sign(
            SECRET_OLD, method, path, NOW, NONCE, body
        )
