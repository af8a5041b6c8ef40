"""How the controller counts a subnet's usingIPs.

usingIPs = #IP CRs of S − #those whose IP lies in a non-gateway excludeIps entry
         + #Vips{subnet=S, ip_reserved=""} + #IptablesEIPs{subnet=S} + #OvnEips{subnet=S}

(pkg/controller/subnet_status.go `calculateUsingIPs` from v1.15.0; before, the same terms in
pkg/controller/subnet.go `calcSubnetStatusIP`/`calcDualSubnetStatusIP`, where IptablesEIPs
count only on subnets that are not OVN's (`isOvnSubnet`) and OvnEips only on subnets with
spec.vlan.) Releases up to v1.16.2 select IP CRs by the label "<S>: ''"; master (v1.17) by
spec.subnet/attachSubnets. Vips, IptablesEIPs and OvnEips are selected by their
ovn.kubernetes.io/subnet label as the object carries it: the controller rewrites it (for
an OvnEip, `natLabelAndAnnoOvnEip` in pkg/controller/ovn_eip.go sets it to
spec.externalSubnet, which may be empty, so such an EIP counts nowhere).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from eipfsck.addresses import Address
from eipfsck.intervals import IntervalSet
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.names import Version
from eipfsck.kubeovn.owners import AddrCR, Inventory, IPCRInfo
from eipfsck.kubeovn.refs import Ref
from eipfsck.kubeovn.subnet import SubnetInfo

IpRule = Literal["label", "spec"]
Era = Literal["v1.14", "v1.15"]  # the count rules up to v1.14, and from v1.15 on


@dataclass(frozen=True)
class Counted:
    ref: Ref
    addresses: tuple[Address, ...]


def ip_cr_rules(version: Version | None) -> tuple[IpRule, ...]:
    """The IP CR selection rules to try; both when the version is unknown."""
    if version is None:
        return ("label", "spec")
    return ("spec",) if version.at_least(1, 17) else ("label",)


def count_eras(version: Version | None) -> tuple[Era, ...]:
    """The EIP count rules to try; both when the version is unknown."""
    if version is None:
        return ("v1.15", "v1.14")
    return ("v1.15",) if version.at_least(1, 15) else ("v1.14",)


def era_skips(s: SubnetInfo, kind: str, era: Era) -> bool:
    """Whether the controller of that era leaves an EIP of this kind out of s's count."""
    return era == "v1.14" and ((kind == "IptablesEIP" and s.is_ovn)
                               or (kind == "OvnEip" and not s.vlan))


class CountIndex:
    """The objects each subnet's count can select, indexed once for all subnets."""

    def __init__(self, inv: Inventory) -> None:
        self.ip_by_label: dict[str, list[IPCRInfo]] = defaultdict(list)
        self.ip_by_spec: dict[str, list[IPCRInfo]] = defaultdict(list)
        for ip in inv.ip_crs.values():
            for key, value in ip.labels.items():
                if value == "":
                    self.ip_by_label[key].append(ip)
            for subnet in {ip.subnet, *ip.attach_subnets}:
                self.ip_by_spec[subnet].append(ip)
        self.crs_by_label: dict[str, list[AddrCR]] = defaultdict(list)
        for cr in inv.addr_crs():
            self.crs_by_label[cr.labels.get(n.LABEL_SUBNET, "")].append(cr)

    def not_counted(self, s: SubnetInfo, era: Era) -> list[AddrCR]:
        """EIPs labelled with s that the era's rules leave out of the count: they hold
        their addresses (the using range lists them) without being counted."""
        return [cr for cr in self.crs_by_label.get(s.name, []) if era_skips(s, cr.ref.kind, era)]

    def counted(self, s: SubnetInfo, rule: IpRule, era: Era) -> list[Counted]:
        gateway_entries = s.gateway_entries()
        non_gw: dict[str, IntervalSet] = {}
        for text, fam, lo, hi in s.exclusions.entries:
            if text not in gateway_entries:
                non_gw[fam] = non_gw.get(fam, IntervalSet()) | IntervalSet([(lo, hi)])
        out: list[Counted] = []
        ips = self.ip_by_label if rule == "label" else self.ip_by_spec
        for ip in ips.get(s.name, []):
            # Each IP CR is subtracted at most once, whichever of its IPs is excluded.
            if not any(a.value in non_gw.get(a.family, IntervalSet()) for a in ip.addresses):
                out.append(Counted(ip.ref, ip.addresses))
        for cr in self.crs_by_label.get(s.name, []):
            kind = cr.ref.kind
            if kind == "Vip" and cr.labels.get(n.LABEL_IP_RESERVED) != "":
                continue
            if era_skips(s, kind, era):
                continue
            out.append(Counted(cr.ref, cr.addresses))
        return out
