"""Telegram's servers, faked below the real TelegramClient: only the network is replaced.

`FakeNetworkTelegramClient` is Telethon's own TelegramClient with its MTProto sender swapped for
`FakeMTProtoSender`, which hands each request to `FakeMTProtoServer` instead of a socket. Everything above the sender
runs as in production: connect's start-up requests, `sign_in` / `send_code_request` and their hash handling, the
flood-wait sleeping and raising in `_call`, entity caching, dialog and history iteration, and RPC errors built from
Telegram's error strings by Telethon's own `rpc_message_to_error`. The cloud password is checked with real SRP.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import TelegramClient, utils
from telethon import password as srp
from telethon.crypto import AuthKey
from telethon.errors import rpc_message_to_error
from telethon.tl import functions, types

_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)
# Telegram's published 2048-bit SRP group (the one Telethon accepts without a primality test), generator 3.
_PRIME = bytes.fromhex(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
    "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
    "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B"
)
_G = 3
_WRAPPERS = (functions.InvokeWithLayerRequest, functions.InitConnectionRequest, functions.InvokeWithoutUpdatesRequest)


class RpcFailure(Exception):
    """What the fake server answers instead of a result: Telegram's error code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Account:
    user: types.User
    code: str
    password: str | None
    algo: types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow | None = None
    verifier: int = 0  # g^x mod p, what the server keeps instead of the password
    next_message_id: int = 1
    chats: list[_Chat] = field(default_factory=list)


@dataclass
class _Chat:
    entity: Any
    messages: list[types.Message]
    unread_count: int
    pinned: bool


class FakeMTProtoServer:
    def __init__(self) -> None:
        self.accounts: dict[str, _Account] = {}
        self.codes: dict[tuple[bytes, str], str] = {}  # (auth key, phone) -> phone_code_hash
        self.signed_in: dict[bytes, _Account] = {}
        self.awaiting_password: dict[bytes, _Account] = {}
        self.srp_sessions: dict[int, tuple[_Account, int, int]] = {}  # srp_id -> (account, b, B)
        self.dead_keys: dict[bytes, RpcFailure] = {}
        # request class name -> what the next such request is answered with instead of its result
        self.fail_next: dict[str, RpcFailure] = {}
        # request class name -> what every such request is answered with, until removed
        self.failing: dict[str, RpcFailure] = {}
        self.requests: list[str] = []
        self.connections = 0
        self.sent: list[types.messages.SendMessageRequest] = []

    # --- set-up ------------------------------------------------------------------------------------------------

    def add_account(
        self, phone: str, user_id: int, *, password: str | None = None, username: str | None = None
    ) -> None:
        user = types.User(id=user_id, first_name=f"User{user_id}", username=username, phone=phone, access_hash=11)
        account = _Account(user=user, code="24680", password=password)
        if password is not None:
            account.algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
                salt1=os.urandom(16), salt2=os.urandom(16), g=_G, p=_PRIME
            )
            x = int.from_bytes(srp.compute_hash(account.algo, password), "big")
            account.verifier = pow(_G, x, int.from_bytes(_PRIME, "big"))
        self.accounts[phone] = account

    def add_chat(self, phone: str, entity: Any, *, messages: int, unread: int = 0, pinned: bool = False) -> None:
        account = self.accounts[phone]
        base = _EPOCH + timedelta(hours=len(account.chats))
        peer = utils.get_peer(entity)
        # Channels number their own messages; private chats and basic groups share one sequence per account.
        first_id = 1 if isinstance(peer, types.PeerChannel) else account.next_message_id
        if not isinstance(peer, types.PeerChannel):
            account.next_message_id += messages
        history = [
            types.Message(
                id=first_id + index,
                peer_id=peer,
                date=base + timedelta(minutes=index),
                message=f"text {index + 1}",
                out=False,
                from_id=peer if isinstance(peer, types.PeerUser) else None,
            )
            for index in range(messages)
        ]
        account.chats.append(_Chat(entity=entity, messages=history, unread_count=unread, pinned=pinned))

    # --- requests ----------------------------------------------------------------------------------------------

    def handle(self, key: bytes, request: Any) -> Any:
        while isinstance(request, _WRAPPERS):
            request = request.query
        name = type(request).__name__
        self.requests.append(name)
        failure = self.fail_next.pop(name, None) or self.failing.get(name)
        if failure is not None:
            raise failure
        handler = getattr(self, "_" + name, None)
        if handler is None:
            raise AssertionError(f"the fake server does not answer {name}")
        return handler(key, request)

    def _me(self, key: bytes) -> _Account:
        dead = self.dead_keys.get(key)
        if dead is not None:
            raise dead
        account = self.signed_in.get(key)
        if account is None:
            raise RpcFailure(
                401, "SESSION_PASSWORD_NEEDED" if key in self.awaiting_password else "AUTH_KEY_UNREGISTERED"
            )
        return account

    def _GetConfigRequest(self, key: bytes, request: Any) -> None:
        return None  # connect() sends it and ignores the answer

    def _GetUsersRequest(self, key: bytes, request: Any) -> list[Any]:
        if isinstance(request.id[0], types.InputUserSelf):
            return [self._me(key).user]
        return [types.UserEmpty(id=user.user_id) for user in request.id]

    def _GetStateRequest(self, key: bytes, request: Any) -> Any:
        self._me(key)
        return types.updates.State(pts=1, qts=0, date=_EPOCH, seq=1, unread_count=0)

    def _GetDifferenceRequest(self, key: bytes, request: Any) -> Any:
        return types.updates.DifferenceEmpty(date=_EPOCH, seq=1)

    def _SendCodeRequest(self, key: bytes, request: Any) -> Any:
        if request.phone_number not in self.accounts:
            raise RpcFailure(400, "PHONE_NUMBER_INVALID")
        code_hash = secrets.token_hex(8)
        self.codes[(key, request.phone_number)] = code_hash
        return types.auth.SentCode(
            type=types.auth.SentCodeTypeSms(length=5),
            phone_code_hash=code_hash,
            next_type=types.auth.CodeTypeCall(),
            timeout=120,
        )

    def _SignInRequest(self, key: bytes, request: Any) -> Any:
        if self.codes.get((key, request.phone_number)) != request.phone_code_hash:
            raise RpcFailure(400, "PHONE_CODE_EXPIRED")
        account = self.accounts[request.phone_number]
        if request.phone_code != account.code:
            raise RpcFailure(400, "PHONE_CODE_INVALID")
        del self.codes[(key, request.phone_number)]
        if account.password is not None:
            self.awaiting_password[key] = account
            raise RpcFailure(401, "SESSION_PASSWORD_NEEDED")
        self.signed_in[key] = account
        return types.auth.Authorization(user=account.user)

    def _GetPasswordRequest(self, key: bytes, request: Any) -> Any:
        account = self.awaiting_password.get(key)
        if account is None or account.algo is None:
            raise RpcFailure(401, "AUTH_KEY_UNREGISTERED")
        p = int.from_bytes(_PRIME, "big")
        k = int.from_bytes(srp.sha256(_PRIME, srp.big_num_for_hash(_G)), "big")
        b = int.from_bytes(os.urandom(256), "big") % p
        big_b = (k * account.verifier + pow(_G, b, p)) % p
        srp_id = secrets.randbits(62)
        self.srp_sessions[srp_id] = (account, b, big_b)
        return types.account.Password(
            new_algo=types.PasswordKdfAlgoUnknown(),
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32),
            has_password=True,
            current_algo=account.algo,
            srp_B=srp.big_num_for_hash(big_b),
            srp_id=srp_id,
            hint="the usual",
        )

    def _CheckPasswordRequest(self, key: bytes, request: Any) -> Any:
        check = request.password
        account, b, big_b = self.srp_sessions.pop(check.srp_id)
        assert account.algo is not None
        p = int.from_bytes(_PRIME, "big")
        big_a = int.from_bytes(check.A, "big")
        u = int.from_bytes(srp.sha256(check.A, srp.big_num_for_hash(big_b)), "big")
        shared = pow(big_a * pow(account.verifier, u, p) % p, b, p)
        expected = srp.sha256(
            srp.xor(srp.sha256(_PRIME), srp.sha256(srp.big_num_for_hash(_G))),
            srp.sha256(account.algo.salt1),
            srp.sha256(account.algo.salt2),
            check.A,
            srp.big_num_for_hash(big_b),
            srp.sha256(srp.big_num_for_hash(shared)),
        )
        if expected != check.M1:
            raise RpcFailure(400, "PASSWORD_HASH_INVALID")
        del self.awaiting_password[key]
        self.signed_in[key] = account
        return types.auth.Authorization(user=account.user)

    def _LogOutRequest(self, key: bytes, request: Any) -> Any:
        self._me(key)
        del self.signed_in[key]
        return types.auth.LoggedOut()

    def _ordered(self, account: _Account) -> list[_Chat]:
        return sorted(account.chats, key=lambda c: (not c.pinned, -c.messages[-1].date.timestamp()))

    def _GetDialogsRequest(self, key: bytes, request: Any) -> Any:
        account = self._me(key)
        chats = self._ordered(account)
        if request.exclude_pinned:
            chats = [c for c in chats if not c.pinned]
        if request.offset_date:
            # Telegram continues after the offset message: older dialogs, or as old with a lower message id.
            anchor = (request.offset_date, request.offset_id)
            chats = [c for c in chats if (c.messages[-1].date, c.messages[-1].id) < anchor]
        page = chats[: request.limit]
        return types.messages.DialogsSlice(
            count=len(account.chats),
            dialogs=[
                types.Dialog(
                    peer=utils.get_peer(c.entity),
                    top_message=c.messages[-1].id,
                    read_inbox_max_id=0,
                    read_outbox_max_id=0,
                    unread_count=c.unread_count,
                    unread_mentions_count=0,
                    unread_reactions_count=0,
                    unread_poll_votes_count=0,
                    notify_settings=types.PeerNotifySettings(),
                    pinned=c.pinned or None,
                )
                for c in page
            ],
            messages=[c.messages[-1] for c in page],
            chats=[c.entity for c in page if not isinstance(c.entity, types.User)],
            users=[c.entity for c in page if isinstance(c.entity, types.User)],
        )

    def _chat(self, account: _Account, peer: Any) -> _Chat:
        peer_id = utils.get_peer_id(peer)
        for chat in account.chats:
            if utils.get_peer_id(chat.entity) == peer_id:
                if utils.get_input_peer(chat.entity) != peer:
                    raise RpcFailure(400, "PEER_ID_INVALID")  # wrong access hash
                return chat
        raise RpcFailure(400, "PEER_ID_INVALID")

    def _GetHistoryRequest(self, key: bytes, request: Any) -> Any:
        chat = self._chat(self._me(key), request.peer)
        newest_first = list(reversed(chat.messages))
        if request.offset_id:
            newest_first = [m for m in newest_first if m.id < request.offset_id]
        page = newest_first[: request.limit]
        users = [chat.entity] if isinstance(chat.entity, types.User) else []
        chats = [] if users else [chat.entity]
        return types.messages.Messages(messages=page, topics=[], chats=chats, users=users)

    def _ResolveUsernameRequest(self, key: bytes, request: Any) -> Any:
        account = self._me(key)
        entities = [a.user for a in self.accounts.values()] + [c.entity for c in account.chats]
        for entity in entities:
            if (getattr(entity, "username", None) or "").lower() == request.username.lower():
                is_user = isinstance(entity, types.User)
                return types.contacts.ResolvedPeer(
                    peer=utils.get_peer(entity), chats=[] if is_user else [entity], users=[entity] if is_user else []
                )
        raise RpcFailure(400, "USERNAME_NOT_OCCUPIED")

    def _GetChannelsRequest(self, key: bytes, request: Any) -> Any:
        raise RpcFailure(400, "CHANNEL_INVALID")  # a channel's access hash is never 0

    def _SendMessageRequest(self, key: bytes, request: Any) -> Any:
        account = self._me(key)
        if not any(utils.get_input_peer(e) == request.peer for e in [a.user for a in self.accounts.values()]):
            self._chat(account, request.peer)
        self.sent.append(request)
        return types.UpdateShortSentMessage(id=500 + len(self.sent), pts=2, pts_count=1, date=_EPOCH, out=True)


class FakeMTProtoSender:
    """Stands where Telethon's MTProtoSender stands: `send` returns a future, resolved by the fake server."""

    def __init__(self, server: FakeMTProtoServer, auth_key: AuthKey | None) -> None:
        self.server = server
        self.auth_key = auth_key or AuthKey(None)
        self._connected = False
        self._disconnected: asyncio.Future[None] | None = None

    async def connect(self, connection: Any) -> bool:
        if self._connected:
            return False
        if not self.auth_key:
            # MTProtoSender runs the key exchange here; a fake server accepts any key.
            self.auth_key.key = os.urandom(256)
        self._connected = True
        self._disconnected = asyncio.get_running_loop().create_future()
        self.server.connections += 1
        return True

    def is_connected(self) -> bool:
        return self._connected

    async def disconnect(self) -> None:
        self._connected = False
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_result(None)

    @property
    def disconnected(self) -> asyncio.Future[None]:
        assert self._disconnected is not None
        return asyncio.shield(self._disconnected)

    def send(self, request: Any, ordered: bool = False) -> Any:
        if not self._connected:
            raise ConnectionError("Cannot send requests while disconnected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            future.set_result(self.server.handle(self.auth_key.key, request))
        except RpcFailure as failure:
            future.set_exception(
                rpc_message_to_error(types.RpcError(error_code=failure.code, error_message=failure.message), request)
            )
        return future


class FakeNetworkTelegramClient(TelegramClient):  # type: ignore[misc]
    """Telethon's TelegramClient, unchanged but for its sender."""

    def __init__(self, *args: Any, server: FakeMTProtoServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sender = FakeMTProtoSender(server, self.session.auth_key)
