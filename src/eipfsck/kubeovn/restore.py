"""Which live keys InitIPAM files a phantom address under, and in which order.

pkg/controller/init.go `InitIPAM` re-files every owner with `GetStaticAddress`, whose
`checkAndAppendIpsForDual` (pkg/ipam/ipam.go) gives an owner that brings one family into a
dual-stack subnet the lowest free address of the other family, under the owner's key. Nothing
records that address anywhere but in the allocator: it is held by a live key, and every
leader start files it again. The owners, in InitIPAM's order:

1. U2O interconnection IPs (subnet status),
2. StatefulSet and VM IP CRs (spec.ipAddress),
3. alive and StatefulSet pods (the ip_address annotation of each allocated attachment; a pod
   asks for one family with `<provider>.kubernetes.io/ip_family`, pkg/util/const.go, on
   master),
4. Vips (status.v4ip only), 5. IptablesEIPs (status.ip), 6. OvnEips (status.v4Ip, only with
   spec.externalSubnet written).

Nodes come last but get their annotation rewritten with both addresses, so theirs is claimed.
Within one kind the lister's order is not fixed, so pairing inside a kind is by name, a guess
that the evidence says is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from eipfsck.addresses import Address, Family
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.owners import Inventory
from eipfsck.kubeovn.refs import Ref
from eipfsck.kubeovn.subnet import SubnetInfo

_OTHER: dict[Family, Family] = {"ipv4": "ipv6", "ipv6": "ipv4"}


@dataclass(frozen=True)
class OneFamilyOwner:
    """A live key that InitIPAM restores with one family only in a dual-stack subnet."""

    ref: Ref
    key: str
    subnet: str
    restored: tuple[Address, ...]  # what InitIPAM re-files from the object
    real: tuple[Address, ...]  # the object's own address of the phantom's family, if any
    stage: int  # position of its kind in InitIPAM
    why: str


def _dual(subnets: dict[str, SubnetInfo], name: str | None) -> bool:
    s = subnets.get(name or "")
    return s is not None and "ipv4" in s.families and "ipv6" in s.families


def one_family_owners(inv: Inventory, subnets: dict[str, SubnetInfo]
                      ) -> dict[tuple[str, Family], list[OneFamilyOwner]]:
    """Per (subnet, family of the phantom): the owners that get one, in InitIPAM's order."""
    found: list[OneFamilyOwner] = []

    def add(ref: Ref, key: str, subnet: str | None, restored: tuple[Address, ...],
            real: tuple[Address, ...], stage: int, why: str) -> None:
        if subnet and _dual(subnets, subnet) and len({a.family for a in restored}) == 1:
            found.append(OneFamilyOwner(ref, key, subnet, restored, real, stage, why))

    for s in sorted(subnets.values(), key=lambda x: x.name):
        if s.u2o_ip:
            addrs = tuple(c.address for c in inv.claims
                          if c.ref == s.ref and c.field == "status.u2oInterconnectionIP")
            add(s.ref, f"u2o-interconnection.{s.vpc}.{s.name}", s.name, addrs, (), 1,
                "its U2O interconnection IP has one family")
    for ip in sorted(inv.ip_crs.values(), key=lambda x: x.ref.name):
        if ip.pod_type in (n.POD_TYPE_STS, n.POD_TYPE_VM) and ip.owner != "missing" \
                and ip.deletion is None:
            add(ip.ref, ip.key, ip.subnet, ip.addresses, (), 2,
                "its spec.ipAddress has one family")
    restored_keys = {(o.subnet, o.key) for o in found}
    for (_ns, _name), pod in sorted(inv.pods.items()):
        if not (pod.alive or pod.sts) or pod.host_network:
            continue
        for nic in pod.nics:
            if (nic.subnet, pod.key) in restored_keys:
                continue  # re-filed from its IP CR already, under the same key
            family = pod.annotations.get(n.annotation(nic.provider, "ip_family"), "")
            why = (f"it asks for {family} only ({n.annotation(nic.provider, 'ip_family')})"
                   if family else "its ip_address annotation has one family")
            add(pod.ref, pod.key, nic.subnet, nic.addresses, (), 3, why)
    stages = {"Vip": 4, "IptablesEIP": 5, "OvnEip": 6}
    for cr in sorted(inv.addr_crs(), key=lambda c: (stages[c.ref.kind], c.ref.name)):
        if cr.ref.kind == "OvnEip" and not cr.subnet_field:
            continue  # an empty spec.externalSubnet is not restored at all
        if cr.ref.kind == "Vip" and cr.reserved_by in inv.live_ports:
            continue  # the pod holds the IP: the Vip's restore fails on the conflict
        v4 = tuple(a for a in cr.addresses if a.family == "ipv4")
        if not v4:
            continue  # InitIPAM restores the IPv4 only; without one, nothing is filed
        real = tuple(a for a in cr.addresses if a.family == "ipv6")
        add(cr.ref, cr.ref.name, cr.subnet, v4, real, stages[cr.ref.kind],
            "InitIPAM restores its IPv4 only")
    out: dict[tuple[str, Family], list[OneFamilyOwner]] = {}
    for o in sorted(found, key=lambda o: (o.stage, o.ref.kind, o.ref.namespace or "",
                                          o.ref.name)):
        out.setdefault((o.subnet, _OTHER[o.restored[0].family]), []).append(o)
    return out
