"""Admin routes (staff only: the `access="admin"` flag, and the service checks the actor again): users, one user's
levels and state, new users, and the audit log. No route mints tokens for anyone (see `run.py issue-token`)."""

from __future__ import annotations

import sys

from aiohttp import web

from core.access.policy import ADMIN
from core.access.service import AccessService, Actor, UserChanges, UserFilter
from core.errors import NotFound
from webserver.api import UOW, Api, model_response, respond, route
from webserver.middlewares import REQUEST_ID
from webserver.schemas.access import (
    AdminUserOut,
    AuditEntryOut,
    AuditOut,
    AuditQuery,
    NewUserOut,
    NewUsersOut,
    NewUsersQuery,
    UserPatchIn,
    UsersOut,
    UsersQuery,
)
from webserver.security import AUTH

PREFIX = "/api/v1/auth/admin"
TAGS = ["admin"]
# Ids are 32-bit on PostgreSQL; a larger number in the path names no user.
_MAX_ID = 2**31 - 1


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


def actor(request: web.Request) -> Actor:
    return Actor(request[AUTH].user.id, "rest", request.get(REQUEST_ID))


def path_user_id(request: web.Request) -> int:
    user_id = int(request.match_info["user_id"])
    if user_id > _MAX_ID:
        raise NotFound("user_not_found", "User not found")
    return user_id


@route(
    "GET",
    f"{PREFIX}/users",
    summary="Users, paged, filtered and searched",
    tags=TAGS,
    auth=True,
    access=ADMIN,
    query=UsersQuery,
    response=UsersOut,
    uow="read",
)
async def list_users(request: web.Request, query: UsersQuery) -> web.StreamResponse:
    page = await AccessService(request[UOW]).list_users(
        actor(request),
        UserFilter(
            level=query.level,
            active=query.is_active,
            bot_suspected=query.is_bot_suspected,
            search=query.search,
            sort=query.sort,
            page=query.page,
            page_size=query.page_size,
        ),
    )
    return model_response(
        UsersOut(
            users=[AdminUserOut.model_validate(user, from_attributes=True) for user in page.users],
            page=page.page,
            page_size=page.page_size,
            has_more=page.has_more,
        )
    )


@route(
    "GET",
    PREFIX + "/users/{user_id:\\d+}",
    summary="One user",
    tags=TAGS,
    auth=True,
    access=ADMIN,
    response=AdminUserOut,
    errors=[404],
    uow="read",
)
async def get_user(request: web.Request) -> web.StreamResponse:
    return respond(AdminUserOut, await AccessService(request[UOW]).get_user(actor(request), path_user_id(request)))


@route(
    "PATCH",
    PREFIX + "/users/{user_id:\\d+}",
    summary="Change a user's levels, state or bot-suspect flag",
    description=(
        "Only the fields given change. Nobody changes their own access; staff may change beta, alpha, active and "
        "the bot-suspect flag of ordinary users; staff and full permissions, and users holding them, need full "
        "permissions. Removing a level or disabling the account ends the user's sessions at once. Audited."
    ),
    tags=TAGS,
    auth=True,
    access=ADMIN,
    body=UserPatchIn,
    response=AdminUserOut,
    errors=[404],
    uow="write",
)
async def patch_user(request: web.Request, body: UserPatchIn) -> web.StreamResponse:
    changes = UserChanges(**body.model_dump(exclude_none=True))
    user = await AccessService(request[UOW]).update_user(actor(request), path_user_id(request), changes)
    return respond(AdminUserOut, user)


@route(
    "GET",
    f"{PREFIX}/new-users",
    summary="Users who joined in the last N hours, with their referrer's Telegram id",
    description="Newest first; at most ten times access.max_page_size rows (1,000 by default).",
    tags=TAGS,
    auth=True,
    access=ADMIN,
    query=NewUsersQuery,
    response=NewUsersOut,
    uow="read",
)
async def new_users(request: web.Request, query: NewUsersQuery) -> web.StreamResponse:
    found = await AccessService(request[UOW]).new_users(actor(request), query.hours)
    return model_response(NewUsersOut(data=[NewUserOut.model_validate(item, from_attributes=True) for item in found]))


@route(
    "GET",
    f"{PREFIX}/audit",
    summary="The audit log of admin changes, newest first",
    tags=TAGS,
    auth=True,
    access=ADMIN,
    query=AuditQuery,
    response=AuditOut,
    uow="read",
)
async def audit(request: web.Request, query: AuditQuery) -> web.StreamResponse:
    page = await AccessService(request[UOW]).audit_log(
        actor(request), actor_id=query.actor_id, target_id=query.target_id, page=query.page, page_size=query.page_size
    )
    return model_response(
        AuditOut(
            entries=[AuditEntryOut.model_validate(entry, from_attributes=True) for entry in page.entries],
            page=page.page,
            page_size=page.page_size,
            has_more=page.has_more,
        )
    )
