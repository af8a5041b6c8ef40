"""Mapping OVN northbound rows back to their Kubernetes owners (docs/design-notes.md, NB mapping).

Each row Kube-OVN could have written is classified once: owned (and by whom), an
orphan, or carrying another address than its owner (drift). Rows that are not
provably Kube-OVN's are left alone: touching another system's rows is how other
tools hurt their users. Every address a row carries is also
indexed, so findings can name the NB rows seen for an IP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from eipfsck.addresses import Address, parse_cidr, parse_interface_address, try_parse_ip
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.names import Version
from eipfsck.kubeovn.owners import AddrCR, Inventory, NatRule, PodInfo
from eipfsck.kubeovn.refs import Ref
from eipfsck.kubeovn.subnet import SubnetInfo, SubnetLocator
from eipfsck.snapshot import Snapshot, as_list, as_map

Verdict = Literal["orphan-nb-lsp", "orphan-nb-lrp", "orphan-nb-nat", "orphan-nb-lb",
                  "nb-address-drift"]


@dataclass(frozen=True)
class NbRef:
    """One address carried by one NB row."""

    address: Address
    row: Ref
    container: str  # the switch or router the row belongs to


@dataclass(frozen=True)
class NbFinding:
    check: Verdict
    row: Ref
    container: str
    addresses: tuple[Address, ...]
    reason: str
    owner: Ref | None = None
    expected: tuple[Address, ...] = ()
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass
class NbView:
    refs: list[NbRef] = field(default_factory=list)
    findings: list[NbFinding] = field(default_factory=list)
    version: str | None = None


def lsp_addresses(row: dict[str, Any]) -> tuple[Address, ...]:
    """IPs in an LSP's addresses ("<mac> <ip> <ip>") or a virtual port's virtual-ip."""
    out: list[Address] = []
    for entry in as_list(row.get("addresses")):
        if not isinstance(entry, str):
            continue
        for token in entry.split()[1:]:
            a = try_parse_ip(token)
            if a is not None:
                out.append(a)
    if row.get("type") == "virtual":
        for part in str(as_map(row.get("options")).get("virtual-ip", "")).split(","):
            a = try_parse_ip(part.strip())
            if a is not None and a not in out:
                out.append(a)
    return tuple(out)


def _lsp_columns(row: dict[str, Any]) -> dict[str, Any]:
    """The columns a finding about a port shows; built only for a port reported (a scan
    looks at every port, and reports few)."""
    return {"type": str(row.get("type", "")), "addresses": as_list(row.get("addresses")),
            "external_ids": as_map(row.get("external_ids"))}


def lrp_addresses(row: dict[str, Any]) -> tuple[Address, ...]:
    out = []
    for net in as_list(row.get("networks")):
        try:
            out.append(parse_interface_address(str(net)))
        except ValueError:
            continue
    return tuple(out)


def _same(a: tuple[Address, ...], b: tuple[Address, ...]) -> bool:
    return set(a) == set(b)


def _ip_or_cidr(text: Any) -> tuple[Address | None, str]:
    """A NAT logical_ip: an address, or a CIDR compared in canonical form."""
    if not isinstance(text, str):
        return None, ""
    a = try_parse_ip(text)
    if a is not None:
        return a, str(a)
    try:
        return None, str(parse_cidr(text))
    except ValueError:
        return None, text


class _Mapper:
    def __init__(self, snap: Snapshot, inv: Inventory, subnets: dict[str, SubnetInfo],
                 locator: SubnetLocator, version: Version | None = None) -> None:
        self.snap, self.inv, self.subnets, self.locator = snap, inv, subnets, locator
        self.version = version
        self.vpc_lb_names = {v for o in snap.items("vpcs.kubeovn.io")
                             for k, v in (o.get("status") or {}).items()
                             if k.endswith("LoadBalancer") and isinstance(v, str) and v}
        self.view = NbView()
        self.ls_of: dict[str, str] = {}
        for ls in snap.nb_rows("Logical_Switch"):
            for port in as_list(ls.get("ports")):
                self.ls_of[port] = str(ls.get("name", ""))
        self.lr_of_port: dict[str, str] = {}
        self.lr_of_nat: dict[str, str] = {}
        self.lr_of_lb: dict[str, list[str]] = {}
        self.kube_ovn_routers: set[str] = {inv.settings.cluster_router} | (inv.vpcs or set())
        for lr in snap.nb_rows("Logical_Router"):
            name = str(lr.get("name", ""))
            if as_map(lr.get("external_ids")).get("vendor") == "kube-ovn":
                self.kube_ovn_routers.add(name)
            for port in as_list(lr.get("ports")):
                self.lr_of_port[port] = name
            for nat in as_list(lr.get("nat")):
                self.lr_of_nat[nat] = name
            for lb in as_list(lr.get("load_balancer")):
                self.lr_of_lb.setdefault(lb, []).append(name)
        self.lrp_names = {str(r.get("name", "")) for r in snap.nb_rows("Logical_Router_Port")}
        self.ls_names = {str(r.get("name", "")) for r in snap.nb_rows("Logical_Switch")}
        # Indexes, so that matching a row never scans every rule or pod.
        self.rules_by_eip: dict[tuple[str, str, Address], list[NatRule]] = {}
        self.dnat_by_eip: dict[Address, list[NatRule]] = {}
        for rule in inv.nat_rules:
            vpc = str(rule.status.get("vpc") or "")
            for k in ("v4Eip", "v6Eip"):
                a = try_parse_ip(rule.status.get(k))
                if a is not None:
                    self.rules_by_eip.setdefault((rule.ref.kind, vpc, a), []).append(rule)
                    if rule.ref.kind == "OvnDnatRule":
                        self.dnat_by_eip.setdefault(a, []).append(rule)
        self.pods_by_nat: dict[tuple[str, Address], list[PodInfo]] = {}
        for pod in inv.pods.values():
            for key in (n.ANNOTATION_EIP, n.ANNOTATION_SNAT):
                a = try_parse_ip(pod.annotations.get(key))
                if a is not None:
                    self.pods_by_nat.setdefault((key, a), []).append(pod)
        self.eip_addresses = {a for eip in inv.ovn_eips.values() for a in eip.addresses}
        self.vip_addresses = {a for vip in inv.vips.values() for a in vip.addresses}
        self.service_addresses = {c.address for c in inv.claims if c.ref.kind == "Service"}
        self.slr_vips = {try_parse_ip((o.get("spec") or {}).get("vip"))
                         for o in snap.items("switch-lb-rules.kubeovn.io")}
        # A typed Vip (switch_lb_vip, kube_host_vm_vip) gets a port named as a pod's would be,
        # PodNameToPortName(vip, spec.namespace, provider) (pkg/controller/vip.go
        # handleAddVirtualIP); with no namespace that is "<name>." and buildLogicalSwitchPort
        # (pkg/ovs/ovn-nb-logical_switch_port.go) writes no pod key.
        self.typed_vip_ports: dict[str, AddrCR] = {}
        for vip in inv.vips.values():
            sub = subnets.get(vip.subnet)
            if vip.type and sub is not None:
                ns = vip.spec.get("namespace")
                self.typed_vip_ports[n.port_name(vip.ref.name, ns if isinstance(ns, str)
                                                 else "", sub.provider)] = vip

    def ref(self, table: str, row: dict[str, Any], name: str | None = None) -> Ref:
        return Ref(table, name if name is not None else str(row.get("name", "")),
                   uuid=str(row.get("_uuid", "")) or None)

    def index(self, ref: Ref, container: str, addrs: tuple[Address, ...]) -> None:
        for a in addrs:
            self.view.refs.append(NbRef(a, ref, container))

    def report(self, check: Verdict, ref: Ref, container: str, addrs: tuple[Address, ...],
               reason: str, owner: Ref | None = None, expected: tuple[Address, ...] = (),
               columns: dict[str, Any] | None = None) -> None:
        self.view.findings.append(NbFinding(check, ref, container, addrs, reason, owner,
                                            expected, columns or {}))

    def drift(self, ref: Ref, container: str, addrs: tuple[Address, ...], owner: Ref,
              expected: tuple[Address, ...], what: str) -> None:
        if expected and addrs and not _same(addrs, expected):
            self.report("nb-address-drift", ref, container, addrs,
                         f"{what} carries {', '.join(map(str, addrs))} but {owner} holds "
                         f"{', '.join(map(str, expected))}", owner, expected)

    # -- Logical_Switch_Port --------------------------------------------------

    def lsp(self, row: dict[str, Any]) -> None:
        ext = as_map(row.get("external_ids"))
        name = str(row.get("name", ""))
        ls = self.ls_of.get(str(row.get("_uuid", ""))) or str(ext.get("ls", ""))
        typ = str(row.get("type", ""))
        ref = self.ref("Logical_Switch_Port", row)
        addrs = lsp_addresses(row)
        self.index(ref, ls, addrs)
        if not (ext.get("vendor") == "kube-ovn" or ls in self.subnets):
            return
        inv = self.inv
        if typ == "router":
            lrp = str(as_map(row.get("options")).get("router-port", ""))
            if lrp and lrp not in self.lrp_names:
                self.report("orphan-nb-lrp", ref, ls, addrs,
                            f"router-type port whose router-port {lrp} does not exist",
                            columns={**_lsp_columns(row), "options:router-port": lrp})
            return
        if typ == "virtual":
            if name in inv.vips:
                vip = inv.vips[name]
                self.drift(ref, ls, addrs, vip.ref, vip.addresses, "virtual port")
                return
            sub = self.subnets.get(ls)
            prefix = f"{ls}-vip-"
            if sub is not None and name.startswith(prefix):
                return  # subnet.spec.vips port; not an IPAM allocation
            self.report("orphan-nb-lsp", ref, ls, addrs, f"virtual port, but no Vip {name} "
                        "exists", columns=_lsp_columns(row))
            return
        if typ not in ("", None):
            return  # localnet, l2gateway, …: plumbing, not an IP owner
        typed_vip = self.typed_vip_ports.get(name)
        if typed_vip is not None:
            self.drift(ref, ls, addrs, typed_vip.ref, typed_vip.addresses, "typed Vip port")
            return
        pod_key = ext.get("pod")
        if isinstance(pod_key, str) and "/" in pod_key:
            self.pod_port(ref, row, ls, addrs, pod_key)
            return
        if ext.get("vendor") != "kube-ovn":
            return
        # Both are bare ports (CreateBareLogicalSwitchPort): an lsp-type OvnEip's port is
        # named after the OvnEip, which is named after its node, so node-1's EIP port is
        # "node-1" too. The EIP comes first; only then may the node prefix decide.
        if name in inv.ovn_eips:
            eip = inv.ovn_eips[name]
            self.drift(ref, ls, addrs, eip.ref, eip.addresses, "lsp-type EIP port")
            return
        if name.startswith(n.NODE_PORT_PREFIX):
            node = name[len(n.NODE_PORT_PREFIX):]
            if inv.node_names is None or not self.snap.has("ovn-eips.kubeovn.io"):
                return
            if node in inv.nodes:
                info = inv.nodes[node]
                self.drift(ref, ls, addrs, info.ref, info.addresses, "node port")
                return
            self.report("orphan-nb-lsp", ref, ls, addrs, f"node port, but Node {node} does not "
                        f"exist (nor an OvnEip named {name})", columns=_lsp_columns(row))
            return
        if not self.snap.has("ovn-eips.kubeovn.io") or not self.snap.has("nodes"):
            return
        self.report("orphan-nb-lsp", ref, ls, addrs, f"bare port (no pod key) with no OvnEip "
                    f"or Node named {name}", columns=_lsp_columns(row))

    def pod_port(self, ref: Ref, row: dict[str, Any], ls: str, addrs: tuple[Address, ...],
                 pod_key: str) -> None:
        inv = self.inv
        name = ref.name
        ns, pname = pod_key.split("/", 1)
        owner_pod = inv.live_ports.get(name) or inv.pods.get((ns, pname))
        if owner_pod is not None:
            nic = next((x for x in owner_pod.nics if x.port == name), None)
            if nic is not None:
                self.drift(ref, ls, addrs, owner_pod.ref, nic.addresses, "port")
            return
        ip_cr = inv.ip_crs.get(name)
        if ip_cr is not None and ip_cr.owner != "missing":
            self.drift(ref, ls, addrs, ip_cr.ref, ip_cr.addresses, "port")
            return
        if inv.vms is not None and (ns, pname) in inv.vms:
            return
        vip = inv.vips.get(pname)
        if vip is not None and vip.type and vip.spec.get("namespace") == ns:
            return
        if name == f"mcast-querier.{ls}" and ls in self.subnets:
            return
        if not self.snap.has("pods") or (ip_cr is None and inv.vms is None):
            return  # cannot prove the owner is gone
        why = f"Pod {pod_key} not found"
        if ip_cr is not None:
            why += f"; IP {name} remains but its owner is gone ({ip_cr.owner_detail})"
        self.report("orphan-nb-lsp", ref, ls, addrs, why, columns=_lsp_columns(row))

    # -- Logical_Router_Port --------------------------------------------------

    def lrp(self, row: dict[str, Any]) -> None:
        ext = as_map(row.get("external_ids"))
        name = str(row.get("name", ""))
        lr = self.lr_of_port.get(str(row.get("_uuid", ""))) or str(ext.get("lr", ""))
        ref = self.ref("Logical_Router_Port", row)
        addrs = lrp_addresses(row)
        self.index(ref, lr, addrs)
        if ext.get("vendor") != "kube-ovn" and lr not in self.kube_ovn_routers:
            return
        if as_list(row.get("peer")) or name.startswith("bfd@") or not lr \
                or not name.startswith(lr + "-"):
            return
        ls = name[len(lr) + 1:]
        inv = self.inv
        sub = self.subnets.get(ls)
        if sub is not None and sub.vpc == lr and self.is_gateway_port(sub, addrs):
            return
        eip = inv.ovn_eips.get(name)
        if eip is not None:
            if eip.type == "lrp":
                # The default VPC's gateway LRP carries only the IPv4 (external_gw.go).
                expected = eip.addresses
                if lr == inv.settings.cluster_router:
                    expected = tuple(a for a in expected if a.family == "ipv4")
                self.drift(ref, lr, addrs, eip.ref, expected, "router port")
            return
        if ls == n.INTERCONNECT_SWITCH:
            return
        if lr == inv.settings.cluster_router and ls in (inv.settings.external_gateway_switch,
                                                        n.LEGACY_EXTERNAL_SWITCH):
            gw = inv.configmaps.get((inv.settings.gateway_config_namespace,
                                     n.EXTERNAL_GW_CONFIGMAP))
            if gw is not None or not self.snap.has("configmaps"):
                return  # the default-VPC gateway built from ovn-external-gw-config
        if not self.snap.has("ovn-eips.kubeovn.io"):
            return
        if sub is not None and sub.vpc == lr and not sub.vlan:
            # An overlay subnet's router port must carry its gateway; an underlay (vlan)
            # subnet has none unless U2O is on, so a port of that name is not its own.
            expected = tuple(Address(f, v) for f, v in sub.gateways.items())
            self.drift(ref, lr, addrs, sub.ref, expected, "gateway port")
            return
        if sub is None and ls not in self.ls_names and ls != inv.settings.external_gateway_switch:
            return  # the name does not decompose into <router>-<switch>: not ours to judge
        self.report("orphan-nb-lrp", ref, lr, addrs,
                    f"no lrp-type OvnEip named {name}, and {ls} is not a subnet of VPC {lr}",
                    columns={"networks": as_list(row.get("networks")), "mac": row.get("mac"),
                             "external_ids": ext})

    @staticmethod
    def is_gateway_port(sub: SubnetInfo, addrs: tuple[Address, ...]) -> bool:
        """The subnet's own router port carries its gateway or its U2O address."""
        own = {Address(f, v) for f, v in sub.gateways.items()}
        for part in sub.u2o_ip.split(","):
            a = try_parse_ip(part.strip())
            if a is not None:
                own.add(a)
        return bool(own & set(addrs))

    # -- NAT ------------------------------------------------------------------

    def _rule_eip(self, rule: NatRule) -> AddrCR | None:
        return self.inv.ovn_eips.get(rule.eip)

    def nat(self, row: dict[str, Any]) -> None:
        uuid = str(row.get("_uuid", ""))
        lr = self.lr_of_nat.get(uuid, "")
        typ = str(row.get("type", ""))
        ext_ip = try_parse_ip(row.get("external_ip"))
        logical, logical_text = _ip_or_cidr(row.get("logical_ip"))
        label = f"{typ} {row.get('external_ip', '')} -> {row.get('logical_ip', '')}"
        ref = self.ref("NAT", row, label)
        addrs = (ext_ip,) if ext_ip else ()
        self.index(ref, lr, addrs + ((logical,) if logical else ()))
        if ext_ip is None or lr not in self.kube_ovn_routers:
            return
        if not self.locator.containing(ext_ip.family, ext_ip.value):
            return  # not an address from a Kube-OVN subnet, so not made from an EIP
        cols = {"type": typ, "external_ip": row.get("external_ip"),
                "logical_ip": row.get("logical_ip"), "logical_port": row.get("logical_port"),
                "router": lr}
        rule = self.match_nat(lr, typ, ext_ip, logical_text)
        if rule is not None:
            eip = self._rule_eip(rule)
            if eip is not None and eip.addresses and ext_ip not in eip.addresses:
                self.report("nb-address-drift", ref, lr, addrs,
                            f"NAT row of {rule.ref} carries {ext_ip} but {eip.ref} holds "
                            f"{', '.join(map(str, eip.addresses))}", eip.ref, eip.addresses,
                            cols)
            return
        if self.match_pod_annotation(lr, typ, ext_ip, logical):
            return
        if typ not in ("dnat_and_snat", "snat"):
            return
        needed = "ovn-fips.kubeovn.io" if typ == "dnat_and_snat" else "ovn-snat-rules.kubeovn.io"
        if not self.snap.has(needed) or not self.snap.has("pods"):
            return
        self.report("orphan-nb-nat", ref, lr, addrs,
                    f"no {'OvnFip' if typ == 'dnat_and_snat' else 'OvnSnatRule'} on router "
                    f"{lr} maps {ext_ip} to {logical_text}, and no pod annotation does",
                    columns=cols)

    def match_nat(self, lr: str, typ: str, ext_ip: Address, logical_text: str) -> NatRule | None:
        want_kind = {"dnat_and_snat": "OvnFip", "snat": "OvnSnatRule"}.get(typ, "")
        # v1.12.0-v1.12.1 wrote the OvnSnatRule status field as v4ipCidr (v4IpCidr from v1.12.2).
        keys = ("v4Ip", "v6Ip") if typ == "dnat_and_snat" \
            else ("v4IpCidr", "v6IpCidr", "v4ipCidr")
        for rule in self.rules_by_eip.get((want_kind, lr, ext_ip), []):
            # FIP rows may map across families (pkg/controller/ovn_fip.go): try every pair.
            if any(_ip_or_cidr(rule.status.get(k))[1] == logical_text for k in keys):
                return rule
        return None

    def match_pod_annotation(self, lr: str, typ: str, ext_ip: Address,
                             logical: Address | None) -> bool:
        if lr != self.inv.settings.cluster_router:
            return False
        key = n.ANNOTATION_EIP if typ == "dnat_and_snat" else n.ANNOTATION_SNAT
        return any(logical in nic.addresses
                   for pod in self.pods_by_nat.get((key, ext_ip), []) for nic in pod.nics)

    # -- Load_Balancer --------------------------------------------------------

    def lb(self, row: dict[str, Any]) -> None:
        ext = as_map(row.get("external_ids"))
        name = str(row.get("name", ""))
        routers = self.lr_of_lb.get(str(row.get("_uuid", "")), [])
        container = ",".join(routers)
        for vip_text, backends in as_map(row.get("vips")).items():
            host, port = _split_host_port(str(vip_text))
            addr = try_parse_ip(host)
            if addr is None:
                continue
            ref = self.ref("Load_Balancer", row, f"{name} {vip_text}")
            self.index(ref, container, (addr,))
            if not self.kube_ovn_lb(name, ext, routers):
                continue
            if not self.locator.containing(addr.family, addr.value):
                continue
            if self.lb_vip_owned(name, addr, port):
                continue
            if not self.snap.has("ovn-dnat-rules.kubeovn.io") or not self.snap.has("services"):
                continue
            self.report("orphan-nb-lb", ref, container, (addr,),
                        f"no OvnDnatRule, Service or LB rule accounts for VIP {vip_text} "
                        f"on load balancer {name}",
                        columns={"load_balancer": name, "vip": vip_text, "backends": backends,
                                 "routers": routers})

    def kube_ovn_lb(self, name: str, ext: dict[str, Any], routers: list[str]) -> bool:
        """Whether a load balancer is provably Kube-OVN's. From v1.15.0 (#6001) every one
        carries external_ids:vendor=kube-ovn; before, none does
        (pkg/ovs/ovn-nb-load_balancer.go `CreateLoadBalancer` at v1.14.41), and its name
        says it: the cluster router's `cluster-<proto>[-session]-loadbalancer`
        (pkg/controller/config.go flags), a VPC's `vpc-<vpc>-<proto>[-sess]-load`
        (pkg/controller/vpc.go `GenVpcLoadBalancer`, recorded in Vpc status), or an
        OvnDnatRule's own name, attached to its VPC's router (pkg/controller/ovn_dnat.go
        `AddDnatRule`)."""
        if ext.get("vendor") == "kube-ovn":
            return True
        if self.version is not None and self.version.at_least(1, 15):
            return False
        return bool(_KUBE_OVN_LB.fullmatch(name) or name in self.vpc_lb_names
                    or any(r in self.kube_ovn_routers for r in routers))

    def lb_vip_owned(self, lb_name: str, addr: Address, port: str) -> bool:
        inv = self.inv
        for rule in self.dnat_by_eip.get(addr, []):
            ext_port = str(rule.status.get("externalPort") or rule.spec.get("externalPort") or "")
            if not port or ext_port == port:
                return True
        for rule in inv.nat_rules:
            if rule.ref.kind == "RouterLBRule":
                eip = inv.ovn_eips.get(rule.eip)
                if eip is not None and addr in eip.addresses:
                    return True
        # A RouterLBRule serves an OvnEip's address; without the rules, give any VIP on
        # an EIP's address the benefit of the doubt.
        if not self.snap.has("router-lb-rules.kubeovn.io") and addr in self.eip_addresses:
            return True
        if addr in self.service_addresses or addr in self.vip_addresses or addr in self.slr_vips:
            return True
        return bool(not self.snap.has("switch-lb-rules.kubeovn.io")
                    and lb_name.startswith(("cluster-", "vpc-")))


_KUBE_OVN_LB = re.compile(r"cluster-(tcp|udp|sctp)(-session)?-loadbalancer"
                         r"|vpc-.+-(tcp|udp|sctp)(-sess)?-load")


def _split_host_port(text: str) -> tuple[str, str]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest.lstrip(":")
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, ""


def map_northbound(snap: Snapshot, inv: Inventory, subnets: dict[str, SubnetInfo],
                   locator: SubnetLocator, version: Version | None = None) -> NbView:
    m = _Mapper(snap, inv, subnets, locator, version)
    for row in snap.nb_rows("Logical_Switch_Port"):
        m.lsp(row)
    for row in snap.nb_rows("Logical_Router_Port"):
        m.lrp(row)
    for row in snap.nb_rows("NAT"):
        m.nat(row)
    for row in snap.nb_rows("Load_Balancer"):
        m.lb(row)
    m.view.version = nb_version(snap)
    return m.view


def nb_version(snap: Snapshot) -> str | None:
    """The controller version Kube-OVN (v1.15 on) records in NB_Global."""
    version = None
    for row in snap.nb_rows("NB_Global"):
        found = as_map(row.get("external_ids")).get("kube-ovn-version")
        if isinstance(found, str) and found:
            version = found
    return version
