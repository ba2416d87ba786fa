"""Property: a one-character edit anywhere in genuine initData never yields an accepted *different* payload.

Exactly two single-character edits leave the meaning unchanged, and they are singled out by structure,
not by asking the validator: flipping the letter case of a hex digit inside a percent-escape (``%7B`` and
``%7b`` decode identically, RFC 3986 section 2.1) and flipping the case of a hex digit of ``hash`` (the
hash is accepted in either case). For those the test demands the opposite: acceptance, with the same
fingerprint, proving they are the same credential rather than a forgery. Every other edit must raise
``TelegramAuthError`` -- never another exception, never acceptance.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.telegram.initdata import init_data_user_json, sign_init_data, validate_init_data
from core.telegram.user_data import MAX_USER_ID, TelegramAuthError, TelegramUser

from .factory import BOT_TOKEN, NOW, clock

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_INTERESTING = '%&=+ _-.~0123456789abcdefABCDEF{}"\\\n\x00é€'


@dataclass(frozen=True)
class Edit:
    kind: str
    position: int
    char: str

    def apply(self, text: str) -> str:
        if self.kind == "delete":
            return text[: self.position] + text[self.position + 1 :]
        if self.kind == "insert":
            return text[: self.position] + self.char + text[self.position :]
        return text[: self.position] + self.char + text[self.position + 1 :]


def same_meaning(original: str, edit: Edit) -> bool:
    if edit.kind != "replace":
        return False
    i = edit.position
    before, after = original[i], edit.char
    if before == after or before not in _HEX_DIGITS or before.lower() != after.lower():
        return False
    # Every '%' in the canonical encoding opens a three-character escape.
    inside_escape = (i >= 1 and original[i - 1] == "%") or (i >= 2 and original[i - 2] == "%")
    hash_start = original.rindex("&hash=") + len("&hash=")
    return inside_escape or i >= hash_start


names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@st.composite
def genuine_init_data(draw: st.DrawFn) -> str:
    user = TelegramUser(
        id=draw(st.integers(min_value=1, max_value=MAX_USER_ID)),
        first_name=draw(names),
        last_name=draw(st.none() | names),
        username=draw(st.none() | st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True)),
        language_code=draw(st.none() | st.sampled_from(["en", "ru", "pt-br"])),
        is_premium=draw(st.booleans()),
        photo_url=draw(st.none() | st.just("https://t.me/i/userpic/320/x.svg")),
    )
    fields = {"user": init_data_user_json(user), "auth_date": str(NOW - draw(st.integers(0, 3600)))}
    if draw(st.booleans()):
        fields["query_id"] = draw(st.from_regex(r"[A-Za-z0-9_-]{8,24}", fullmatch=True))
    if draw(st.booleans()):
        fields["start_param"] = draw(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
    if draw(st.booleans()):
        fields["chat_type"] = draw(st.sampled_from(["sender", "private", "group", "supergroup", "channel"]))
        fields["chat_instance"] = str(draw(st.integers(-(2**63), 2**63 - 1)))
    return sign_init_data(fields, BOT_TOKEN)


@st.composite
def edits(draw: st.DrawFn, text: str) -> Edit:
    kind = draw(st.sampled_from(["replace", "insert", "delete", "swapcase"]))
    upper = len(text) if kind == "insert" else len(text) - 1
    position = draw(st.integers(min_value=0, max_value=upper))
    if kind == "swapcase":
        # A replacement aimed at the edits most likely to be harmless, so both branches get exercised.
        return Edit("replace", position, text[position].swapcase())
    char = draw(st.sampled_from(_INTERESTING) | st.characters(codec="utf-8"))
    return Edit(kind, position, char)


@settings(max_examples=800, deadline=None)
@given(data=st.data(), raw=genuine_init_data())
def test_any_single_character_edit_is_rejected(data: st.DataObject, raw: str) -> None:
    original = validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock())
    edit = data.draw(edits(raw))
    mutated = edit.apply(raw)
    if mutated == raw:
        event("no-op edit (replacement by the same character)")
        return
    if same_meaning(raw, edit):
        event("hex-digit case flip with identical meaning")
        again = validate_init_data(mutated, bot_token=BOT_TOKEN, clock=clock())
        assert again == original
        return
    with pytest.raises(TelegramAuthError) as caught:
        validate_init_data(mutated, bot_token=BOT_TOKEN, clock=clock())
    assert caught.value.status in (401, 422)
    event(f"rejected {caught.value.status}")


def test_the_two_harmless_spellings_are_recognised_and_accepted() -> None:
    raw = sign_init_data({"user": '{"id":1,"first_name":"A"}', "auth_date": str(NOW)}, BOT_TOKEN)
    escape = raw.index("%7B") + 2
    hash_digit = next(i for i in range(raw.rindex("=") + 1, len(raw)) if raw[i].isalpha())
    json_letter = raw.index("first_name")
    for position, harmless in ((escape, True), (hash_digit, True), (json_letter, False)):
        edit = Edit("replace", position, raw[position].swapcase())
        assert same_meaning(raw, edit) is harmless
    original = validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock())
    for position in (escape, hash_digit):
        mutated = Edit("replace", position, raw[position].swapcase()).apply(raw)
        assert validate_init_data(mutated, bot_token=BOT_TOKEN, clock=clock()) == original
