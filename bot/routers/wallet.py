"""/wallet: the user's EVM addresses and whether an ownership proof verified them."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from core.container import UnitOfWork
from core.users.dto import UserDTO
from core.wallet.service import AddressDTO, WalletService


def create_router() -> Router:
    router = Router(name="wallet")
    router.message.filter(F.chat.type == "private")
    router.message.register(wallet, Command("wallet"))
    return router


def address_line(name: str, found: AddressDTO) -> str:
    if found.address is None:
        return _("{chain}: not set").format(chain=name)
    state = _("verified") if found.verified else _("not verified")
    return f"{name}: {found.address} ({state})"


async def wallet(message: Message, user: UserDTO, uow: UnitOfWork) -> None:
    found = await WalletService(uow).get(user.id)
    lines = [
        _("Your wallet addresses:"),
        address_line("Ethereum", found.ethereum),
        address_line("Base", found.base),
    ]
    if not (found.ethereum.verified and found.base.verified):
        lines += ["", _("Add an address and prove you own it by signing a message in the app.")]
    await message.answer("\n".join(lines))
