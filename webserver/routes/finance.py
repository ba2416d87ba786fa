"""Family finance over REST: families, members, invites, accounts, categories, transactions, transfers, rates,
reports (JSON and PNG), CSV export and import. Every object is reached through the caller's membership: another
family's id is 404, a role that may not write is 403, both decided by the domain as in the bot."""

from __future__ import annotations

import hashlib
import sys
from datetime import timedelta
from decimal import Decimal

from aiohttp import web

from core.finance.csv_io import ColumnMapping, ImportOptions, PlannedRow, SignConvention
from core.finance.families import FamilyService
from core.finance.ledger import EntryFilter, LedgerService
from core.finance.reports import ReportService
from webserver.api import UOW, Api, model_response, respond, route
from webserver.errors import ApiError
from webserver.schemas.finance import (
    DB_ID,
    AccountIn,
    AccountList,
    AccountOut,
    AccountPatch,
    CategoryIn,
    CategoryList,
    CategoryOut,
    CategoryPatch,
    EditList,
    ExportQuery,
    FamilyIn,
    FamilyList,
    FamilyOut,
    FamilyPatch,
    FamilyQuery,
    ImportErrorOut,
    ImportIn,
    ImportOut,
    ImportRowOut,
    InviteIn,
    InviteList,
    InviteOut,
    IssuedInviteOut,
    KeywordIn,
    KeywordList,
    ListQuery,
    MemberList,
    MemberOut,
    MergeIn,
    MergeOut,
    RateIn,
    RateList,
    ReportQuery,
    RoleIn,
    SummaryOut,
    TransactionIn,
    TransactionOut,
    TransactionPage,
    TransactionPatch,
    TransactionQuery,
    TransferIn,
    TransferOut,
)
from webserver.security import AUTH

PREFIX = "/api/v1"
ID = r"{%s:\d+}"
FAMILY = f"{PREFIX}/families/{ID % 'family_id'}"
TAGS = ["finance"]
IDEMPOTENCY = "Idempotency-Key"


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


def _user(request: web.Request) -> int:
    return request[AUTH].user.id


def _id(request: web.Request, name: str) -> int:
    """A path id; one beyond the database's range names nothing."""
    value = int(request.match_info[name])
    if not 1 <= value <= DB_ID:
        raise ApiError(404, "Not found", error_code="NOT_FOUND")
    return value


def _idempotency(request: web.Request, body: object) -> tuple[str | None, str]:
    key = request.headers.get(IDEMPOTENCY)
    if key is not None and not (1 <= len(key) <= 64 and key.isprintable()):
        raise ApiError(422, "Idempotency-Key has 1 to 64 printable characters", error_code="VALIDATION_ERROR")
    digest = hashlib.sha256(repr(body).encode()).hexdigest()
    return key, digest


# --- families -------------------------------------------------------------------------------------------------------


@route("GET", f"{PREFIX}/families", summary="My families", tags=TAGS, auth=True, response=FamilyList, uow="read")
async def list_families(request: web.Request) -> web.StreamResponse:
    found = await FamilyService(request[UOW]).list_mine(_user(request))
    return respond(FamilyList, {"items": found})


@route(
    "POST",
    f"{PREFIX}/families",
    summary="Create a family",
    description="The caller owns it; it becomes the active family, with a cash account and default categories.",
    tags=TAGS,
    auth=True,
    body=FamilyIn,
    response=FamilyOut,
    status=201,
    uow="write",
)
async def create_family(request: web.Request, body: FamilyIn) -> web.StreamResponse:
    user = request[AUTH].user
    created = await FamilyService(request[UOW]).create(
        user.id, name=body.name, language=user.language, base_currency=body.base_currency, time_zone=body.time_zone
    )
    return respond(FamilyOut, created, status=201)


@route("GET", FAMILY, summary="A family", tags=TAGS, auth=True, response=FamilyOut, errors=[404], uow="read")
async def get_family(request: web.Request) -> web.StreamResponse:
    return respond(FamilyOut, await FamilyService(request[UOW]).get(_user(request), _id(request, "family_id")))


@route(
    "PATCH",
    FAMILY,
    summary="Rename a family, change its time zone or base currency",
    tags=TAGS,
    auth=True,
    body=FamilyPatch,
    response=FamilyOut,
    errors=[403, 404, 409],
    uow="write",
)
async def update_family(request: web.Request, body: FamilyPatch) -> web.StreamResponse:
    updated = await FamilyService(request[UOW]).update(
        _user(request),
        _id(request, "family_id"),
        name=body.name,
        base_currency=body.base_currency,
        time_zone=body.time_zone,
    )
    return respond(FamilyOut, updated)


@route(
    "POST",
    f"{FAMILY}/activate",
    summary="Make this the active family",
    description="Routes and bot commands without a family id act on the active family.",
    tags=TAGS,
    auth=True,
    response=FamilyOut,
    errors=[404],
    uow="write",
)
async def activate_family(request: web.Request) -> web.StreamResponse:
    return respond(FamilyOut, await FamilyService(request[UOW]).switch(_user(request), _id(request, "family_id")))


@route(
    "GET", f"{FAMILY}/members", summary="Members", tags=TAGS, auth=True, response=MemberList, errors=[404], uow="read"
)
async def list_members(request: web.Request) -> web.StreamResponse:
    found = await FamilyService(request[UOW]).members(_user(request), _id(request, "family_id"))
    return respond(MemberList, {"items": found})


@route(
    "PATCH",
    f"{FAMILY}/members/{ID % 'user_id'}",
    summary="Change a member's role",
    tags=TAGS,
    auth=True,
    body=RoleIn,
    response=MemberOut,
    errors=[403, 404, 409],
    uow="write",
)
async def change_role(request: web.Request, body: RoleIn) -> web.StreamResponse:
    changed = await FamilyService(request[UOW]).set_role(
        _user(request), _id(request, "family_id"), _id(request, "user_id"), body.role
    )
    return respond(MemberOut, changed)


@route(
    "DELETE",
    f"{FAMILY}/members/{ID % 'user_id'}",
    summary="Remove a member, or leave (your own user id)",
    description="The last owner cannot leave (409) until ownership is handed over.",
    tags=TAGS,
    auth=True,
    status=204,
    errors=[403, 404, 409],
    uow="write",
)
async def remove_member(request: web.Request) -> web.StreamResponse:
    await FamilyService(request[UOW]).remove(_user(request), _id(request, "family_id"), _id(request, "user_id"))
    return web.Response(status=204)


# --- invites --------------------------------------------------------------------------------------------------------


@route(
    "POST",
    f"{FAMILY}/invites",
    summary="Create an invite",
    tags=TAGS,
    auth=True,
    body=InviteIn,
    response=IssuedInviteOut,
    status=201,
    errors=[403, 404],
    uow="write",
)
async def create_invite(request: web.Request, body: InviteIn) -> web.StreamResponse:
    issued = await FamilyService(request[UOW]).invite(
        _user(request),
        _id(request, "family_id"),
        role=body.role,
        max_uses=body.max_uses,
        ttl=timedelta(hours=body.ttl_hours) if body.ttl_hours else None,
    )
    return respond(IssuedInviteOut, issued, status=201)


@route(
    "GET",
    f"{FAMILY}/invites",
    summary="Invites",
    tags=TAGS,
    auth=True,
    response=InviteList,
    errors=[403, 404],
    uow="read",
)
async def list_invites(request: web.Request) -> web.StreamResponse:
    found = await FamilyService(request[UOW]).invites(_user(request), _id(request, "family_id"))
    return respond(InviteList, {"items": found})


@route(
    "DELETE",
    f"{FAMILY}/invites/{ID % 'invite_id'}",
    summary="Revoke an invite",
    tags=TAGS,
    auth=True,
    response=InviteOut,
    errors=[403, 404],
    uow="write",
)
async def revoke_invite(request: web.Request) -> web.StreamResponse:
    revoked = await FamilyService(request[UOW]).revoke_invite(
        _user(request), _id(request, "family_id"), _id(request, "invite_id")
    )
    return respond(InviteOut, revoked)


@route(
    "POST",
    PREFIX + "/invites/{code:[A-Za-z0-9_-]+}/accept",
    summary="Join a family by invite",
    description="404 for an invite that is unknown, used up, expired or revoked.",
    tags=TAGS,
    auth=True,
    response=FamilyOut,
    errors=[404, 409],
    uow="write",
)
async def accept_invite(request: web.Request) -> web.StreamResponse:
    joined = await FamilyService(request[UOW]).accept(_user(request), request.match_info["code"])
    return respond(FamilyOut, joined)


# --- accounts -------------------------------------------------------------------------------------------------------


@route(
    "GET",
    f"{PREFIX}/accounts",
    summary="Accounts with their balances",
    tags=TAGS,
    auth=True,
    query=ListQuery,
    response=AccountList,
    errors=[404],
    uow="read",
)
async def list_accounts(request: web.Request, query: ListQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).accounts(
        _user(request), query.family_id, include_archived=query.include_archived
    )
    return respond(AccountList, {"items": found})


@route(
    "POST",
    f"{PREFIX}/accounts",
    summary="Create an account",
    tags=TAGS,
    auth=True,
    body=AccountIn,
    query=FamilyQuery,
    response=AccountOut,
    status=201,
    errors=[403, 404, 409],
    uow="write",
)
async def create_account(request: web.Request, body: AccountIn, query: FamilyQuery) -> web.StreamResponse:
    created = await LedgerService(request[UOW]).create_account(
        _user(request),
        query.family_id,
        name=body.name,
        kind=body.kind,
        currency=body.currency,
        opening_balance=Decimal(body.opening_balance),
    )
    return respond(AccountOut, created, status=201)


@route(
    "GET",
    f"{PREFIX}/accounts/{ID % 'account_id'}",
    summary="An account",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    response=AccountOut,
    errors=[404],
    uow="read",
)
async def get_account(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).account(_user(request), query.family_id, _id(request, "account_id"))
    return respond(AccountOut, found)


@route(
    "PATCH",
    f"{PREFIX}/accounts/{ID % 'account_id'}",
    summary="Rename, change the kind of, or archive an account",
    tags=TAGS,
    auth=True,
    body=AccountPatch,
    query=FamilyQuery,
    response=AccountOut,
    errors=[403, 404, 409],
    uow="write",
)
async def update_account(request: web.Request, body: AccountPatch, query: FamilyQuery) -> web.StreamResponse:
    updated = await LedgerService(request[UOW]).update_account(
        _user(request),
        query.family_id,
        _id(request, "account_id"),
        name=body.name,
        kind=body.kind,
        archived=body.archived,
    )
    return respond(AccountOut, updated)


# --- categories -----------------------------------------------------------------------------------------------------


@route(
    "GET",
    f"{PREFIX}/categories",
    summary="Categories",
    tags=TAGS,
    auth=True,
    query=ListQuery,
    response=CategoryList,
    errors=[404],
    uow="read",
)
async def list_categories(request: web.Request, query: ListQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).categories(
        _user(request), query.family_id, include_archived=query.include_archived
    )
    return respond(CategoryList, {"items": found})


@route(
    "POST",
    f"{PREFIX}/categories",
    summary="Create a category",
    tags=TAGS,
    auth=True,
    body=CategoryIn,
    query=FamilyQuery,
    response=CategoryOut,
    status=201,
    errors=[403, 404, 409],
    uow="write",
)
async def create_category(request: web.Request, body: CategoryIn, query: FamilyQuery) -> web.StreamResponse:
    created = await LedgerService(request[UOW]).create_category(
        _user(request), query.family_id, name=body.name, kind=body.kind, emoji=body.emoji, parent_id=body.parent_id
    )
    return respond(CategoryOut, created, status=201)


@route(
    "GET",
    f"{PREFIX}/categories/{ID % 'category_id'}",
    summary="A category",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    response=CategoryOut,
    errors=[404],
    uow="read",
)
async def get_category(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).category(_user(request), query.family_id, _id(request, "category_id"))
    return respond(CategoryOut, found)


@route(
    "PATCH",
    f"{PREFIX}/categories/{ID % 'category_id'}",
    summary="Rename, change the emoji of, or archive a category",
    tags=TAGS,
    auth=True,
    body=CategoryPatch,
    query=FamilyQuery,
    response=CategoryOut,
    errors=[403, 404, 409],
    uow="write",
)
async def update_category(request: web.Request, body: CategoryPatch, query: FamilyQuery) -> web.StreamResponse:
    updated = await LedgerService(request[UOW]).update_category(
        _user(request),
        query.family_id,
        _id(request, "category_id"),
        name=body.name,
        emoji=body.emoji,
        archived=body.archived,
    )
    return respond(CategoryOut, updated)


@route(
    "POST",
    f"{PREFIX}/categories/{ID % 'category_id'}/merge",
    summary="Merge a category into another",
    description="Its entries move to `into_id`, and it is archived.",
    tags=TAGS,
    auth=True,
    body=MergeIn,
    query=FamilyQuery,
    response=MergeOut,
    errors=[403, 404],
    uow="write",
)
async def merge_category(request: web.Request, body: MergeIn, query: FamilyQuery) -> web.StreamResponse:
    target, moved = await LedgerService(request[UOW]).merge_categories(
        _user(request), query.family_id, _id(request, "category_id"), body.into_id
    )
    return model_response(MergeOut(category=CategoryOut.model_validate(target), moved=moved))


@route(
    "GET",
    f"{PREFIX}/keywords",
    summary="Quick entry's keywords",
    description="Each word files a quick entry under its category; they win over what history suggests.",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    response=KeywordList,
    errors=[404],
    uow="read",
)
async def list_keywords(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).keywords(_user(request), query.family_id)
    return respond(KeywordList, {"items": found})


@route(
    "PUT",
    PREFIX + "/keywords/{keyword}",
    summary="File a keyword under a category",
    tags=TAGS,
    auth=True,
    body=KeywordIn,
    query=FamilyQuery,
    response=KeywordList,
    errors=[403, 404],
    uow="write",
)
async def set_keyword(request: web.Request, body: KeywordIn, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).set_keyword(
        _user(request), query.family_id, request.match_info["keyword"], body.category_id
    )
    return respond(KeywordList, {"items": found})


@route(
    "DELETE",
    PREFIX + "/keywords/{keyword}",
    summary="Forget a keyword",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    status=204,
    errors=[403, 404, 422],
    uow="write",
)
async def delete_keyword(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    await LedgerService(request[UOW]).remove_keyword(_user(request), query.family_id, request.match_info["keyword"])
    return web.Response(status=204)


# --- transactions ---------------------------------------------------------------------------------------------------


@route(
    "GET",
    f"{PREFIX}/transactions",
    summary="Transactions, filtered, a page at a time",
    description="Cursor paging: pass `next_cursor` as `cursor` for the next page; a page costs the same at any depth.",
    tags=TAGS,
    auth=True,
    query=TransactionQuery,
    response=TransactionPage,
    errors=[404],
    uow="read",
)
async def list_transactions(request: web.Request, query: TransactionQuery) -> web.StreamResponse:
    filters = EntryFilter(
        date_from=query.date_from,
        date_to=query.date_to,
        account_id=query.account_id,
        category_id=query.category_id,
        author_id=query.author_id,
        kind=query.type,
        text=query.q,
        oldest_first=query.sort == "oldest",
    )
    page = await LedgerService(request[UOW]).entries(
        _user(request), query.family_id, filters, limit=query.limit, cursor=query.cursor
    )
    return respond(TransactionPage, page)


@route(
    "POST",
    f"{PREFIX}/transactions",
    summary="Add an expense or an income",
    description="With an `Idempotency-Key` header a retry returns the first result instead of a second entry; "
    "the same key with a different body is 409.",
    tags=TAGS,
    auth=True,
    body=TransactionIn,
    query=FamilyQuery,
    response=TransactionOut,
    status=201,
    errors=[403, 404, 409],
    uow="write",
)
async def create_transaction(request: web.Request, body: TransactionIn, query: FamilyQuery) -> web.StreamResponse:
    key, digest = _idempotency(request, (query.family_id, body))
    created = await LedgerService(request[UOW]).create(
        _user(request),
        query.family_id,
        kind=body.kind,
        account_id=body.account_id,
        amount=Decimal(body.amount),
        category_id=body.category_id,
        local_day=body.date,
        note=body.note,
        idempotency_key=key,
        request_hash=digest,
    )
    return respond(TransactionOut, created, status=201)


@route(
    "POST",
    f"{PREFIX}/transfers",
    summary="Move money between two accounts",
    description="Two linked entries; `to_amount` is required when the currencies differ. Takes `Idempotency-Key`.",
    tags=TAGS,
    auth=True,
    body=TransferIn,
    query=FamilyQuery,
    response=TransferOut,
    status=201,
    errors=[403, 404, 409],
    uow="write",
)
async def create_transfer(request: web.Request, body: TransferIn, query: FamilyQuery) -> web.StreamResponse:
    key, digest = _idempotency(request, (query.family_id, body))
    created = await LedgerService(request[UOW]).transfer(
        _user(request),
        query.family_id,
        from_account_id=body.from_account_id,
        to_account_id=body.to_account_id,
        amount=Decimal(body.amount),
        to_amount=Decimal(body.to_amount) if body.to_amount is not None else None,
        local_day=body.date,
        note=body.note,
        idempotency_key=key,
        request_hash=digest,
    )
    return respond(TransferOut, created, status=201)


@route(
    "GET",
    f"{PREFIX}/transactions/{ID % 'transaction_id'}",
    summary="A transaction",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    response=TransactionOut,
    errors=[404],
    uow="read",
)
async def get_transaction(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).get(_user(request), query.family_id, _id(request, "transaction_id"))
    return respond(TransactionOut, found)


@route(
    "GET",
    f"{PREFIX}/transactions/{ID % 'transaction_id'}/history",
    summary="Who changed a transaction, when, and its values before and after",
    description="Kept after the transaction is deleted.",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    response=EditList,
    errors=[404],
    uow="read",
)
async def transaction_history(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).history(_user(request), query.family_id, _id(request, "transaction_id"))
    return respond(EditList, {"items": found})


@route(
    "PATCH",
    f"{PREFIX}/transactions/{ID % 'transaction_id'}",
    summary="Change a transaction (its author or an admin)",
    tags=TAGS,
    auth=True,
    body=TransactionPatch,
    query=FamilyQuery,
    response=TransactionOut,
    errors=[403, 404],
    uow="write",
)
async def update_transaction(request: web.Request, body: TransactionPatch, query: FamilyQuery) -> web.StreamResponse:
    updated = await LedgerService(request[UOW]).update(
        _user(request),
        query.family_id,
        _id(request, "transaction_id"),
        amount=Decimal(body.amount) if body.amount is not None else None,
        account_id=body.account_id,
        category_id=body.category_id or None,
        clear_category=body.category_id == 0,
        local_day=body.date,
        note=body.note,
    )
    return respond(TransactionOut, updated)


@route(
    "DELETE",
    f"{PREFIX}/transactions/{ID % 'transaction_id'}",
    summary="Delete a transaction (both legs of a transfer)",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    status=204,
    errors=[403, 404],
    uow="write",
)
async def delete_transaction(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    await LedgerService(request[UOW]).delete(_user(request), query.family_id, _id(request, "transaction_id"))
    return web.Response(status=204)


@route(
    "POST",
    f"{PREFIX}/rates",
    summary="Enter an exchange rate",
    description="One unit of `currency` in the family's base currency from `date` on; a second rate for the same "
    "date corrects the first. Entries keep the rate they were made with.",
    tags=TAGS,
    auth=True,
    body=RateIn,
    query=FamilyQuery,
    status=204,
    errors=[403, 404],
    uow="write",
)
async def create_rate(request: web.Request, body: RateIn, query: FamilyQuery) -> web.StreamResponse:
    await LedgerService(request[UOW]).set_rate(
        _user(request), query.family_id, body.currency, body.date, Decimal(body.rate)
    )
    return web.Response(status=204)


@route(
    "GET",
    f"{PREFIX}/rates",
    summary="The latest exchange rates",
    description="Each currency's rate with the latest date, in the family's base currency.",
    tags=TAGS,
    auth=True,
    query=FamilyQuery,
    response=RateList,
    errors=[404],
    uow="read",
)
async def list_rates(request: web.Request, query: FamilyQuery) -> web.StreamResponse:
    found = await LedgerService(request[UOW]).latest_rates(_user(request), query.family_id)
    return respond(RateList, found)


# --- reports, export, import ----------------------------------------------------------------------------------------


@route(
    "GET",
    f"{PREFIX}/reports/summary",
    summary="Income and expense of a period in the base currency, grouped",
    description="`from` inclusive, `to` exclusive; expense totals are negative.",
    tags=TAGS,
    auth=True,
    query=ReportQuery,
    response=SummaryOut,
    errors=[404],
    uow="read",
)
async def report_summary(request: web.Request, query: ReportQuery) -> web.StreamResponse:
    found = await ReportService(request[UOW]).summary(
        _user(request), query.family_id, query.from_, query.to, group_by=query.group_by
    )
    return respond(SummaryOut, found)


@route(
    "GET",
    f"{PREFIX}/reports/chart.png",
    summary="The period's spending as a PNG chart",
    description="By category or member as bars, by day as a trend. 503 when the chart cannot be drawn in time.",
    tags=TAGS,
    auth=True,
    query=ReportQuery,
    content_type="image/png",
    errors=[404, 503],
    uow="read",
)
async def report_chart(request: web.Request, query: ReportQuery) -> web.StreamResponse:
    png = await ReportService(request[UOW]).chart(
        _user(request), query.family_id, query.from_, query.to, group_by=query.group_by
    )
    return web.Response(body=png, content_type="image/png")


@route(
    "GET",
    f"{PREFIX}/transactions/export.csv",
    summary="The period's transactions as CSV",
    tags=TAGS,
    auth=True,
    query=ExportQuery,
    content_type="text/csv",
    errors=[404],
    uow="read",
)
async def export_transactions(request: web.Request, query: ExportQuery) -> web.StreamResponse:
    text = await ReportService(request[UOW]).export_csv(_user(request), query.family_id, query.from_, query.to)
    name = f"transactions-{query.from_.isoformat()}-{query.to.isoformat()}.csv"
    return web.Response(
        text=text, content_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@route(
    "POST",
    f"{PREFIX}/transactions/import",
    summary="Import a CSV file into one account",
    description="With `dry_run` (the default) nothing is written: the answer shows what would be created. Rows equal "
    "to existing entries (date, amount, note) are skipped and listed as duplicates; unreadable lines are listed as "
    "errors.",
    tags=TAGS,
    auth=True,
    body=ImportIn,
    response=ImportOut,
    errors=[403, 404],
    uow="write",
)
async def import_transactions(request: web.Request, body: ImportIn) -> web.StreamResponse:
    mapping = body.mapping
    options = ImportOptions(
        mapping=ColumnMapping(
            date=mapping.date,
            amount=mapping.amount,
            note=mapping.note,
            category=mapping.category,
            kind=mapping.kind,
            currency=mapping.currency,
        ),
        date_format=body.date_format,
        # The account's, set by the service.
        currency="XXX",
        sign=SignConvention(body.sign),
        decimal_symbol=body.decimal_symbol,
        has_header=body.has_header,
    )
    report = await ReportService(request[UOW]).import_csv(
        _user(request), body.family_id, body.csv, account_id=body.account_id, options=options, dry_run=body.dry_run
    )

    def row(planned: PlannedRow) -> ImportRowOut:
        return ImportRowOut(
            line=planned.line,
            date=planned.local_date,
            kind=planned.kind,
            amount=planned.amount.plain(),
            currency=planned.amount.currency,
            note=planned.note,
            category=planned.category,
        )

    return model_response(
        ImportOut(
            dry_run=report.dry_run,
            created=report.created,
            rows=[row(r) for r in report.planned],
            duplicates=[row(r) for r in report.duplicates],
            errors=[ImportErrorOut(line=e.line, code=str(e.code), column=e.column) for e in report.errors],
        )
    )
