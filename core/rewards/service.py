"""The daily claim and the balance, on the points ledger.

A claim pays the daily reward from the rewards pool to the user and, when the user has a referrer, a share of it
from the referral pool to the referrer: one ledger transaction whose idempotency key is
`daily:<user id>:<date in the user's time zone>` (the zone they chose, else the configured one). The unique key
decides, inside the database, which of any number of concurrent claims pays; the others find that transaction and
are told how long is left. The claim's cooldown (until the next local midnight) is set in the same unit of work, so
a retried claim is refused by the guard before it reaches the ledger. Because the key names a calendar date,
changing zones cannot pay a date twice: a user is paid at most once per date, whatever zones they move between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.access import policy
from core.container import UnitOfWork
from core.errors import Forbidden, NotFound
from core.rewards.cooldowns import CooldownActive, CooldownService, seconds_left
from core.users.dto import UserDTO
from core.users.time_zones import zone_or
from storage.models.rewards import AccountKind
from storage.repositories.rewards import IdempotencyConflict, LedgerRepository
from storage.repositories.users import UserRepository

CLAIM = "claim"
ALREADY_CLAIMED = "already_claimed"
BOT_SUSPECTED = "bot_suspected"
DAILY_CLAIM = "daily_claim"
ACCOUNT_MERGE = "account_merge"
# How the referrer's side of a daily claim is shown: the transaction is the claimer's, the entry the share.
REFERRAL_SHARE = "referral_share"


@dataclass(frozen=True, slots=True)
class RewardsConfig:
    # Points paid by one daily claim.
    daily_amount: int
    # Percent of the daily amount paid to the claimer's referrer (0: none).
    referral_percent: int
    # IANA name of the time zone whose calendar day a claim belongs to, for users who chose none.
    time_zone: str
    # Ledger entries per page of /balance, by default and at most.
    page_size: int = 10
    max_page_size: int = 50
    # Expired cooldowns deleted per unit of work by the maintenance job.
    purge_batch: int = 500

    def __post_init__(self) -> None:
        if self.daily_amount <= 0:
            raise ValueError("rewards daily amount must be positive")
        if not 0 <= self.referral_percent <= 100:
            raise ValueError("rewards referral percent must be 0-100")
        ZoneInfo(self.time_zone)  # raises for an unknown zone
        if not 1 <= self.page_size <= self.max_page_size:
            raise ValueError("rewards page size must be 1..max_page_size")
        if self.purge_batch <= 0:
            raise ValueError("rewards purge batch must be positive")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def referral_amount(self) -> int:
        return self.daily_amount * self.referral_percent // 100


@dataclass(frozen=True, slots=True)
class ClaimResult:
    amount: int
    referral_amount: int
    referrer_id: int | None
    balance: int
    claimed_on: date
    next_claim_at: datetime


@dataclass(frozen=True, slots=True)
class EntryDTO:
    id: int
    amount: int
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BalanceDTO:
    balance: int
    entries: tuple[EntryDTO, ...]
    # Pass as `before` for the next (older) page; None on the last page.
    next_before: int | None


def claim_day(now: datetime, zone: ZoneInfo) -> tuple[date, datetime]:
    """The calendar day ``now`` falls on in ``zone``, and the instant (UTC) the next day starts there."""
    local = now.astimezone(zone)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return local.date(), next_midnight.astimezone(UTC)


def claim_refusal(user: UserDTO) -> Forbidden | None:
    """Why this user may not claim: the access policy's answer, or a bot-suspected account."""
    refused = policy.refusal(user)
    if refused is not None:
        return refused
    if user.is_bot_suspected:
        return Forbidden(BOT_SUSPECTED, "This account is suspected of being automated and may not claim rewards")
    return None


class RewardsService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._clock = uow.clock
        self._ledger = LedgerRepository(uow.session)
        self._users = UserRepository(uow.session)
        self._cooldowns = CooldownService(uow)
        self.config = uow.config(RewardsConfig)

    async def claim(self, user_id: int) -> ClaimResult:
        """Pay today's reward once; CooldownActive (429) with the time left when today's is already paid."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        refused = claim_refusal(UserDTO.from_model(user))
        if refused is not None:
            raise refused
        now = self._clock.now()
        day, until = claim_day(now, zone_or(user.time_zone, self.config.zone))
        await self._cooldowns.require_free(user.id, CLAIM)

        amount, share = self.config.daily_amount, self.config.referral_amount
        account = await self._ledger.user_account(user.id)
        pool = await self._ledger.pool(AccountKind.REWARDS_POOL)
        entries = {pool.id: -amount, account.id: amount}
        referrer_id = user.referred_by_id if share > 0 else None
        if referrer_id is not None:
            referrer_account = await self._ledger.user_account(referrer_id)
            referral_pool = await self._ledger.pool(AccountKind.REFERRAL_POOL)
            entries[referral_pool.id] = -share
            entries[referrer_account.id] = share
        try:
            posted = await self._ledger.post(
                kind=DAILY_CLAIM,
                idempotency_key=f"daily:{user.id}:{day.isoformat()}",
                entries=entries,
                created_at=now,
                memo={"date": day.isoformat(), "referrer_id": referrer_id},
            )
            paid = posted.created
        except IdempotencyConflict:
            # Today's claim was paid with other entries (the referrer changed since): still paid once.
            paid = False
        ends = await self._cooldowns.start(user.id, CLAIM, until)
        if not paid:
            # The cooldown written above stands, so the next attempt stops at the guard.
            raise CooldownActive(CLAIM, ends, seconds_left(ends, now), code=ALREADY_CLAIMED).keeping_writes()
        return ClaimResult(
            amount=amount,
            referral_amount=share if referrer_id is not None else 0,
            referrer_id=referrer_id,
            balance=await self._ledger.balance(account.id),
            claimed_on=day,
            next_claim_at=ends,
        )

    async def balance(self, user_id: int, *, limit: int | None = None, before: int | None = None) -> BalanceDTO:
        """The user's balance and their latest entries, newest first; page with ``before`` = next_before."""
        size = min(max(1, limit or self.config.page_size), self.config.max_page_size)
        account = await self._ledger.find_user_account(user_id)
        if account is None:
            return BalanceDTO(balance=0, entries=(), next_before=None)
        rows = await self._ledger.history(account.id, limit=size + 1, before_entry_id=before)
        page = [
            EntryDTO(
                id=entry.id,
                amount=entry.amount,
                kind=REFERRAL_SHARE
                if transaction.kind == DAILY_CLAIM and transaction.memo.get("referrer_id") == user_id
                else transaction.kind,
                created_at=transaction.created_at,
            )
            for entry, transaction in rows[:size]
        ]
        return BalanceDTO(
            balance=await self._ledger.balance(account.id),
            entries=tuple(page),
            next_before=page[-1].id if len(rows) > size else None,
        )


async def carry_over_retired_user(uow: UnitOfWork, retired_user_id: int, into_user_id: int) -> None:
    """Account linking retires a bare Telegram user: its points move to the surviving account by a ledger transfer,
    its emptied account is closed (its history stays), and its cooldowns carry over, all in the caller's unit of
    work, before the retired user's row is deleted."""
    ledger = LedgerRepository(uow.session)
    await CooldownService(uow).carry_over(retired_user_id, into_user_id)
    account = await ledger.find_user_account(retired_user_id)
    if account is None:
        return
    # Locked: a claim of the retired user committing meanwhile would otherwise leave points behind.
    balance = await ledger.balance(account.id, for_update=True)
    if balance > 0:
        target = await ledger.user_account(into_user_id)
        await ledger.post(
            kind=ACCOUNT_MERGE,
            idempotency_key=f"merge:{account.id}",
            entries={account.id: -balance, target.id: balance},
            created_at=uow.clock.now(),
            memo={"retired_user_id": retired_user_id, "into_user_id": into_user_id},
        )
    await ledger.close_user_account(account)
