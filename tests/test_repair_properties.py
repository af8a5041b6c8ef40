"""Property: no repair plan ever touches an owned IP or a live owner's object.

Generated clusters: owners of every kind with their records and NB rows, then random damage
the way operators cause it (owners deleted while their IP CR, port and NAT rows stay; stray
NAT rows and LB VIPs pointing anywhere, owned addresses included). The planner runs with
every option on and no caps, so nothing is held back by policy, only by safety rules.
"""

from __future__ import annotations

import ipaddress
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from builders import Cluster, controller_leader, k8s
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from eipfsck.addresses import try_parse_ip
from eipfsck.checks.runner import run_checks
from eipfsck.model import Model
from eipfsck.repair.plan import NB_ACTIONS, Plan, RepairPolicy, build_plan
from eipfsck.report.document import inconclusive_reasons

ALL_ON = RepairPolicy(max_actions=10**6, max_leak_ratio=1.0, allow_controller_restart=True,
                      ack_hazards=True, allow_resurrect=True)
KINDS = ("pod", "eip", "vip", "node")


@st.composite
def damaged(draw: st.DrawFn) -> Cluster:
    n = draw(st.integers(1, 10))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    removed = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    keep_records = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    offsets = draw(st.lists(st.integers(2, 60), min_size=n, max_size=n, unique=True))
    c = Cluster()
    net = ipaddress.ip_network("10.0.0.0/24")
    ext = ipaddress.ip_network("172.30.0.0/24")
    addr_of = [str(net.network_address + o) for o in offsets]
    eip_of = [str(ext.network_address + o) for o in offsets]
    controller_leader(c, "ctl")
    c.add("vpcs.kubeovn.io", k8s("vpc1"))
    ports, nats, lb_vips = [], [], {}
    using, ext_using = [], []
    for i, kind in enumerate(kinds):
        name, ip, eip = f"o{i}", addr_of[i], eip_of[i]
        gone, records = removed[i], keep_records[i]
        if kind == "eip":
            ext_using.append(eip)
            if not gone:
                c.ovn_eip(name, eip)
            continue
        using.append(ip)
        if kind == "pod":
            if not gone:
                c.pod(name, "ns1", ip, "net1")
            if not gone or records:
                c.ip_cr(f"{name}.ns1", "net1", ip, pod=name, ns="ns1")
                ports.append(c.lsp(f"{name}.ns1", "net1", [f"00:00:00:00:00:{i:02x} {ip}"],
                                   external_ids={"pod": f"ns1/{name}"}))
        elif kind == "vip":
            if not gone:
                c.vip(name, "net1", ip)
            if not gone or records:
                ports.append(c.lsp(name, "net1", [], typ="virtual",
                                   options={"virtual-ip": ip}))
        elif kind == "node":
            if not gone:
                c.add("nodes", k8s(name, annotations={
                    "ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": ip,
                    "ovn.kubernetes.io/logical_switch": "net1"}))
            if not gone or records:
                ports.append(c.lsp(f"node-{name}", "net1", [f"00:00:00:00:01:{i:02x} {ip}"]))
    # Stray NB rows, pointing at any address: owned ones, leaked ones, free ones.
    every = [*addr_of, str(net.network_address + 99)]
    for j in range(draw(st.integers(0, 4))):
        inside = draw(st.sampled_from(every))
        outside = draw(st.sampled_from([*eip_of, str(ext.network_address + 200)]))
        nats.append(c.nat("dnat_and_snat", outside, inside))
        if draw(st.booleans()):
            lb_vips[f"{outside}:{80 + j}"] = f"{inside}:80"
    c.subnet("net1", "10.0.0.0/24", using=using)
    c.subnet("external", "172.30.0.0/24", using=ext_using)
    c.switch("net1", *ports)
    lbs = []
    if lb_vips:
        lbs.append(c.nb_row("Load_Balancer", name="vpc1-dnat", vips=lb_vips, protocol="tcp",
                            external_ids={"vendor": "kube-ovn"}))
    c.router("vpc1", nat=nats, lbs=lbs)
    for resource in ("ovn-dnat-rules.kubeovn.io", "router-lb-rules.kubeovn.io",
                     "switch-lb-rules.kubeovn.io"):
        c.objects.setdefault(resource, [])
    return c


def _plan_model(c: Cluster) -> tuple[Model, Plan]:
    with tempfile.TemporaryDirectory() as d:
        model = c.model(Path(d))
    return model, build_plan(model, run_checks(model).findings, ALL_ON, cluster={"uid": "u"},
                             created=datetime.now(UTC), tool_version="t", source="p",
                             inconclusive=inconclusive_reasons(model))


def _plan(c: Cluster) -> Plan:
    return _plan_model(c)[1]


def _owned(model: Model, text: str) -> list[str]:
    a = try_parse_ip(text)
    return [str(c.ref) for c in model.inventory.claims
            if a is not None and c.address == a and c.role in ("owner", "inflight")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_no_plan_touches_an_owned_ip_or_a_live_owner(c: Cluster) -> None:
    model, plan = _plan_model(c)
    inv = model.inventory
    live_objects = {(c.ref.kind, c.ref.namespace, c.ref.name)
                    for c in inv.claims if c.role == "owner"}
    for a in plan.actions:
        for addr in a.addresses:
            assert not _owned(model, addr), (a.action, a.target, addr, _owned(model, addr))
        t = a.target
        if a.action == "restart-controller":
            assert (t.namespace, t.name) == ("kube-system", "ctl")
            continue
        assert (t.kind, t.namespace, t.name) not in live_objects, a
        if a.action in NB_ACTIONS and t.kind == "Logical_Switch_Port":
            assert t.name not in inv.live_ports
            assert t.name not in inv.vips and t.name not in inv.ovn_eips
            assert not (t.name.startswith("node-") and t.name[5:] in inv.nodes)
        if a.action == "resurrect":
            assert t.name not in inv.vips and t.name not in inv.ovn_eips


@pytest.mark.parametrize("action", ["delete-nb-lsp", "delete-ip-cr", "delete-nb-nat",
                                    "delete-nb-lb-vip", "restart-controller"])
def test_the_generator_produces_every_action(action: str) -> None:
    """The property above is not vacuous: the generator reaches plans with each action."""
    def has(c: Cluster) -> bool:
        return action in {a.action for a in _plan(c).actions}

    assert has(find(damaged(), has, settings=settings(max_examples=500, deadline=None)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(), st.sampled_from([ALL_ON, RepairPolicy(), RepairPolicy(max_actions=1)]))
def test_every_finding_of_a_generated_cluster_is_an_action_or_held(
        c: Cluster, policy: RepairPolicy) -> None:
    from test_repair_plan import assert_partition

    with tempfile.TemporaryDirectory() as d:
        model = c.model(Path(d))
    findings = run_checks(model).findings
    plan = build_plan(model, findings, policy, cluster={"uid": "u"}, created=datetime.now(UTC),
                      tool_version="t", source="p", inconclusive=inconclusive_reasons(model))
    assert_partition(plan, findings)
