"""A Subnet object read into per-family address spaces (pkg/apis/kubeovn/v1 Subnet)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eipfsck.addresses import BITS, FAMILIES, Cidr, Family, try_parse_ip
from eipfsck.intervals import IntervalSet
from eipfsck.kubeovn.names import DEFAULT_PROVIDER
from eipfsck.kubeovn.refs import Ref
from eipfsck.kubeovn.status import (
    STATUS_FIELDS,
    Count,
    Exclusions,
    parse_cidr_block,
    parse_count,
    parse_exclude_ips,
    parse_gateways,
    parse_range_string,
)


@dataclass(frozen=True)
class StatusProblem:
    """Something in a subnet's spec or status that cannot be parsed (-> status-range-invalid)."""

    field: str
    message: str


@dataclass
class FamilySpace:
    family: Family
    cidr: Cidr
    universe: IntervalSet
    excluded: IntervalSet  # excludeIps clipped to the universe
    excluded_addresses: int  # Kube-OVN's count: entries clipped, overlaps not de-duplicated
    gateway: int | None
    using: IntervalSet | None = None  # None: the status field is absent or unparsable
    available: IntervalSet | None = None
    using_count: Count | None = None
    available_count: Count | None = None


@dataclass
class SubnetInfo:
    ref: Ref
    name: str
    provider: str
    vpc: str
    protocol: str
    vlan: str
    cidr_text: str
    namespaces: tuple[str, ...]
    families: dict[Family, FamilySpace]
    gateways: dict[Family, int]
    exclusions: Exclusions
    has_ranges: bool
    u2o_ip: str
    mcast_ip: str
    gateway_text: str
    problems: list[StatusProblem] = field(default_factory=list)

    @property
    def is_ovn(self) -> bool:
        """OVN-backed (has a logical switch); "<nad>.<ns>" providers are IPAM-only."""
        return self.provider == DEFAULT_PROVIDER or self.provider.endswith(".ovn")

    def contains(self, family: Family, value: int) -> bool:
        fs = self.families.get(family)
        return fs is not None and fs.cidr.contains(value)

    def gateway_entries(self) -> set[str]:
        """excludeIps entries string-equal to a gateway: the count rule skips only these."""
        gws = {p.strip() for p in self.gateway_text.split(",") if p.strip()}
        return {e for e, *_ in self.exclusions.entries if e in gws}


class SubnetLocator:
    """Which subnets' CIDRs contain an address, without scanning every subnet.

    Subnets are grouped by (family, prefix length); an address is masked once per
    prefix length present, which is a handful, whatever the number of subnets.
    """

    def __init__(self, subnets: Iterable[SubnetInfo]) -> None:
        self._by_prefix: dict[tuple[Family, int], dict[int, list[SubnetInfo]]] = {}
        for s in subnets:
            for fam, fs in s.families.items():
                nets = self._by_prefix.setdefault((fam, fs.cidr.prefixlen), {})
                nets.setdefault(fs.cidr.network, []).append(s)

    def containing(self, family: Family, value: int) -> list[SubnetInfo]:
        out: list[SubnetInfo] = []
        bits = BITS[family]
        for (fam, plen), nets in self._by_prefix.items():
            if fam == family:
                mask = ((1 << plen) - 1) << (bits - plen)
                out.extend(nets.get(value & mask, []))
        return out


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_subnet(obj: dict[str, Any], default_vpc: str) -> SubnetInfo:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    name = meta["name"]
    problems: list[StatusProblem] = []

    cidr_text = _str(spec.get("cidrBlock"))
    cidrs: dict[Family, Cidr] = {}
    try:
        cidrs = parse_cidr_block(cidr_text)
    except ValueError as exc:
        problems.append(StatusProblem("spec.cidrBlock", str(exc)))

    gw_raw = _str(spec.get("gateway"))
    gateways: dict[Family, int] = {}
    try:
        gateways = parse_gateways(gw_raw)
    except ValueError as exc:
        problems.append(StatusProblem("spec.gateway", str(exc)))

    exclusions = Exclusions({}, ())
    try:
        exclusions = parse_exclude_ips(spec.get("excludeIps"))
    except ValueError as exc:
        problems.append(StatusProblem("spec.excludeIps", str(exc)))

    has_ranges = any(STATUS_FIELDS[f][k] in status for f in FAMILIES
                     for k in ("using", "available"))
    families: dict[Family, FamilySpace] = {}
    for fam, cidr in cidrs.items():
        universe = cidr.universe()
        excl = exclusions.of(fam)
        clipped = sum((IntervalSet([(lo, hi)]) & universe).size()
                      for _, f, lo, hi in exclusions.entries if f == fam)
        fs = FamilySpace(fam, cidr, universe, excl & universe, clipped, gateways.get(fam))
        names = STATUS_FIELDS[fam]
        for attr in ("using", "available"):
            key = names[attr]
            if key not in status:
                continue
            try:
                setattr(fs, attr, parse_range_string(status[key], fam))
            except ValueError as exc:
                problems.append(StatusProblem(f"status.{key}", str(exc)))
        for attr in ("using_count", "available_count"):
            key = names[attr]
            try:
                setattr(fs, attr, parse_count(status.get(key)))
            except ValueError as exc:
                problems.append(StatusProblem(f"status.{key}", str(exc)))
        families[fam] = fs
    for fam in FAMILIES:
        # A family the CIDR does not have must have empty ranges.
        if fam in cidrs:
            continue
        for attr in ("using", "available"):
            key = STATUS_FIELDS[fam][attr]
            if _str(status.get(key)):
                problems.append(StatusProblem(
                    f"status.{key}", f"non-empty although the subnet has no {fam} CIDR"))

    u2o = _str(status.get("u2oInterconnectionIP")) or _str(spec.get("u2oInterconnectionIP"))
    mcast = _str(status.get("mcastQuerierIP"))
    for fld, text in (("status.u2oInterconnectionIP", u2o), ("status.mcastQuerierIP", mcast)):
        for part in text.split(","):
            if part.strip() and try_parse_ip(part) is None:
                problems.append(StatusProblem(fld, f"not an IP address: {part!r}"))

    return SubnetInfo(
        ref=Ref("Subnet", name), name=name,
        provider=_str(spec.get("provider")) or DEFAULT_PROVIDER,
        vpc=_str(spec.get("vpc")) or default_vpc,
        protocol=_str(spec.get("protocol")),
        vlan=_str(spec.get("vlan")),
        cidr_text=cidr_text,
        namespaces=tuple(n for n in spec.get("namespaces") or [] if isinstance(n, str)),
        families=families, gateways=gateways, exclusions=exclusions,
        has_ranges=has_ranges, u2o_ip=u2o, mcast_ip=mcast, gateway_text=gw_raw,
        problems=problems,
    )
