"""EVM account addresses: format checks and the EIP-55 mixed-case checksum.

An address is "0x" and 40 hex digits. Mixed case carries a checksum and must match it exactly, so a mistyped
letter is caught; a single case (all lower or all upper) carries none and is accepted as it is. Either way the
canonical form handed back is the checksummed one, so two spellings of one address compare equal.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from core.errors import ValidationFailed

__all__ = ["ADDRESS_LENGTH", "InvalidAddress", "checksum_address", "is_valid_address"]

# "0x" plus 20 bytes in hex.
ADDRESS_LENGTH = 42
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class InvalidAddress(ValidationFailed):
    """An address was refused; ``problem`` names the check that failed: prefix, length, characters or checksum."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(f"evm_address_{problem}", message)
        self.problem = problem


def checksum_address(value: str) -> str:
    """The EIP-55 form of ``value``, or InvalidAddress naming what is wrong with it.

    Nothing is trimmed or guessed: surrounding spaces, a "0X" prefix or a missing prefix are refused, since an
    address pasted wrongly is better questioned than silently repaired.
    """
    if not value.startswith("0x"):
        raise InvalidAddress("prefix", "An EVM address starts with 0x.")
    if len(value) != ADDRESS_LENGTH:
        raise InvalidAddress("length", f"An EVM address is 0x and 40 hex digits; this one has {len(value) - 2}.")
    digits = value[2:]
    if not _HEX_DIGITS.issuperset(digits):
        raise InvalidAddress("characters", "An EVM address may contain only the hex digits 0-9 and a-f after 0x.")
    checksummed = to_checksum_address(value.lower())
    if digits in (digits.lower(), digits.upper()):
        return checksummed
    if value != checksummed:
        raise InvalidAddress(
            "checksum", "The address mixes upper and lower case but does not match its EIP-55 checksum."
        )
    return checksummed


def is_valid_address(value: str) -> bool:
    try:
        checksum_address(value)
    except InvalidAddress:
        return False
    return True
