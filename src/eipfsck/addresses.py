"""IP addresses as (family, integer), CIDRs and their usable universe.

Everything compares parsed integers, never strings: real clusters write IPv6 in
upper or mixed case in some fields and compressed lower case in others.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from eipfsck.intervals import IntervalSet

Family = Literal["ipv4", "ipv6"]
FAMILIES: tuple[Family, Family] = ("ipv4", "ipv6")
BITS: dict[Family, int] = {"ipv4": 32, "ipv6": 128}


@dataclass(frozen=True, slots=True, order=True)
class Address:
    family: Family
    value: int

    def __str__(self) -> str:
        return format_ip(self.family, self.value)


def parse_ip(text: str) -> Address:
    """Parse one address; raises ValueError with the offending text.

    inet_pton is strict (no "1.2", no leading zeros, no zone ids) and several times
    faster than ipaddress, which matters with a hundred thousand owner addresses.
    """
    t = text.strip()
    try:
        if ":" in t:
            return Address("ipv6", int.from_bytes(socket.inet_pton(socket.AF_INET6, t)))
        return Address("ipv4", int.from_bytes(socket.inet_pton(socket.AF_INET, t)))
    except (OSError, ValueError):
        raise ValueError(f"not an IP address: {text!r}") from None


def try_parse_ip(text: object) -> Address | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_ip(text)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def format_ip(family: Family, value: int) -> str:
    """Canonical text: dotted quad, or compressed lower-case IPv6 (RFC 5952)."""
    if family == "ipv4":
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def canonical(text: str) -> str:
    return str(parse_ip(text))


def split_ips(text: object) -> list[Address]:
    """Kube-OVN's comma list "v4,v6" (either part may be missing); raises ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"expected a comma-separated address list, got {text!r}")
    return [parse_ip(p) for p in text.split(",") if p.strip()]


@dataclass(frozen=True, slots=True)
class Cidr:
    family: Family
    network: int
    prefixlen: int

    @property
    def bits(self) -> int:
        return BITS[self.family]

    @property
    def last(self) -> int:
        return self.network + (1 << (self.bits - self.prefixlen)) - 1

    def contains(self, value: int) -> bool:
        return self.network <= value <= self.last

    def universe(self) -> IntervalSet:
        """Addresses the allocator may hand out: [network+1, broadcast-1].

        Kube-OVN applies the same rule to IPv6; /31 and /127 have two usable
        addresses and /32 and /128 none (pkg/util/net.go FirstIP and LastIP, which
        pkg/ipam/subnet.go NewSubnet uses for the range it hands out).
        """
        host_bits = self.bits - self.prefixlen
        if host_bits == 0:
            return IntervalSet()
        if host_bits == 1:
            return IntervalSet([(self.network, self.network + 1)])
        return IntervalSet([(self.network + 1, self.last - 1)])

    def address_count(self) -> int:
        """Kube-OVN's AddressCount: 2**hostbits - 2 (it does not special-case /31)."""
        return max((1 << (self.bits - self.prefixlen)) - 2, 0)

    def __str__(self) -> str:
        return f"{format_ip(self.family, self.network)}/{self.prefixlen}"


def parse_cidr(text: str) -> Cidr:
    """Parse a CIDR; host bits are cleared as Kube-OVN's formatCIDR does."""
    t = text.strip()
    if "/" not in t:
        raise ValueError(f"not a CIDR (no prefix length): {text!r}")
    try:
        net = ipaddress.ip_network(t, strict=False)
    except ValueError:
        raise ValueError(f"not a CIDR: {text!r}") from None
    fam: Family = "ipv4" if net.version == 4 else "ipv6"
    return Cidr(fam, int(net.network_address), net.prefixlen)


def parse_interface_address(text: str) -> Address:
    """An LRP network such as "172.30.0.2/24": the address part."""
    return parse_ip(text.split("/", 1)[0])
