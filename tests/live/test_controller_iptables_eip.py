"""The incident's shape for an IptablesEIP (a VPC NAT gateway's EIP), with the genuine controller.

v1.14.10 gives an IptablesEIP its address in `handleAddIptablesEip` (pkg/controller/
vpc_nat_gw_eip.go): the NAT gateway's pod must be Running, the IPAM allocates under the EIP's
name, then the controller execs `nat-gateway.sh eip-add` in the gateway pod, and only after that
exec succeeded it writes the EIP's spec and status and adds its finalizer. So the test builds a
whole VPC NAT gateway the way a cluster has one: the NetworkAttachmentDefinition and the
external Subnet it names, the two NAT ConfigMaps, a VpcNatGateway (the controller makes its
StatefulSet; the test plays the StatefulSet controller and the scheduler and creates the pod
from the template), and a node whose kubelet answers exec (tests/live/kubelet_exec.py: the
genuine path controller → apiserver `pods/exec` → kubelet; the kubelet runs nothing and says
success).

Then the operator's mistake: one EIP's finalizer stripped, the EIP deleted. Whatever the real
controller leaves is the truth (its subnet status, then a real restart); eipfsck must report
exactly that, and a live IptablesEIP next to it is its negative control. A second test has the
gateway refuse eip-add: the allocation the EIP never gets written is in flight, not leaked,
until the EIP is deleted while pending.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live.conftest import EnvFactory
from live.kubelet_exec import ExecCall, ExecKubelet, succeed
from live.kubeovn_cluster import (
    KUBE_OVN,
    NS,
    Cluster,
    Disagreements,
    brief,
    now,
    problems,
    started,
)

pytestmark = pytest.mark.usefixtures("ovn_tools")

# The external network an IptablesEIP without spec.externalSubnet uses (pkg/util
# GetExternalNetwork), as Subnet, NetworkAttachmentDefinition and provider name.
EXTERNAL = "ovn-vpc-external-network"
CIDR, GATEWAY = "172.30.0.0/24", "172.30.0.1"
GW = "gw1"
GW_NODE = "gw-node"


@pytest.fixture
def cluster(live_env_factory: EnvFactory, tmp_path: Path) -> Iterator[Cluster]:
    with started(live_env_factory, "kube-ovn-iptables-eip", tmp_path) as c:
        yield c


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[ExecKubelet]:
    k = ExecKubelet(tmp_path)
    try:
        yield k
    finally:
        k.close()


def nat_gateway(c: Cluster, kubelet: ExecKubelet) -> dict[str, Any]:
    """A running VPC NAT gateway GW on GW_NODE, initialised by the controller; its pod."""
    c.node(GW_NODE, "127.0.0.1", kubelet_port=kubelet.port)
    c.wait(f"Node {GW_NODE} gets its join address",
           lambda: c.annotated(f"/api/v1/nodes/{GW_NODE}", "ovn.kubernetes.io/ip_address"))
    # The external network as the Kube-OVN docs set it up: a macvlan attachment whose IPAM is
    # Kube-OVN's, and a Subnet with that attachment's provider (not an OVN subnet).
    provider = f"{EXTERNAL}.{NS}"
    c.create(f"/apis/k8s.cni.cncf.io/v1/namespaces/{NS}/network-attachment-definitions", {
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": EXTERNAL, "namespace": NS},
        "spec": {"config": json.dumps({
            "cniVersion": "0.3.0", "type": "macvlan", "master": "eth1", "mode": "bridge",
            "ipam": {"type": "kube-ovn", "provider": provider,
                     "server_socket": "/run/openvswitch/kube-ovn-daemon.sock"}})}})
    c.subnet(EXTERNAL, CIDR, GATEWAY, provider=provider,
             excludeIps=[f"{GATEWAY}..172.30.0.10"])
    for name, data in (("ovn-vpc-nat-config",
                        {"image": f"docker.io/kubeovn/vpc-nat-gateway:{c.version}"}),
                       ("ovn-vpc-nat-gw-config", {"enable-vpc-nat-gw": "true"})):
        c.create(f"/api/v1/namespaces/{NS}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS}, "data": data})
    c.create(f"{KUBE_OVN}/vpc-nat-gateways", {
        "apiVersion": "kubeovn.io/v1", "kind": "VpcNatGateway", "metadata": {"name": GW},
        "spec": {"vpc": "ovn-cluster", "subnet": "ovn-default", "lanIp": "10.16.0.254",
                 "selector": [f"kubernetes.io/hostname: {GW_NODE}"],
                 "externalSubnets": [EXTERNAL]}})
    sts_name = f"vpc-nat-gw-{GW}"
    sts = c.wait(f"the controller creates StatefulSet {sts_name}", lambda: c.get_or_none(
        f"/apis/apps/v1/namespaces/{NS}/statefulsets/{sts_name}"))
    # What the StatefulSet controller and the scheduler do: pod 0 from the template, bound to
    # the node the template's nodeSelector picks; then the kubelet reports it Running.
    pod = copy.deepcopy(sts["spec"]["template"])
    name = f"{sts_name}-0"
    pod["metadata"].update(name=name, namespace=NS, ownerReferences=[{
        "apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts_name,
        "uid": sts["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}])
    pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = name
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/hostname": GW_NODE}
    pod["spec"]["nodeName"] = GW_NODE
    c.create(f"/api/v1/namespaces/{NS}/pods", {"apiVersion": "v1", "kind": "Pod", **pod})
    c.request("PATCH", f"/api/v1/namespaces/{NS}/pods/{name}/status", {"status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{
            "name": "vpc-nat-gw", "ready": True, "started": True, "restartCount": 0,
            "image": pod["spec"]["containers"][0]["image"], "imageID": "",
            "state": {"running": {"startedAt": now()}}}]}}, "application/merge-patch+json")
    # handleInitVpcNatGw execs `nat-gateway.sh init` and then marks the pod.
    return c.wait(f"the controller initialises NAT gateway {GW} (exec into {name})",
                  lambda: c.annotated(f"/api/v1/namespaces/{NS}/pods/{name}",
                                      "ovn.kubernetes.io/vpc_nat_gw_init"))


def iptables_eip(c: Cluster, name: str) -> str:
    c.create(f"{KUBE_OVN}/iptables-eips", {
        "apiVersion": "kubeovn.io/v1", "kind": "IptablesEIP", "metadata": {"name": name},
        "spec": {"natGwDp": GW}})
    eip = c.wait(f"IptablesEIP {name} gets its address and finalizer",
                 lambda: c.accepted(f"{KUBE_OVN}/iptables-eips/{name}", "ip"))
    return str(eip["status"]["ip"])


def leaks(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["subnet"], f["ip"]) for f in report["findings"] if f["check"] == "leaked-ip")


def exec_ops(kubelet: ExecKubelet) -> list[str]:
    """The nat-gateway.sh operations the controller ran, as "<operation> <rules>"."""
    out = []
    for command in kubelet.commands():
        script = command[-1] if command else ""
        if "nat-gateway.sh" in script:
            out.append(script.split("nat-gateway.sh", 1)[1].strip())
    return out


def test_iptables_eip_without_finalizer_matches_the_controller(
        cluster: Cluster, kubelet: ExecKubelet, capsys: pytest.CaptureFixture[str]) -> None:
    c = cluster
    gw_pod = nat_gateway(c, kubelet)
    gw_ext_ip = c.get(f"{KUBE_OVN}/ips/{gw_pod['metadata']['name']}.{NS}.{EXTERNAL}.{NS}"
                      )["spec"]["v4IpAddress"]
    kept = iptables_eip(c, "eip-kept")
    lost = iptables_eip(c, "eip-lost")
    c.wait(f"Subnet {EXTERNAL} counts both EIPs and the gateway's attachment",
           lambda: {kept, lost, gw_ext_ip} <= c.using(EXTERNAL))
    # Each step of the EIPs' add handlers (spec, status, labels, finalizer) has the status
    # recomputed; the count follows the labels: scan once it has stopped changing.
    c.settled_using(EXTERNAL)
    assert {f"eip-add {kept}/24", f"eip-add {lost}/24"} <= set(exec_ops(kubelet)), \
        exec_ops(kubelet)

    # Negative control: live IptablesEIPs, the gateway pod and its attachment scan clean.
    code, report, _ = c.scan(capsys)
    d = Disagreements()
    d.expect("live IptablesEIPs: warnings and errors", brief(problems(report)), [])
    d.expect("live IptablesEIPs: exit code", code, 0)

    # The operator's mistake: the finalizer stripped, the EIP deleted.
    c.strip_finalizers(f"{KUBE_OVN}/iptables-eips/eip-lost")
    c.delete(f"{KUBE_OVN}/iptables-eips/eip-lost")
    c.wait_gone(f"{KUBE_OVN}/iptables-eips/eip-lost")

    in_use = c.settled_using(EXTERNAL)
    truth = [(EXTERNAL, lost)] if lost in in_use else []
    assert {kept, gw_ext_ip} <= in_use
    d.context.append(f"(the controller left {truth} in use; the EIP's address {lost}; "
                     f"nat-gateway.sh ran: {exec_ops(kubelet)})")
    code, report, _ = c.scan(capsys)
    assert leaks(report) == truth, (f"the controller left {truth} in use (IptablesEIP "
                                    f"eip-lost had {lost})", brief(problems(report)))
    d.expect("warnings and errors besides the leaks",
             brief(f for f in problems(report) if f["check"] != "leaked-ip"), [])
    d.expect("exit code", code, 4 if truth else 0)

    # The real restart is the proof: what eipfsck called leaked is released, the live EIP and
    # the gateway keep theirs.
    c.restart_controller()
    c.wait(f"Subnet {EXTERNAL} Ready under the new leader", lambda: c.ready_subnet(EXTERNAL))
    c.wait(f"the new leader's status of {EXTERNAL}", lambda: not (
        {ip for _, ip in truth} & c.using(EXTERNAL)))
    assert {kept, gw_ext_ip} <= c.using(EXTERNAL)
    code, report, _ = c.scan(capsys)
    d.expect("after the restart: warnings and errors", brief(problems(report)), [])
    d.expect("after the restart: exit code", code, 0)
    d.check()


def test_pending_iptables_eip_matches_the_controller(
        cluster: Cluster, kubelet: ExecKubelet, capsys: pytest.CaptureFixture[str]) -> None:
    """The gateway refuses eip-add: the allocator has filed an address under the EIP's name,
    the EIP has no status and no finalizer. That address is the EIP's allocation in flight
    (not a leak) until the EIP is deleted: then nothing releases it (v1.14.10's
    handleDelIptablesEip does nothing), and it is a leak."""
    c = cluster
    nat_gateway(c, kubelet)
    kept = iptables_eip(c, "eip-kept")

    def refuse_eip_add(call: ExecCall) -> tuple[int, bytes, bytes]:
        if "eip-add" in (call.command[-1] if call.command else ""):
            return 1, b"", b"RTNETLINK answers: Operation not permitted\n"
        return succeed(call)
    kubelet.answer = refuse_eip_add
    c.create(f"{KUBE_OVN}/iptables-eips", {
        "apiVersion": "kubeovn.io/v1", "kind": "IptablesEIP", "metadata": {"name": "eip-stuck"},
        "spec": {"natGwDp": GW}})
    # The address the allocator gave it is the one the controller asks the gateway to add.
    tried = c.wait("the controller tries eip-add for eip-stuck", lambda: [
        op.split()[1].split("/")[0] for op in exec_ops(kubelet)
        if op.startswith("eip-add") and not op.startswith(f"eip-add {kept}/")])
    stuck = tried[0]
    eip = c.get(f"{KUBE_OVN}/iptables-eips/eip-stuck")
    assert not (eip.get("status") or {}).get("ip") and not eip["metadata"].get("finalizers")
    # enqueueAddIptablesEip does not recompute the subnet status; any update of the EIP does
    # (enqueueUpdateIptablesEip). An operator labels it while looking into it.
    c.merge_patch(f"{KUBE_OVN}/iptables-eips/eip-stuck",
                  {"metadata": {"labels": {"triage": "gateway-refuses"}}})
    c.wait(f"Subnet {EXTERNAL} counts eip-stuck's address", lambda: stuck in c.using(EXTERNAL))
    # Only the controller log says whose that address is (the allocation line names the key);
    # klog writes it out within seconds.
    c.wait("the controller log has eip-stuck's allocation", lambda: any(
        f"allocate v4 {stuck}," in ln and " for eip-stuck " in ln
        for ln in c.log.read_text(errors="replace").splitlines()))
    c.settled_using(EXTERNAL)

    d = Disagreements()
    d.context.append(f"(eip-kept {kept}; eip-stuck's allocation {stuck}; nat-gateway.sh ran: "
                     f"{exec_ops(kubelet)})")
    code, report, _ = c.scan(capsys)
    d.expect("a pending IptablesEIP: leaks", leaks(report), [])
    d.expect("a pending IptablesEIP: warnings and errors", brief(problems(report)), [])

    # Deleted while pending: it never had a finalizer, and nothing releases its address.
    c.delete(f"{KUBE_OVN}/iptables-eips/eip-stuck")
    c.wait_gone(f"{KUBE_OVN}/iptables-eips/eip-stuck")
    in_use = c.settled_using(EXTERNAL)
    assert stuck in in_use, f"the controller released {stuck}: no leak built"
    code, report, _ = c.scan(capsys)
    assert leaks(report) == [(EXTERNAL, stuck)], brief(problems(report))
    d.expect("deleted while pending: warnings and errors besides the leak",
             brief(f for f in problems(report) if f["check"] != "leaked-ip"), [])
    d.expect("deleted while pending: exit code", code, 4)

    kubelet.answer = succeed
    c.restart_controller()
    c.wait(f"Subnet {EXTERNAL} Ready under the new leader", lambda: c.ready_subnet(EXTERNAL))
    c.wait(f"the new leader releases {stuck}", lambda: stuck not in c.using(EXTERNAL))
    assert kept in c.using(EXTERNAL)
    code, report, _ = c.scan(capsys)
    d.expect("after the restart: warnings and errors", brief(problems(report)), [])
    d.expect("after the restart: exit code", code, 0)
    d.check()
