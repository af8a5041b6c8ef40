"""Integer interval arithmetic for subnet address spaces.

Every set of addresses here is a sorted list of disjoint, non-adjacent inclusive intervals
``(lo, hi)``. Nothing enumerates a universe: a /64 costs what a /24 costs, only the allocated
addresses are ever touched one by one.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

Interval = tuple[int, int]


def bits_of(version: int) -> int:
    return 32 if version == 4 else 128


def ip_str(value: int, version: int) -> str:
    """Canonical text: dotted quad, or compressed lower-case IPv6 (what Go prints)."""
    if version == 4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def parse_ip(text: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(text)
    return int(addr), addr.version


def merge_points(points: Iterable[int]) -> list[Interval]:
    """Collapse addresses into merged intervals (input need not be sorted)."""
    out: list[Interval] = []
    for p in sorted(set(points)):
        if out and out[-1][1] + 1 == p:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or adjacent intervals."""
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """a minus b, both normalized; a two-pointer sweep, linear in the interval counts."""
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return out


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def size(intervals: Iterable[Interval]) -> int:
    return sum(hi - lo + 1 for lo, hi in intervals)


def format_ranges(intervals: list[Interval], version: int) -> str:
    """Kube-OVN's status range string: ``a-b`` intervals, single addresses bare, comma-joined."""
    parts = []
    for lo, hi in intervals:
        if lo == hi:
            parts.append(ip_str(lo, version))
        else:
            parts.append(f"{ip_str(lo, version)}-{ip_str(hi, version)}")
    return ",".join(parts)


def parse_ranges(text: str) -> list[Interval]:
    """Inverse of format_ranges (used by the self-check)."""
    out: list[Interval] = []
    for part in filter(None, text.split(",")):
        lo_s, _, hi_s = part.partition("-")
        lo, _ = parse_ip(lo_s)
        hi = parse_ip(hi_s)[0] if hi_s else lo
        out.append((lo, hi))
    return out


@dataclass
class Family:
    """One address family of one subnet: its CIDR, exclusions and what has been handed out."""

    version: int
    network: int
    prefix: int
    excluded: list[Interval]  # normalized, clipped to the universe
    exclude_entries: list[str]  # excludeIps strings for this family, as written in the spec
    using: list[int] = field(default_factory=list)

    @property
    def cidr(self) -> str:
        return f"{ip_str(self.network, self.version)}/{self.prefix}"

    @property
    def gateway(self) -> int:
        return self.network + 1

    @property
    def universe(self) -> Interval:
        # Kube-OVN's universe is [network+1, broadcast-1] for IPv6 too (model §2.2).
        return self.network + 1, self.network + (1 << (bits_of(self.version) - self.prefix)) - 2

    @property
    def address_count(self) -> int:
        """AddressCount = 2^bits - 2 (pkg/util/net.go), the base of the available count."""
        return (1 << (bits_of(self.version) - self.prefix)) - 2

    @property
    def usable(self) -> int:
        return self.address_count - size(self.excluded)


class Allocator:
    """Hands out the lowest free address, leaving random holes to mimic churn.

    Kube-OVN's IPAM takes the lowest free address; after months of pod churn a subnet's using
    range is a ragged list of intervals, not one block. Holes give the range strings that shape.
    """

    def __init__(self, fam: Family, rng: random.Random, hole_rate: float) -> None:
        self.fam = fam
        self.rng = rng
        self.hole_rate = hole_rate
        self.cursor, self.last = fam.universe
        self.ex_idx = 0

    def _skip_excluded(self) -> None:
        ex = self.fam.excluded
        while self.ex_idx < len(ex) and ex[self.ex_idx][1] < self.cursor:
            self.ex_idx += 1
        if self.ex_idx < len(ex) and ex[self.ex_idx][0] <= self.cursor:
            self.cursor = ex[self.ex_idx][1] + 1
            self.ex_idx += 1
            self._skip_excluded()

    def take(self) -> int:
        while True:
            self._skip_excluded()
            if self.cursor > self.last:
                raise RuntimeError(f"subnet {self.fam.cidr} is full")
            value = self.cursor
            self.cursor += 1
            if self.rng.random() >= self.hole_rate:
                self.fam.using.append(value)
                return value
