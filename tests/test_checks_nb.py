"""orphan-nb-lsp, orphan-nb-lrp, orphan-nb-nat, orphan-nb-lb, nb-address-drift."""

from __future__ import annotations

from pathlib import Path

from builders import Cluster, k8s

from eipfsck.checks.finding import Finding
from eipfsck.checks.runner import run_checks


def found(c: Cluster, tmp_path: Path, check: str) -> list[Finding]:
    return [f for f in run_checks(c.model(tmp_path)).findings if f.check == check]


def rows(fs: list[Finding]) -> list[str]:
    return sorted(f.subjects[0].name for f in fs)


def net1(c: Cluster, using: list[str]) -> None:
    c.subnet("net1", "10.0.0.0/24", using=using)


def test_orphan_lsps_and_their_negative_controls(tmp_path: Path) -> None:
    c = Cluster()
    net1(c, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"])
    c.add("statefulsets.apps", k8s("db", "ns1", spec={"replicas": 1}))
    c.add("virtualmachines.kubevirt.io", k8s("vm1", "ns1", spec={"runStrategy": "Halted"}))
    c.add("nodes", k8s("node1"))
    c.pod("live", "ns1", "10.0.0.2", "net1")
    c.ip_cr("db-0.ns1", "net1", "10.0.0.3", pod="db-0", ns="ns1", pod_type="StatefulSet")
    c.ip_cr("vm1.ns1", "net1", "10.0.0.4", pod="vm1", ns="ns1", pod_type="VirtualMachine")
    c.ip_cr("ghost.ns1", "net1", "10.0.0.9", pod="ghost", ns="ns1")
    c.vip("vip-a", "net1", "10.0.0.5")
    ports = [
        c.lsp("live.ns1", "net1", ["00:00:00:00:00:02 10.0.0.2"],
              external_ids={"pod": "ns1/live"}),
        c.lsp("db-0.ns1", "net1", ["00:00:00:00:00:03 10.0.0.3"],
              external_ids={"pod": "ns1/db-0"}),
        c.lsp("vm1.ns1", "net1", ["00:00:00:00:00:04 10.0.0.4"],
              external_ids={"pod": "ns1/vm1"}),
        c.lsp("ghost.ns1", "net1", ["00:00:00:00:00:09 10.0.0.9"],
              external_ids={"pod": "ns1/ghost"}),                     # orphan, IP available
        c.lsp("vip-a", "net1", [], typ="virtual", options={"virtual-ip": "10.0.0.5"}),
        c.lsp("vip-b", "net1", [], typ="virtual", options={"virtual-ip": "10.0.0.6"}),  # orphan
        c.lsp("net1-vip-10.0.0.7", "net1", [], typ="virtual",
              options={"virtual-ip": "10.0.0.7"}),                   # subnet.spec.vips port
        c.lsp("node-node1", "net1", ["00:00:00:00:01:01 10.0.0.20"]),
        c.lsp("node-node9", "net1", ["00:00:00:00:01:09 10.0.0.21"]),  # orphan: no node9
        c.lsp("localnet.net1", "net1", ["unknown"], typ="localnet"),
    ]
    c.switch("net1", *ports)
    c.add("nodes", k8s("node1", annotations={
        "ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": "10.0.0.20",
        "ovn.kubernetes.io/logical_switch": "net1"}))
    fs = found(c, tmp_path, "orphan-nb-lsp")
    assert rows(fs) == ["ghost.ns1", "node-node9", "vip-b"]
    sev = {f.subjects[0].name: f.severity for f in fs}
    assert sev["ghost.ns1"] == "error"  # 10.0.0.9 is marked available
    assert sev["vip-b"] == "warning"  # 10.0.0.6 is still in the using range


def test_foreign_ports_are_left_alone(tmp_path: Path) -> None:
    c = Cluster()
    net1(c, [])
    # A port of another system (no vendor=kube-ovn) in a switch that is no subnet.
    port = c.nb_row("Logical_Switch_Port", name="neutron-port", addresses=["fa:16:3e:00:00:01 "
                    "10.0.0.77"], type="", external_ids={"neutron:device_owner": "compute"},
                    options={})
    c.nb_row("Logical_Switch", name="neutron-net", ports=[port["_uuid"]], external_ids={})
    assert found(c, tmp_path, "orphan-nb-lsp") == []


def test_orphan_lrp_and_dangling_router_lsp(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.2"], vlan="vlan0")
    c.subnet("vpc1-net1", "10.10.0.0/24", using=[], vpc="vpc1")
    c.ovn_eip("vpc1-external", "172.30.0.2", typ="lrp")
    c.add("configmaps", k8s("ovn-external-gw-config", "kube-system",
                            data={"enable-external-gw": "true", "nic-ip": "172.30.0.254/24"}))
    gw_lrp = c.lrp("vpc1-vpc1-net1", "vpc1", ["10.10.0.1/24"])
    eip_lrp = c.lrp("vpc1-external", "vpc1", ["172.30.0.2/24"])
    stale_lrp = c.lrp("vpc3-external", "vpc3", ["172.30.0.33/24"])
    peer_lrp = c.nb_row("Logical_Router_Port", name="vpc1-vpc2", networks=["169.254.0.1/30"],
                        peer="vpc2-vpc1", external_ids={"lr": "vpc1", "vendor": "kube-ovn"})
    default_gw = c.lrp("ovn-cluster-external", "ovn-cluster", ["172.30.0.254/24"])
    c.router("vpc1", [gw_lrp, eip_lrp, peer_lrp])
    c.router("vpc3", [stale_lrp])
    c.router("ovn-cluster", [default_gw])
    ports = [c.lsp("external-vpc1", "external", ["router"], typ="router",
                   options={"router-port": "vpc1-external"}),
             c.lsp("external-vpc9", "external", ["router"], typ="router",
                   options={"router-port": "vpc9-external"})]
    c.switch("external", *ports)
    fs = found(c, tmp_path, "orphan-nb-lrp")
    assert rows(fs) == ["external-vpc9", "vpc3-external"]
    (lrp,) = [f for f in fs if f.subjects[0].name == "vpc3-external"]
    assert lrp.severity == "error"  # 172.30.0.33 is marked available


def test_default_vpc_gateway_lrp_without_its_configmap_is_orphan(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=[], vlan="vlan0")
    lrp = c.lrp("ovn-cluster-external", "ovn-cluster", ["172.30.0.254/24"])
    c.router("ovn-cluster", [lrp])
    assert rows(found(c, tmp_path, "orphan-nb-lrp")) == ["ovn-cluster-external"]


def _nat_cluster() -> Cluster:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.10", "172.30.0.11", "172.30.0.12"])
    c.subnet("vpc1-net1", "10.10.0.0/24,fd00:10:10::/120", gateway="10.10.0.1,fd00:10:10::1",
             using=["10.10.0.10", "fd00:10:10::a"], vpc="vpc1")
    c.ovn_eip("eip-fip", "172.30.0.10")
    c.ovn_eip("eip-snat", "172.30.0.11")
    c.add("ovn-fips.kubeovn.io", k8s("fip", spec={"ovnEip": "eip-fip"}, status={
        "vpc": "vpc1", "v4Eip": "172.30.0.10", "v4Ip": "10.10.0.10", "v6Ip": "fd00:10:10::a"}))
    c.add("ovn-snat-rules.kubeovn.io", k8s("snat", spec={"ovnEip": "eip-snat"}, status={
        "vpc": "vpc1", "v4Eip": "172.30.0.11", "v4IpCidr": "10.10.0.0/24"}))
    return c


def test_nat_rows(tmp_path: Path) -> None:
    c = _nat_cluster()
    nats = [
        c.nat("dnat_and_snat", "172.30.0.10", "10.10.0.10", logical_port="app-1.ns1"),
        c.nat("dnat_and_snat", "172.30.0.10", "fd00:10:10::a"),  # cross-family FIP: legit
        c.nat("snat", "172.30.0.11", "10.10.0.0/24"),
        c.nat("dnat_and_snat", "172.30.0.13", "10.10.0.13"),  # orphan on an available IP
        c.nat("snat", "172.30.0.12", "10.10.0.0/24"),  # orphan, IP still in use
    ]
    c.router("vpc1", nat=nats)
    c.nb_row("Logical_Router", name="not-kube-ovn", ports=[], load_balancer=[], external_ids={},
             nat=[c.nat("snat", "172.30.0.99", "192.168.0.0/24")["_uuid"]])
    fs = found(c, tmp_path, "orphan-nb-nat")
    got = sorted((f.evidence["columns"]["external_ip"], f.severity) for f in fs)
    assert got == [("172.30.0.12", "warning"), ("172.30.0.13", "error")]


def test_nat_row_from_a_pod_eip_annotation_is_owned(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("ovn-default", "10.16.0.0/24", using=["10.16.0.5"])
    c.subnet("external", "172.30.0.0/24", using=[])
    c.pod("p", "ns1", "10.16.0.5", "ovn-default",
          extra_annotations={"ovn.kubernetes.io/eip": "172.30.0.50"})
    c.router("ovn-cluster", nat=[c.nat("dnat_and_snat", "172.30.0.50", "10.16.0.5")])
    assert found(c, tmp_path, "orphan-nb-nat") == []


def test_lb_vips(tmp_path: Path) -> None:
    c = _nat_cluster()
    c.ovn_eip("eip-dnat", "172.30.0.12")
    c.add("ovn-dnat-rules.kubeovn.io", k8s("dnat-ssh", spec={"ovnEip": "eip-dnat"}, status={
        "vpc": "vpc1", "v4Eip": "172.30.0.12", "externalPort": "2222", "internalPort": "22"}))
    lb = c.nb_row("Load_Balancer", name="dnat-ssh", protocol="tcp",
                  external_ids={"vendor": "kube-ovn"},
                  vips={"172.30.0.12:2222": "10.10.0.10:22",
                        "172.30.0.14:80": "10.10.0.10:8080"})
    c.router("vpc1", lbs=[lb])
    fs = found(c, tmp_path, "orphan-nb-lb")
    assert [f.evidence["columns"]["vip"] for f in fs] == ["172.30.0.14:80"]
    assert fs[0].severity == "error"


def test_address_drift(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.3", "172.30.0.10"])
    c.subnet("net1", "10.0.0.0/24", using=["10.0.0.2"])
    c.ovn_eip("vpc2-external", "172.30.0.3", typ="lrp")
    c.ovn_eip("eip-fip", "172.30.0.10")
    c.add("ovn-fips.kubeovn.io", k8s("fip", spec={"ovnEip": "eip-fip"}, status={
        "vpc": "vpc2", "v4Eip": "172.30.0.11", "v4Ip": "10.0.0.2"}))
    c.pod("a", "ns1", "10.0.0.2", "net1")
    lrp = c.lrp("vpc2-external", "vpc2", ["172.30.0.14/24"])
    c.router("vpc2", [lrp], nat=[c.nat("dnat_and_snat", "172.30.0.11", "10.0.0.2")])
    c.switch("net1", c.lsp("a.ns1", "net1", ["00:00:00:00:00:01 10.0.0.99"],
                           external_ids={"pod": "ns1/a"}))
    fs = found(c, tmp_path, "nb-address-drift")
    assert rows(fs) == ["a.ns1", "dnat_and_snat 172.30.0.11 -> 10.0.0.2", "vpc2-external"]
    assert all(f.severity == "error" for f in fs)
    # Negative: the same rows carrying the owners' addresses.
    c2 = Cluster()
    c2.subnet("external", "172.30.0.0/24", using=["172.30.0.3"])
    c2.ovn_eip("vpc2-external", "172.30.0.3", typ="lrp")
    c2.router("vpc2", [c2.lrp("vpc2-external", "vpc2", ["172.30.0.3/24"])])
    assert found(c2, tmp_path / "neg", "nb-address-drift") == []


def test_overlay_gateway_port_with_another_address_is_drift(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/24", using=[])
    c.router("ovn-cluster", [c.lrp("ovn-cluster-net1", "ovn-cluster", ["10.0.0.1/24"])])
    assert found(c, tmp_path / "ok", "nb-address-drift") == []
    c2 = Cluster()
    c2.subnet("net1", "10.0.0.0/24", using=[])
    c2.router("ovn-cluster", [c2.lrp("ovn-cluster-net1", "ovn-cluster", ["10.0.0.254/24"])])
    assert rows(found(c2, tmp_path / "bad", "nb-address-drift")) == ["ovn-cluster-net1"]


def test_nb_checks_are_skipped_without_nb(tmp_path: Path) -> None:
    c = Cluster()
    net1(c, [])
    run = run_checks(c.model(tmp_path))
    assert "orphan-nb-lsp" in run.skipped and "nb-address-drift" in run.skipped


def test_lsp_type_eip_port_named_after_its_node_is_the_eips(tmp_path: Path) -> None:
    # Issue 11 item 1: an lsp-type OvnEip is named after its node; for node node-1 its bare
    # port is "node-1", which the node-port prefix would read as "the port of Node 1".
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.5", "172.30.0.6"])
    c.add("nodes", k8s("node-1"))
    c.ovn_eip("node-1", "172.30.0.5", typ="lsp")
    c.switch("external",
             c.lsp("node-1", "external", ["00:00:00:00:02:05 172.30.0.5"]),
             # negative control: a bare node-… port with neither a Node nor an OvnEip
             c.lsp("node-2", "external", ["00:00:00:00:02:06 172.30.0.6"]))
    fs = found(c, tmp_path, "orphan-nb-lsp")
    assert rows(fs) == ["node-2"]
    assert "nor an OvnEip named node-2" in fs[0].message


def test_typed_vip_without_namespace_owns_its_port(tmp_path: Path) -> None:
    # Issue 11 item 4: a switch_lb_vip Vip with no namespace gets the port "<name>." with no
    # pod key (vip.go handleAddVirtualIP, buildLogicalSwitchPort).
    c = Cluster()
    net1(c, ["10.0.0.5", "10.0.0.6", "10.0.0.7"])
    c.vip("slb-vip", "net1", "10.0.0.5", typ="switch_lb_vip")
    c.vip("plain-vip", "net1", "10.0.0.6")  # untyped: it makes no such port
    c.switch("net1",
             c.lsp("slb-vip.", "net1", ["00:00:00:00:03:05 10.0.0.5"]),
             c.lsp("plain-vip.", "net1", ["00:00:00:00:03:06 10.0.0.6"]),   # not the Vip's
             c.lsp("gone-vip.", "net1", ["00:00:00:00:03:07 10.0.0.7"]))    # no Vip at all
    assert rows(found(c, tmp_path, "orphan-nb-lsp")) == ["gone-vip.", "plain-vip."]
    assert found(c, tmp_path, "nb-address-drift") == []


def _lb_cluster(version: str) -> Cluster:
    """Issue 11 item 9: Load_Balancer rows as a v1.14 controller writes them: no vendor."""
    c = _nat_cluster()
    c.version = version
    c.ovn_eip("eip-dnat", "172.30.0.12")
    c.add("ovn-dnat-rules.kubeovn.io", k8s("dnat-ssh", spec={"ovnEip": "eip-dnat"}, status={
        "vpc": "vpc1", "v4Eip": "172.30.0.12", "externalPort": "2222", "internalPort": "22"}))
    dnat = c.nb_row("Load_Balancer", name="dnat-ssh", protocol="tcp", external_ids={},
                    vips={"172.30.0.12:2222": "10.10.0.10:22"})
    gone = c.nb_row("Load_Balancer", name="dnat-gone", protocol="tcp", external_ids={},
                    vips={"172.30.0.14:80": "10.10.0.10:8080"})   # its OvnDnatRule is gone
    c.router("vpc1", lbs=[dnat, gone])
    c.objects["switch-lb-rules.kubeovn.io"] = []  # captured, none: no SLR explains a VIP
    # Named as Kube-OVN names a VPC's load balancer, attached to no router here.
    c.nb_row("Load_Balancer", name="vpc-vpc1-tcp-load", protocol="tcp", external_ids={},
             vips={"172.30.0.15:443": "10.10.0.11:443"})
    # Negative control: another system's load balancer, not on a Kube-OVN router.
    c.nb_row("Load_Balancer", name="metallb-lb", protocol="tcp", external_ids={},
             vips={"172.30.0.16:80": "10.10.0.12:80"})
    return c


def test_lb_without_vendor_is_recognised_by_name_before_v1_15(tmp_path: Path) -> None:
    for i, version in enumerate(("v1.14.41", "")):
        fs = found(_lb_cluster(version), tmp_path / str(i), "orphan-nb-lb")
        assert sorted(f.evidence["columns"]["vip"] for f in fs) == [
            "172.30.0.14:80", "172.30.0.15:443"], version
    # From v1.15 every Kube-OVN load balancer carries the vendor: these are not ours.
    assert found(_lb_cluster("v1.15.0"), tmp_path / "v15", "orphan-nb-lb") == []


def _gateway_in(c: Cluster, cm_namespace: str, flag: str | None) -> None:
    c.subnet("external", "172.30.0.0/24", using=[], vlan="vlan0")
    c.add("configmaps", k8s("ovn-external-gw-config", cm_namespace,
                            data={"enable-external-gw": "true", "nic-ip": "172.30.0.254/24"}))
    args = ["/kube-ovn/start-controller.sh"] + ([flag] if flag else [])
    c.add("deployments.apps", k8s("kube-ovn-controller", "kube-system", spec={"template": {
        "spec": {"containers": [{"name": "kube-ovn-controller", "image": "kube-ovn:v1.14.10",
                                 "args": args}]}}}))
    c.router("ovn-cluster", [c.lrp("ovn-cluster-external", "ovn-cluster", ["172.30.0.254/24"])])


def test_external_gateway_config_namespace_flag(tmp_path: Path) -> None:
    # Issue 11 item 11: --external-gateway-config-ns says where ovn-external-gw-config is.
    c = Cluster()
    _gateway_in(c, "ovn-system", "--external-gateway-config-ns=ovn-system")
    assert found(c, tmp_path / "1", "orphan-nb-lrp") == []
    # Negative control: the flag names another namespace than the ConfigMap's.
    c = Cluster()
    _gateway_in(c, "kube-system", "--external-gateway-config-ns=ovn-system")
    assert rows(found(c, tmp_path / "2", "orphan-nb-lrp")) == ["ovn-cluster-external"]


def test_v1_12_1_snat_status_field_is_read(tmp_path: Path) -> None:
    # Issue 11 item 11: v1.12.0-v1.12.1 wrote OvnSnatRule status.v4ipCidr.
    c = Cluster(version="v1.12.1")
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.11"])
    c.subnet("vpc1-net1", "10.10.0.0/24", using=[], vpc="vpc1")
    c.ovn_eip("eip-snat", "172.30.0.11")
    c.add("ovn-snat-rules.kubeovn.io", k8s("snat", spec={"ovnEip": "eip-snat"}, status={
        "vpc": "vpc1", "v4Eip": "172.30.0.11", "v4ipCidr": "10.10.0.0/24"}))
    c.add("ovn-fips.kubeovn.io", k8s("unused", spec={"ovnEip": "x"}, status={}))
    c.router("vpc1", nat=[c.nat("snat", "172.30.0.11", "10.10.0.0/24"),
                          c.nat("snat", "172.30.0.11", "10.10.9.0/24")])  # negative control
    assert [f.subjects[0].name for f in found(c, tmp_path, "orphan-nb-nat")] == [
        "snat 172.30.0.11 -> 10.10.9.0/24"]
