"""Property tests over generated clusters.

A generated cluster is consistent by construction: every owner's addresses are in
the using range (unless excluded), the available range is the rest of the universe,
and the counts follow the controller's formula. Then:

- a consistent cluster has no warning or error;
- removing one owner (with its records) yields exactly the leak of its addresses.
"""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path

from builders import Cluster, k8s
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eipfsck.checks.runner import run_checks

SUBNET_SHAPES = [
    ("10.20.0.0/26", None),
    ("10.21.0.0/28,fd00:21::/124", None),
    ("fd00:22::/120", None),
    ("10.23.0.0/24", "10.23.0.200..10.23.0.210"),
]


@dataclass
class Owner:
    kind: str  # pod, sts, eip, vip, node
    name: str
    addresses: list[str]


@st.composite
def clusters(draw: st.DrawFn) -> tuple[str, str | None, list[Owner]]:
    cidr, exclude = draw(st.sampled_from(SUBNET_SHAPES))
    nets = [ipaddress.ip_network(c) for c in cidr.split(",")]
    # Pick distinct host offsets, skipping the gateway (offset 1).
    limit = min(min(n.num_addresses for n in nets) - 2, 60)
    offsets = draw(st.lists(st.integers(2, limit), min_size=1, max_size=12, unique=True))
    kinds = draw(st.lists(st.sampled_from(["pod", "sts", "eip", "vip", "node"]),
                          min_size=len(offsets), max_size=len(offsets)))
    owners = []
    for i, (off, kind) in enumerate(zip(offsets, kinds, strict=True)):
        addrs = [str(n.network_address + off) for n in nets]
        if kind in ("eip", "vip") and len(nets) == 2:
            kind = "pod"  # dual-stack Vips/EIPs are restore hazards, not consistent shapes
        owners.append(Owner(kind, f"o{i}", addrs))
    if exclude:
        # One static owner inside excludeIps: legitimate, info only.
        owners.append(Owner("pod", "static", ["10.23.0.205"]))
    return cidr, exclude, owners


def build(cidr: str, exclude: str | None, owners: list[Owner]) -> Cluster:
    c = Cluster()
    gws = ",".join(str(ipaddress.ip_network(x).network_address + 1) for x in cidr.split(","))
    excl = gws.split(",") + ([exclude] if exclude else [])
    held = [a for o in owners for a in o.addresses]
    counted = sum(1 for o in owners if o.name != "static")
    c.subnet("net", cidr, gateway=gws, exclude=excl, using=held, count=counted)
    c.add("statefulsets.apps", k8s("db", "ns1", spec={"replicas": 100}))
    for o in owners:
        ips = ",".join(o.addresses)
        if o.kind == "pod":
            c.pod(o.name, "ns1", ips, "net", mac=_mac(o))
            c.ip_cr(f"{o.name}.ns1", "net", ips, pod=o.name, ns="ns1")
        elif o.kind == "sts":
            # The StatefulSet pod is absent (rescheduling); its IP CR keeps the IP.
            c.ip_cr(f"db-{o.name[1:]}.ns1", "net", ips, pod=f"db-{o.name[1:]}", ns="ns1",
                    pod_type="StatefulSet")
        elif o.kind == "eip":
            c.ovn_eip(o.name, o.addresses[0], subnet="net")
        elif o.kind == "vip":
            c.vip(o.name, "net", *([*o.addresses, ""])[:2])
        elif o.kind == "node":
            c.add("nodes", k8s(o.name, annotations={
                "ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": ips,
                "ovn.kubernetes.io/logical_switch": "net"}))
            c.ip_cr(f"node-{o.name}", "net", ips, owners=[("Node", o.name)])
    return c


def _mac(o: Owner) -> str:
    n = int(o.name[1:]) if o.name[1:].isdigit() else 255
    return f"00:00:00:00:01:{n:02x}"


def _scan(c: Cluster) -> list:
    with tempfile.TemporaryDirectory() as d:
        return run_checks(c.model(Path(d))).findings


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_consistent_cluster_has_no_warning_or_error(case: tuple) -> None:
    cidr, exclude, owners = case
    findings = _scan(build(cidr, exclude, owners))
    assert [(f.check, f.message) for f in findings if f.severity != "info"] == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.data())
def test_removing_one_owner_leaks_exactly_its_addresses(case: tuple, data: st.DataObject
                                                        ) -> None:
    cidr, exclude, owners = case
    victim = data.draw(st.sampled_from(owners))
    cluster = build(cidr, exclude, owners)
    # Status as before (the allocator still holds the victim), objects without it.
    subnet = cluster.objects["subnets.kubeovn.io"][0]
    after = build(cidr, exclude, [o for o in owners if o is not victim])
    after.objects["subnets.kubeovn.io"] = [subnet]
    leaked = sorted(str(f.ip) for f in _scan(after) if f.check == "leaked-ip")
    excluded = {"10.23.0.205"}
    expected = sorted(str(ipaddress.ip_address(a)) for a in victim.addresses
                      if a not in excluded)
    assert leaked == expected
