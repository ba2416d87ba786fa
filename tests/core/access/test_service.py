"""The access service and policy on real databases (SQLite with the in-process store, PostgreSQL with Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.access import policy
from core.access.levels import AccessLevel
from core.access.service import AccessService, Actor, UserChanges
from core.auth.service import AuthService, ClientInfo
from core.container import Container
from core.errors import Forbidden, NotFound, ValidationFailed
from core.settings import SettingsError
from core.users.dto import TelegramProfile, UserDTO
from core.users.service import UserService
from run import access_config
from storage.models import AuditEntry, User
from tests.helpers.app import test_settings as build_settings


async def telegram_user(container: Container, telegram_id: int) -> UserDTO:
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=telegram_id, first_name="T"))
    return user


async def audit_count(container: Container) -> int:
    async with container.unit_of_work(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(AuditEntry))).scalar_one())


def name_initial_admins(container: Container, *telegram_ids: int, emails: tuple[str, ...] = ()) -> None:
    """As if the settings named them: the container's AccessConfig replaced for this test."""
    container._configs[policy.AccessConfig] = policy.AccessConfig(
        initial_admin_telegram_ids=telegram_ids, initial_admin_emails=emails
    )


async def make_owner(container: Container) -> UserDTO:
    """An owner (staff with full permissions), made the way start-up makes one."""
    name_initial_admins(container, 1001)
    async with container.unit_of_work(write=True) as uow:
        await AccessService(uow).apply_initial_admins()
        owner = await UserService(uow).find_telegram_user(1001)
    assert owner is not None
    return owner


def test_access_config_follows_settings(tmp_path: Path) -> None:
    settings = build_settings(tmp_path, access={"beta_features": ["wallet", "charts"], "alpha_features": []})
    config = access_config(settings)
    assert config.policy.required("charts") is AccessLevel.BETA
    assert config.policy.required("admin") is AccessLevel.STAFF
    with pytest.raises(KeyError):
        config.policy.required("experimental")
    with pytest.raises(SettingsError):
        build_settings(tmp_path, access={"beta_features": ["x"], "alpha_features": ["x"]})
    with pytest.raises(SettingsError):
        build_settings(tmp_path, access={"beta_features": ["admin"]})


async def test_policy_checks_activity_then_the_features_level(container: Container) -> None:
    user = await telegram_user(container, 2002)
    config = container.config(policy.AccessConfig)
    refused = policy.refusal(user, "wallet", config=config)
    assert refused is not None
    assert refused.message == "User does not have access to BETA"
    assert policy.refusal(user) is None
    with pytest.raises(KeyError):
        policy.refusal(user, "no-such-feature", config=config)
    async with container.unit_of_work(write=True) as uow:
        row = await uow.session.get_one(User, user.id)
        row.full_permissions_api = True
        full = UserDTO.from_model(row)
    assert policy.refusal(full, "wallet", config=config) is None
    assert policy.refusal(full, "admin", config=config) is None
    async with container.unit_of_work(write=True) as uow:
        await AuthService(uow).set_active(user.id, False)
        disabled = await UserService(uow).get(user.id)
    refused = policy.refusal(disabled, "wallet", config=config)
    assert refused is not None
    assert refused.code == policy.ACCOUNT_DISABLED


async def test_initial_admins_are_made_once_and_a_missing_telegram_user_is_created(
    tmp_path: Path, container: Container
) -> None:
    name_initial_admins(container, 3003, emails=("later@example.org",))
    async with container.unit_of_work(write=True) as uow:
        made = await AccessService(uow).apply_initial_admins()
    assert len(made) == 1
    async with container.unit_of_work(write=True) as uow:
        assert await AccessService(uow).apply_initial_admins() == []
        admin = await UserService(uow).find_telegram_user(3003)
    assert admin is not None
    assert admin.is_staff
    assert admin.full_permissions_api
    assert await audit_count(container) == 1
    # The email account registers later: the next run (start-up or the scheduled job) makes it an admin.
    async with container.unit_of_work(write=True) as uow:
        now = container.clock.now()
        uow.session.add(
            User(
                email="Later@example.org",
                email_key="later@example.org",
                date_joined=now,
                created_at=now,
                updated_at=now,
            )
        )
    async with container.unit_of_work(write=True) as uow:
        [later] = await AccessService(uow).apply_initial_admins()
        assert (await UserService(uow).get(later)).is_staff
    assert await audit_count(container) == 2
    # Demoted later by another owner: the next run does not overrule that.
    other = await make_owner(container)
    async with container.unit_of_work(write=True) as uow:
        await AccessService(uow).update_user(
            Actor(other.id, "rest"), later, UserChanges(is_staff=False, full_permissions_api=False)
        )
    name_initial_admins(container, 3003, emails=("later@example.org",))
    async with container.unit_of_work(write=True) as uow:
        assert await AccessService(uow).apply_initial_admins() == []
        assert not (await UserService(uow).get(later)).is_staff


async def test_a_change_and_its_audit_entry_commit_or_roll_back_together(container: Container) -> None:
    owner = await make_owner(container)
    target = await telegram_user(container, 4004)
    before = await audit_count(container)
    with pytest.raises(RuntimeError):
        async with container.unit_of_work(write=True) as uow:
            await AccessService(uow).update_user(
                Actor(owner.id, "rest", "r1"), target.id, UserChanges(has_beta_access=True)
            )
            raise RuntimeError("the request failed later")
    async with container.unit_of_work(write=False) as uow:
        assert (await UserService(uow).get(target.id)).has_beta_access is False
    assert await audit_count(container) == before


async def test_removing_a_level_ends_sessions_granting_does_not(container: Container) -> None:
    owner = await make_owner(container)
    target = await telegram_user(container, 5005)
    async with container.unit_of_work(write=True) as uow:
        await AuthService(uow).open_session(target.id, method="test", client=ClientInfo())
    actor = Actor(owner.id, "bot", "7")
    async with container.unit_of_work(write=True) as uow:
        granted = await AccessService(uow).update_user(actor, target.id, UserChanges(has_alpha_access=True))
    assert granted.token_version == target.token_version
    async with container.unit_of_work(write=True) as uow:
        revoked = await AccessService(uow).update_user(actor, target.id, UserChanges(has_alpha_access=False))
        sessions = await AuthService(uow).list_sessions(user_id=target.id, current_session=None)
    assert revoked.token_version == target.token_version + 1
    assert sessions == []


async def test_bot_suspect_is_set_once_by_the_system_and_cleared_only_by_an_admin(container: Container) -> None:
    owner = await make_owner(container)
    target = await telegram_user(container, 6006)
    async with container.unit_of_work(write=True) as uow:
        assert await AccessService(uow).flag_bot_suspected(target.id, reason="rate_limit") is True
        assert await AccessService(uow).flag_bot_suspected(target.id, reason="rate_limit") is False
    async with container.unit_of_work(write=True) as uow:
        with pytest.raises(Forbidden):
            await AccessService(uow).update_user(
                Actor(target.id, "rest"), target.id, UserChanges(is_bot_suspected=False)
            )
    async with container.unit_of_work(write=True) as uow:
        cleared = await AccessService(uow).update_user(
            Actor(owner.id, "rest"), target.id, UserChanges(is_bot_suspected=False)
        )
    assert cleared.is_bot_suspected is False
    async with container.unit_of_work(write=False) as uow:
        actions = [e.action for e in (await uow.session.execute(select(AuditEntry))).scalars()]
    assert actions == ["admin.initial", "bot_suspect.rate_limit", "user.update"]


async def test_inputs_out_of_range_are_refused_clearly(container: Container) -> None:
    owner = await make_owner(container)
    actor = Actor(owner.id, "rest")
    async with container.unit_of_work(write=False) as uow:
        service = AccessService(uow)
        with pytest.raises(ValidationFailed):
            await service.new_users(actor, 0)
        with pytest.raises(ValidationFailed):
            await service.audit_log(actor, page_size=10_000)
        with pytest.raises(ValidationFailed):
            await service.update_user(actor, owner.id + 1, UserChanges())
        with pytest.raises(NotFound):
            await service.find_user(actor, "nobody@example.org")
        with pytest.raises(NotFound):
            await service.find_user(actor, "99999999999999999999999")


async def test_issued_token_works_and_its_session_ends_with_it(container: Container) -> None:
    target = await telegram_user(container, 8008)
    async with container.unit_of_work(write=True) as uow:
        issued = await AccessService(uow).issue_token(target.id, reason="support")
    authenticated = await container.guard.authenticate(issued.access_token)
    assert authenticated.user.id == target.id
    assert issued.expires_in == 900
    async with container.unit_of_work(write=False) as uow:
        [session] = await AuthService(uow).list_sessions(user_id=target.id, current_session=None)
        [entry] = (await uow.session.execute(select(AuditEntry))).scalars().all()
    assert session.method == "cli"
    assert (session.expires_at - session.created_at).total_seconds() == 900
    assert (entry.face, entry.action, entry.target_id, entry.actor_id) == ("cli", "token.issue", target.id, None)
    assert issued.access_token not in str(entry.after)
    async with container.unit_of_work(write=True) as uow:
        with pytest.raises(NotFound):
            await AccessService(uow).issue_token(target.id + 1000, reason="")
