"""Summaries, charts and CSV files of a family's ledger."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from core.container import UnitOfWork
from core.errors import ValidationFailed
from core.finance.config import FinanceConfig
from core.finance.csv_io import ExistingEntry, ExportRow, ImportOptions, LineError, PlannedRow, export_csv, parse_import
from core.finance.dates import local_date, month_bounds
from core.finance.dto import SummaryDTO, SummaryGroup
from core.finance.errors import ChartUnavailable
from core.finance.ledger import LedgerService, NewEntry
from core.finance.money import Money, currency_exponent
from core.finance.policy import Action, require
from core.finance.scope import display_name, membership
from storage.models.finance import Family, FamilyMember
from storage.repositories.finance import FinanceRepository
from storage.repositories.users import UserRepository

GROUPS = ("category", "member", "day")
MAX_PERIOD_DAYS = 366 * 5


@dataclass(frozen=True, slots=True)
class MonthReport:
    by_category: SummaryDTO
    by_member: SummaryDTO
    # None when the month has no spending to draw, or drawing was refused as busy.
    chart_png: bytes | None
    trend_png: bytes | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    dry_run: bool
    created: int
    planned: list[PlannedRow]
    duplicates: list[PlannedRow]
    errors: list[LineError]


def check_period(start: date, end: date) -> None:
    if end <= start:
        raise ValidationFailed("finance.period_invalid", "The period's end must be after its start")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationFailed("finance.period_too_long", f"A period is at most {MAX_PERIOD_DAYS} days")


class ReportService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._repo = FinanceRepository(uow.session)
        self._users = UserRepository(uow.session)

    async def _scope(self, user_id: int, family_id: int | None, action: Action) -> tuple[Family, FamilyMember]:
        family, member = await membership(self._uow, user_id, family_id)
        require(member.role, action)
        return family, member

    async def month_of(self, user_id: int, family_id: int | None, month: str | None) -> tuple[date, date]:
        """The bounds of a month named "YYYY-MM", or of the family's current month."""
        family, _ = await self._scope(user_id, family_id, Action.READ)
        if month is None:
            return month_bounds(local_date(self._uow.clock.now(), family.time_zone))
        try:
            year, number = (int(part) for part in month.strip().split("-"))
            return month_bounds(date(year, number, 1))
        except ValueError:
            raise ValidationFailed("finance.month_invalid", "A month is written YYYY-MM") from None

    async def month(
        self,
        user_id: int,
        family_id: int | None,
        month: str | None = None,
        *,
        title: str = "",
        trend_title: str = "",
        other_label: str = "Other",
        uncategorised: str = "—",
        locale: str = "en",
    ) -> MonthReport:
        """The month's totals by category and by member in the base currency, and its spending chart."""
        start, end = await self.month_of(user_id, family_id, month)
        by_category = await self.summary(user_id, family_id, start, end, uncategorised=uncategorised)
        by_member = await self.summary(user_id, family_id, start, end, group_by="member")
        chart: bytes | None = None
        trend: bytes | None = None
        spent = [g for g in by_category.groups if g.kind == "expense"]
        if spent:
            charts = self._uow.config(FinanceConfig).charts
            exponent = currency_exponent(by_category.base_currency)
            daily = await self._repo.daily_totals(by_category.family_id, start, end, kind="expense")
            try:
                chart = await charts.category_bars(
                    [g.label for g in spent],
                    [-g.total_minor for g in spent],
                    exponent,
                    title=title,
                    other_label=other_label,
                )
                trend = await charts.daily_trend(
                    [day for day, _ in daily],
                    [-total for _, total in daily],
                    exponent,
                    title=trend_title,
                    locale=locale,
                )
            except ChartUnavailable:
                pass
        return MonthReport(by_category, by_member, chart, trend)

    async def export_month(self, user_id: int, family_id: int | None, month: str | None) -> tuple[str, str]:
        """(file name, CSV text) of a month's entries."""
        start, end = await self.month_of(user_id, family_id, month)
        return f"transactions-{start:%Y-%m}.csv", await self.export_csv(user_id, family_id, start, end)

    async def summary(
        self,
        user_id: int,
        family_id: int | None,
        start: date,
        end: date,
        *,
        group_by: str = "category",
        uncategorised: str = "—",
    ) -> SummaryDTO:
        """Income and expense of [start, end) in the base currency, grouped; expense totals are negative."""
        if group_by not in GROUPS:
            raise ValidationFailed("finance.group_by_invalid", "group_by is category, member or day")
        check_period(start, end)
        family, _ = await self._scope(user_id, family_id, Action.READ)
        rows = await self._repo.summary(family.id, start, end)
        income = sum(r.base_total_minor for r in rows if r.kind == "income")
        expense = sum(r.base_total_minor for r in rows if r.kind == "expense")
        groups: list[SummaryGroup] = []
        if group_by == "category":
            names = {c.id: c for c in await self._repo.categories(family.id, include_archived=True)}
            for r in rows:
                category = names.get(r.category_id) if r.category_id is not None else None
                label = (
                    (f"{category.emoji} {category.name}" if category.emoji else category.name)
                    if category
                    else uncategorised
                )
                key = str(r.category_id) if r.category_id is not None else "none"
                groups.append(SummaryGroup(key, label, r.kind, r.base_total_minor, r.count))
        elif group_by == "member":
            found = await self._repo.summary_by(family.id, start, end, by="member")
            for author, kind, total, count in sorted(found, key=lambda t: (t[1], t[2] if t[1] == "expense" else -t[2])):
                author_id = author if isinstance(author, int) else None
                name = display_name(await self._users.get(author_id) if author_id is not None else None, author_id)
                groups.append(
                    SummaryGroup(str(author_id) if author_id is not None else "none", name, kind, total, count)
                )
        else:
            for day, kind, total, count in await self._repo.summary_by(family.id, start, end, by="day"):
                label = day.isoformat() if isinstance(day, date) else str(day)
                groups.append(SummaryGroup(label, label, kind, total, count))
        return SummaryDTO(family.id, start, end, family.base_currency, income, expense, group_by, groups)

    async def chart(
        self,
        user_id: int,
        family_id: int | None,
        start: date,
        end: date,
        *,
        group_by: str = "category",
        title: str = "",
        other_label: str = "Other",
        locale: str = "en",
    ) -> bytes:
        """A PNG: spending by category (group_by category or member) or spending by day (group_by day)."""
        found = await self.summary(user_id, family_id, start, end, group_by=group_by)
        charts = self._uow.config(FinanceConfig).charts
        exponent = currency_exponent(found.base_currency)
        spent = [g for g in found.groups if g.kind == "expense"]
        if group_by == "day":
            days = [date.fromisoformat(g.key) for g in spent] or [start]
            minors = [-g.total_minor for g in spent] or [0]
            return await charts.daily_trend(days, minors, exponent, title=title, locale=locale)
        labels = [g.label for g in spent] or ["—"]
        minors = [-g.total_minor for g in spent] or [0]
        return await charts.category_bars(labels, minors, exponent, title=title, other_label=other_label)

    async def export_rows(self, user_id: int, family_id: int | None, start: date, end: date) -> list[ExportRow]:
        check_period(start, end)
        family, _ = await self._scope(user_id, family_id, Action.READ)
        accounts = {a.id: a.name for a in await self._repo.accounts(family.id, include_archived=True)}
        categories = {c.id: c.name for c in await self._repo.categories(family.id, include_archived=True)}
        names: dict[int | None, str] = {}
        rows: list[ExportRow] = []
        cursor = None
        while True:
            page = await self._repo.page(
                family.id, limit=200, after=cursor, date_from=start, date_to=end, oldest_first=True
            )
            for row in page.rows:
                if row.author_id not in names:
                    user = await self._users.get(row.author_id) if row.author_id is not None else None
                    names[row.author_id] = display_name(user, row.author_id)
                rows.append(
                    ExportRow(
                        local_date=row.local_date,
                        account=accounts.get(row.account_id, ""),
                        category=categories.get(row.category_id) if row.category_id is not None else None,
                        kind=row.kind,
                        amount=Money(row.amount_minor, row.currency),
                        base_amount=Money(row.base_amount_minor, family.base_currency),
                        note=row.note,
                        author=names[row.author_id],
                    )
                )
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor

    async def export_csv(self, user_id: int, family_id: int | None, start: date, end: date) -> str:
        return export_csv(await self.export_rows(user_id, family_id, start, end))

    async def import_csv(
        self,
        user_id: int,
        family_id: int | None,
        text: str,
        *,
        account_id: int,
        options: ImportOptions,
        dry_run: bool,
    ) -> ImportReport:
        """Rows of a CSV file into one account; duplicates of existing entries are skipped and reported."""
        family, _ = await self._scope(user_id, family_id, Action.READ if dry_run else Action.WRITE_OWN)
        ledger = LedgerService(self._uow)
        account = await ledger.account(user_id, family.id, account_id)
        options = replace(options, currency=account.currency)
        # Read once to learn the file's dates, then again against the entries of those dates only.
        parsed = parse_import(text, options)
        if parsed.rows:
            start = min(row.local_date for row in parsed.rows)
            last = max(row.local_date for row in parsed.rows)
            end = last + timedelta(days=1) if last < date.max else last
            keys = await self._repo.entry_keys(family.id, start, end)
            existing = [ExistingEntry(k.local_date, Money(k.amount_minor, k.currency), k.note) for k in keys]
            parsed = parse_import(text, options, existing)
        categories = {c.name.casefold(): c for c in await self._repo.categories(family.id)}
        fresh = [row for row in parsed.rows if not row.duplicate]
        duplicates = [row for row in parsed.rows if row.duplicate]
        created = 0
        if not dry_run:
            entries = []
            for row in fresh:
                if row.amount.currency != account.currency:
                    raise ValidationFailed("finance.import_currency", f"Line {row.line} is not in {account.currency}")
                category = categories.get((row.category or "").casefold())
                entries.append(
                    NewEntry(
                        kind=row.kind,
                        amount=Money(abs(row.amount.minor), row.amount.currency),
                        local_day=row.local_date,
                        note=row.note,
                        category_id=category.id if category is not None else None,
                    )
                )
            created = await ledger.create_batch(user_id, family.id, account.id, entries, source="import")
        return ImportReport(dry_run, created, fresh, duplicates, parsed.errors)
