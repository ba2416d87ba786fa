from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that leaves the machine: Telethon must never reach Telegram from a test."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def allowed(address: Any) -> bool:
        if isinstance(address, tuple) and address:
            try:
                return ipaddress.ip_address(address[0]).is_loopback
            except ValueError:
                return False
        return isinstance(address, (str, bytes))  # Unix sockets stay on the machine

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            raise AssertionError(f"a test tried to connect to {address!r}")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(address):
            raise AssertionError(f"a test tried to connect to {address!r}")
        return original_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
