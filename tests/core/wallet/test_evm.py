from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from core.wallet.evm import InvalidAddress, checksum_address, is_valid_address

# The test vectors of EIP-55 itself: each is its own checksummed form.
EIP55_ALL_CAPS = ["0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D"]
EIP55_ALL_LOWER = ["0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26"]
EIP55_NORMAL = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55_ALL_CAPS + EIP55_ALL_LOWER + EIP55_NORMAL)
def test_eip55_vectors_are_their_own_checksum(address: str) -> None:
    assert checksum_address(address) == address
    assert is_valid_address(address)


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_single_case_spellings_come_back_checksummed(address: str) -> None:
    lower = "0x" + address[2:].lower()
    upper = "0x" + address[2:].upper()
    assert checksum_address(lower) == address
    assert checksum_address(upper) == address


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_one_letter_with_its_case_flipped_is_refused(address: str) -> None:
    # Flip the case of the first letter (not digit): the mixed-case string no longer matches its checksum.
    index = next(i for i, char in enumerate(address) if i >= 2 and char.isalpha())
    flipped = address[:index] + address[index].swapcase() + address[index + 1 :]
    with pytest.raises(InvalidAddress) as caught:
        checksum_address(flipped)
    assert caught.value.problem == "checksum"
    assert caught.value.code == "evm_address_checksum"
    assert not is_valid_address(flipped)


def test_the_original_systems_example_address_fails_its_checksum() -> None:
    # The address in the original API description is mixed case but not a valid EIP-55 spelling.
    with pytest.raises(InvalidAddress) as caught:
        checksum_address("0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6")
    assert caught.value.problem == "checksum"
    lower = "0x742d35cc6634c0532925a3b8d4c9db96c4b4d8b6"
    assert checksum_address(lower) == "0x742d35Cc6634C0532925A3B8D4C9dB96C4B4d8B6"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "prefix"),
        ("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "prefix"),
        (" 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "prefix"),
        ("", "prefix"),
        ("0x", "length"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "length"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0", "length"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed ", "length"),
        ("0x" + "ab" * 32, "length"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "characters"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA d", "characters"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1Be\u0661ed", "characters"),
        ("0x+aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "characters"),
    ],
)
def test_malformed_addresses_are_refused_with_the_problem_named(value: str, problem: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        checksum_address(value)
    assert caught.value.problem == problem
    assert caught.value.code == f"evm_address_{problem}"
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.status_hint == 422


def test_every_single_case_address_round_trips() -> None:
    # Any 20 bytes written in one case are accepted, and their checksummed form is accepted as it is.
    for seed in range(50):
        digits = bytes((seed * 37 + i * 11) % 256 for i in range(20)).hex()
        checksummed = checksum_address("0x" + digits)
        assert checksummed.lower() == "0x" + digits
        assert checksum_address(checksummed) == checksummed
        assert checksum_address("0x" + digits.upper()) == checksummed
