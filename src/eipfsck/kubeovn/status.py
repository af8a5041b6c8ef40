"""Subnet spec and status text: CIDR blocks, excludeIps, range strings, counts.

Formats from Kube-OVN's source: range strings are "a-b,c" with a single dash
(pkg/ipam/ip_range_list.go), excludeIps entries are "a" or "a..b"
(pkg/util/validator.go), counts are JSON numbers that may be int, float64 or a
quoted string depending on the version (pkg/apis/kubeovn/v1 SubnetStatus).
"""

from __future__ import annotations

from dataclasses import dataclass

from eipfsck.addresses import Cidr, Family, format_ip, parse_cidr, parse_ip
from eipfsck.intervals import IntervalSet

FLOAT_EXACT_LIMIT = 2**53


def parse_cidr_block(text: str) -> dict[Family, Cidr]:
    """cidrBlock "v4", "v6" or "v4,v6"; raises ValueError naming the bad part."""
    out: dict[Family, Cidr] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        cidr = parse_cidr(part)
        if cidr.family in out:
            raise ValueError(f"two {cidr.family} CIDRs in {text!r}")
        out[cidr.family] = cidr
    return out


def parse_gateways(text: str) -> dict[Family, int]:
    out: dict[Family, int] = {}
    for part in text.split(","):
        if part.strip():
            a = parse_ip(part)
            out[a.family] = a.value
    return out


@dataclass(frozen=True)
class Exclusions:
    """excludeIps, per family: the merged set and the raw entries (for the count rule)."""

    sets: dict[Family, IntervalSet]
    entries: tuple[tuple[str, Family, int, int], ...]

    def of(self, family: Family) -> IntervalSet:
        return self.sets.get(family, IntervalSet())


def parse_exclude_ips(entries: object) -> Exclusions:
    if entries is None:
        return Exclusions({}, ())
    if not isinstance(entries, list):
        raise ValueError(f"excludeIps is not a list: {entries!r}")
    parsed: list[tuple[str, Family, int, int]] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ValueError(f"excludeIps entry is not a string: {entry!r}")
        if ".." in entry:
            a_text, b_text = entry.split("..", 1)
            a, b = parse_ip(a_text), parse_ip(b_text)
            if a.family != b.family or a.value > b.value:
                raise ValueError(f"excludeIps entry {entry!r} is not an ascending range")
            parsed.append((entry, a.family, a.value, b.value))
        else:
            a = parse_ip(entry)
            parsed.append((entry, a.family, a.value, a.value))
    sets: dict[Family, IntervalSet] = {}
    for fam in ("ipv4", "ipv6"):
        ivs = [(lo, hi) for _, f, lo, hi in parsed if f == fam]
        if ivs:
            sets[fam] = IntervalSet(ivs)
    return Exclusions(sets, tuple(parsed))


def parse_range_string(text: object, family: Family) -> IntervalSet:
    """A status range string; raises ValueError naming the bad element."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string, got {text!r}")
    if not text:
        return IntervalSet()
    ivs: list[tuple[int, int]] = []
    for part in text.split(","):
        # IPv6 text has no "-", so one split on the dash is unambiguous.
        bounds = part.split("-")
        if len(bounds) > 2 or not part:
            raise ValueError(f"malformed element {part!r}")
        lo = parse_ip(bounds[0])
        hi = parse_ip(bounds[-1])
        for a in (lo, hi):
            if a.family != family:
                raise ValueError(f"{a} is not an {family} address")
        if lo.value > hi.value:
            raise ValueError(f"descending interval {part!r}")
        ivs.append((lo.value, hi.value))
    return IntervalSet(ivs)


@dataclass(frozen=True)
class Count:
    """A status count as written: int, float64 (maybe rounded) or a quoted number."""

    value: int | float
    text: str

    @property
    def approximate(self) -> bool:
        return isinstance(self.value, float) or abs(self.value) > FLOAT_EXACT_LIMIT

    def matches(self, computed: int) -> bool:
        """Equal, allowing for float64 rounding of large values (an IPv6 /64's count)."""
        if self.approximate:
            return float(computed) == float(self.value)
        return self.value == computed

    def as_int(self) -> int:
        return round(self.value)


def parse_count(raw: object) -> Count | None:
    """None when the field is absent; raises ValueError when present but not a number."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, int):
        if abs(raw) > 2**128:  # more than any subnet holds, and more than a float can
            raise ValueError(f"out of range: a number of {len(str(abs(raw)))} digits")
        return Count(raw, str(raw))
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {raw!r}")
        return Count(int(raw) if raw.is_integer() and abs(raw) <= FLOAT_EXACT_LIMIT else raw,
                     repr(raw))
    if isinstance(raw, str):
        t = raw.strip()
        try:
            value = int(t)
        except ValueError:
            value = None
        if value is not None:
            return Count(parse_count(value).value, raw)  # type: ignore[union-attr]
        try:
            return parse_count(float(t))
        except ValueError:
            raise ValueError(f"not a number: {raw!r}") from None
    raise ValueError(f"not a number: {raw!r}")


def format_ranges(family: Family, ivs: IntervalSet, limit: int = 8) -> str:
    """A range string as Kube-OVN writes it, cut after `limit` intervals for evidence."""
    parts = []
    for i, (lo, hi) in enumerate(ivs.intervals):
        if i == limit:
            parts.append(f"… (+{len(ivs) - limit} more)")
            break
        parts.append(format_ip(family, lo) if lo == hi
                     else f"{format_ip(family, lo)}-{format_ip(family, hi)}")
    return ",".join(parts)


STATUS_FIELDS: dict[Family, dict[str, str]] = {
    "ipv4": {"using": "v4usingIPrange", "available": "v4availableIPrange",
             "using_count": "v4usingIPs", "available_count": "v4availableIPs"},
    "ipv6": {"using": "v6usingIPrange", "available": "v6availableIPrange",
             "using_count": "v6usingIPs", "available_count": "v6availableIPs"},
}

