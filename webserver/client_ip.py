"""The client's address as far as it can be trusted: the peer, or what trusted proxies in front of us report.

X-Forwarded-For is read from the right: each trusted proxy appended the address it saw, so the right-most entry
that is not one of our proxies is the first hop we do not control, i.e. the client. Anything to its left was
written by the client itself and is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web

IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address

UNKNOWN = "unknown"

_MAPPED_V4 = IPv6Network("::ffff:0:0/96")


def parse_trusted(proxies: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR networks of the proxies in front of the app; a bad entry raises ValueError naming it."""
    networks: list[IPNetwork] = []
    for entry in proxies:
        text = entry.strip()
        try:
            network = ip_network(text)
        except ValueError as exc:
            raise ValueError(f"web.trusted_proxies: {entry!r} is not an IP address or CIDR network ({exc})") from exc
        networks.append(_unmap_network(network))
    return tuple(networks)


def client_ip(request: web.BaseRequest, trusted: Sequence[IPNetwork]) -> str:
    peer = _parse(request.remote)
    if peer is None:
        # A unix socket (or a transport without a peer): there is no address to speak of.
        return UNKNOWN
    if not trusted or not _is_trusted(peer, trusted):
        return str(peer)
    entries = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
    client = peer
    for entry in reversed(entries):
        hop = _parse(entry.strip())
        if hop is None:
            # Garbage cannot be a client address; keep what the last trusted hop reported.
            break
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return str(client)


def _parse(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address):
        # Dual-stack sockets show IPv4 clients as ::ffff:a.b.c.d; one client must have one spelling.
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            # A zone ("%eth0") is free text and local to the host that wrote it; it would leak into keys and logs.
            return IPv6Address(int(address))
    return address


def _unmap_network(network: IPNetwork) -> IPNetwork:
    if isinstance(network, IPv6Network) and network.subnet_of(_MAPPED_V4):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return IPv4Network((mapped, network.prefixlen - 96))
    return network


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    # ipaddress answers False (not an error) when the families differ.
    return any(address in network for network in trusted)
