"""leaked-ip, phantom-v6-restore, owner-ip-available, status-range-invalid,
status-count-mismatch: each with planted cases and negative controls."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from builders import Cluster, k8s

from eipfsck.checks.finding import Finding
from eipfsck.checks.runner import run_checks
from eipfsck.controller_log import parse_allocations
from eipfsck.model import Model, build_model
from eipfsck.repair.plan import Plan, RepairPolicy, build_plan
from eipfsck.snapshot import load_snapshot


def found(c: Cluster, tmp_path: Path, check: str) -> list[Finding]:
    return [f for f in run_checks(c.model(tmp_path)).findings if f.check == check]


def ips(fs: list[Finding]) -> list[str]:
    return [str(f.ip) for f in fs]


# -- leaked-ip --------------------------------------------------------------


def test_leak_is_an_address_in_use_that_nothing_claims(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    leaks = found(c, tmp_path, "leaked-ip")
    assert ips(leaks) == ["10.0.0.3"]
    ev = leaks[0].evidence
    assert ev["confirmed"] is False
    assert ev["status_range"] == {"field": "status.v4usingIPrange",
                                  "interval": "10.0.0.2-10.0.0.3"}
    assert "pods" in ev["owners_searched"] and "iptables-eips.kubeovn.io" in ev["owners_searched"]


def test_every_owner_kind_keeps_an_address_out_of_leaks(tmp_path: Path) -> None:
    c = Cluster()
    owned = [f"10.0.0.{i}" for i in range(2, 14)]
    c.subnet("net1", "10.0.0.0/24", using=owned)
    c.pod("a", "ns1", "10.0.0.2", "net1")  # alive pod
    c.pod("done", "ns1", "10.0.0.3", "net1", phase="Succeeded", restart="Never",
          owners=[("VirtualMachineInstance", "vm1")])  # a VM's stale pod (item 8)
    c.pod("req", "ns1", "10.0.0.4", "net1", allocated=False)  # in-flight static request
    c.ip_cr("db-0.ns1", "net1", "10.0.0.5", pod="db-0", ns="ns1", pod_type="StatefulSet")
    c.add("statefulsets.apps", k8s("db", "ns1", spec={"replicas": 1}))
    c.vip("vip1", "net1", "10.0.0.6")
    c.ovn_eip("eip1", "10.0.0.7", subnet="net1")
    c.add("iptables-eips.kubeovn.io", k8s("ipt1", labels={"ovn.kubernetes.io/subnet": "net1"},
                                          spec={"externalSubnet": "net1", "v4ip": "10.0.0.8"},
                                          status={"ip": "10.0.0.8", "ready": True}))
    c.add("nodes", k8s("node1", annotations={
        "ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": "10.0.0.9",
        "ovn.kubernetes.io/logical_switch": "net1"}))
    c.ip_cr("ghost.ns1", "net1", "10.0.0.10", pod="ghost", ns="ns1")  # orphan record
    c.add("vpc-nat-gateways.kubeovn.io", k8s("gw1", spec={"subnet": "net1",
                                                          "lanIp": "10.0.0.11"}))
    c.add("services", k8s("lb", "ns1", spec={"loadBalancerIP": "10.0.0.12"}))
    c.add("services", k8s("lb2", "ns1", spec={},
                          status={"loadBalancer": {"ingress": [{"ip": "10.0.0.13"}]}}))
    assert found(c, tmp_path, "leaked-ip") == []


def test_excluded_and_gateway_addresses_are_never_leaks(tmp_path: Path) -> None:
    c = Cluster()
    # An old controller (before v1.12.5) left excluded IPs in the using range.
    c.subnet("net1", "10.0.0.0/28", exclude=["10.0.0.1", "10.0.0.5..10.0.0.6"],
             status={"v4usingIPrange": "10.0.0.1,10.0.0.5-10.0.0.6",
                     "v4availableIPrange": "10.0.0.2-10.0.0.4,10.0.0.7-10.0.0.14",
                     "v4usingIPs": 0, "v4availableIPs": 11})
    assert found(c, tmp_path, "leaked-ip") == []


def test_claim_naming_a_missing_subnet_still_protects_its_address(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.ovn_eip("eip1", "10.0.0.2", subnet="gone-subnet")
    assert found(c, tmp_path, "leaked-ip") == []


def test_claim_of_another_subnet_does_not_hide_a_leak_in_an_overlapping_one(
        tmp_path: Path) -> None:
    # Custom VPCs reuse CIDRs: a pod in vpc2's subnet does not own vpc1's address.
    c = Cluster()
    c.subnet("vpc1-net", "10.0.1.0/24", using=["10.0.1.5"], vpc="vpc1")
    c.subnet("vpc2-net", "10.0.1.0/24", using=["10.0.1.5"], vpc="vpc2")
    c.pod("a", "ns2", "10.0.1.5", "vpc2-net")
    c.ip_cr("a.ns2", "vpc2-net", "10.0.1.5", pod="a", ns="ns2")
    leaks = found(c, tmp_path, "leaked-ip")
    assert [(f.subnet, str(f.ip)) for f in leaks] == [("vpc1-net", "10.0.1.5")]


def test_egress_gateway_ips_protect_only_the_gateways_vpc(tmp_path: Path) -> None:
    # Issue 11 item 7: an egress gateway of vpc1 asks for 10.0.1.9 without naming its
    # internal subnet (it defaults to vpc1's); vpc2 reuses the CIDR and leaked 10.0.1.9.
    c = Cluster()
    c.subnet("vpc1-net", "10.0.1.0/24", using=["10.0.1.9"], vpc="vpc1")
    c.subnet("vpc2-net", "10.0.1.0/24", using=["10.0.1.9"], vpc="vpc2")
    c.subnet("ext", "172.30.0.0/24", using=["172.30.0.9"], vpc="vpc2")
    c.add("vpc-egress-gateways.kubeovn.io", k8s("egw", "ns1", spec={
        "vpc": "vpc1", "externalSubnet": "ext", "internalIPs": ["10.0.1.9"],
        "externalIPs": ["172.30.0.9"]}))
    leaks = found(c, tmp_path, "leaked-ip")
    # The leak in vpc2 shows; the gateway's own VPC and its named external subnet stay
    # protected (negative controls).
    assert [(f.subnet, str(f.ip)) for f in leaks] == [("vpc2-net", "10.0.1.9")]


def test_completed_pod_keeps_nothing(tmp_path: Path) -> None:
    # Issue 11 item 8: a Job pod completed and its address was released (pod.go); the
    # address was handed out again and leaked. The Job pod's leftover annotation must not
    # hide that leak.
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.5", "10.0.0.6", "10.0.0.7"])
    c.pod("job-x", "ns1", "10.0.0.5", "net1", phase="Succeeded", restart="Never")
    # Negative controls: a dead StatefulSet pod and a dead VM pod keep their addresses.
    c.pod("db-0", "ns1", "10.0.0.6", "net1", phase="Failed", restart="Never",
          owners=[("StatefulSet", "db")])
    c.pod("virt-launcher-vm1-x", "ns1", "10.0.0.7", "net1", phase="Succeeded",
          restart="Never", owners=[("VirtualMachineInstance", "vm1")])
    assert ips(found(c, tmp_path, "leaked-ip")) == ["10.0.0.5"]


def test_ipv6_slash_64_leak_costs_nothing_and_is_reported(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("v6", "fd00:20::/64", gateway="fd00:20::1",
             status={"v6usingIPrange": "fd00:20::5,fd00:20::9",
                     "v6availableIPrange": "fd00:20::2-fd00:20::4,fd00:20::6-fd00:20::8,"
                                           "fd00:20::a-fd00:20::ffff:ffff:ffff:fffe",
                     "v6usingIPs": 1, "v6availableIPs": 1.8446744073709552e+19,
                     "v4usingIPrange": "", "v4availableIPrange": ""})
    c.pod("a", "ns1", "fd00:20::5", "v6")
    c.ip_cr("a.ns1", "v6", "fd00:20::5", pod="a", ns="ns1")
    assert ips(found(c, tmp_path, "leaked-ip")) == ["fd00:20::9"]
    assert found(c, tmp_path, "status-range-invalid") == []


def test_huge_unowned_range_is_summarised_not_enumerated(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("v6", "fd00:20::/64", gateway="fd00:20::1",
             status={"v6usingIPrange": "fd00:20::2-fd00:20::ffff:ffff:ffff:fffe",
                     "v6availableIPrange": "", "v6usingIPs": 0, "v6availableIPs": 0})
    leaks = found(c, tmp_path, "leaked-ip")
    assert len(leaks) == 257  # 256 listed, then one summary by range
    summary = [f for f in leaks if f.ip is None]
    assert summary[0].evidence["count"] == 2**64 - 3 - 256


def test_leak_names_its_former_owner_from_the_controller_log(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.21"])
    snap = load_snapshot(c.write(tmp_path))
    log = ["I0822 10:11:12.000001       1 ipam.go:70] allocate v4 172.30.0.21, v6 , mac "
           "8e:00:00:00:00:21 for ipt-eip-2 from subnet external"]
    model = build_model(snap, allocations=parse_allocations(log, "ctl.log"))
    (leak,) = [f for f in run_checks(model).findings if f.check == "leaked-ip"]
    assert leak.evidence["ipam_key"] == "ipt-eip-2"
    assert "ipt-eip-2" in leak.evidence["former_owner"]


_WEB_ALLOC = ("I1207 06:40:01.000001       1 ipam.go:61] allocate v4 172.30.0.21, v6 , mac "
              "8e:00:00:00:00:21 for ns1/web-0 from subnet external")


def _release(key: str = "ns1/web-0", subnet: str = "external", ip: str = "172.30.0.21",
             mac: str = "8e:00:00:00:00:21") -> str:
    # As pkg/ipam/subnet.go releaseAddr logs it (v1.12 to v1.16).
    return (f"I1207 06:40:09.000002       1 subnet.go:569] release v4 {ip} mac {mac} from "
            f"subnet {subnet} for {key}, add ip to released list")


def test_a_leak_says_when_the_log_shows_its_address_released(tmp_path: Path) -> None:
    # v1.14.10's handleDeletePod can publish the status between deleting the pod's IP CR and
    # releasing its address: the using range keeps it. Still reported, with the release.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.21"])
    (leak,) = _leaks_with_log(c, tmp_path, [_WEB_ALLOC, _release()])
    assert leak.severity == "error"
    assert leak.evidence["released_in_log"] == {"line": 2, "time": "1207 06:40:09.000002"}
    assert "released after that (line 2)" in leak.message


@pytest.mark.parametrize("log", [
    [_WEB_ALLOC, _release(key="ns1/web-1")],            # another key released it
    [_release(), _WEB_ALLOC],                           # released, then allocated again
    [_WEB_ALLOC, _release(subnet="other")],             # another subnet's address
    [_WEB_ALLOC, _release(ip="172.30.0.22")],           # another address
    [_WEB_ALLOC, "I1207 06:40:09.000002       1 ipam.go:90] release v4 172.30.0.21 "
                 "for ns1/web-0"],                      # before v1.11: no subnet, unusable
])
def test_a_leak_shows_no_release_the_log_does_not_make(tmp_path: Path,
                                                       log: list[str]) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.21"])
    (leak,) = _leaks_with_log(c, tmp_path, log)
    assert leak.evidence["ipam_key"] == "ns1/web-0"
    assert "released_in_log" not in leak.evidence
    assert "released after" not in leak.message


def _pending_iptables_eip(c: Cluster, name: str = "eip-stuck", subnet: str = "external",
                          status: dict[str, object] | None = None) -> None:
    # As v1.14.10 leaves it while its NAT gateway refuses eip-add: no status, no spec address,
    # no labels, no finalizer (tests/live/test_controller_iptables_eip.py).
    c.add("iptables-eips.kubeovn.io", k8s(name, spec={"natGwDp": "gw1",
                                                      "externalSubnet": subnet},
                                          status=status or {}))


_STUCK_LOG = ["I1207 06:48:35.308814   26522 ipam.go:61] allocate v4 172.30.0.13, v6 , mac "
              "3e:e6:18:fe:76:de for eip-stuck from subnet external"]


def _leaks_with_log(c: Cluster, tmp_path: Path, log: list[str]) -> list[Finding]:
    model = build_model(load_snapshot(c.write(tmp_path)),
                        allocations=parse_allocations(log, "ctl.log"))
    return [f for f in run_checks(model).findings if f.check == "leaked-ip"]


def test_pending_eips_allocation_from_the_log_is_in_flight_not_leaked(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"])
    _pending_iptables_eip(c)
    assert _leaks_with_log(c, tmp_path, _STUCK_LOG) == []
    model = build_model(load_snapshot(c.write(tmp_path)),
                        allocations=parse_allocations(_STUCK_LOG, "ctl.log"))
    (claim,) = [x for x in model.inventory.claims if str(x.address) == "172.30.0.13"]
    assert (claim.role, str(claim.ref), claim.key) == ("inflight", "IptablesEIP eip-stuck",
                                                       "eip-stuck")
    assert claim.field == "controller log ctl.log:1"


def test_pending_eips_allocation_negative_controls(tmp_path: Path) -> None:
    # Without the log nothing says which address is the EIP's: still a leak candidate
    # (and repair holds the subnet: it has an allocation in flight).
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"])
    _pending_iptables_eip(c)
    assert ips(found(c, tmp_path, "leaked-ip")) == ["172.30.0.13"]
    # The log's key is no pending object: the EIP was deleted while pending.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"])
    assert ips(_leaks_with_log(c, tmp_path / "gone", _STUCK_LOG)) == ["172.30.0.13"]
    # An EIP of that name exists in another subnet only.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"])
    c.subnet("other", "172.31.0.0/24")
    _pending_iptables_eip(c, subnet="other")
    assert ips(_leaks_with_log(c, tmp_path / "other", _STUCK_LOG)) == ["172.30.0.13"]
    # The EIP of that name has its own address: the logged one is not in flight.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13", "172.30.0.14"])
    _pending_iptables_eip(c, status={"ip": "172.30.0.14", "ready": True})
    assert ips(_leaks_with_log(c, tmp_path / "own", _STUCK_LOG)) == ["172.30.0.13"]
    # Its delete handler ran after the allocation: that name's former object held it, and a
    # new object of the same name has not been given an address yet.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"])
    _pending_iptables_eip(c)
    log = [*_STUCK_LOG, "I1207 06:49:00.000000   26522 vpc_nat_gw_eip.go:337] handle delete "
           "iptables eip eip-stuck"]
    assert ips(_leaks_with_log(c, tmp_path / "deleted", log)) == ["172.30.0.13"]


def test_pending_eips_allocation_is_a_legitimate_count_delta(tmp_path: Path) -> None:
    # usingIPs selects IptablesEIPs by the subnet label their add handler writes with the
    # status: the allocation in flight is in the using range but not in the count.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"], count=0)
    _pending_iptables_eip(c)
    model = build_model(load_snapshot(c.write(tmp_path)),
                        allocations=parse_allocations(_STUCK_LOG, "ctl.log"))
    assert [f.check for f in run_checks(model).findings
            if f.severity in ("warning", "error")] == []
    # Negative control: a live pod (its IP CR deleted) on that address is an owner the count
    # leaves out, and that is said.
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.13"], count=0)
    c.pod("a", "ns1", "172.30.0.13", "external")
    model = build_model(load_snapshot(c.write(tmp_path / "pod")),
                        allocations=parse_allocations(_STUCK_LOG, "ctl.log"))
    (mismatch,) = [f for f in run_checks(model).findings if f.check == "status-count-mismatch"]
    assert [(d["ip"], d["reason"]) for d in mismatch.evidence["delta"]] == [
        ("172.30.0.13", "held by an owner the count does not include")]


def test_pending_static_ip_pod_is_the_leaks_victim_not_its_owner(tmp_path: Path) -> None:
    # Issue 11 item 6: "my static-IP pod won't start". 10.0.0.7 is held under a leaked key;
    # the pod asking for it gets ErrConflict and stays Pending.
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2", "10.0.0.7"])
    c.pod("live", "ns1", "10.0.0.2", "net1")
    c.pod("static-web", "ns1", "10.0.0.7", "net1", allocated=False, phase="Pending")
    (leak,) = found(c, tmp_path, "leaked-ip")
    assert str(leak.ip) == "10.0.0.7" and "blocks Pod ns1/static-web" in leak.message
    assert [b["name"] for b in leak.evidence["blocked_requests"]] == ["static-web"]
    assert leak.evidence["confirmed"] is False  # one scan: it could be an allocation in flight


def test_pending_static_ip_pod_negative_controls(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2"])
    # Its address is free (not in use): a request waiting to be served, not a victim.
    c.pod("waiting", "ns1", "10.0.0.8", "net1", allocated=False, phase="Pending")
    # Its address is a live pod's: a conflict with an owner, not a leak.
    c.pod("live", "ns1", "10.0.0.2", "net1")
    c.pod("copycat", "ns1", "10.0.0.2", "net1", allocated=False, phase="Pending")
    assert found(c, tmp_path, "leaked-ip") == []


# -- phantom-v6-restore -----------------------------------------------------


def _dual(c: Cluster, using: list[str]) -> None:
    c.subnet("dual", "10.10.0.0/24,fd00:10:10::/120", gateway="10.10.0.1,fd00:10:10::1",
             using=using)


def test_phantom_v6_is_paired_with_the_half_restored_vip(tmp_path: Path) -> None:
    c = Cluster()
    _dual(c, ["10.10.0.50", "fd00:10:10::2", "fd00:10:10::d"])
    c.vip("vip-a", "dual", "10.10.0.50", "fd00:10:10::32")
    phantoms = found(c, tmp_path, "phantom-v6-restore")
    assert ips(phantoms) == ["fd00:10:10::2"]
    assert phantoms[0].evidence["paired_owner"]["name"] == "vip-a"
    # The other unowned IPv6 is a leak, not a second phantom.
    assert ips(found(c, tmp_path, "leaked-ip")) == ["fd00:10:10::d"]
    # Negative: the same subnet without a half-restored owner has two leaks, no phantom.
    c2 = Cluster()
    _dual(c2, ["10.10.0.50", "fd00:10:10::2", "fd00:10:10::d", "fd00:10:10::32"])
    c2.vip("vip-a", "dual", "10.10.0.50", "fd00:10:10::32")
    assert found(c2, tmp_path / "2", "phantom-v6-restore") == []
    assert ips(found(c2, tmp_path / "2", "leaked-ip")) == ["fd00:10:10::2", "fd00:10:10::d"]


# -- phantom-ip (issue 11 items 2-3) ----------------------------------------


def _plan(model: Model) -> Plan:
    policy = RepairPolicy(max_actions=1000, max_leak_ratio=1.0, allow_controller_restart=True,
                          ack_hazards=True, allow_resurrect=True)
    return build_plan(model, run_checks(model).findings, policy, cluster={"uid": "u"},
                      created=datetime.now(UTC), tool_version="t", source="test",
                      inconclusive=[])


def test_phantom_under_a_live_key_is_reported_as_such_and_never_released(
        tmp_path: Path) -> None:
    c = Cluster()
    # A pod asking for IPv4 only, and a Vip created before the subnet got its IPv6 CIDR: at
    # every leader start each gets the lowest free IPv6 under its key (::2 and ::3).
    _dual(c, ["10.10.0.10", "10.10.0.50", "fd00:10:10::2", "fd00:10:10::3"])
    c.pod("v4only", "ns1", "10.10.0.10", "dual",
          extra_annotations={"ovn.kubernetes.io/ip_family": "ipv4"})
    c.vip("vip-old", "dual", "10.10.0.50")
    model = c.model(tmp_path)
    fs = [f for f in run_checks(model).findings if f.check.startswith(("phantom", "leaked"))]
    assert [(f.check, f.severity, str(f.ip), f.subjects[0].name) for f in fs] == [
        ("phantom-ip", "warning", "fd00:10:10::2", "v4only"),
        ("phantom-ip", "warning", "fd00:10:10::3", "vip-old")]
    assert fs[0].evidence["owner_ipam_key"] == "ns1/v4only"
    assert "ip_family" in fs[0].evidence["why_phantom"]
    assert "pairing_ambiguous" not in fs[0].evidence
    plan = _plan(model)
    assert plan.actions == []
    assert {(h.finding, h.gate) for h in plan.held
            if h.finding.startswith("phantom")} == {("phantom-ip", "not-repairable")}


def test_phantom_negative_control_two_families_or_single_stack(tmp_path: Path) -> None:
    # The same addresses with owners that bring both families: the unowned IPv6 is a leak.
    c = Cluster()
    _dual(c, ["10.10.0.10", "fd00:10:10::a", "fd00:10:10::2"])
    c.pod("both", "ns1", "10.10.0.10,fd00:10:10::a", "dual")
    assert [(f.check, str(f.ip)) for f in run_checks(c.model(tmp_path)).findings
            if f.check.startswith(("phantom", "leaked"))] == [("leaked-ip", "fd00:10:10::2")]
    # A one-family pod in a single-stack subnet has no phantom: its neighbour is a leak.
    c2 = Cluster()
    c2.subnet("v4", "10.20.0.0/24", using=["10.20.0.10", "10.20.0.11"])
    c2.pod("p", "ns1", "10.20.0.10", "v4",
           extra_annotations={"ovn.kubernetes.io/ip_family": "ipv4"})
    assert [(f.check, str(f.ip)) for f in run_checks(c2.model(tmp_path / "2")).findings
            if f.check.startswith(("phantom", "leaked"))] == [("leaked-ip", "10.20.0.11")]


def _half_restored_with_lower_leak(c: Cluster) -> None:
    # vip-a's phantom is ::5; ::2 was handed out later to gone-vip, whose finalizer was
    # stripped: the lowest unowned address is a leak, not the phantom.
    _dual(c, ["10.10.0.50", "fd00:10:10::2", "fd00:10:10::5"])
    c.vip("vip-a", "dual", "10.10.0.50", "fd00:10:10::32")


_LOG = [
    "I0512 06:03:19.904480 1 ipam.go:163] allocate v4 10.10.0.50, v6 fd00:10:10::5, mac "
    "00:00:00:cc:00:32 for vip-a from subnet dual",
    "I0513 10:00:00.000000 1 ipam.go:70] allocate v4 10.10.0.9, v6 fd00:10:10::2, mac "
    "00:00:00:cc:00:09 for gone-vip from subnet dual",
]


def test_phantom_pairing_follows_the_controller_log(tmp_path: Path) -> None:
    c = Cluster()
    _half_restored_with_lower_leak(c)
    model = build_model(load_snapshot(c.write(tmp_path)),
                        allocations=parse_allocations(_LOG, "ctl.log"))
    fs = {f.check: f for f in run_checks(model).findings
          if f.check in ("phantom-v6-restore", "leaked-ip")}
    assert str(fs["phantom-v6-restore"].ip) == "fd00:10:10::5"
    assert fs["phantom-v6-restore"].evidence["paired_by"] == "log"
    assert str(fs["leaked-ip"].ip) == "fd00:10:10::2"
    assert fs["leaked-ip"].evidence["ipam_key"] == "gone-vip"
    assert "pairing_ambiguous" not in fs["leaked-ip"].evidence
    # The leak the log names is a leak like any other: not held as a possible phantom.
    assert "owner-referenced" not in {h.gate for h in _plan(model).held
                                      if h.finding == "leaked-ip"}


def test_ambiguous_phantom_pairing_without_a_log_holds_every_candidate(tmp_path: Path) -> None:
    c = Cluster()
    _half_restored_with_lower_leak(c)
    model = c.model(tmp_path)
    fs = {f.check: f for f in run_checks(model).findings
          if f.check in ("phantom-v6-restore", "leaked-ip")}
    # Lowest-first is InitIPAM's rule, but a leak may be lower: both are flagged a guess.
    assert str(fs["phantom-v6-restore"].ip) == "fd00:10:10::2"
    assert str(fs["leaked-ip"].ip) == "fd00:10:10::5"
    assert "controller-log" in fs["leaked-ip"].evidence["pairing_ambiguous"]
    assert "pairing_ambiguous" in fs["phantom-v6-restore"].evidence
    plan = _plan(model)
    assert not [a for a in plan.actions if a.action in ("resurrect", "restart-controller")]
    assert [(h.gate, str(h.ip)) for h in plan.held if h.finding == "leaked-ip"] == [
        ("owner-referenced", "fd00:10:10::5")]


# -- owner-ip-available -----------------------------------------------------


def test_owner_ip_available_with_its_cause(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=[])
    c.ovn_eip("eip-avail", "172.30.0.30", spec_subnet="")  # not restored at leader start
    (f,) = found(c, tmp_path, "owner-ip-available")
    assert str(f.ip) == "172.30.0.30"
    assert any("spec.externalSubnet is empty" in cause for cause in f.evidence["causes"])


def test_pod_that_took_over_a_vip_is_a_hazard_only_while_its_ip_is_available(
        tmp_path: Path) -> None:
    def cluster(using: list[str]) -> Cluster:
        c = Cluster()
        c.subnet("net1", "10.16.0.0/24", using=using)
        c.vip("vip-web", "net1", "10.16.0.20", reserved="web-2.ns1", namespace="ns1")
        c.pod("web-2", "ns1", "10.16.0.20", "net1",
              extra_annotations={"ovn.kubernetes.io/vip": "vip-web"})
        c.ip_cr("web-2.ns1", "net1", "10.16.0.20", pod="web-2", ns="ns1")
        return c

    (f,) = found(cluster([]), tmp_path / "a", "owner-ip-available")
    assert any("took over Vip vip-web" in cause for cause in f.evidence["causes"])
    # After a leader restart the pod's IP is filed (pods before Vips): healthy.
    healthy = run_checks(cluster(["10.16.0.20"]).model(tmp_path / "b")).findings
    assert [x.check for x in healthy if x.severity != "info"] == []


def test_overlapping_subnet_owner_is_not_owner_ip_available_elsewhere(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("vpc1-net", "10.0.1.0/24", using=[], vpc="vpc1")
    c.subnet("vpc2-net", "10.0.1.0/24", using=["10.0.1.5"], vpc="vpc2")
    # An OvnEip naming a missing subnet protects its address everywhere, but is
    # nobody's owner in vpc1-net, where the address is marked available.
    c.ovn_eip("e", "10.0.1.7", subnet="gone")
    c.pod("a", "ns2", "10.0.1.5", "vpc2-net")
    assert found(c, tmp_path, "owner-ip-available") == []
    c.ovn_eip("mine", "10.0.1.9", subnet="vpc1-net")
    assert ips(found(c, tmp_path / "2", "owner-ip-available")) == ["10.0.1.9"]


def test_orphan_record_on_an_available_ip_is_not_owner_ip_available(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=[])
    c.ip_cr("ghost.ns1", "net1", "10.0.0.12", pod="ghost", ns="ns1")
    checks = {f.check for f in run_checks(c.model(tmp_path)).findings}
    assert "owner-ip-available" not in checks
    assert "orphan-ip-cr" in checks


def test_dead_pod_on_an_available_ip_is_not_owner_ip_available(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=[])
    c.pod("job-x", "ns1", "10.0.0.3", "net1", phase="Succeeded", restart="Never",
          owners=[("Job", "job")])
    assert run_checks(c.model(tmp_path)).findings == []


# -- status-range-invalid ---------------------------------------------------


def test_unparsable_and_inconsistent_ranges(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("bad", "10.0.0.0/28", status={"v4usingIPrange": "10.0.0.2-garbage",
                                           "v4availableIPrange": ""})
    c.subnet("overlap", "10.0.1.0/28", status={
        "v4usingIPrange": "10.0.1.2-10.0.1.5", "v4availableIPrange": "10.0.1.5-10.0.1.14"})
    c.subnet("gap", "10.0.2.0/28", status={
        "v4usingIPrange": "10.0.2.2", "v4availableIPrange": "10.0.2.4-10.0.2.14"})
    c.subnet("outside", "10.0.3.0/28", status={
        "v4usingIPrange": "10.0.9.9", "v4availableIPrange": "10.0.3.2-10.0.3.14"})
    c.subnet("cidr", "10.0.4.0/33", gateway="10.0.4.1", status={})
    c.subnet("fine", "10.0.5.0/28", using=["10.0.5.3"])
    c.ip_cr("x.ns1", "fine", "10.0.5.3", pod="x", ns="ns1")
    c.pod("x", "ns1", "10.0.5.3", "fine")
    by_subnet = {f.subnet: f for f in found(c, tmp_path, "status-range-invalid")}
    assert set(by_subnet) == {"bad", "overlap", "gap", "outside", "cidr"}
    assert "garbage" in by_subnet["bad"].message
    assert by_subnet["overlap"].evidence["overlap"] == "10.0.1.5"
    assert by_subnet["gap"].evidence["missing"] == "10.0.2.3"
    # The other subnets are still checked.
    assert found(c, tmp_path, "leaked-ip") == []


# -- status-count-mismatch --------------------------------------------------


def test_stale_count_against_the_object_recount(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"], count=4)
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    stale = [f for f in found(c, tmp_path, "status-count-mismatch") if "stale" in f.message]
    assert {f.evidence["field"] for f in stale} == {"status.v4usingIPs",
                                                    "status.v4availableIPs"}


def test_count_delta_explained_only_by_excluded_owner_is_legitimate(tmp_path: Path) -> None:
    # An EIP inside excludeIps is held, counted, invisible (seen on real clusters).
    c = Cluster()
    c.subnet("ext", "172.30.0.0/24", exclude=["172.30.0.1", "172.30.0.200..172.30.0.254"],
             using=[], count=1)
    c.ovn_eip("eip-excl", "172.30.0.201", subnet="ext")
    assert found(c, tmp_path, "status-count-mismatch") == []


def test_count_delta_with_anomalies_lists_them(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("ext", "172.30.0.0/24", using=["172.30.0.5", "172.30.0.21"], count=3)
    c.ovn_eip("e1", "172.30.0.5", subnet="ext")
    c.ovn_eip("e2", "172.30.0.30", subnet="ext", spec_subnet="")
    c.ovn_eip("e3", "172.30.0.31", subnet="ext", spec_subnet="")
    (f,) = [x for x in found(c, tmp_path, "status-count-mismatch") if "holds" in x.message]
    deltas = {(d["delta"], d["ip"]) for d in f.evidence["delta"]}
    assert deltas == {("+1", "172.30.0.30"), ("+1", "172.30.0.31"), ("-1", "172.30.0.21")}


def test_counts_equal_to_the_range_hide_cancelling_anomalies(tmp_path: Path) -> None:
    # examples/leaky-cluster vpc1-net1: a heuristic only; the other checks still fire.
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"], count=2)
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("ghost.ns1", "net1", "10.0.0.9", pod="ghost", ns="ns1")
    assert found(c, tmp_path, "status-count-mismatch") == []
    assert ips(found(c, tmp_path, "leaked-ip")) == ["10.0.0.3"]


def test_float_count_of_a_slash_64_is_not_a_mismatch(tmp_path: Path) -> None:
    c = Cluster(version="v1.15.4")
    c.subnet("v6", "fd00:20::/64", gateway="fd00:20::1",
             status={"v6usingIPrange": "fd00:20::5",
                     "v6availableIPrange": "fd00:20::2-fd00:20::4,"
                                           "fd00:20::6-fd00:20::ffff:ffff:ffff:fffe",
                     "v6usingIPs": 1, "v6availableIPs": 1.8446744073709552e+19})
    c.pod("a", "ns1", "fd00:20::5", "v6")
    c.ip_cr("a.ns1", "v6", "fd00:20::5", pod="a", ns="ns1")
    assert run_checks(c.model(tmp_path)).findings == []


def _v14_ovn_eips(c: Cluster, leak: bool = False) -> None:
    """Issue 11 item 5: a v1.14 controller counts no OvnEip on a vlan-less subnet, so the
    using range holds them while usingIPs is 0 (seen on a genuine v1.14.10)."""
    using = ["172.30.0.5", "172.30.0.6"] + (["172.30.0.21"] if leak else [])
    c.subnet("external", "172.30.0.0/24", using=using, count=0)
    c.ovn_eip("eip-a", "172.30.0.5")
    c.ovn_eip("eip-b", "172.30.0.6")


def test_count_rules_by_version(tmp_path: Path) -> None:
    for i, version in enumerate(("v1.14.10", "")):  # v1.14 known, or no version at all
        c = Cluster(version=version)
        _v14_ovn_eips(c)
        assert found(c, tmp_path / str(i), "status-count-mismatch") == [], version
    # Negative control: a v1.15 controller counts them, so 0 is a stale count.
    c = Cluster(version="v1.15.0")
    _v14_ovn_eips(c)
    fs = found(c, tmp_path / "v15", "status-count-mismatch")
    assert any("stale" in f.message and f.evidence["recount"] == {"label/v1.15": 2}
               for f in fs)


def test_uncounted_v14_eips_are_legitimate_in_the_range_delta(tmp_path: Path) -> None:
    # v1.14 counts no OvnEip here; beside them, a leak is the only address the count leaves
    # out, and leaked-ip reports it: the range delta is not a second finding for the same
    # problem (the seed incident on a genuine v1.14.10: exactly one finding).
    c = Cluster(version="v1.14.10")
    _v14_ovn_eips(c, leak=True)
    assert found(c, tmp_path / "leak", "status-count-mismatch") == []
    assert ips(found(c, tmp_path / "leak", "leaked-ip")) == ["172.30.0.21"]
    # Negative control: the same address held by a live pod that has no IP CR is one the
    # count does not include, and the delta says so; the EIPs stay legitimate.
    c = Cluster(version="v1.14.10")
    _v14_ovn_eips(c, leak=True)
    c.pod("p", "ns1", "172.30.0.21", "external")
    (f,) = found(c, tmp_path / "pod", "status-count-mismatch")
    delta = {d["ip"]: (d["legitimate"], d["reason"]) for d in f.evidence["delta"]}
    assert delta == {"172.30.0.5": (True, "held but not counted by the v1.14 rules"),
                     "172.30.0.6": (True, "held but not counted by the v1.14 rules"),
                     "172.30.0.21": (False, "held by an owner the count does not include")}


def _leader(c: Cluster, image: str, deployment_image: str, labels: dict[str, str]) -> None:
    c.add("leases.coordination.k8s.io", k8s("kube-ovn-controller", "kube-system",
                                            spec={"holderIdentity": "kube-ovn-controller-x"}))
    c.add("deployments.apps", k8s("kube-ovn-controller", "kube-system", labels=labels, spec={
        "template": {"spec": {"containers": [{"name": "kube-ovn-controller",
                                              "image": deployment_image}]}}}))
    c.add("pods", k8s("kube-ovn-controller-x", "kube-system", spec={
        "containers": [{"name": "kube-ovn-controller", "image": image}]},
        status={"phase": "Running"}))


def test_version_from_the_leader_pod_then_the_version_label(tmp_path: Path) -> None:
    c = Cluster(version="")
    c.subnet("net1", "10.0.0.0/28")
    _leader(c, "kubeovn/kube-ovn:v1.14.10", "kubeovn/kube-ovn@sha256:" + "0" * 64, {})
    model = c.model(tmp_path / "1")
    assert (str(model.version), model.version_source) == (
        "kubeovn/kube-ovn:v1.14.10"[-8:], "leader pod kube-system/kube-ovn-controller-x "
        "image tag")
    c = Cluster(version="")
    c.subnet("net1", "10.0.0.0/28")
    _leader(c, "kubeovn/kube-ovn:latest", "kubeovn/kube-ovn:latest",
            {"app.kubernetes.io/version": "v1.15.3"})
    model = c.model(tmp_path / "2")
    assert (str(model.version), model.version_source) == (
        "v1.15.3", "kube-ovn-controller Deployment label app.kubernetes.io/version")
    # Negative control: nothing names a version.
    c = Cluster(version="")
    c.subnet("net1", "10.0.0.0/28")
    _leader(c, "kubeovn/kube-ovn:latest", "kubeovn/kube-ovn:latest", {})
    model = c.model(tmp_path / "3")
    assert (model.version, model.version_source) == (None, "unknown")
