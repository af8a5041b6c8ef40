"""How the controller counts a subnet's usingIPs (kube-ovn-model.md §2.3, correction 5).

usingIPs = #IP CRs of S − #those whose IP lies in a non-gateway excludeIps entry
         + #Vips{subnet=S, ip_reserved=""} + #IptablesEIPs{subnet=S} + #OvnEips{subnet=S}

Releases up to v1.16.2 select IP CRs by the label "<S>: ''"; master (v1.17) by
spec.subnet/attachSubnets. v1.14 counted OvnEips only on subnets with spec.vlan and
IptablesEIPs only on non-OVN subnets.
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


@dataclass(frozen=True)
class Counted:
    ref: Ref
    addresses: tuple[Address, ...]


def ip_cr_rules(version: Version | None) -> tuple[IpRule, ...]:
    """The IP CR selection rules to try; both when the version is unknown."""
    if version is None:
        return ("label", "spec")
    return ("spec",) if version.at_least(1, 17) else ("label",)


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

    def counted(self, s: SubnetInfo, rule: IpRule, version: Version | None) -> list[Counted]:
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
        old = version is not None and not version.at_least(1, 15)
        for cr in self.crs_by_label.get(s.name, []):
            kind = cr.ref.kind
            if kind == "Vip" and cr.labels.get(n.LABEL_IP_RESERVED) != "":
                continue
            if old and ((kind == "IptablesEIP" and s.is_ovn)
                        or (kind == "OvnEip" and not s.vlan)):
                continue
            out.append(Counted(cr.ref, cr.addresses))
        return out
