"""The signed-in user: /users/me, /auth/check and the profile."""

from __future__ import annotations

import functools
import sys

from aiohttp import web

from core.users.dto import UserDTO
from core.users.service import UserService
from webserver.api import UOW, Api, model_response, respond, route
from webserver.schemas.auth import CheckOut, ProfileOut, ProfileUpdateIn, UserMeOut
from webserver.security import AUTH

PREFIX = "/api/v1"


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


@functools.lru_cache(maxsize=4096)
def me_body(user: UserDTO) -> bytes:
    """The most frequent answer, serialized once per user revision: the DTO is frozen, so a changed user is a
    different cache key and a stale body cannot be served."""
    return UserMeOut.model_validate(user, from_attributes=True).model_dump_json().encode()


@route("GET", f"{PREFIX}/users/me", summary="The signed-in user", tags=["users"], auth=True, response=UserMeOut)
async def users_me(request: web.Request) -> web.StreamResponse:
    return web.Response(body=me_body(request[AUTH].user), content_type="application/json")


@route("GET", f"{PREFIX}/auth/check", summary="Is this token valid?", tags=["auth"], auth=True, response=CheckOut)
async def check(request: web.Request) -> web.StreamResponse:
    user = request[AUTH].user
    return model_response(
        CheckOut(user_id=user.id, username=user.username or user.telegram_username, telegram_id=user.telegram_id)
    )


@route("GET", f"{PREFIX}/auth/profile", summary="Profile", tags=["auth"], auth=True, response=ProfileOut)
async def get_profile(request: web.Request) -> web.StreamResponse:
    return respond(ProfileOut, request[AUTH].user)


@route(
    "PUT",
    f"{PREFIX}/auth/profile",
    summary="Update the profile",
    tags=["auth"],
    auth=True,
    body=ProfileUpdateIn,
    response=ProfileOut,
    errors=[409],
    uow="write",
    description="Takes only first_name, last_name, username, language and time_zone (at least one); anything else "
    "is ignored. An unknown time zone is 422 `INVALID_TIME_ZONE`.",
)
async def put_profile(request: web.Request, body: ProfileUpdateIn) -> web.StreamResponse:
    user = await UserService(request[UOW]).update_profile(
        request[AUTH].user.id,
        first_name=body.first_name,
        last_name=body.last_name,
        username=body.username,
        language=body.language,
        time_zone=body.time_zone,
    )
    return respond(ProfileOut, user)
