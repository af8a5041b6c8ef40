"""double-claim, orphan-ip-cr, dangling-eip-ref, terminating-owner, owner-ip-out-of-cidr,
owner-ip-excluded, restore-hazard, subnet-ref-invalid, lsp-eip-not-node."""

from __future__ import annotations

from pathlib import Path

from builders import Cluster, k8s

from eipfsck.checks.finding import Finding
from eipfsck.checks.runner import run_checks


def found(c: Cluster, tmp_path: Path, check: str) -> list[Finding]:
    return [f for f in run_checks(c.model(tmp_path)).findings if f.check == check]


def names(fs: list[Finding]) -> list[list[str]]:
    return [sorted(s.name for s in f.subjects) for f in fs]


# -- double-claim -----------------------------------------------------------


def test_two_owners_with_different_keys(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.10"])
    c.ovn_eip("eip-fip-a", "172.30.0.10", spec_subnet="")
    c.ovn_eip("eip-dup", "172.30.0.10")
    (f,) = found(c, tmp_path, "double-claim")
    assert str(f.ip) == "172.30.0.10" and f.evidence["ipam_keys"] == ["eip-dup", "eip-fip-a"]


def test_legitimate_pairs_are_not_double_claims(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.16.0.0/24", using=["10.16.0.10", "10.16.0.20", "10.16.0.30"])
    # A pod and its own IP CR share the key <ns>/<pod>.
    c.pod("web-1", "ns1", "10.16.0.10", "net1")
    c.ip_cr("web-1.ns1", "net1", "10.16.0.10", pod="web-1", ns="ns1")
    # A Vip taken over by a pod (ip_reserved=<port>).
    c.vip("vip-web", "net1", "10.16.0.20", reserved="web-2.ns1", namespace="ns1")
    c.pod("web-2", "ns1", "10.16.0.20", "net1")
    # A KubeVirt live migration: two virt-launcher pods of one VM, key <ns>/<vm>.
    for pod in ("virt-launcher-vm1-aaaaa", "virt-launcher-vm1-bbbbb"):
        c.pod(pod, "ns1", "10.16.0.30", "net1", owners=[("VirtualMachineInstance", "vm1")])
    c.ip_cr("vm1.ns1", "net1", "10.16.0.30", pod="vm1", ns="ns1", pod_type="VirtualMachine")
    c.add("virtualmachines.kubevirt.io", k8s("vm1", "ns1", spec={"running": True}))
    assert found(c, tmp_path, "double-claim") == []


def test_orphan_record_and_new_pod_on_one_ip_is_a_double_claim(tmp_path: Path) -> None:
    # #4304: a pod deleted while the controller was down, its IP handed out again.
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.5"])
    c.ip_cr("ghost.ns1", "net1", "10.0.0.5", pod="ghost", ns="ns1")
    c.pod("new", "ns1", "10.0.0.5", "net1")
    c.ip_cr("new.ns1", "net1", "10.0.0.5", pod="new", ns="ns1")
    (f,) = found(c, tmp_path, "double-claim")
    assert f.evidence["ipam_keys"] == ["ns1/ghost", "ns1/new"]


def test_dead_pod_and_new_owner_of_its_released_ip_is_not_a_double_claim(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.5"])
    c.pod("job", "ns1", "10.0.0.5", "net1", phase="Succeeded", restart="Never")
    c.pod("new", "ns1", "10.0.0.5", "net1")
    c.ip_cr("new.ns1", "net1", "10.0.0.5", pod="new", ns="ns1")
    assert found(c, tmp_path, "double-claim") == []


# -- orphan-ip-cr -----------------------------------------------------------


def test_orphan_ip_cr_rules(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5",
                                           "10.0.0.6", "10.0.0.7", "10.0.0.8"])
    c.add("statefulsets.apps", k8s("db", "ns1", spec={"replicas": 1}))
    c.add("virtualmachines.kubevirt.io", k8s("vm1", "ns1", spec={"runStrategy": "Halted"}))
    c.add("nodes", k8s("node1"))
    c.pod("live", "ns1", "10.0.0.2", "net1")
    c.ip_cr("live.ns1", "net1", "10.0.0.2", pod="live", ns="ns1")          # owned
    c.ip_cr("db-0.ns1", "net1", "10.0.0.3", pod="db-0", ns="ns1",
            pod_type="StatefulSet")                                         # sts exists
    c.ip_cr("vm1.ns1", "net1", "10.0.0.4", pod="vm1", ns="ns1",
            pod_type="VirtualMachine")                                      # stopped VM
    c.node_ip_cr("node1", "net1", "10.0.0.5")                             # node exists
    c.ip_cr("ghost.ns1", "net1", "10.0.0.6", pod="ghost", ns="ns1")        # orphan
    c.ip_cr("old-0.ns1", "net1", "10.0.0.7", pod="old-0", ns="ns1",
            pod_type="StatefulSet")                                         # sts gone
    c.node_ip_cr("gone", "net1", "10.0.0.8")                              # node gone
    fs = found(c, tmp_path, "orphan-ip-cr")
    assert sorted(names(fs)) == [["ghost.ns1"], ["node-gone"], ["old-0.ns1"]]
    assert all(f.severity == "warning" for f in fs)


def _node_named_workloads(c: Cluster, extra_using: tuple[str, ...] = ()) -> None:
    """Issue 11 item 1: workloads whose names start with node-, each with its IP CR and port."""
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5",
                                           *extra_using])
    c.add("nodes", k8s("node1"))
    # A StatefulSet node-red whose pod node-red-0 is being re-created (pod absent).
    c.add("statefulsets.apps", k8s("node-red", "ns1", spec={"replicas": 1}))
    c.ip_cr("node-red-0.ns1", "net1", "10.0.0.2", pod="node-red-0", ns="ns1",
            pod_type="StatefulSet")
    # A stopped KubeVirt VM node-win10 (no virt-launcher pod).
    c.add("virtualmachines.kubevirt.io", k8s("node-win10", "ns1",
                                             spec={"runStrategy": "Halted"}))
    c.ip_cr("node-win10.ns1", "net1", "10.0.0.3", pod="node-win10", ns="ns1",
            pod_type="VirtualMachine")
    # A running pod node-problem-detector-… and its IP CR (key ns1/<pod>).
    c.pod("node-problem-detector-7c9f8-x2x4k", "ns1", "10.0.0.4", "net1")
    c.ip_cr("node-problem-detector-7c9f8-x2x4k.ns1", "net1", "10.0.0.4",
            pod="node-problem-detector-7c9f8-x2x4k", ns="ns1")
    # The node's own join IP CR, with the node's annotation (key node-node1).
    c.node_ip_cr("node1", "net1", "10.0.0.5")
    c.objects["nodes"][0]["metadata"]["annotations"] = {
        "ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": "10.0.0.5",
        "ovn.kubernetes.io/logical_switch": "net1"}
    c.switch("net1", *[
        c.lsp(f"{pod}.ns1", "net1", [f"00:00:00:00:00:0{i} 10.0.0.{i}"],
              external_ids={"pod": f"ns1/{pod}"})
        for i, pod in ((2, "node-red-0"), (3, "node-win10"),
                       (4, "node-problem-detector-7c9f8-x2x4k"))],
        c.lsp("node-node1", "net1", ["00:00:00:00:00:05 10.0.0.5"]))


def test_node_ip_cr_is_decided_by_spec_not_by_name(tmp_path: Path) -> None:
    c = Cluster()
    _node_named_workloads(c)
    findings = run_checks(c.model(tmp_path)).findings
    assert [f for f in findings if f.check in ("orphan-ip-cr", "orphan-nb-lsp", "double-claim",
                                               "leaked-ip")] == []


def test_node_ip_cr_negative_controls(tmp_path: Path) -> None:
    c = Cluster()
    _node_named_workloads(c, ("10.0.0.6", "10.0.0.7"))
    c.objects["statefulsets.apps"].clear()          # node-red is gone: its IP CR is a record
    c.node_ip_cr("node9", "net1", "10.0.0.6")        # a node IP CR whose Node is gone
    # The same node IP CR shape without the ownerReference (before v1.14.30): still a node's.
    c.node_ip_cr("node8", "net1", "10.0.0.7", owner_ref=False)
    fs = found(c, tmp_path, "orphan-ip-cr")
    assert sorted((f.subjects[0].name, f.evidence["owner_looked_for"]) for f in fs) == [
        ("node-node8", "Node node8 not found"), ("node-node9", "Node node9 not found"),
        ("node-red-0.ns1", "neither Pod ns1/node-red-0 nor StatefulSet ns1/node-red exists")]
    # The IP CR of a node is filed under node-<node>, a pod's under <ns>/<pod>.
    inv = c.model(tmp_path / "again").inventory
    assert inv.ip_crs["node-node1"].key == "node-node1"
    assert inv.ip_crs["node-problem-detector-7c9f8-x2x4k.ns1"].key == \
        "ns1/node-problem-detector-7c9f8-x2x4k"


def test_protected_ip_crs_are_info_only(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"])
    # keep-vm-ip off upstream: the IP CR is named after the live virt-launcher's port.
    c.pod("virt-launcher-vm9-x", "ns1", "10.0.0.2", "net1")
    c.ip_cr("virt-launcher-vm9-x.ns1", "net1", "10.0.0.2", pod="vm9", ns="ns1",
            pod_type="VirtualMachine")
    c.add("virtualmachines.kubevirt.io", k8s("other", "ns1"))
    c.ip_cr("reserved.ns1", "net1", "10.0.0.3", pod="nobody", ns="ns1",
            labels={"ovn.kubernetes.io/ip_reserved": "true"})
    fs = found(c, tmp_path, "orphan-ip-cr")
    # Correction 2: both are reported, as info, and marked not deletable.
    assert sorted((f.subjects[0].name, f.severity) for f in fs) == [
        ("reserved.ns1", "info"), ("virt-launcher-vm9-x.ns1", "info")]
    assert all("never delete" in f.evidence["not_deletable"] for f in fs)
    # The live pod's address stays owned.
    assert found(c, tmp_path, "leaked-ip") == []


def test_owner_kind_not_captured_is_never_an_orphan(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.ip_cr("vm1.ns1", "net1", "10.0.0.2", pod="vm1", ns="ns1", pod_type="VirtualMachine")
    # virtualmachines.kubevirt.io is absent from the snapshot: KubeVirt may not be
    # installed, or it was not captured; either way the owner is unknown, not gone.
    assert found(c, tmp_path, "orphan-ip-cr") == []


# -- dangling-eip-ref -------------------------------------------------------


def test_dangling_eip_ref_and_severity_raise(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.10", "172.30.0.11"])
    c.ovn_eip("eip-a", "172.30.0.10")
    c.ovn_eip("eip-b", "172.30.0.11")
    c.add("ovn-fips.kubeovn.io", k8s("fip-ok", spec={"ovnEip": "eip-a"},
                                     status={"vpc": "vpc1", "v4Eip": "172.30.0.10"}))
    c.add("ovn-fips.kubeovn.io", k8s("fip-gone", spec={"ovnEip": "eip-gone"},
                                     status={"vpc": "vpc1", "v4Eip": "172.30.0.15"}))
    c.add("ovn-snat-rules.kubeovn.io", k8s("snat-moved", spec={"ovnEip": "eip-b"},
                                           status={"vpc": "vpc1", "v4Eip": "172.30.0.12"}))
    fs = {f.subjects[0].name: f for f in found(c, tmp_path, "dangling-eip-ref")}
    assert set(fs) == {"fip-gone", "snat-moved"}
    assert fs["fip-gone"].severity == "error"  # .15 is marked available
    assert not fs["fip-gone"].evidence["eip"]["exists"]
    assert "172.30.0.12" in fs["snat-moved"].message


# -- terminating-owner ------------------------------------------------------


def test_terminating_owner_past_the_threshold_with_its_blocker(tmp_path: Path) -> None:
    c = Cluster(captured_at="2026-11-29T12:00:00Z")
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.10", "172.30.0.11"])
    c.ovn_eip("stuck", "172.30.0.10", deletionTimestamp="2026-11-29T10:00:00Z")
    c.ovn_eip("fresh", "172.30.0.11", deletionTimestamp="2026-11-29T11:58:00Z")
    c.add("ovn-fips.kubeovn.io", k8s("fip-1", labels={"ovn.kubernetes.io/eip_v4_ip":
                                                      "172.30.0.10"},
                                     spec={"ovnEip": "stuck"},
                                     status={"vpc": "vpc1", "v4Eip": "172.30.0.10"}))
    (f,) = found(c, tmp_path, "terminating-owner")
    assert f.subjects[0].name == "stuck"
    assert f.evidence["blocked_by"] == ["OvnFip fip-1 still uses it"]
    assert "2.0 hours" in f.message


# -- owner-ip-out-of-cidr / owner-ip-excluded --------------------------------


def test_out_of_cidr_and_wrong_family(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=[])
    c.ip_cr("stray-ip", "external", "172.31.0.5", pod="gone-pod", ns="ns1")
    c.ovn_eip("v6eip", "fd00::5")
    c.ovn_eip("fine", "172.30.0.9")
    fs = found(c, tmp_path, "owner-ip-out-of-cidr")
    assert [str(f.ip) for f in fs] == ["172.31.0.5", "fd00::5"]
    assert "no ipv6 CIDR" in fs[1].message


def test_excluded_owner_is_info_and_gateway_owner_is_error(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", exclude=["10.0.0.1", "10.0.0.100..10.0.0.110"], using=[],
             count=0)
    c.pod("static-1", "ns1", "10.0.0.105", "net1")
    c.ip_cr("static-1.ns1", "net1", "10.0.0.105", pod="static-1", ns="ns1")
    c.pod("bad", "ns1", "10.0.0.1", "net1")
    fs = found(c, tmp_path, "owner-ip-excluded")
    assert [(str(f.ip), f.severity) for f in fs] == [("10.0.0.1", "error"),
                                                      ("10.0.0.105", "info")]
    assert fs[1].evidence["exclude_entry"] == "10.0.0.100..10.0.0.110"


# -- restore-hazard ---------------------------------------------------------


def test_restore_hazards(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.10", "172.30.0.11"])
    c.subnet("dual", "10.10.0.0/24,fd00:10:10::/120", gateway="10.10.0.1,fd00:10:10::1",
             using=["10.10.0.50", "fd00:10:10::32", "10.10.0.51", "10.10.0.52",
                    "10.10.0.53"],
             status=None)
    c.subnet("v6only", "fd00:30::/120", gateway="fd00:30::1", using=["fd00:30::5"])
    c.ovn_eip("no-subnet", "172.30.0.10", spec_subnet="")             # 3.5 #3
    c.ovn_eip("fine", "172.30.0.11")                                   # negative
    c.vip("vip-a", "dual", "10.10.0.50", "fd00:10:10::32")             # 3.5 #1
    c.vip("vip-v6", "v6only", "", "fd00:30::5")                         # 3.5 #2
    c.vip("slb-1", "dual", "10.10.0.52", mac="00:00:00:AA:00:01")      # MAC collision
    c.vip("slb-2", "dual", "10.10.0.53", mac="00:00:00:aa:00:01")
    fs = found(c, tmp_path, "restore-hazard")
    subjects = [sorted(s.name for s in f.subjects) for f in fs]
    assert ["no-subnet"] in subjects and ["vip-a"] in subjects and ["vip-v6"] in subjects
    assert ["slb-1", "slb-2"] in subjects
    assert ["fine"] not in subjects
    assert all(f.severity == "info" for f in fs)


def test_pod_whose_attachment_no_longer_maps_to_a_subnet_is_a_hazard(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2"])
    c.pod("app", "ns1", "10.0.0.2", "net1", extra_annotations={
        "k8s.v1.cni.cncf.io/networks": "ns1/gone-nad",
        "gone-nad.ns1.ovn.kubernetes.io/allocated": "true",
        "gone-nad.ns1.ovn.kubernetes.io/ip_address": "192.168.50.4"})
    c.add("network-attachment-definitions.k8s.cni.cncf.io", k8s("other", "ns1"))
    (f,) = found(c, tmp_path, "restore-hazard")
    assert f.subjects[0].name == "app" and "all its IPs" in f.message


# -- subnet-ref-invalid / lsp-eip-not-node ----------------------------------


def test_subnet_refs(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.9"])
    c.ovn_eip("ok", "172.30.0.9")
    c.ovn_eip("bad", "172.31.0.9", subnet="nonexistent")
    c.ip_cr("x", "nonexistent", "10.9.9.9", pod="x", ns="ns1")
    fs = found(c, tmp_path, "subnet-ref-invalid")
    assert sorted(f.subjects[0].name for f in fs) == ["bad", "x"]


def test_lsp_eip_must_be_named_after_a_node(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.5", "172.30.0.6"])
    c.add("nodes", k8s("node1"))
    c.ovn_eip("node1", "172.30.0.5", typ="lsp")
    c.ovn_eip("my-eip", "172.30.0.6", typ="lsp")
    assert [f.subjects[0].name for f in found(c, tmp_path, "lsp-eip-not-node")] == ["my-eip"]


def test_iptables_rule_status_v6ip_is_read(tmp_path: Path) -> None:
    # Issue 11 item 11: Iptables*Rule status carries v6ip too.
    c = Cluster()
    c.subnet("ovn-vpc-external-network", "172.31.0.0/24,fd00:31::/120",
             gateway="172.31.0.1,fd00:31::1", using=["172.31.0.5", "fd00:31::5"])
    c.add("iptables-eips.kubeovn.io", k8s("ipt-eip", labels={
        "ovn.kubernetes.io/subnet": "ovn-vpc-external-network"},
        spec={"v4ip": "172.31.0.5", "v6ip": "fd00:31::5"}, status={"ip": "172.31.0.5"}))
    c.add("iptables-fip-rules.kubeovn.io", k8s("fip-moved", spec={"eip": "ipt-eip"}, status={
        "v4ip": "172.31.0.5", "v6ip": "fd00:31::9"}))
    c.add("iptables-fip-rules.kubeovn.io", k8s("fip-ok", spec={"eip": "ipt-eip"}, status={
        "v4ip": "172.31.0.5", "v6ip": "fd00:31::5"}))                # negative control
    (f,) = found(c, tmp_path, "dangling-eip-ref")
    assert f.subjects[0].name == "fip-moved" and "fd00:31::9" in f.message
