"""Who claims which IP: every owner kind, in-flight claims (docs/design-notes.md, claims).

The result is an Inventory of typed records plus a flat list of Claims. A claim has
a role, because not every mention of an IP is an allocation:

- owner: an allocation the controller holds, or re-files at its next start;
- record: an IP CR whose owner is gone; it is no allocation, but it still keeps its
  IP out of leaked-ip and takes part in double-claim and the spec checks;
- stale: a VM's pod that is no longer alive but still carries its annotations; it only
  keeps an IP out of leaked-ip (the VM's IP CR is what holds it);
- released: a pod that is no longer alive and neither a StatefulSet's nor a VM's: the
  controller released its IP when it completed (pkg/controller/pod.go, handleUpdatePod
  queues the delete), so its leftover annotation keeps nothing;
- inflight: a request (a static IP not yet allocated, a CR without status, the address the
  controller log shows allocated under the name of a CR without status);
- external: an address Kubernetes uses that Kube-OVN does not allocate (LB ingress).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from eipfsck.addresses import Address, split_ips, try_parse_ip
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.names import Settings
from eipfsck.kubeovn.refs import Ref
from eipfsck.kubeovn.subnet import SubnetInfo
from eipfsck.snapshot import Snapshot, parse_time

if TYPE_CHECKING:
    from eipfsck.controller_log import Allocation

Role = Literal["owner", "record", "stale", "released", "inflight", "external"]
# Roles whose claim keeps an address out of leaked-ip.
PROTECTING_ROLES: frozenset[str] = frozenset({"owner", "record", "stale", "inflight",
                                              "external"})
OwnerState = Literal["present", "missing", "unknown"]


@dataclass(frozen=True, slots=True)
class Claim:
    address: Address
    subnet: str | None  # the subnet the claim names; None when it names none
    role: Role
    ref: Ref
    key: str | None  # the IPAM key the controller files the IP under
    field: str  # where the address was read, for evidence
    restored: bool = True  # whether InitIPAM re-files it at the next leader start
    note: str = ""
    vpc: str | None = None  # the VPC the object implies, for a claim that names no subnet


@dataclass(frozen=True)
class SubnetRef:
    ref: Ref
    field: str
    subnet: str


@dataclass(frozen=True)
class PodNic:
    provider: str
    subnet: str | None
    addresses: tuple[Address, ...]
    port: str
    mac: str


@dataclass(frozen=True)
class PodInfo:
    ref: Ref
    key: str  # "<ns>/<pod>", or "<ns>/<vm>" for a virt-launcher pod with keep-vm-ip
    alive: bool
    not_alive_reason: str
    sts: str | None
    vm: str | None
    host_network: bool
    phase: str
    nics: tuple[PodNic, ...]
    annotations: dict[str, str]


@dataclass(frozen=True)
class IPCRInfo:
    ref: Ref
    subnet: str
    pod_name: str
    namespace: str
    pod_type: str
    addresses: tuple[Address, ...]
    mac: str
    key: str
    reserved: bool  # label ip_reserved=true: a user's deliberate reservation
    owner: OwnerState
    owner_detail: str
    live_port: bool  # named after the port of a live pod (never deleted: it is that pod's)
    labels: dict[str, str]
    deletion: datetime | None
    finalizers: tuple[str, ...]
    attach_subnets: tuple[str, ...]


@dataclass(frozen=True)
class AddrCR:
    """A Vip, OvnEip or IptablesEIP: a CR that holds addresses under its own name as key."""

    ref: Ref
    subnet: str  # resolved as the controller resolves it
    subnet_field: str  # the spec field as written ("" when defaulted)
    addresses: tuple[Address, ...]  # from status
    requested: tuple[Address, ...]  # from spec
    mac: str
    type: str
    labels: dict[str, str]
    annotations: dict[str, str]
    deletion: datetime | None
    finalizers: tuple[str, ...]
    spec: dict[str, Any]

    @property
    def reserved_by(self) -> str:
        """For a Vip: the port name of the pod that took its IP, or ""."""
        return self.labels.get(n.LABEL_IP_RESERVED, "")


@dataclass(frozen=True)
class NodeInfo:
    ref: Ref
    subnet: str
    addresses: tuple[Address, ...]
    allocated: bool


@dataclass(frozen=True)
class NatRule:
    ref: Ref
    eip_kind: str  # OvnEip or IptablesEIP
    eip: str
    spec: dict[str, Any]
    status: dict[str, Any]
    labels: dict[str, str]
    deletion: datetime | None
    finalizers: tuple[str, ...]


@dataclass
class Inventory:
    settings: Settings
    now: datetime
    pods: dict[tuple[str, str], PodInfo] = field(default_factory=dict)
    ip_crs: dict[str, IPCRInfo] = field(default_factory=dict)
    vips: dict[str, AddrCR] = field(default_factory=dict)
    ovn_eips: dict[str, AddrCR] = field(default_factory=dict)
    iptables_eips: dict[str, AddrCR] = field(default_factory=dict)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    nat_rules: list[NatRule] = field(default_factory=list)
    statefulsets: set[tuple[str, str]] | None = None  # None: kind not captured
    vms: set[tuple[str, str]] | None = None
    nads: set[tuple[str, str]] | None = None
    vpcs: set[str] | None = None
    node_names: set[str] | None = None
    live_ports: dict[str, PodInfo] = field(default_factory=dict)
    configmaps: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    subnet_refs: list[SubnetRef] = field(default_factory=list)
    pending: list[tuple[Ref, str | None, str]] = field(default_factory=list)
    unreadable: list[tuple[Ref, str, str]] = field(default_factory=list)

    def addr_crs(self) -> list[AddrCR]:
        return [*self.vips.values(), *self.ovn_eips.values(), *self.iptables_eips.values()]


# ---------------------------------------------------------------------------


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["metadata"]


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return _meta(obj).get("labels") or {}


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return _meta(obj).get("annotations") or {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ref(kind: str, obj: dict[str, Any]) -> Ref:
    m = _meta(obj)
    return Ref(kind, m["name"], m.get("namespace") or None)


def _owner_refs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in _meta(obj).get("ownerReferences") or [] if isinstance(o, dict)]


def _finalizers(obj: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f for f in _meta(obj).get("finalizers") or [] if isinstance(f, str))


def pod_alive(pod: dict[str, Any], now: datetime) -> tuple[bool, str]:
    """isPodAlive (pkg/controller/pod.go): the rule InitIPAM uses to restore a pod."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    deleted = parse_time(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    if deleted is not None and isinstance(grace, int) and deleted + timedelta(seconds=grace) < now:
        return False, "past its deletion grace period"
    phase = _str(status.get("phase"))
    restart = _str(spec.get("restartPolicy")) or "Always"
    if phase == "Succeeded" and restart != "Always":
        return False, f"phase Succeeded with restartPolicy {restart}"
    if phase == "Failed" and restart == "Never":
        return False, "phase Failed with restartPolicy Never"
    if phase == "Failed" and _str(status.get("reason")) == "Evicted":
        return False, "evicted"
    return True, ""


class _Builder:
    def __init__(self, snap: Snapshot, subnets: dict[str, SubnetInfo], settings: Settings):
        self.snap = snap
        self.subnets = subnets
        self.inv = Inventory(settings=settings, now=snap.captured_at)
        self.by_provider: dict[str, list[SubnetInfo]] = {}
        for s in subnets.values():
            self.by_provider.setdefault(s.provider, []).append(s)

    # -- helpers ------------------------------------------------------------

    def claim(self, addr: Address, subnet: str | None, role: Role, ref: Ref, key: str | None,
              fld: str, restored: bool = True, note: str = "", vpc: str | None = None) -> None:
        self.inv.claims.append(Claim(addr, subnet, role, ref, key, fld, restored, note, vpc))

    def addresses(self, ref: Ref, fld: str, text: Any) -> tuple[Address, ...]:
        if not text:
            return ()
        try:
            return tuple(split_ips(text))
        except ValueError as exc:
            self.inv.unreadable.append((ref, fld, str(exc)))
            return ()

    def subnet_ref(self, ref: Ref, fld: str, subnet: str) -> None:
        if subnet:
            self.inv.subnet_refs.append(SubnetRef(ref, fld, subnet))

    def subnet_for_provider(self, provider: str, addrs: tuple[Address, ...]) -> str | None:
        candidates = self.by_provider.get(provider, [])
        hits = [s for s in candidates
                if addrs and all(s.contains(a.family, a.value) for a in addrs)]
        if len(hits) == 1:
            return hits[0].name
        if not addrs and len(candidates) == 1:
            return candidates[0].name
        return None

    def names(self, resource: str) -> set[tuple[str, str]] | None:
        if not self.snap.has(resource):
            return None
        return {(_meta(o).get("namespace") or "", _meta(o)["name"])
                for o in self.snap.items(resource)}

    # -- kinds --------------------------------------------------------------

    def build(self) -> Inventory:
        inv, snap = self.inv, self.snap
        inv.statefulsets = self.names("statefulsets.apps")
        inv.vms = self.names("virtualmachines.kubevirt.io")
        inv.nads = self.names("network-attachment-definitions.k8s.cni.cncf.io")
        vpcs = self.names("vpcs.kubeovn.io")
        inv.vpcs = None if vpcs is None else {name for _, name in vpcs}
        nodes = self.names("nodes")
        inv.node_names = None if nodes is None else {name for _, name in nodes}
        for cm in snap.items("configmaps"):
            m = _meta(cm)
            data = cm.get("data") or {}
            inv.configmaps[(m.get("namespace") or "", m["name"])] = {
                k: v for k, v in data.items() if isinstance(v, str)}
        for pod in snap.items("pods"):
            self.pod(pod)
        for obj in snap.items("ips.kubeovn.io"):
            self.ip_cr(obj)
        for obj in snap.items("vips.kubeovn.io"):
            self.vip(obj)
        for obj in snap.items("ovn-eips.kubeovn.io"):
            self.ovn_eip(obj)
        for obj in snap.items("iptables-eips.kubeovn.io"):
            self.iptables_eip(obj)
        for obj in snap.items("nodes"):
            self.node(obj)
        for s in self.subnets.values():
            self.subnet_addresses(s)
        for obj in snap.items("vpc-nat-gateways.kubeovn.io"):
            self.vpc_nat_gateway(obj)
        for obj in snap.items("vpc-egress-gateways.kubeovn.io"):
            self.egress_gateway(obj)
        for obj in snap.items("services"):
            self.service(obj)
        for resource, kind, eip_kind, eip_field in n.NAT_RULE_KINDS:
            for obj in snap.items(resource):
                spec = obj.get("spec") or {}
                inv.nat_rules.append(NatRule(
                    _ref(kind, obj), eip_kind, _str(spec.get(eip_field)), spec,
                    obj.get("status") or {}, _labels(obj),
                    parse_time(_meta(obj).get("deletionTimestamp")), _finalizers(obj)))
                if kind == "OvnSnatRule":
                    self.subnet_ref(_ref(kind, obj), "spec.vpcSubnet", _str(spec.get("vpcSubnet")))
        return inv

    def pod(self, obj: dict[str, Any]) -> None:
        m, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
        ns, name = m["namespace"], m["name"]
        ref = Ref("Pod", name, ns)
        ann = _annotations(obj)
        alive, why = pod_alive(obj, self.inv.now)
        sts = next((o.get("name") for o in _owner_refs(obj) if o.get("kind") == "StatefulSet"),
                   None)
        vm = None
        if self.inv.settings.keep_vm_ip:
            vm = next((o.get("name") for o in _owner_refs(obj)
                       if o.get("kind") == "VirtualMachineInstance"), None)
        identity = vm or name
        host_network = spec.get("hostNetwork") is True
        nics: list[PodNic] = []
        any_allocated = False
        for key, value in ann.items():
            if not key.endswith(n.ANNOTATION_SUFFIX + "ip_address"):
                continue
            provider = key[: -len(n.ANNOTATION_SUFFIX + "ip_address")]
            allocated = ann.get(n.annotation(provider, "allocated")) == "true"
            fld = f"metadata.annotations[{key}]"
            addrs = self.addresses(ref, fld, value)
            ls = ann.get(n.annotation(provider, "logical_switch"), "")
            subnet = ls or self.subnet_for_provider(provider, addrs)
            if ls and allocated:
                ls_key = n.annotation(provider, "logical_switch")
                self.subnet_ref(ref, f"metadata.annotations[{ls_key}]", ls)
            if not allocated:
                # A request (static IP) that the controller has not allocated yet.
                for a in addrs:
                    self.claim(a, subnet, "inflight", ref, f"{ns}/{identity}", fld,
                               note="requested, not yet allocated")
                continue
            any_allocated = True
            port = n.port_name(identity, ns, provider)
            nic = PodNic(provider, subnet, addrs, port,
                         ann.get(n.annotation(provider, "mac_address"), ""))
            nics.append(nic)
            if host_network:
                continue
            vm_pod = any(o.get("kind") == "VirtualMachineInstance" for o in _owner_refs(obj))
            role: Role = "owner" if (alive or sts) else "stale" if vm_pod else "released"
            note = "" if role == "owner" else f"pod not alive ({why}); the controller releases it"
            for a in addrs:
                self.claim(a, subnet, role, ref, f"{ns}/{identity}", fld, note=note)
        if not any_allocated and _str(status.get("phase")) in ("", "Pending") and not host_network:
            self.inv.pending.append((ref, ann.get(n.annotation("ovn", "logical_switch")),
                                     "pod Pending without an allocation"))
        info = PodInfo(ref, f"{ns}/{identity}", alive, why, sts, vm, host_network,
                       _str(status.get("phase")), tuple(nics), ann)
        self.inv.pods[(ns, name)] = info
        if (alive or sts) and not host_network:
            for nic in nics:
                self.inv.live_ports[nic.port] = info

    def ip_owner(self, obj: dict[str, Any], subnet: str, pod_name: str, ns: str,
                 pod_type: str, node_name: str) -> tuple[OwnerState, str]:
        """checkIPOwnerExists (pkg/controller/gc.go, v1.14 to master), in its order, answering
        'unknown' when the kind that would prove the owner was not captured. The name of the
        CR plays no part: a pod, StatefulSet or VM called node-… is not a node."""
        inv = self.inv
        if subnet not in self.subnets:
            return "missing", f"subnet {subnet!r} does not exist"
        if n.is_node_ip_cr(ns, pod_name, node_name):
            if not node_name:
                return "missing", "spec.namespace, spec.podName and spec.nodeName are empty"
            if inv.node_names is None:
                return "unknown", "nodes not captured"
            return (("present", f"Node {node_name} exists") if node_name in inv.node_names
                    else ("missing", f"Node {node_name} not found"))
        if pod_type == n.POD_TYPE_VM:
            if inv.vms is None:
                return "unknown", "virtualmachines.kubevirt.io not captured"
            if (ns, pod_name) in inv.vms:
                return "present", f"VirtualMachine {ns}/{pod_name} exists"
            return "missing", f"VirtualMachine {ns}/{pod_name} not found"
        if pod_type == n.POD_TYPE_STS:
            sts = n.sts_name_of_pod(pod_name)
            if inv.statefulsets is None:
                return "unknown", "statefulsets not captured"
            if sts and (ns, sts) in inv.statefulsets:
                return "present", f"StatefulSet {ns}/{sts} exists (pod {pod_name} absent)"
            return "missing", f"neither Pod {ns}/{pod_name} nor StatefulSet {ns}/{sts} exists"
        # v1.14.30+/v1.15.3+ (#6132): U2O and multicast IP CRs carry an ownerReference to
        # their Node or Subnet. Other kinds are skipped here, not counted as gone.
        owners = [(o.get("kind"), o.get("name")) for o in _owner_refs(obj)
                  if o.get("kind") in ("Node", "Subnet")]
        if owners:
            for kind, name in owners:
                if kind == "Subnet" and name in self.subnets:
                    return "present", f"Subnet {name} exists"
                if kind == "Node" and inv.node_names is None:
                    return "unknown", "nodes not captured"
                if kind == "Node" and name in inv.node_names:
                    return "present", f"Node {name} exists"
            return "missing", "no owner exists: " + ", ".join(f"{k} {v}" for k, v in owners)
        if not ns and pod_name.startswith(n.SUBNET_IP_PREFIXES):
            # Before #6132 these had no ownerReference and gcIP deleted them while the subnet
            # still used the address; the next update adds the reference. Never an orphan.
            return "present", f"Subnet {subnet} exists (its {pod_name.split('.')[0]} IP)"
        if pod_type:
            return "present", f"podType {pod_type!r}: the controller does not check its owner"
        if (ns, pod_name) in inv.pods and not inv.pods[(ns, pod_name)].host_network:
            return "present", f"Pod {ns}/{pod_name} exists"
        if not self.snap.has("pods"):
            return "unknown", "pods not captured"
        if not pod_name:
            return "missing", "spec.podName is empty"
        if (ns, pod_name) in inv.pods:
            return "missing", f"Pod {ns}/{pod_name} uses the host network"
        return "missing", f"Pod {ns}/{pod_name} not found"

    def ip_cr(self, obj: dict[str, Any]) -> None:
        m, spec = _meta(obj), obj.get("spec") or {}
        name = m["name"]
        ref = Ref("IP", name)
        labels = _labels(obj)
        subnet = _str(spec.get("subnet"))
        pod_name, ns = _str(spec.get("podName")), _str(spec.get("namespace"))
        pod_type = _str(spec.get("podType"))
        # spec.ipAddress is authoritative: syncIPCR rewrites v4/v6IpAddress from it.
        if _str(spec.get("ipAddress")):
            fld, addrs = "spec.ipAddress", self.addresses(ref, "spec.ipAddress", spec["ipAddress"])
        else:
            fld = "spec.v4IpAddress/v6IpAddress"
            addrs = self.addresses(ref, fld, ",".join(
                p for p in (_str(spec.get("v4IpAddress")), _str(spec.get("v6IpAddress"))) if p))
        node_name = _str(spec.get("nodeName"))
        key = n.ip_cr_key(ns, pod_name, name)
        owner, detail = self.ip_owner(obj, subnet, pod_name, ns, pod_type, node_name)
        live_port = name in self.inv.live_ports
        info = IPCRInfo(
            ref, subnet, pod_name, ns, pod_type, addrs, _str(spec.get("macAddress")), key,
            labels.get(n.LABEL_IP_RESERVED) == "true", owner, detail, live_port, labels,
            parse_time(m.get("deletionTimestamp")), _finalizers(obj),
            tuple(s for s in spec.get("attachSubnets") or [] if isinstance(s, str)))
        self.inv.ip_crs[name] = info
        self.subnet_ref(ref, "spec.subnet", subnet)
        role: Role = "record" if owner == "missing" and not live_port else "owner"
        restored = pod_type in (n.POD_TYPE_STS, n.POD_TYPE_VM)
        note = "" if role == "owner" else f"owner gone: {detail}"
        for a in addrs:
            self.claim(a, subnet or None, role, ref, key, fld, restored=restored, note=note)

    def _addr_cr(self, kind: str, obj: dict[str, Any], subnet: str, subnet_field: str,
                 status_ips: list[str], spec_ips: list[str], mac: str, typ: str) -> AddrCR:
        ref = _ref(kind, obj)
        addrs = self.addresses(ref, "status", ",".join(p for p in status_ips if p))
        requested = self.addresses(ref, "spec", ",".join(p for p in spec_ips if p))
        m = _meta(obj)
        return AddrCR(ref, subnet, subnet_field, addrs, requested, mac, typ, _labels(obj),
                      _annotations(obj), parse_time(m.get("deletionTimestamp")),
                      _finalizers(obj), obj.get("spec") or {})

    def _claim_addr_cr(self, cr: AddrCR, status_fields: str, spec_fields: str,
                       restorable: set[str]) -> None:
        self.subnet_ref(cr.ref, (cr.subnet_field and f"spec.{cr.subnet_field}") or "(default)",
                        cr.subnet)
        if not cr.addresses:
            self.inv.pending.append((cr.ref, cr.subnet, f"{cr.ref.kind} without status"))
            for a in cr.requested:
                self.claim(a, cr.subnet, "inflight", cr.ref, cr.ref.name, spec_fields,
                           note="status not written yet")
            return
        for a in cr.addresses:
            self.claim(a, cr.subnet, "owner", cr.ref, cr.ref.name, status_fields,
                       restored=a.family in restorable)

    def vip(self, obj: dict[str, Any]) -> None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        subnet = _str(spec.get("subnet")) or _labels(obj).get(n.LABEL_SUBNET, "")
        cr = self._addr_cr("Vip", obj, subnet, "subnet" if spec.get("subnet") else "",
                           [_str(status.get("v4ip")), _str(status.get("v6ip"))],
                           [_str(spec.get("v4ip")), _str(spec.get("v6ip"))],
                           _str(status.get("mac")), _str(spec.get("type")))
        self.inv.vips[cr.ref.name] = cr
        self._claim_addr_cr(cr, "status.v4ip/v6ip", "spec.v4ip/v6ip", {"ipv4"})

    def ovn_eip(self, obj: dict[str, Any]) -> None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        written = _str(spec.get("externalSubnet"))
        subnet = written or self.inv.settings.external_gateway_switch
        cr = self._addr_cr("OvnEip", obj, subnet, "externalSubnet" if written else "",
                           [_str(status.get("v4Ip")), _str(status.get("v6Ip"))],
                           [_str(spec.get("v4Ip")), _str(spec.get("v6Ip"))],
                           _str(status.get("macAddress")) or _str(spec.get("macAddress")),
                           _str(status.get("type")) or _str(spec.get("type")) or "nat")
        self.inv.ovn_eips[cr.ref.name] = cr
        # InitIPAM uses spec.externalSubnet as written: empty means not restored at all.
        self._claim_addr_cr(cr, "status.v4Ip/v6Ip", "spec.v4Ip/v6Ip",
                            {"ipv4"} if written else set())

    def iptables_eip(self, obj: dict[str, Any]) -> None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        written = _str(spec.get("externalSubnet"))
        subnet = written or n.DEFAULT_IPTABLES_EXTERNAL
        # status.ip carries only the IPv4; the IPv6 lives in spec.v6ip.
        cr = self._addr_cr("IptablesEIP", obj, subnet, "externalSubnet" if written else "",
                           [_str(status.get("ip")),
                            _str(spec.get("v6ip")) if status.get("ip") else ""],
                           [_str(spec.get("v4ip")), _str(spec.get("v6ip"))],
                           _str(spec.get("macAddress")), "")
        self.inv.iptables_eips[cr.ref.name] = cr
        self._claim_addr_cr(cr, "status.ip/spec.v6ip", "spec.v4ip/v6ip", {"ipv4"})

    def node(self, obj: dict[str, Any]) -> None:
        ann = _annotations(obj)
        ref = _ref("Node", obj)
        allocated = ann.get(n.annotation("ovn", "allocated")) == "true"
        fld = "metadata.annotations[ovn.kubernetes.io/ip_address]"
        addrs = self.addresses(ref, fld, ann.get(n.annotation("ovn", "ip_address"), ""))
        subnet = ann.get(n.annotation("ovn", "logical_switch")) or self.inv.settings.node_switch
        self.inv.nodes[ref.name] = NodeInfo(ref, subnet, addrs, allocated)
        if allocated:
            self.subnet_ref(ref, "metadata.annotations[ovn.kubernetes.io/logical_switch]", subnet)
            for a in addrs:
                self.claim(a, subnet, "owner", ref, f"node-{ref.name}", fld)

    def subnet_addresses(self, s: SubnetInfo) -> None:
        for text, key, fld, restored in (
            (s.u2o_ip, f"u2o-interconnection.{s.vpc}.{s.name}", "status.u2oInterconnectionIP",
             True),
            (s.mcast_ip, f"mcast-querier.{s.name}", "status.mcastQuerierIP", False),
        ):
            for part in text.split(","):
                a = try_parse_ip(part.strip())
                if a is not None:
                    self.claim(a, s.name, "owner", s.ref, key, fld, restored=restored)

    def vpc_nat_gateway(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        ref = _ref("VpcNatGateway", obj)
        subnet = _str(spec.get("subnet"))
        vpc = _str(spec.get("vpc")) or None
        self.subnet_ref(ref, "spec.subnet", subnet)
        for ext in spec.get("externalSubnets") or []:
            if isinstance(ext, str):
                self.subnet_ref(ref, "spec.externalSubnets", ext)
        for a in self.addresses(ref, "spec.lanIp", _str(spec.get("lanIp"))):
            self.claim(a, subnet or None, "inflight", ref, None, "spec.lanIp",
                       note="LAN IP requested for the gateway pod", vpc=vpc)

    def egress_gateway(self, obj: dict[str, Any]) -> None:
        """pkg/controller/vpc_egress_gateway.go: internal IPs come from spec.internalSubnet,
        else the default subnet of spec.vpc (default: the cluster router); external IPs from
        spec.externalSubnet. A claim without its subnet protects only the gateway's VPC."""
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ref = _ref("VpcEgressGateway", obj)
        vpc = _str(spec.get("vpc")) or self.inv.settings.cluster_router
        internal = _str(spec.get("internalSubnet")) or None
        external = _str(spec.get("externalSubnet")) or None
        for src, fld, subnet in ((spec, "spec.internalIPs", internal),
                                 (spec, "spec.externalIPs", external),
                                 (status, "status.internalIPs", internal),
                                 (status, "status.externalIPs", external)):
            for text in src.get(fld.split(".")[1]) or []:
                for a in self.addresses(ref, fld, text):
                    self.claim(a, subnet, "inflight", ref, None, fld,
                               vpc=vpc if "internal" in fld else None)

    def service(self, obj: dict[str, Any]) -> None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ref = _ref("Service", obj)
        lb_ip = try_parse_ip(spec.get("loadBalancerIP"))
        if lb_ip is not None:
            self.claim(lb_ip, None, "inflight", ref, None, "spec.loadBalancerIP")
        for text in spec.get("externalIPs") or []:
            a = try_parse_ip(text)
            if a is not None:
                self.claim(a, None, "external", ref, None, "spec.externalIPs")
        for ing in (status.get("loadBalancer") or {}).get("ingress") or []:
            a = try_parse_ip(ing.get("ip")) if isinstance(ing, dict) else None
            if a is not None:
                self.claim(a, None, "external", ref, None, "status.loadBalancer.ingress")


def build_inventory(snap: Snapshot, subnets: dict[str, SubnetInfo],
                    settings: Settings) -> Inventory:
    return _Builder(snap, subnets, settings).build()


# The note of a claim pending_allocation_claims makes.
PENDING_ALLOCATION = "allocated under its name; status not written yet"


def pending_allocation_claims(inv: Inventory,
                              allocations: Mapping[tuple[str, Address], Allocation]
                              ) -> list[Claim]:
    """The addresses the allocator holds for Vips, OvnEips and IptablesEIPs whose status is
    not written yet, as the controller log names them.

    Their add handlers allocate under the object's name first and write the status last
    (pkg/controller vip.go `handleAddVirtualIP`, ovn_eip.go `handleAddOvnEip`,
    vpc_nat_gw_eip.go `handleAddIptablesEip`). An IptablesEIP's status waits for `eip-add`
    to succeed in its NAT gateway pod (exec): while the gateway refuses it, the handler
    retries, the allocator keeps the address under the name and the subnet status counts it
    in use. That address is the object's allocation in flight, not a leak; only the log says
    which one it is (the last allocation of that address, filed under the name, in the
    object's subnet, with no delete handler for that name after it)."""
    pending = {(cr.subnet, cr.ref.name): cr for cr in inv.addr_crs() if not cr.addresses}
    if not pending:
        return []
    out = []
    for (subnet, addr), alloc in allocations.items():
        cr = pending.get((subnet, alloc.key))
        if cr is None or alloc.kind is not None:
            continue
        out.append(Claim(addr, subnet, "inflight", cr.ref, cr.ref.name,
                         f"controller log {alloc.source}:{alloc.line_no}", restored=False,
                         note=PENDING_ALLOCATION))
    return out
