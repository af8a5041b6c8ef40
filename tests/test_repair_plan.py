"""The repair planner: what becomes an action, and every rule that keeps something out.

Each never-in-a-plan rule of docs/repair.md has a positive and a negative case here.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from builders import Cluster, controller_leader, k8s

from eipfsck.checks.catalogue import BY_ID
from eipfsck.checks.finding import Finding
from eipfsck.checks.runner import run_checks
from eipfsck.controller_log import read_controller_log
from eipfsck.kubeovn.refs import Ref
from eipfsck.model import Model, build_model
from eipfsck.repair.plan import HUMAN_ONLY, Action, Held, Plan, RepairPolicy, build_plan
from eipfsck.report.document import inconclusive_reasons
from eipfsck.snapshot import load_snapshot

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ALL_ON = RepairPolicy(max_actions=1000, max_leak_ratio=1.0, allow_controller_restart=True,
                      ack_hazards=True, allow_resurrect=True)


def plan_for(model: Model, policy: RepairPolicy = ALL_ON,
             extra: list[Finding] | None = None) -> Plan:
    findings = run_checks(model).findings + (extra or [])
    return build_plan(model, findings, policy, cluster={"uid": "u"},
                      created=datetime.now(UTC), tool_version="t", source="test",
                      inconclusive=inconclusive_reasons(model))


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(a.action, a.target.name) for a in plan.actions]


def gates(plan: Plan) -> dict[str, str]:
    """The gates of the findings repair could act on (those it never acts on are held too,
    with their remedy: see test_every_finding_is_an_action_or_held)."""
    return {f"{h.finding} {h.ip or h.subject}": h.gate for h in plan.held
            if h.finding == "scan" or BY_ID[h.finding].repairable or h.gate != "not-repairable"
            or h.finding in HUMAN_ONLY}


def example(name: str, log: str | None = None) -> Model:
    allocations = read_controller_log(str(EXAMPLES / log)) if log else None
    return build_model(load_snapshot(EXAMPLES / name), allocations=allocations)


# -- the two examples ---------------------------------------------------------------------------


def test_healthy_example_plans_nothing() -> None:
    plan = plan_for(example("healthy-cluster"))
    assert plan.actions == []
    assert [h for h in plan.held if h.gate != "not-repairable"] == []


def test_leaky_example_plan_in_section_9_order() -> None:
    plan = plan_for(example("leaky-cluster", "leaky-cluster-controller.log"))
    assert actions(plan) == [
        ("delete-nb-nat", "dnat_and_snat 172.30.0.13 -> 10.10.0.13"),
        ("delete-nb-lsp", "ghost.ns1"),
        ("delete-nb-lsp", "vip-b"),
        ("delete-ip-cr", "stray-ip"),
        ("delete-ip-cr", "ghost.ns1"),
        ("delete-nat-cr", "fip-dangling"),
        ("resurrect", "vip-b"),
        ("restart-controller", "kube-ovn-controller-7d9c6b5f4-abcde"),
    ]
    assert [a.id for a in plan.actions] == [f"A{i:02d}" for i in range(1, 9)]
    restart = plan.actions[-1]
    assert restart.preconditions["leaks"] == [{"subnet": "external", "ip": "172.30.0.21"}]
    assert restart.preconditions["uid"] and restart.preconditions["resourceVersion"]
    resurrect = plan.actions[-2]
    assert resurrect.target.kind == "Vip"
    assert resurrect.preconditions["addresses"] == ["10.10.0.13", "fd00:10:10::d"]
    # Human-only findings are held with their remedy, never acted on.
    held = gates(plan)
    assert held["double-claim 172.30.0.10"] == "not-repairable"
    assert held["phantom-v6-restore fd00:10:10::2"] == "not-repairable"
    assert all(h.remedy for h in plan.held if h.finding == "double-claim")


def test_leaky_example_default_policy_needs_options_for_leaks() -> None:
    plan = plan_for(example("leaky-cluster"), RepairPolicy())
    assert not [a for a in plan.actions if a.action in ("resurrect", "restart-controller")]
    # Without the log, fd00:10:10::d could be vip-a's phantom (a leak may be lower than the
    # phantom): it is held as a possible live owner's address (issue 11 item 3).
    assert gates(plan)["leaked-ip fd00:10:10::d"] == "owner-referenced"
    assert {h.gate for h in plan.held if h.finding == "leaked-ip"
            and str(h.ip) != "fd00:10:10::d"} == {"needs-option"}


def test_restart_needs_hazards_acknowledged() -> None:
    model = example("leaky-cluster")
    plan = plan_for(model, RepairPolicy(allow_controller_restart=True))
    assert "restart-controller" not in [a.action for a in plan.actions]
    assert {h.gate for h in plan.held if h.finding == "leaked-ip"
            and str(h.ip) != "fd00:10:10::d"} == {"hazards"}
    assert len(plan.hazards) == 3
    acked = plan_for(model, RepairPolicy(allow_controller_restart=True, ack_hazards=True))
    assert acked.actions[-1].action == "restart-controller"
    assert acked.actions[-1].preconditions["hazards_acknowledged"] is True


# -- small clusters ----------------------------------------------------------------------------


def base(c: Cluster, using: list[str]) -> None:
    c.subnet("net1", "10.0.0.0/24", using=using)
    controller_leader(c, "ctl-1", resourceVersion="7")


def test_leak_without_nb_rows_gets_a_restart_and_a_second_leak_too(tmp_path: Path) -> None:
    c = Cluster()
    base(c, [f"10.0.0.{i}" for i in range(2, 12)])
    for i in range(2, 10):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    plan = plan_for(c.model(tmp_path))
    assert actions(plan) == [("restart-controller", "ctl-1")]
    assert [x["ip"] for x in plan.actions[0].preconditions["leaks"]] == ["10.0.0.10",
                                                                         "10.0.0.11"]


def test_no_leader_no_restart(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2", "10.0.0.3"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    plan = plan_for(c.model(tmp_path))
    assert plan.actions == []
    assert gates(plan) == {"leaked-ip 10.0.0.3": "no-leader"}


def test_leak_ratio_refuses_the_subnet(tmp_path: Path) -> None:
    c = Cluster()
    base(c, ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    plan = plan_for(c.model(tmp_path), RepairPolicy(allow_controller_restart=True))
    assert plan.actions == []
    assert set(gates(plan).values()) == {"leak-ratio"}
    assert plan.refused  # the gate needs a human
    relaxed = plan_for(c.model(tmp_path / "b"), RepairPolicy(allow_controller_restart=True,
                                                             max_leak_ratio=0.7))
    assert actions(relaxed) == [("restart-controller", "ctl-1")]


def test_in_flight_subnet_is_not_acted_on(tmp_path: Path) -> None:
    c = Cluster()
    base(c, ["10.0.0.2", "10.0.0.9"] + [f"10.0.0.{i}" for i in range(20, 30)])
    for i in range(20, 30):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    c.pod("starting", "ns1", "", "net1", allocated=False, phase="Pending")
    c.ip_cr("ghost.ns1", "net1", "10.0.0.2", pod="ghost", ns="ns1")
    plan = plan_for(c.model(tmp_path))
    assert plan.actions == []
    assert gates(plan) == {"orphan-ip-cr 10.0.0.2": "in-flight",
                           "leaked-ip 10.0.0.9": "in-flight"}
    # Negative control: the same cluster once the pod has its address.
    c.objects["pods"] = [p for p in c.objects["pods"] if p["metadata"]["name"] != "starting"]
    settled = plan_for(c.model(tmp_path / "b"))
    assert ("delete-ip-cr", "ghost.ns1") in actions(settled)


def test_ip_cr_protections(tmp_path: Path) -> None:
    c = Cluster()
    base(c, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
         + [f"10.0.0.{i}" for i in range(20, 30)])
    for i in range(20, 30):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    # Named after a live pod's port: the pod's annotation lost, the IP CR is its record.
    c.pod("vm-launcher", "ns1", "10.0.0.3", "net1", allocated=False, phase="Running")
    c.add("pods", k8s("virt", "ns1", annotations={
        "ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": "10.0.0.4",
        "ovn.kubernetes.io/logical_switch": "net1"}, status={"phase": "Running"},
        spec={"nodeName": "n1"}))
    c.ip_cr("virt.ns1", "net1", "10.0.0.5", pod="gone", ns="ns1")
    c.ip_cr("reserved", "net1", "10.0.0.2", labels={"ovn.kubernetes.io/ip_reserved": "true"})
    c.ip_cr("orphan.ns1", "net1", "10.0.0.3", pod="orphan", ns="ns1")
    plan = plan_for(c.model(tmp_path))
    held = gates(plan)
    assert held.get("orphan-ip-cr 10.0.0.5") == "protected"
    assert held.get("orphan-ip-cr 10.0.0.2") == "protected"
    assert ("delete-ip-cr", "virt.ns1") not in actions(plan)
    assert ("delete-ip-cr", "reserved") not in actions(plan)


def test_orphan_ip_cr_whose_address_an_owner_holds_now_is_untouched(tmp_path: Path) -> None:
    c = Cluster()
    base(c, [f"10.0.0.{i}" for i in range(2, 14)])
    for i in range(2, 14):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    c.ip_cr("old.ns1", "net1", "10.0.0.5", pod="old", ns="ns1")
    c.ip_cr("free.ns1", "net1", "10.0.0.77", pod="free", ns="ns1")
    plan = plan_for(c.model(tmp_path))
    assert ("delete-ip-cr", "free.ns1") in actions(plan)
    assert ("delete-ip-cr", "old.ns1") not in actions(plan)
    assert gates(plan)["orphan-ip-cr 10.0.0.5"] == "owner-referenced"


def test_live_pod_port_is_never_deleted_even_if_a_finding_says_so(tmp_path: Path) -> None:
    c = Cluster()
    base(c, ["10.0.0.2"])
    c.pod("live", "ns1", "10.0.0.2", "net1")
    port = c.lsp("live.ns1", "net1", ["00:00:00:00:00:02 10.0.0.2"],
                 external_ids={"pod": "ns1/live"})
    c.switch("net1", port)
    model = c.model(tmp_path)
    assert plan_for(model).actions == []
    # Defence in depth: a (wrong) finding naming the live pod's port does not get an action.
    bogus = Finding("orphan-nb-lsp", "warning", "bogus", "net1", None, None,
                    (Ref("Logical_Switch_Port", "live.ns1", uuid=port["_uuid"]),),
                    {"reason": "test"})
    plan = plan_for(model, extra=[bogus])
    assert plan.actions == []
    assert gates(plan)["orphan-nb-lsp Logical_Switch_Port live.ns1"] == "owner-referenced"


def test_orphan_nat_translating_to_a_live_pod_is_held(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=[])
    base(c, ["10.0.0.2"])
    c.pod("live", "ns1", "10.0.0.2", "net1")
    to_pod = c.nat("dnat_and_snat", "172.30.0.40", "10.0.0.2")
    to_nobody = c.nat("dnat_and_snat", "172.30.0.41", "10.0.0.99")
    c.router("vpc1", nat=[to_pod, to_nobody])
    c.add("vpcs.kubeovn.io", k8s("vpc1"))
    plan = plan_for(c.model(tmp_path))
    assert [a.target.uuid for a in plan.actions] == [to_nobody["_uuid"]]
    assert plan.actions[0].preconditions["rows"][0]["columns"]["external_ip"] == "172.30.0.41"
    assert "owner-referenced" in gates(plan).values()


def test_cross_family_fip_row_is_not_an_orphan(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24,fd00:30::/120", using=["172.30.0.5", "fd00:30::5"])
    base(c, ["10.0.0.2"])
    c.pod("live", "ns1", "10.0.0.2,fd00:10::2", "net1")
    c.ovn_eip("eip1", "172.30.0.5", status={"v4Ip": "172.30.0.5", "v6Ip": "fd00:30::5",
                                            "ready": True, "type": "nat"})
    c.add("ovn-fips.kubeovn.io", k8s("fip1", spec={"ovnEip": "eip1", "ipName": "live.ns1"},
                                     status={"vpc": "vpc1", "v4Eip": "172.30.0.5",
                                             "v6Eip": "fd00:30::5", "v4Ip": "10.0.0.2",
                                             "v6Ip": "fd00:10::2", "ready": True}))
    v6_to_v4 = c.nat("dnat_and_snat", "fd00:30::5", "10.0.0.2")
    c.router("vpc1", nat=[v6_to_v4])
    c.add("vpcs.kubeovn.io", k8s("vpc1"))
    plan = plan_for(c.model(tmp_path))
    assert [a for a in plan.actions if a.action == "delete-nb-nat"] == []


def test_default_vpc_gateway_lrp_is_protected(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=[])
    base(c, ["10.0.0.2"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    c.add("configmaps", k8s("ovn-external-gw-config", "kube-system",
                            data={"nic-ip": "172.30.0.254/24", "nic-mac": "00:00:00:aa:aa:aa"}))
    gw = c.lrp("ovn-cluster-external", "ovn-cluster", ["172.30.0.254/24"])
    stray = c.lrp("vpc9-external", "vpc9", ["172.30.0.77/24"])
    c.router("ovn-cluster", ports=[gw])
    c.router("vpc9", ports=[stray])
    c.switch("external")
    c.add("vpcs.kubeovn.io", k8s("vpc9"))
    model = c.model(tmp_path)
    plan = plan_for(model)
    assert [a.target.name for a in plan.actions] == ["vpc9-external"]
    bogus = Finding("orphan-nb-lrp", "warning", "bogus", None, None, None,
                    (Ref("Logical_Router_Port", "ovn-cluster-external", uuid=gw["_uuid"]),), {})
    plan = plan_for(model, extra=[bogus])
    assert gates(plan)["orphan-nb-lrp Logical_Router_Port ovn-cluster-external"] == "protected"


def test_lrp_is_planned_with_its_router_type_peer(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=[])
    base(c, ["10.0.0.2"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    lrp = c.lrp("vpc9-external", "vpc9", ["172.30.0.77/24"])
    peer = c.lsp("external-vpc9", "external", ["router"], typ="router",
                 options={"router-port": "vpc9-external"})
    c.router("vpc9", ports=[lrp])
    c.switch("external", peer)
    c.add("vpcs.kubeovn.io", k8s("vpc9"))
    plan = plan_for(c.model(tmp_path))
    (a,) = plan.actions
    assert a.action == "delete-nb-lrp"
    assert [r["uuid"] for r in a.preconditions["rows"]] == [lrp["_uuid"], peer["_uuid"]]


def test_incomplete_scan_refuses_everything(tmp_path: Path) -> None:
    c = Cluster()
    base(c, ["10.0.0.2", "10.0.0.3"])
    c.ip_cr("ghost.ns1", "net1", "10.0.0.2", pod="ghost", ns="ns1")
    c.omit.add("vips.kubeovn.io")
    plan = plan_for(c.model(tmp_path))
    assert plan.actions == []
    assert set(gates(plan).values()) == {"incomplete-scan"}
    assert plan.refused


def test_max_actions_cuts_the_tail_and_says_so(tmp_path: Path) -> None:
    c = Cluster()
    base(c, [f"10.0.0.{i}" for i in range(20, 40)])
    for i in range(20, 40):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    for i in range(2, 7):
        c.ip_cr(f"ghost{i}.ns1", "net1", f"10.0.0.{100 + i}", pod=f"ghost{i}", ns="ns1")
    plan = plan_for(c.model(tmp_path), RepairPolicy(max_actions=3))
    assert [a.id for a in plan.actions] == ["A01", "A02", "A03"]
    assert [h.gate for h in plan.held].count("max-actions") == 2


def test_dangling_rule_is_deleted_only_when_its_eip_is_gone(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.5"])
    base(c, ["10.0.0.2"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    c.ovn_eip("eip1", "172.30.0.5")
    c.add("ovn-fips.kubeovn.io", k8s("gone-eip", resourceVersion="4",
                                     spec={"ovnEip": "nope"},
                                     status={"vpc": "vpc1", "v4Eip": "172.30.0.9"}))
    c.add("ovn-fips.kubeovn.io", k8s("moved-eip", spec={"ovnEip": "eip1"},
                                     status={"vpc": "vpc1", "v4Eip": "172.30.0.8"}))
    plan = plan_for(c.model(tmp_path))
    assert actions(plan) == [("delete-nat-cr", "gone-eip")]
    pre = plan.actions[0].preconditions
    assert pre["resourceVersion"] == "4" and pre["absent"] == [{"kind": "OvnEip",
                                                                "name": "nope"}]
    assert gates(plan)["dangling-eip-ref 172.30.0.8"] == "not-repairable"


def test_leak_with_an_nb_row_that_is_not_an_orphan_waits(tmp_path: Path) -> None:
    c = Cluster()
    base(c, [f"10.0.0.{i}" for i in range(20, 30)] + ["10.0.0.9"])
    for i in range(20, 30):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    # A third-party port carrying the leaked address: not provably Kube-OVN's, never deleted.
    foreign = c.nb_row("Logical_Switch_Port", name="foreign", addresses=["aa:bb 10.0.0.9"],
                       type="", external_ids={}, options={})
    c.nb_row("Logical_Switch", name="other", ports=[foreign["_uuid"]], external_ids={})
    plan = plan_for(c.model(tmp_path))
    assert plan.actions == []
    assert gates(plan) == {"leaked-ip 10.0.0.9": "nb-row-left"}


@pytest.mark.parametrize("eip_kind", ["IptablesEIP", "OvnEip"])
def test_resurrect_never_for_an_iptables_eip(tmp_path: Path, eip_kind: str) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.21"] +
             [f"172.30.0.{i}" for i in range(40, 50)])
    for i in range(40, 50):
        c.ovn_eip(f"e{i}", f"172.30.0.{i}")
    base(c, ["10.0.0.2"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    resource = "iptables-fip-rules.kubeovn.io" if eip_kind == "IptablesEIP" \
        else "ovn-fips.kubeovn.io"
    field = "eip" if eip_kind == "IptablesEIP" else "ovnEip"
    c.add(resource, k8s("rule", spec={field: "lost"}, status={}))
    log = tmp_path / "ctl.log"
    log.write_text("I0520 09:00:00.000000       1 ipam.go:70] allocate v4 172.30.0.21, v6 , "
                   "mac 8e:00:00:00:00:21 for lost from subnet external\n")
    model = build_model(load_snapshot(c.write(tmp_path / "s")),
                        allocations=read_controller_log(str(log)))
    kinds = [(a.action, a.target.kind) for a in plan_for(model).actions]
    if eip_kind == "IptablesEIP":
        assert ("resurrect", "IptablesEIP") not in kinds and ("resurrect", "OvnEip") not in kinds
        assert ("restart-controller", "Pod") in kinds
    else:
        assert ("resurrect", "OvnEip") in kinds


def test_plan_created_is_the_observation_time() -> None:
    model = example("healthy-cluster")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    plan = build_plan(model, [], RepairPolicy(), cluster={}, created=when, tool_version="t",
                      source="s", inconclusive=[])
    assert plan.created == when and plan.created + timedelta(0) == when


def test_leak_releases_wait_for_the_nb_deletes_of_their_addresses() -> None:
    plan = plan_for(example("leaky-cluster", "leaky-cluster-controller.log"))
    by_id = {a.id: a for a in plan.actions}
    resurrect = next(a for a in plan.actions if a.action == "resurrect")
    # 10.10.0.13 / fd00:10:10::d are carried by the orphan NAT row and vip-b's port.
    assert [by_id[i].target.name for i in resurrect.preconditions["after"]] == [
        "dnat_and_snat 172.30.0.13 -> 10.10.0.13", "vip-b"]
    restart = plan.actions[-1]
    assert restart.preconditions["after"] == []  # 172.30.0.21 has no NB row


def test_restart_waits_for_allocations_in_progress_anywhere(tmp_path: Path) -> None:
    c = Cluster()
    base(c, [f"10.0.0.{i}" for i in range(20, 30)] + ["10.0.0.9"])
    for i in range(20, 30):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    c.subnet("net2", "10.2.0.0/24", using=[])
    c.pod("starting", "ns2", "", "net2", allocated=False, phase="Pending")
    plan = plan_for(c.model(tmp_path))
    assert plan.actions == []
    assert gates(plan) == {"leaked-ip 10.0.0.9": "in-flight"}


def test_router_port_of_a_live_lrp_eip_is_left_to_a_human(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.3"])
    base(c, ["10.0.0.2"])
    c.pod("p", "ns1", "10.0.0.2", "net1")
    c.ovn_eip("vpc2-external", "172.30.0.3", typ="lrp")
    dangling = c.lsp("external-vpc2", "external", ["router"], typ="router",
                     options={"router-port": "vpc2-external"})
    gone = c.lsp("external-vpc3", "external", ["router"], typ="router",
                 options={"router-port": "vpc3-external"})
    c.switch("external", dangling, gone)
    plan = plan_for(c.model(tmp_path))
    assert actions(plan) == [("delete-nb-lsp", "external-vpc3")]
    assert [h.gate for h in plan.held if "external-vpc2" in h.subject] == ["owner-referenced"]


# -- every finding is accounted for (issue 15 item 1) -------------------------------------------


def _acts_on(a: Action, f: Finding) -> bool:
    ip = str(f.ip) if f.ip is not None else None
    if a.action == "restart-controller":
        return f.check == "leaked-ip" and {"subnet": f.subnet, "ip": ip} in \
            a.preconditions.get("leaks", [])
    if a.finding != f.check:
        return False
    if a.action == "resurrect":
        return a.preconditions.get("subnet") == f.subnet and ip in a.preconditions["addresses"]
    if a.action == "delete-nb-lb-vip":  # one finding per VIP of a load balancer
        return a.preconditions["vip"] == f.evidence.get("columns", {}).get("vip")
    subject = f.subjects[0] if f.subjects else None
    return subject is not None and (subject.uuid == a.target.uuid if a.action.startswith(
        "delete-nb-") else subject.name == a.target.name)


def _holds(h: Held, f: Finding) -> bool:
    ip = str(f.ip) if f.ip is not None else None
    return h.finding == f.check and h.ip == ip and h.subnet == f.subnet and (
        h.subject == ", ".join(map(str, f.subjects))
        or any(h.subject.endswith(s.name) for s in f.subjects))


def assert_partition(plan: Plan, findings: list[Finding]) -> None:
    """Every warning and error is an action or held (with a reason), never both, never
    neither."""
    def key(f: Finding) -> tuple[str, str, str]:
        return f.check, str(f.ip), ", ".join(map(str, f.subjects))

    alike = Counter(key(f) for f in findings)
    for f in findings:
        if f.severity == "info":
            continue
        acted = [a for a in plan.actions if _acts_on(a, f)]
        held = [h for h in plan.held if _holds(h, f)]
        assert acted or held, f"{f.check} {f.ip} {f.subjects}: neither an action nor held"
        if alike[key(f)] == 1:  # a held entry names no VIP: two VIPs of one LB look alike
            assert not (acted and held), f"{f.check} {f.ip}: both an action and held"
        assert all(h.reason for h in held)


POLICIES = [RepairPolicy(), ALL_ON, RepairPolicy(max_actions=2),
            RepairPolicy(allow_controller_restart=True, max_leak_ratio=1.0)]


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "all-on", "capped", "restart"])
@pytest.mark.parametrize(("name", "log"), [
    ("leaky-cluster", "leaky-cluster-controller.log"), ("leaky-cluster", None),
    ("healthy-cluster", None)])
def test_every_finding_is_an_action_or_held(name: str, log: str | None,
                                            policy: RepairPolicy) -> None:
    model = example(name, log)
    findings = run_checks(model).findings
    plan = plan_for(model, policy)
    assert_partition(plan, findings)
    if name == "leaky-cluster" and policy == RepairPolicy():
        # The ones the dry run used to leave out (issue 15 item 1).
        held = {(h.finding, h.ip) for h in plan.held}
        assert {("nb-address-drift", "172.30.0.14"), ("owner-ip-available", "172.30.0.30"),
                ("owner-ip-available", "fd00:10:10::32"),
                ("owner-ip-out-of-cidr", "172.31.0.5")} <= held


def test_an_incomplete_scan_holds_every_finding(tmp_path: Path) -> None:
    model = example("leaky-cluster")
    findings = run_checks(model).findings
    plan = build_plan(model, findings, ALL_ON, cluster={"uid": "u"}, created=datetime.now(UTC),
                      tool_version="t", source="live x", inconclusive=["pods: forbidden"])
    assert plan.actions == []
    assert_partition(plan, findings)
