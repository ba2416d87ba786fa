"""Reading Bot API parameters the way Telegram does, whatever way they were sent.

Query strings and forms deliver every value as a string (aiogram JSON-encodes nested objects and
numbers inside multipart forms), while JSON bodies deliver native values. The getters accept both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class ApiError(Exception):
    """A Bot API failure, rendered as Telegram's {"ok": false, ...} body."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class Params:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = dict(raw)

    def _value(self, name: str) -> Any:
        value = self._raw.get(name)
        # Telegram treats an empty form field the same as a missing one.
        if value is None or value == "":
            return None
        return value

    def has(self, name: str) -> bool:
        return self._value(name) is not None

    def upload(self, name: str) -> UploadedFile:
        """The file a field sends as "attach://<field>" (the fake keeps no files of its own, so ids are refused)."""
        value = self.string(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        found = self._raw.get(value.removeprefix("attach://")) if value.startswith("attach://") else None
        if not isinstance(found, UploadedFile) or not found.data:
            raise bad_request(f"wrong file identifier/HTTP URL specified for {name}")
        return found

    def string(self, name: str, *, missing: str | None = None) -> str | None:
        value = self._value(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        raise bad_request(f"field \"{name}\" must be of type String")

    def require_string(self, name: str, missing: str) -> str:
        value = self.string(name, missing=missing)
        assert value is not None
        return value

    def integer(self, name: str, *, missing: str | None = None) -> int | None:
        value = self._value(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return int(value.strip())
        raise bad_request(f"field \"{name}\" must be of type Integer")

    def require_integer(self, name: str, missing: str) -> int:
        value = self.integer(name, missing=missing)
        assert value is not None
        return value

    def boolean(self, name: str) -> bool:
        value = self._value(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad_request(f"field \"{name}\" must be of type Boolean")

    def json_value(self, name: str, *, what: str) -> Any:
        """A nested object or array; forms send it JSON-encoded, JSON bodies natively."""
        value = self._value(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what} JSON object") from None
        return value

    def json_object(self, name: str, *, what: str) -> dict[str, Any] | None:
        value = self.json_value(name, what=what)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad_request(f"can't parse {what} JSON object")
        return value

    def json_list(self, name: str, *, what: str) -> list[Any] | None:
        value = self.json_value(name, what=what)
        if value is None:
            return None
        if not isinstance(value, list):
            raise bad_request(f"can't parse {what} JSON array")
        return value

    def chat_id(self, name: str = "chat_id", *, required: bool = True) -> int | None:
        """Numeric chat id; @usernames are accepted but never resolve, as the fake has no public chats."""
        value = self._value(name)
        if value is None:
            if required:
                raise bad_request("chat_id is empty")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return int(value.strip())
        raise bad_request("chat not found")


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


async def read_request_params(request: web.Request) -> dict[str, Any]:
    """Merge the query string with a JSON, url-encoded or multipart body (the body wins)."""
    params: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return params
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except ValueError:
            raise bad_request("can't parse request body") from None
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
        # Uploaded files (sendPhoto, sendDocument) under their field name, which an "attach://<name>" value names.
        params.update(
            {
                key: UploadedFile(value.filename, value.content_type, value.file.read())
                for key, value in form.items()
                if isinstance(value, FileField)
            }
        )
    return params
