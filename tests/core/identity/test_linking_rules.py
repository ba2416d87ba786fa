"""Rules that must hold through linking: referrals (once, never oneself, never a cycle), referral codes that keep
crediting, one record of which Telegram account belongs to whom; and the absolute refresh lifetime."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.auth import password_flows
from core.auth.service import AuthService, ClientInfo
from core.clock import ManualClock
from core.container import Container
from core.errors import Unauthorized
from core.identity.service import IdentityService
from core.users.dto import TelegramProfile
from core.users.service import UserService
from storage.models import Identity, User

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="test")
PASSWORD = "Blue-Heron-Lantern-42"


async def email_user(container: Container, email: str) -> int:
    user, _ = await password_flows.register_email(
        container, email=email, password=PASSWORD, first_name=None, last_name=None, username=None, client=CLIENT
    )
    return user.id


async def telegram_user(container: Container, telegram_id: int, referral: str | None = None) -> int:
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id, "T"))
        if referral:
            await IdentityService(uow).apply_referral(user.id, referral)
    return user.id


async def code_of(container: Container, user_id: int) -> str:
    async with container.unit_of_work(write=False) as uow:
        return (await IdentityService(uow).referral_info(user_id)).code


async def link_telegram_into(container: Container, target: int, telegram_id: int) -> None:
    async with container.unit_of_work(write=True) as uow:
        code = (await IdentityService(uow).issue_code_for_account(target)).code
    async with container.unit_of_work(write=True) as uow:
        await IdentityService(uow).link_from_start(code=code, profile=TelegramProfile(telegram_id, "T"))


async def referrer_of(container: Container, user_id: int) -> int | None:
    async with container.unit_of_work(write=False) as uow:
        user = await uow.session.get(User, user_id)
        assert user is not None
        return user.referred_by_id


async def test_linking_never_creates_a_referral_cycle(container: Container) -> None:
    # E registers by email; X comes through E's link; T through X's; then T's Telegram account is linked into E.
    e = await email_user(container, "e@example.org")
    x = await telegram_user(container, 9001, f"ref_{await code_of(container, e)}")
    t = await telegram_user(container, 9002, f"ref_{await code_of(container, x)}")
    assert await referrer_of(container, x) == e
    assert await referrer_of(container, t) == x
    await link_telegram_into(container, e, 9002)
    # Retiring T must not hand its referrer X to E: E -> X -> E would be a cycle.
    assert await referrer_of(container, e) is None
    assert await referrer_of(container, x) == e


async def test_inherited_referrer_kept_when_it_breaks_no_rule(container: Container) -> None:
    r = await email_user(container, "r@example.org")
    e = await email_user(container, "e2@example.org")
    await telegram_user(container, 9003, f"ref_{await code_of(container, r)}")
    await link_telegram_into(container, e, 9003)
    assert await referrer_of(container, e) == r


async def test_referral_codes_stay_stable_across_linking(container: Container) -> None:
    e = await email_user(container, "e3@example.org")
    e_code = await code_of(container, e)
    t = await telegram_user(container, 9004)
    t_code = await code_of(container, t)
    await link_telegram_into(container, e, 9004)
    # The person keeps the code the bot showed them, and both old codes credit the surviving account.
    assert await code_of(container, e) == t_code
    for newcomer_telegram_id, old in ((9101, t_code), (9102, e_code)):
        newcomer = await telegram_user(container, newcomer_telegram_id)
        async with container.unit_of_work(write=True) as uow:
            assert await IdentityService(uow).apply_referral(newcomer, f"ref_{old}") == e


async def test_identities_and_telegram_id_never_disagree(container: Container) -> None:
    """users.telegram_id is a copy kept for the hot path; after every way of changing it, it equals the identity."""
    e = await email_user(container, "e4@example.org")
    await telegram_user(container, 9005)
    await link_telegram_into(container, e, 9005)
    async with container.unit_of_work(write=True) as uow:
        await IdentityService(uow).unlink_telegram(e)
    await telegram_user(container, 9006)
    async with container.unit_of_work(write=False) as uow:
        users = (await uow.session.execute(select(User))).scalars().all()
        identities = (
            (await uow.session.execute(select(Identity).where(Identity.provider == "telegram"))).scalars().all()
        )
    by_identity = {int(identity.subject): identity.user_id for identity in identities}
    by_column = {user.telegram_id: user.id for user in users if user.telegram_id is not None}
    assert by_identity == by_column


async def test_refresh_works_until_the_absolute_lifetime_ends(container: Container) -> None:
    clock = container.clock
    assert isinstance(clock, ManualClock)
    _, pair = await password_flows.register_email(
        container,
        email="x@example.org",
        password=PASSWORD,
        first_name=None,
        last_name=None,
        username=None,
        client=CLIENT,
    )
    token = pair.refresh_token
    clock.advance(29 * 24 * 3600)
    async with container.unit_of_work(write=True) as uow:
        token = (await AuthService(uow).refresh(token, CLIENT)).refresh_token
    clock.advance(24 * 3600 + 1)
    with pytest.raises(Unauthorized):
        async with container.unit_of_work(write=True) as uow:
            await AuthService(uow).refresh(token, CLIENT)
