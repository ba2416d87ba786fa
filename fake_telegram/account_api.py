"""Telegram's user side over HTTP: the client API an MTProto stand-in adapter calls (`/client-api/{method}`), the
user-side routes tests and people use to create accounts and chat as them (`/user-api/accounts...`), and a small
page per account showing its chats (`/accounts/{user_id}`), where login codes from 777000 appear.

Client API errors have Telegram's RPC shape: `{"ok": false, "error_code": 400, "description": "PHONE_CODE_INVALID"}`
(plus `"hint"` for SESSION_PASSWORD_NEEDED).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from .accounts import MAX_TEXT, SERVICE_ID, Account, AccountError, Accounts, ChatMessage, JsonDict
from .state import STATE_KEY
from .user_api import UserError, UserIn, _body

ClientMethod = Callable[[Accounts, JsonDict], JsonDict]


def _accounts(request: web.Request) -> Accounts:
    return request.app[STATE_KEY].accounts


def _text(data: JsonDict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise AccountError(400, "INPUT_REQUEST_INVALID")
    return value


def _int(data: JsonDict, name: str, default: int, high: int) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise AccountError(400, "LIMIT_INVALID")
    return value


def _message_json(message: ChatMessage) -> JsonDict:
    return {
        "id": message.id,
        "from_id": message.from_id,
        "to_id": message.to_id,
        "text": message.text,
        "date": message.date,
    }


# --- the client API ------------------------------------------------------------------------------------------------


def _send_code(accounts: Accounts, data: JsonDict) -> JsonDict:
    key = data.get("session")
    session, phone_code_hash = accounts.send_code(key if isinstance(key, str) else None, _text(data, "phone"))
    return {"session": session.auth_key, "phone_code_hash": phone_code_hash, "type": "app"}


def _sign_in(accounts: Accounts, data: JsonDict) -> JsonDict:
    account = accounts.sign_in(
        _text(data, "session"), _text(data, "phone"), _text(data, "phone_code_hash"), _text(data, "code")
    )
    return {"user": account.user_json()}


def _check_password(accounts: Accounts, data: JsonDict) -> JsonDict:
    return {"user": accounts.check_password(_text(data, "session"), _text(data, "password")).user_json()}


def _get_me(accounts: Accounts, data: JsonDict) -> JsonDict:
    return {"user": accounts.me(_text(data, "session")).user_json()}


def _get_dialogs(accounts: Accounts, data: JsonDict) -> JsonDict:
    me = accounts.me(_text(data, "session"))
    offset, limit = _int(data, "offset", 0, 10**6), _int(data, "limit", 20, 100)
    dialogs = accounts.dialogs(me.user_id)
    return {"dialogs": dialogs[offset : offset + limit], "count": len(dialogs)}


def _get_unread(accounts: Accounts, data: JsonDict) -> JsonDict:
    me = accounts.me(_text(data, "session"))
    max_dialogs, per_dialog = _int(data, "max_dialogs", 50, 500), _int(data, "per_dialog", 20, 100)
    result = []
    for dialog in accounts.dialogs(me.user_id)[:max_dialogs]:
        if dialog["unread_count"]:
            messages = accounts.unread_messages(me.user_id, dialog["id"], per_dialog)
            result.append({"dialog": dialog, "messages": [_message_json(m) for m in messages]})
    return {"unread": result}


def _send_message(accounts: Accounts, data: JsonDict) -> JsonDict:
    me = accounts.me(_text(data, "session"))
    to = data.get("to")
    if not isinstance(to, (int, str)) or isinstance(to, bool):
        raise AccountError(400, "PEER_ID_INVALID")
    text = _text(data, "text")
    if not text.strip():
        raise AccountError(400, "MESSAGE_EMPTY")
    if len(text) > MAX_TEXT:
        raise AccountError(400, "MESSAGE_TOO_LONG")
    peer = accounts.resolve(to)
    if peer.user_id == SERVICE_ID:
        raise AccountError(400, "USER_IS_BLOCKED")
    message = accounts.post(me.user_id, peer.user_id, text)
    return {"id": message.id, "dialog_id": peer.user_id, "date": message.date}


def _read_history(accounts: Accounts, data: JsonDict) -> JsonDict:
    me = accounts.me(_text(data, "session"))
    accounts.mark_read(me.user_id, _int(data, "peer", 0, 2**62))
    return {"ok": True}


def _log_out(accounts: Accounts, data: JsonDict) -> JsonDict:
    accounts.log_out(_text(data, "session"))
    return {"ok": True}


CLIENT_METHODS: dict[str, ClientMethod] = {
    "auth.sendcode": _send_code,
    "auth.signin": _sign_in,
    "auth.checkpassword": _check_password,
    "auth.logout": _log_out,
    "users.getme": _get_me,
    "messages.getdialogs": _get_dialogs,
    "messages.getunread": _get_unread,
    "messages.sendmessage": _send_message,
    "messages.readhistory": _read_history,
}


async def client_api(request: web.Request) -> web.Response:
    method = CLIENT_METHODS.get(request.match_info["method"].lower())
    if method is None:
        return web.json_response({"ok": False, "error_code": 400, "description": "METHOD_INVALID"}, status=400)
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return web.json_response({"ok": False, "error_code": 400, "description": "INPUT_REQUEST_INVALID"}, status=400)
    accounts = _accounts(request)
    try:
        return web.json_response({"ok": True, "result": method(accounts, data)})
    except AccountError as error:
        body: JsonDict = {"ok": False, "error_code": error.code, "description": error.name}
        if error.name == "SESSION_PASSWORD_NEEDED":
            key = data.get("session")
            session = accounts.sessions.get(key) if isinstance(key, str) else None
            account = accounts.by_id.get(session.password_for or 0) if session else None
            body["hint"] = account.hint if account else None
        return web.json_response(body, status=error.code)


# --- the user side ------------------------------------------------------------------------------------------------


class AccountIn(BaseModel):
    user: UserIn
    phone: Annotated[str, Field(pattern=r"^\+?[1-9]\d{6,14}$")]
    password: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    hint: Annotated[str | None, Field(max_length=64)] = None


class TextIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class FloodIn(BaseModel):
    seconds: Annotated[int, Field(ge=1, le=86400)]


def _account(request: web.Request, name: str = "user_id") -> Account:
    account = _accounts(request).by_id.get(int(request.match_info[name]))
    if account is None:
        raise UserError(404, "account_not_found", "no account with that id; create it with POST /user-api/accounts")
    return account


async def post_account(request: web.Request) -> web.Response:
    body = await _body(request, AccountIn)
    user = body.user
    account = Account(
        user.id, body.phone.lstrip("+"), user.first_name, user.last_name, user.username, body.password, body.hint
    )
    try:
        _accounts(request).register(account)
    except AccountError as error:
        raise UserError(409, error.name.lower(), "another account has that phone number") from None
    return web.json_response({"user": account.user_json(), "has_password": account.password is not None})


async def get_account_chat(request: web.Request) -> web.Response:
    account, peer = _account(request), _account(request, "peer_id")
    messages = _accounts(request).history(account.user_id, peer.user_id)
    return web.json_response({"messages": [_message_json(m) for m in messages]})


async def post_account_chat(request: web.Request) -> web.Response:
    account, peer = _account(request), _account(request, "peer_id")
    body = await _body(request, TextIn)
    message = _accounts(request).post(account.user_id, peer.user_id, body.text)
    return web.json_response(_message_json(message))


async def post_revoke(request: web.Request) -> web.Response:
    return web.json_response({"revoked": _accounts(request).revoke_sessions(_account(request).user_id)})


async def post_flood(request: web.Request) -> web.Response:
    account = _account(request)
    account.flood_wait = (await _body(request, FloodIn)).seconds
    return web.json_response({"flood_wait": account.flood_wait})


def _html(title: str, parts: list[str]) -> web.Response:
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>" + "".join(parts)
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; form-action 'self'"},
    )


async def accounts_page(request: web.Request) -> web.Response:
    """Every account, and a form making a stand-in user an account (phone, optional cloud password)."""
    accounts = _accounts(request)
    parts = ["<h1>Telegram accounts of the stand-in</h1><ul>"]
    for account in sorted(accounts.by_id.values(), key=lambda a: a.user_id):
        name = html.escape(account.first_name)
        lock = ", cloud password" if account.password else ""
        parts.append(f'<li><a href="accounts/{account.user_id}">{name}</a> ({account.user_id}, +{account.phone}{lock})')
    parts.append(
        '</ul><h2>New account</h2><form method="post" action="accounts">'
        '<p><label>User id <input name="id" required></label></p>'
        '<p><label>First name <input name="first_name" required></label></p>'
        '<p><label>Username <input name="username"></label></p>'
        '<p><label>Phone <input name="phone" required placeholder="+15550001"></label></p>'
        '<p><label>Cloud password <input name="password" type="password"></label></p>'
        "<p><button>Create</button></p></form>"
    )
    return _html("Accounts", parts)


async def post_accounts_form(request: web.Request) -> web.Response:
    form = await request.post()
    fields = {key: str(value).strip() for key, value in form.items() if str(value).strip()}
    user = {key: fields[key] for key in ("id", "first_name", "username") if key in fields}
    try:
        body = AccountIn.model_validate(
            {"user": user, "phone": fields.get("phone"), "password": fields.get("password")}
        )
    except ValueError:
        return _html("Accounts", ['<p>Not created: check the fields. <a href="accounts">Back</a></p>'])
    account = Account(
        body.user.id, body.phone.lstrip("+"), body.user.first_name, None, body.user.username, body.password
    )
    try:
        _accounts(request).register(account)
    except AccountError:
        return _html("Accounts", ['<p>Another account has that phone number. <a href="accounts">Back</a></p>'])
    raise web.HTTPSeeOther(f"accounts/{account.user_id}")


async def post_account_page_message(request: web.Request) -> web.Response:
    """The account page's form: this account writes to another one."""
    account = _account(request)
    form = await request.post()
    text = str(form.get("text", "")).strip()
    try:
        peer = _accounts(request).by_id.get(int(str(form.get("peer", ""))))
    except ValueError:
        peer = None
    if peer is None or not text or len(text) > MAX_TEXT:
        return _html(
            "Account", [f'<p>Not sent: unknown account or empty text. <a href="{account.user_id}">Back</a></p>']
        )
    _accounts(request).post(account.user_id, peer.user_id, text)
    raise web.HTTPSeeOther(str(account.user_id))


async def account_page(request: web.Request) -> web.Response:
    """An account's chats as plain HTML: every text escaped, no script."""
    account = _account(request)
    accounts = _accounts(request)
    parts = [
        f"<h1>{html.escape(account.first_name)} (+{html.escape(account.phone)})</h1>",
        f'<form method="post" action="{account.user_id}"><label>Write to account id <input name="peer" required>'
        '</label> <input name="text" required maxlength="4096"> <button>Send</button></form>',
    ]
    for dialog in accounts.dialogs(account.user_id):
        parts.append(f"<h2>{html.escape(dialog['title'])} ({dialog['id']}), unread {dialog['unread_count']}</h2><ul>")
        for message in accounts.history(account.user_id, dialog["id"]):
            sender = accounts.by_id.get(message.from_id)
            when = datetime.fromtimestamp(message.date, UTC).strftime("%H:%M:%S")
            name = html.escape(sender.first_name if sender else str(message.from_id))
            parts.append(f"<li>{when} <b>{name}</b>: {html.escape(message.text)}</li>")
        parts.append("</ul>")
    return _html("Account", parts)


def add_account_routes(app: web.Application) -> None:
    app.router.add_post("/client-api/{method}", client_api)
    app.router.add_post("/user-api/accounts", post_account)
    chat = r"/user-api/accounts/{user_id:\d{1,15}}/chats/{peer_id:\d{1,15}}/messages"
    app.router.add_get(chat, get_account_chat)
    app.router.add_post(chat, post_account_chat)
    app.router.add_post(r"/user-api/accounts/{user_id:\d{1,15}}/revoke", post_revoke)
    app.router.add_post(r"/user-api/accounts/{user_id:\d{1,15}}/flood", post_flood)
    app.router.add_get("/accounts", accounts_page)
    app.router.add_post("/accounts", post_accounts_form)
    app.router.add_get(r"/accounts/{user_id:\d{1,15}}", account_page)
    app.router.add_post(r"/accounts/{user_id:\d{1,15}}", post_account_page_message)
