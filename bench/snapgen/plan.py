"""Plan a synthetic Kube-OVN cluster: subnets, VPCs, nodes, pods, EIPs, NAT rules.

The plan holds only the facts the output files are derived from (names, addresses, uids). The
Kubernetes objects and NB rows are built from it while writing, so 30,000 full pod objects never
sit in memory at once.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .ipspace import Allocator, Family, ip_str, normalize, parse_ip

HOLE_RATE = 0.08  # share of addresses skipped at allocation: the holes left by pod churn
FILL = 0.7  # plan at most this share of a subnet's usable addresses, leaving room for holes
K8S_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what ReplicaSet/pod name suffixes use
APPS = ("web", "api", "worker", "cache", "frontend", "backend", "auth", "search", "ingest")


@dataclass(frozen=True)
class Options:
    pods: int = 30_000
    subnets: int = 400
    eips: int = 2_000
    seed: int = 1
    leaks: int = 0
    v6_prefix: int = 64
    captured_at: datetime = datetime(2026, 9, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(slots=True)
class Subnet:
    name: str
    role: str  # "workload" | "join" | "external"
    vpc: str
    v4: Family | None
    v6: Family | None
    uid: str
    created: str
    lrp_mac: str
    namespaces: list[str] = field(default_factory=list)
    default: bool = False
    vlan_tag: int = 0
    ip_crs: int = 0  # IP CRs labelled `<S>: ""` (the status count selector up to v1.16.2)
    eips: int = 0  # OvnEips labelled ovn.kubernetes.io/subnet=S

    @property
    def families(self) -> list[Family]:
        return [f for f in (self.v4, self.v6) if f is not None]

    @property
    def protocol(self) -> str:
        if self.v4 and self.v6:
            return "Dual"
        return "IPv4" if self.v4 else "IPv6"

    @property
    def cidr_block(self) -> str:
        return ",".join(f.cidr for f in self.families)

    @property
    def gateway(self) -> str:
        return ",".join(ip_str(f.gateway, f.version) for f in self.families)

    @property
    def exclude_ips(self) -> list[str]:
        # The controller sorts excludeIps as strings (subnet.go), so do we.
        return sorted(e for f in self.families for e in f.exclude_entries)


@dataclass(slots=True)
class Vpc:
    name: str
    uid: str
    created: str
    subnets: list[Subnet] = field(default_factory=list)
    external: Subnet | None = None
    lb_names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Node:
    name: str
    uid: str
    created: str
    internal_ip: str
    join_ip: int
    join_mac: str
    chassis: str


@dataclass(slots=True)
class Workload:
    """A Deployment's ReplicaSet or a StatefulSet: the controller ownerReference of its pods."""

    kind: str  # "ReplicaSet" | "StatefulSet"
    name: str
    namespace: str
    app: str
    uid: str
    created: str
    revision: str  # pod-template-hash / controller-revision-hash suffix
    replicas: int = 0


@dataclass(slots=True)
class Pod:
    name: str
    namespace: str
    subnet: Subnet
    node: Node
    owner: Workload
    ordinal: int  # StatefulSet index; -1 for ReplicaSet pods
    uid: str
    ip_uid: str
    created: str
    mac: str
    v4: int | None = None
    v6: int | None = None
    host_network: bool = False

    @property
    def port_name(self) -> str:
        return f"{self.name}.{self.namespace}"


@dataclass(slots=True)
class Eip:
    name: str
    subnet: Subnet
    type: str  # "nat" | "lrp"
    v4: int
    mac: str
    uid: str
    created: str
    vpc: Vpc | None = None
    nat: str = ""  # status.nat: "fip" | "snat" | ""
    rule: str = ""  # the NAT rule CR bound to it (annotation ovn.kubernetes.io/vpc_nat)


@dataclass(slots=True)
class Fip:
    name: str
    eip: Eip
    pod: Pod
    vpc: Vpc
    uid: str
    created: str


@dataclass(slots=True)
class Snat:
    name: str
    eip: Eip
    vpc: Vpc
    subnet: Subnet
    uid: str
    created: str


@dataclass
class Cluster:
    opts: Options
    kube_system_uid: str = ""
    subnets: list[Subnet] = field(default_factory=list)
    vpcs: list[Vpc] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)  # with IPs, in creation order
    host_pods: list[Pod] = field(default_factory=list)  # hostNetwork DaemonSet pods, no IPAM
    eips: list[Eip] = field(default_factory=list)
    fips: list[Fip] = field(default_factory=list)
    snats: list[Snat] = field(default_factory=list)
    leaked: list[Eip] = field(default_factory=list)

    def subnet(self, name: str) -> Subnet:
        return next(s for s in self.subnets if s.name == name)


class Ids:
    """Seeded sources of uids, MACs, timestamps and name suffixes (same seed, same bytes)."""

    def __init__(self, rng: random.Random, captured_at: datetime) -> None:
        self.rng = rng
        self.captured_at = captured_at
        self.macs: set[str] = set()

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def mac(self) -> str:
        # Kube-OVN's generated MACs: 00:00:00 prefix, upper-case hex (util.GenerateMac).
        while True:
            tail = self.rng.getrandbits(24)
            mac = f"00:00:00:{tail >> 16:02X}:{(tail >> 8) & 0xFF:02X}:{tail & 0xFF:02X}"
            if mac not in self.macs:
                self.macs.add(mac)
                return mac

    def created(self, min_days: float = 1.0, max_days: float = 200.0) -> str:
        back = timedelta(seconds=self.rng.uniform(min_days * 86400, max_days * 86400))
        return (self.captured_at - back).strftime("%Y-%m-%dT%H:%M:%SZ")

    def suffix(self, n: int) -> str:
        return "".join(self.rng.choices(K8S_HASH_ALPHABET, k=n))


# ---------------------------------------------------------------- subnets and VPCs


def make_family(version: int, network: int, prefix: int, extra: list[tuple[int, int]]) -> Family:
    """A family whose excludeIps hold the gateway plus `extra` (offset pairs from the network)."""
    gateway = network + 1
    excluded = [(gateway, gateway)] + [(network + lo, network + hi) for lo, hi in extra]
    entries = [ip_str(gateway, version)]
    for lo, hi in extra:
        a, b = ip_str(network + lo, version), ip_str(network + hi, version)
        entries.append(a if lo == hi else f"{a}..{b}")
    return Family(version, network, prefix, normalize(excluded), entries)


def v4_extra_excludes(rng: random.Random, prefix: int) -> list[tuple[int, int]]:
    """About a third of subnets reserve the top of the range (appliances, VRRP, ...)."""
    if rng.random() > 0.35:
        return []
    top = (1 << (32 - prefix)) - 2
    return [(top - rng.randint(4, 15), top)]


def v6_extra_excludes(rng: random.Random) -> list[tuple[int, int]]:
    """Some IPv6 subnets reserve a small block; placed so it fits a /120 as well as a /64."""
    if rng.random() > 0.3:
        return []
    start = 0xC0
    return [(start, start + rng.randint(0, 31))]


class V4Space:
    """Carves aligned IPv4 blocks out of a base address, in order."""

    def __init__(self, base: str) -> None:
        self.cursor = parse_ip(base)[0]

    def take(self, prefix: int) -> int:
        block = 1 << (32 - prefix)
        self.cursor = (self.cursor + block - 1) // block * block
        network = self.cursor
        self.cursor += block
        return network


def external_count(opts: Options) -> int:
    """A few external subnets: one per 600 EIPs, at most four."""
    return max(1, min(4, math.ceil(opts.eips / 600)))


def plan_subnets(c: Cluster, ids: Ids, rng: random.Random) -> None:
    """join, ovn-default and the workload subnets; the external ones come with the EIPs.

    --subnets counts them all. A quarter carry IPv6: half IPv6-only, half dual-stack.
    """
    n_total = max(3, c.opts.subnets)
    n_work = n_total - 1 - external_count(c.opts)  # ovn-default included
    n_v6 = n_dual = n_total // 8
    c.subnets.append(Subnet("join", "join", "ovn-cluster",
                            make_family(4, parse_ip("100.64.0.0")[0], 16, []), None,
                            ids.uid(), ids.created(199, 200), ids.mac()))
    c.subnets.append(Subnet("ovn-default", "workload", "ovn-cluster",
                            make_family(4, parse_ip("10.16.0.0")[0], 16, []), None,
                            ids.uid(), ids.created(199, 200), ids.mac(),
                            namespaces=["default"], default=True))
    v4space = V4Space("10.100.0.0")
    v6_base = parse_ip("fd00:10::")[0]
    for i in range(1, n_work):
        kind = "v6" if i <= n_v6 else "dual" if i <= n_v6 + n_dual else "v4"
        v4 = v6 = None
        if kind != "v6":
            prefix = rng.choice((22, 23, 24, 24))
            v4 = make_family(4, v4space.take(prefix), prefix, v4_extra_excludes(rng, prefix))
        if kind != "v4":
            # one /64-sized slot per subnet keeps the /64 and /120 layouts comparable
            v6 = make_family(6, v6_base + (i << 64), c.opts.v6_prefix, v6_extra_excludes(rng))
        c.subnets.append(Subnet(f"sn-{i:04d}", "workload", "", v4, v6, ids.uid(),
                                ids.created(150, 190), ids.mac(), namespaces=[f"ns-{i:04d}"]))


def plan_vpcs(c: Cluster, ids: Ids, rng: random.Random) -> None:
    """ovn-cluster holds join and ovn-default; other workload subnets go 2-6 per custom VPC."""
    default_vpc = Vpc("ovn-cluster", ids.uid(), ids.created(199, 200),
                      subnets=[s for s in c.subnets if s.vpc == "ovn-cluster"])
    default_vpc.lb_names = [f"cluster-{p}-{s}loadbalancer"
                            for s in ("", "session-") for p in ("tcp", "udp", "sctp")]
    c.vpcs.append(default_vpc)
    rest = [s for s in c.subnets if s.vpc == ""]
    while rest:
        take = rng.randint(2, 6)
        group, rest = rest[:take], rest[take:]
        vpc = Vpc(f"vpc-{len(c.vpcs):03d}", ids.uid(), ids.created(150, 190), subnets=group)
        vpc.lb_names = [f"vpc-{vpc.name}-{p}-{s}load"
                        for s in ("", "sess-") for p in ("tcp", "udp", "sctp")]
        for s in group:
            s.vpc = vpc.name
        c.vpcs.append(vpc)


# ---------------------------------------------------------------- nodes and pods


def plan_nodes(c: Cluster, ids: Ids, rng: random.Random) -> None:
    join = c.subnet("join")
    assert join.v4 is not None
    alloc = Allocator(join.v4, rng, 0.0)  # node join IPs are handed out once, in order
    for i in range(max(3, math.ceil(c.opts.pods / 100))):
        name = f"worker-{i + 1:03d}"
        node = Node(name, ids.uid(), ids.created(195, 199),
                    f"192.168.{i // 250}.{i % 250 + 10}", alloc.take(), ids.mac(), ids.uid())
        c.nodes.append(node)
        join.ip_crs += 1  # IP CR node-<node>


def capacity(s: Subnet) -> int:
    return min(int(f.usable * FILL) for f in s.families)


def distribute(total: int, weights: list[float], caps: list[int]) -> list[int]:
    """Split `total` roughly by weight without exceeding any cap."""
    quotas = [0] * len(weights)
    remaining = total
    while remaining > 0:
        open_ = [i for i in range(len(weights)) if quotas[i] < caps[i]]
        if not open_:
            raise SystemExit(f"error: {total} pods do not fit in the planned subnets; "
                             "raise --subnets")
        wsum = sum(weights[i] for i in open_)
        budget = remaining
        for i in open_:
            # at least one each round, so the loop ends even when shares round to zero
            got = min(max(1, round(budget * weights[i] / wsum)), caps[i] - quotas[i], remaining)
            quotas[i] += got
            remaining -= got
            if remaining == 0:
                break
    return quotas


def plan_workloads(c: Cluster, ids: Ids, rng: random.Random, ns: str, count: int
                   ) -> list[Workload]:
    """Split a namespace's pods into one small StatefulSet and a few Deployments."""
    out: list[Workload] = []
    if count >= 10:
        sts = Workload("StatefulSet", "db", ns, "db", ids.uid(), ids.created(100, 150),
                       ids.suffix(10), replicas=min(3, count // 10))
        out.append(sts)
        count -= sts.replicas
    k = 0
    while count > 0:
        size = min(count, rng.randint(5, 40))
        app = APPS[k % len(APPS)] + ("" if k < len(APPS) else f"-{k // len(APPS)}")
        rs_hash = ids.suffix(10)
        rs = Workload("ReplicaSet", f"{app}-{rs_hash}", ns, app, ids.uid(),
                      ids.created(5, 100), rs_hash, replicas=size)
        out.append(rs)
        count -= size
        k += 1
    c.workloads.extend(out)
    return out


def plan_pods(c: Cluster, ids: Ids, rng: random.Random) -> None:
    subnets = [s for s in c.subnets if s.role == "workload"]
    weights = [2.0 if s.default else rng.uniform(0.5, 1.5) for s in subnets]
    quotas = distribute(c.opts.pods, weights, [capacity(s) for s in subnets])
    for s, quota in zip(subnets, quotas, strict=True):
        ns = s.namespaces[0]
        allocs = [Allocator(f, rng, HOLE_RATE) for f in s.families]
        for w in plan_workloads(c, ids, rng, ns, quota):
            names: set[str] = set()
            for ordinal in range(w.replicas):
                if w.kind == "StatefulSet":
                    name = f"{w.name}-{ordinal}"
                else:
                    name = f"{w.name}-{ids.suffix(5)}"
                    while name in names:
                        name = f"{w.name}-{ids.suffix(5)}"
                names.add(name)
                pod = Pod(name, ns, s, rng.choice(c.nodes), w,
                          ordinal if w.kind == "StatefulSet" else -1, ids.uid(), ids.uid(),
                          ids.created(1, 100), ids.mac())
                for a in allocs:
                    if a.fam.version == 4:
                        pod.v4 = a.take()
                    else:
                        pod.v6 = a.take()
                s.ip_crs += 1
                c.pods.append(pod)


def plan_host_pods(c: Cluster, ids: Ids) -> None:
    """One hostNetwork kube-ovn-cni pod per node: a pod that holds no IPAM address at all."""
    ds = Workload("DaemonSet", "kube-ovn-cni", "kube-system", "kube-ovn-cni", ids.uid(),
                  ids.created(190, 199), ids.suffix(10), replicas=len(c.nodes))
    for node in c.nodes:
        pod = Pod(f"kube-ovn-cni-{ids.suffix(5)}", "kube-system", c.subnet("join"), node, ds, -1,
                  ids.uid(), "", ids.created(20, 190), "", host_network=True)
        c.host_pods.append(pod)


# ---------------------------------------------------------------- EIPs and NAT


def plan_externals(c: Cluster, ids: Ids, demand: list[int]) -> list[Subnet]:
    """Size each external subnet for its EIP demand (smallest of /24 .. /16 that fits)."""
    space = V4Space("172.30.0.0")
    out = []
    for i, need in enumerate(demand):
        prefix = 24
        while prefix > 16 and int(((1 << (32 - prefix)) - 2 - 17) * FILL) < need:
            prefix -= 1
        top = (1 << (32 - prefix)) - 2
        # the top 16 addresses are kept for the physical routers of the external network
        fam = make_family(4, space.take(prefix), prefix, [(top - 15, top)])
        name = "external" if i == 0 else f"external{i}"
        out.append(Subnet(name, "external", "ovn-cluster", fam, None, ids.uid(),
                          ids.created(190, 195), ids.mac(), vlan_tag=100 + i))
    c.subnets.extend(out)
    c.vpcs[0].subnets.extend(out)  # spec.vpc ovn-cluster: listed in that Vpc's status.subnets
    return out


def plan_eips(c: Cluster, ids: Ids, rng: random.Random) -> None:
    """Per custom VPC: an lrp EIP linking it to its external subnet and an SNAT for its first
    IPv4 subnet; then --eips FIPs, each on its own nat EIP, for pods with an IPv4 address."""
    custom = [v for v in c.vpcs if v.name != "ovn-cluster"]
    candidates = [p for p in c.pods if p.v4 is not None and p.subnet.vpc != "ovn-cluster"]
    if len(candidates) < c.opts.eips:
        raise SystemExit(f"error: only {len(candidates)} pods can take a FIP; lower --eips")
    targets = rng.sample(candidates, c.opts.eips)
    n_ext = external_count(c.opts)
    vpc_ext = {v.name: i % n_ext for i, v in enumerate(custom)}
    demand = [0] * n_ext
    for v in custom:
        demand[vpc_ext[v.name]] += 2
    for p in targets:
        demand[vpc_ext[p.subnet.vpc]] += 1
    externals = plan_externals(c, ids, demand)
    allocs = [Allocator(e.v4, rng, HOLE_RATE) for e in externals if e.v4 is not None]
    by_name = {v.name: v for v in custom}

    def new_eip(name: str, vpc: Vpc, type_: str, nat: str, rule: str) -> Eip:
        idx = vpc_ext[vpc.name]
        ext = externals[idx]
        ext.eips += 1
        eip = Eip(name, ext, type_, allocs[idx].take(), ids.mac(), ids.uid(),
                  ids.created(20, 150), vpc, nat, rule)
        c.eips.append(eip)
        return eip

    for v in custom:
        v.external = externals[vpc_ext[v.name]]
        new_eip(f"{v.name}-{v.external.name}", v, "lrp", "", "")
    for v in custom:
        first_v4 = next((s for s in v.subnets if s.v4 is not None), None)
        if first_v4 is not None:
            rule = f"snat-{v.name}"
            eip = new_eip(f"eip-snat-{v.name}", v, "nat", "snat", rule)
            c.snats.append(Snat(rule, eip, v, first_v4, ids.uid(), ids.created(10, 100)))
    for k, pod in enumerate(targets, 1):
        vpc = by_name[pod.subnet.vpc]
        eip = new_eip(f"eip-{k:05d}", vpc, "nat", "fip", f"fip-{k:05d}")
        c.fips.append(Fip(eip.rule, eip, pod, vpc, ids.uid(), ids.created(1, 20)))


def apply_leaks(c: Cluster, rng: random.Random) -> None:
    """Delete N FIP EIPs (and their FIP and NAT row) after the allocator filed their IPs.

    The allocator's using list (Family.using) keeps the address, as the controller's in-memory
    IPAM does when an EIP object vanishes without its release running; the status counts are
    derived from the objects that remain, as the controller recomputes them on the delete.
    """
    if c.opts.leaks == 0:
        return
    if c.opts.leaks > len(c.fips):
        raise SystemExit(f"error: --leaks {c.opts.leaks} exceeds the {len(c.fips)} FIP EIPs")
    victims = rng.sample(c.fips, c.opts.leaks)
    gone = {id(f) for f in victims}
    c.fips = [f for f in c.fips if id(f) not in gone]
    gone_eips = {id(f.eip) for f in victims}
    c.eips = [e for e in c.eips if id(e) not in gone_eips]
    for f in victims:
        f.eip.subnet.eips -= 1
        c.leaked.append(f.eip)


def plan_cluster(opts: Options) -> Cluster:
    rng = random.Random(opts.seed)
    ids = Ids(rng, opts.captured_at)
    c = Cluster(opts, kube_system_uid=ids.uid())
    plan_subnets(c, ids, rng)
    plan_vpcs(c, ids, rng)
    plan_nodes(c, ids, rng)
    plan_pods(c, ids, rng)
    plan_host_pods(c, ids)
    plan_eips(c, ids, rng)
    apply_leaks(c, rng)
    return c
