"""Family finance over real HTTP on 127.0.0.1: every route's access rules (membership, roles, another family's ids),
idempotent creation, reports, the PNG chart, CSV export and import, input errors in the JSON shape."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import Any

from core.clock import ManualClock
from tests.helpers.app import Client
from tests.webserver.conftest import MakeClient
from tests.webserver.test_auth_routes import bearer, register
from webserver.keys import CONTAINER
from webserver.routes import finance as finance_routes

API = "/api/v1"


class Person:
    def __init__(self, client: Client, token: str, user_id: int) -> None:
        self.client, self.headers, self.id = client, bearer(token), user_id

    async def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.client.request(method, API + path, headers=headers, **kwargs)
        raw = await response.read()
        text = raw.decode(errors="replace")
        assert response.status == status, f"{method} {path}: {response.status} {text}"
        if response.content_type == "application/json" and text:
            body = await response.json()
            if status >= 400:
                assert set(body) >= {"detail", "error_code", "timestamp"}
            return body
        return response


async def person(client: Client, email: str) -> Person:
    body = await register(client, email)
    me = await (await client.get(f"{API}/users/me", headers=bearer(body["access_token"]))).json()
    return Person(client, body["access_token"], me["id"])


async def family_of(owner: Person, name: str = "Home") -> dict[str, Any]:
    family: dict[str, Any] = await owner.call("POST", "/families", 201, json={"name": name, "base_currency": "EUR"})
    return family


async def test_families_members_invites_and_roles(make_client: MakeClient, clock: ManualClock) -> None:
    # Tokens that outlive the invite's expiry below.
    client = await make_client(auth={"access_ttl_seconds": 86400}, ratelimit={"user_limit": 1000})
    client.app[CONTAINER].links.bot_username = "unibot_bot"
    ann, bob, eve = [await person(client, f"{n}@example.org") for n in ("ann", "bob", "eve")]
    # A first use, even a read, makes a personal family in the caller's language (once: a read is run again as a
    # write only while the user has none).
    first = await ann.call("GET", "/accounts", 200, headers={"Accept-Language": "ru"})
    assert [account["name"] for account in first["items"]] == ["Наличные"]
    [personal] = (await ann.call("GET", "/families", 200))["items"]
    assert (personal["name"], personal["role"], personal["active"]) == ("Моя семья", "owner", True)
    [bobs] = (await bob.call("GET", "/families", 200))["items"]
    assert bobs["name"] == "My household"
    home = await family_of(ann)
    assert (home["role"], home["active"], home["base_currency"]) == ("owner", True, "EUR")
    fid = home["id"]
    await ann.call("PATCH", f"/families/{fid}", 200, json={"name": "Our home", "time_zone": "Europe/Paris"})
    await ann.call("PATCH", f"/families/{fid}", 422, json={"time_zone": "Mars/Olympus"})

    issued = await ann.call("POST", f"/families/{fid}/invites", 201, json={"role": "viewer", "max_uses": 1})
    assert issued["link"] == f"https://t.me/unibot_bot?start=join_{issued['code']}"
    joined = await bob.call("POST", f"/invites/{issued['code']}/accept", 200)
    assert (joined["id"], joined["role"]) == (fid, "viewer")
    # Used up, revoked, expired: the same 404.
    await eve.call("POST", f"/invites/{issued['code']}/accept", 404)
    revoked = await ann.call("POST", f"/families/{fid}/invites", 201, json={})
    await ann.call("DELETE", f"/families/{fid}/invites/{revoked['invite']['id']}", 200)
    await eve.call("POST", f"/invites/{revoked['code']}/accept", 404)
    expiring = await ann.call("POST", f"/families/{fid}/invites", 201, json={"ttl_hours": 1})
    clock.advance(7200)
    await eve.call("POST", f"/invites/{expiring['code']}/accept", 404)
    await eve.call("POST", "/invites/not*a*code/accept", 404)

    # A viewer reads and cannot write; cannot invite or change roles either.
    members = await bob.call("GET", f"/families/{fid}/members", 200)
    assert [m["role"] for m in members["items"]] == ["owner", "viewer"]
    account = (await bob.call("GET", "/accounts", 200))["items"][0]
    entry = {"kind": "expense", "account_id": account["id"], "amount": "3.50"}
    await bob.call("POST", "/transactions", 403, json=entry)
    await bob.call("POST", f"/families/{fid}/invites", 403, json={})
    await bob.call("PATCH", f"/families/{fid}/members/{ann.id}", 403, json={"role": "viewer"})
    await bob.call("POST", "/accounts", 403, json={"name": "Mine"})
    await bob.call("PATCH", f"/families/{fid}", 403, json={"name": "Mine"})
    await ann.call("PATCH", f"/families/{fid}/members/{bob.id}", 200, json={"role": "member"})
    await bob.call("POST", "/transactions", 201, json=entry)
    # The last owner cannot leave; after handing over, can.
    await ann.call("DELETE", f"/families/{fid}/members/{ann.id}", 409)
    await ann.call("PATCH", f"/families/{fid}/members/{bob.id}", 200, json={"role": "owner"})
    await ann.call("DELETE", f"/families/{fid}/members/{ann.id}", 204)
    await ann.call("GET", f"/families/{fid}", 404)


async def test_another_familys_ids_are_404_on_every_route(client: Client) -> None:
    ann, bob = await person(client, "ann@example.org"), await person(client, "bob@example.org")
    fid = (await family_of(ann))["id"]
    await family_of(bob, "Bob's")
    account = (await ann.call("GET", "/accounts", 200))["items"][0]["id"]
    category = (await ann.call("GET", "/categories", 200))["items"][0]["id"]
    entry = (
        await ann.call("POST", "/transactions", 201, json={"kind": "expense", "account_id": account, "amount": "1"})
    )["id"]
    invite = (await ann.call("POST", f"/families/{fid}/invites", 201, json={}))["invite"]["id"]
    probes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/families/{fid}", None),
        ("PATCH", f"/families/{fid}", {"name": "x"}),
        ("POST", f"/families/{fid}/activate", None),
        ("GET", f"/families/{fid}/members", None),
        ("PATCH", f"/families/{fid}/members/{ann.id}", {"role": "viewer"}),
        ("DELETE", f"/families/{fid}/members/{ann.id}", None),
        ("GET", f"/families/{fid}/invites", None),
        ("POST", f"/families/{fid}/invites", {}),
        ("DELETE", f"/families/{fid}/invites/{invite}", None),
        ("GET", f"/accounts?family_id={fid}", None),
        ("GET", f"/accounts/{account}", None),
        ("GET", f"/accounts/{account}?family_id={fid}", None),
        ("PATCH", f"/accounts/{account}", {"name": "x"}),
        ("GET", f"/categories/{category}", None),
        ("PATCH", f"/categories/{category}", {"name": "x"}),
        ("POST", f"/categories/{category}/merge", {"into_id": category + 1}),
        ("GET", f"/transactions/{entry}", None),
        ("GET", f"/transactions/{entry}?family_id={fid}", None),
        ("GET", f"/transactions/{entry}/history", None),
        ("PATCH", f"/transactions/{entry}", {"note": "x"}),
        ("DELETE", f"/transactions/{entry}", None),
        ("POST", "/transactions", {"kind": "expense", "account_id": account, "amount": "1"}),
        ("POST", f"/transactions?family_id={fid}", {"kind": "expense", "account_id": account, "amount": "1"}),
        ("POST", "/transfers", {"from_account_id": account, "to_account_id": account, "amount": "1"}),
        ("GET", f"/transactions?family_id={fid}", None),
        ("GET", f"/reports/summary?family_id={fid}&from=2026-01-01&to=2026-02-01", None),
        ("GET", f"/reports/chart.png?family_id={fid}&from=2026-01-01&to=2026-02-01", None),
        ("GET", f"/transactions/export.csv?family_id={fid}&from=2026-01-01&to=2026-02-01", None),
        (
            "POST",
            "/transactions/import",
            {"family_id": fid, "account_id": account, "csv": "a", "mapping": {"date": 0, "amount": 1}},
        ),
        ("POST", "/transactions/import", {"account_id": account, "csv": "a", "mapping": {"date": 0, "amount": 1}}),
        ("POST", f"/rates?family_id={fid}", {"currency": "USD", "date": "2026-01-01", "rate": "1.1"}),
        ("GET", f"/rates?family_id={fid}", None),
        ("GET", "/transactions/99999999999", None),
        ("POST", f"/accounts?family_id={fid}", {"name": "x"}),
        ("GET", f"/keywords?family_id={fid}", None),
        ("PUT", f"/keywords/coffee?family_id={fid}", {"category_id": category}),
        ("PUT", "/keywords/coffee", {"category_id": category}),
        ("DELETE", f"/keywords/coffee?family_id={fid}", None),
        ("GET", f"/categories?family_id={fid}", None),
        ("POST", f"/categories?family_id={fid}", {"name": "x"}),
        ("POST", f"/transfers?family_id={fid}", {"from_account_id": account, "to_account_id": account, "amount": "1"}),
    ]
    for method, path, body in probes:
        await bob.call(method, path, 404, json=body)
    # Every finance route that names a family or an object was probed (the rest act on the caller's own).
    own = {"list_families", "create_family", "accept_invite"}
    for operation in finance_routes.create_api().operations:
        if operation.handler.__name__ in own:
            continue
        pattern = re.sub(r"\{\w+(?::[^}]*)?\}", r"[^/?]+", operation.path.removeprefix(API)) + r"(\?.*)?$"
        assert any(m == operation.method and re.match(pattern, p) for m, p, _ in probes), operation.path
    # Nothing of Ann's changed.
    assert (await ann.call("GET", f"/transactions/{entry}", 200))["note"] == ""
    assert len((await ann.call("GET", f"/families/{fid}/members", 200))["items"]) == 1


async def test_idempotent_creation_and_two_members_at_once(client: Client) -> None:
    ann, bob = await person(client, "ann@example.org"), await person(client, "bob@example.org")
    fid = (await family_of(ann))["id"]
    code = (await ann.call("POST", f"/families/{fid}/invites", 201, json={}))["code"]
    await bob.call("POST", f"/invites/{code}/accept", 200)
    account = (await ann.call("GET", "/accounts", 200))["items"][0]["id"]
    body = {"kind": "expense", "account_id": account, "amount": "12.50", "note": "books"}
    key = {"Idempotency-Key": "retry-1"}
    first, *retries = await asyncio.gather(
        *(ann.call("POST", "/transactions", 201, json=body, headers=key) for _ in range(4))
    )
    assert {r["id"] for r in retries} == {first["id"]}
    await ann.call("POST", "/transactions", 409, json={**body, "amount": "13"}, headers=key)
    # Bob's same key is his own.
    await bob.call("POST", "/transactions", 201, json=body, headers=key)
    await asyncio.gather(
        *(
            p.call("POST", "/transactions", 201, json={**body, "amount": str(n)})
            for n in range(1, 9)
            for p in (ann, bob)
        )
    )
    accounts = await ann.call("GET", "/accounts", 200)
    assert accounts["items"][0]["balance_minor"] == -(1250 * 2 + 2 * sum(range(1, 9)) * 100)


async def test_ledger_reports_export_and_import(client: Client) -> None:
    ann = await person(client, "ann@example.org")
    await family_of(ann)
    cash = (await ann.call("GET", "/accounts", 200))["items"][0]
    card = await ann.call("POST", "/accounts", 201, json={"name": "Card", "kind": "card", "opening_balance": "100"})
    await ann.call("POST", "/accounts", 409, json={"name": " card "})
    cats = {c["name"]: c["id"] for c in (await ann.call("GET", "/categories", 200))["items"]}
    day = "2026-11-05"
    made = await ann.call(
        "POST",
        "/transactions",
        201,
        json={
            "kind": "expense",
            "account_id": cash["id"],
            "amount": "250",
            "category_id": cats["Cafe"],
            "date": day,
            "note": "coffee",
        },
    )
    assert (made["amount_minor"], made["base_amount_minor"], made["rate_to_base"]) == (-25000, -25000, "1")
    await ann.call(
        "POST",
        "/transactions",
        422,
        json={"kind": "expense", "account_id": cash["id"], "amount": "250", "category_id": cats["Salary"]},
    )
    await ann.call(
        "POST",
        "/transactions",
        201,
        json={
            "kind": "income",
            "account_id": card["id"],
            "amount": "1000",
            "category_id": cats["Salary"],
            "date": day,
            "note": "salary",
        },
    )
    moved = await ann.call(
        "POST",
        "/transfers",
        201,
        json={"from_account_id": card["id"], "to_account_id": cash["id"], "amount": "50", "date": day},
    )
    assert (moved["out_leg"]["amount_minor"], moved["in_leg"]["amount_minor"]) == (-5000, 5000)
    balances = {a["name"]: a["balance_minor"] for a in (await ann.call("GET", "/accounts", 200))["items"]}
    assert balances == {"Cash": -20000, "Card": 100000 + 10000 - 5000}
    await ann.call("PATCH", f"/transactions/{made['id']}", 200, json={"amount": "200", "note": "coffee beans"})
    page = await ann.call("GET", "/transactions?q=beans&type=expense", 200)
    assert [t["amount_minor"] for t in page["items"]] == [-20000]
    first = await ann.call("GET", "/transactions?limit=2", 200)
    rest = await ann.call("GET", f"/transactions?limit=2&cursor={first['next_cursor']}", 200)
    assert len(first["items"]) + len(rest["items"]) == 4
    assert rest["next_cursor"] is None

    period = "from=2026-11-01&to=2026-12-01"
    summary = await ann.call("GET", f"/reports/summary?{period}", 200)
    assert (summary["income_minor"], summary["expense_minor"]) == (100000, -20000)
    by_member = await ann.call("GET", f"/reports/summary?{period}&group_by=member", 200)
    assert {(g["key"], g["kind"]) for g in by_member["groups"]} == {(str(ann.id), "expense"), (str(ann.id), "income")}
    chart = await ann.call("GET", f"/reports/chart.png?{period}&group_by=day", 200)
    assert chart.content_type == "image/png"
    assert (await chart.read()).startswith(b"\x89PNG")
    exported = await ann.call("GET", f"/transactions/export.csv?{period}", 200)
    assert exported.content_type == "text/csv"
    text = await exported.text()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 5
    assert ["2026-11-05", "Cash", "Cafe", "expense", "-200.00", "EUR"] in [r[:6] for r in rows]
    new_line = "2026-11-07,Cash,Cafe,expense,-4.20,EUR,,,bagel,Ann\r\n"
    plan = {
        "account_id": cash["id"],
        "csv": text + new_line + "oops,Cash,,expense,1,EUR,,,x,Ann\r\n",
        "mapping": {"date": "date", "amount": "amount", "note": "note", "category": "category"},
    }
    dry = await ann.call("POST", "/transactions/import", 200, json=plan)
    assert (dry["dry_run"], dry["created"], len(dry["rows"]), len(dry["errors"])) == (True, 0, 1, 1)
    assert dry["rows"][0]["amount"] == "-4.20"
    assert len(dry["duplicates"]) == 4
    done = await ann.call("POST", "/transactions/import", 200, json={**plan, "dry_run": False})
    assert done["created"] == 1
    again = await ann.call("POST", "/transactions/import", 200, json={**plan, "dry_run": False})
    assert (again["created"], len(again["duplicates"])) == (0, 5)

    await ann.call("DELETE", f"/transactions/{moved['out_leg']['id']}", 204)
    await ann.call("GET", f"/transactions/{moved['in_leg']['id']}", 404)
    # Keywords: quick entry's own rules; words are one lower-case word.
    keywords = await ann.call("PUT", "/keywords/%D0%9A%D0%BE%D1%84%D0%B5", 200, json={"category_id": cats["Cafe"]})
    assert keywords["items"]["кофе"] == cats["Cafe"]
    for bad in ("two%20words", "nul%00", "x" * 65):
        await ann.call("PUT", f"/keywords/{bad}", 422, json={"category_id": cats["Cafe"]})
    await ann.call("DELETE", "/keywords/кофе", 204)
    await ann.call("DELETE", "/keywords/кофе", 404)
    history = await ann.call("GET", f"/transactions/{made['id']}/history", 200)
    assert [(h["action"], h["user_id"]) for h in history["items"]] == [("create", ann.id), ("update", ann.id)]
    assert (history["items"][1]["before"]["amount_minor"], history["items"][1]["after"]["amount_minor"]) == (
        -25000,
        -20000,
    )
    kept = await ann.call("GET", f"/transactions/{moved['in_leg']['id']}/history", 200)
    assert [h["action"] for h in kept["items"]] == ["create", "delete"]


async def test_rates_entered_listed_and_used(client: Client) -> None:
    ann, bob, eve = [await person(client, f"{n}@example.org") for n in ("ann", "bob", "eve")]
    fid = (await family_of(ann))["id"]
    await family_of(eve, "Eve's")
    code = (await ann.call("POST", f"/families/{fid}/invites", 201, json={"role": "viewer"}))["code"]
    await bob.call("POST", f"/invites/{code}/accept", 200)
    assert await ann.call("GET", "/rates", 200) == {"family_id": fid, "base_currency": "EUR", "items": []}
    for day, rate in (("2026-01-01", "0.90"), ("2026-02-01", "0.925"), ("2025-12-01", "0.8")):
        await ann.call("POST", "/rates", 204, json={"currency": "USD", "date": day, "rate": rate})
    await ann.call("POST", "/rates", 204, json={"currency": "GBP", "date": "2026-01-15", "rate": "1.17"})
    # The same day again corrects the day's rate.
    await ann.call("POST", "/rates", 204, json={"currency": "GBP", "date": "2026-01-15", "rate": "1.2"})
    await ann.call("POST", "/rates", 204, json={"currency": "GBP", "date": "2026-01-15", "rate": "1.17"})
    await ann.call("POST", "/rates", 422, json={"currency": "EUR", "date": "2026-01-15", "rate": "1"})
    await bob.call("POST", "/rates", 403, json={"currency": "USD", "date": "2026-03-01", "rate": "1"})
    expected = {
        "family_id": fid,
        "base_currency": "EUR",
        "items": [
            {"currency": "GBP", "base_currency": "EUR", "rate": "1.17", "date": "2026-01-15"},
            {"currency": "USD", "base_currency": "EUR", "rate": "0.925", "date": "2026-02-01"},
        ],
    }
    # A viewer reads them; another family's id is 404 whoever asks, and Eve's own list is empty.
    assert await bob.call("GET", f"/rates?family_id={fid}", 200) == expected
    assert await ann.call("GET", "/rates", 200) == expected
    await eve.call("GET", f"/rates?family_id={fid}", 404)
    assert (await eve.call("GET", "/rates", 200))["items"] == []
    await ann.call("GET", "/rates?family_id=0", 422)
    dollars = await ann.call("POST", "/accounts", 201, json={"name": "Dollars", "currency": "USD"})
    spent = await ann.call(
        "POST",
        "/transactions",
        201,
        json={"kind": "expense", "account_id": dollars["id"], "amount": "10", "date": "2026-01-20"},
    )
    assert (spent["rate_to_base"], spent["base_amount_minor"]) == ("0.90", -900)
    spec = await (await client.get("/openapi.json")).json()
    listed = spec["paths"]["/api/v1/rates"]["get"]
    assert {"200", "401", "404", "422"} <= set(listed["responses"])
    assert {p["name"] for p in listed["parameters"]} == {"family_id"}


async def test_client_errors_are_json_never_500(client: Client) -> None:
    ann = await person(client, "ann@example.org")
    await family_of(ann)
    account = (await ann.call("GET", "/accounts", 200))["items"][0]["id"]
    for amount in ("1e3", "-5", "0", "1.1234567", 12.5, "", "NaN"):
        await ann.call("POST", "/transactions", 422, json={"kind": "expense", "account_id": account, "amount": amount})
    await ann.call("POST", "/transactions", 422, json={"kind": "expense", "account_id": account, "amount": "0.001"})
    await ann.call("POST", "/transactions", 422, json={"kind": "transfer", "account_id": account, "amount": "1"})
    await ann.call(
        "POST",
        "/transactions",
        422,
        json={"kind": "expense", "account_id": account, "amount": "1"},
        headers={"Idempotency-Key": "x" * 65},
    )
    await ann.call("GET", "/transactions?cursor=%21%21", 422)
    await ann.call("GET", "/transactions?limit=0", 422)
    await ann.call("GET", "/reports/summary?from=2026-02-01&to=2026-01-01", 422)
    await ann.call("GET", "/reports/summary?from=2026-01-01&to=2026-02-01&group_by=week", 422)
    await ann.call("GET", "/reports/summary?from=x&to=2026-02-01", 422)
    await ann.call("GET", "/accounts?family_id=99999999999", 422)
    await ann.call("POST", "/families", 422, json={"name": "x", "base_currency": "ZZZ"})
    await ann.call(
        "POST", "/transfers", 422, json={"from_account_id": account, "to_account_id": account, "amount": "1"}
    )
    await ann.call(
        "POST",
        "/transactions/import",
        422,
        json={
            "account_id": account,
            "csv": "a",
            "mapping": {"date": 0, "amount": 1},
            "date_format": "%Y",
            "sign": "guess",
        },
    )
    # Odd import options are per-line errors or a clear 422, never a 500.
    for options in (
        {"date_format": "%Q%"},
        {"mapping": {"date": 10**9, "amount": -1}},
        {"mapping": {"date": "nope", "amount": "amount"}},
        {"has_header": False, "mapping": {"date": 0, "amount": 1}},
    ):
        plan = {"account_id": account, "csv": "date,amount\r\n2026-01-01,5\r\n", "mapping": {"date": 0, "amount": 1}}
        response = await client.post(f"{API}/transactions/import", json={**plan, **options}, headers=ann.headers)
        assert response.status in (200, 422), await response.text()
        body = await response.json()
        assert "errors" in body
    unauthenticated = await client.get(f"{API}/accounts")
    assert unauthenticated.status == 401


async def test_openapi_describes_the_finance_routes(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    chart = paths["/api/v1/reports/chart.png"]["get"]
    assert list(chart["responses"]["200"]["content"]) == ["image/png"]
    assert {"401", "404", "422", "503"} <= set(chart["responses"])
    assert list(paths["/api/v1/transactions/export.csv"]["get"]["responses"]["200"]["content"]) == ["text/csv"]
    create = paths["/api/v1/transactions"]["post"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(create["responses"])
    assert {p["name"] for p in paths["/api/v1/reports/summary"]["get"]["parameters"]} >= {"from", "to", "group_by"}
    assert "/api/v1/families/{family_id}/members/{user_id}" in paths
