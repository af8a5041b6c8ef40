"""A quiet cluster made only by the genuine Kube-OVN controller scans clean.

Nodes, ordinary pods, StatefulSet pods whose names start with `node-`, completed Job pods, Vips,
OvnEips used by an OvnFip, an OvnSnatRule and an OvnDnatRule, and a dual-stack subnet with pods:
every address, IP CR, port and NAT row is the controller's own doing. Nothing leaked, so eipfsck
must exit 0 with no warning and no error. See tests/live/kubeovn_cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live.conftest import EnvFactory
from live.kubeovn_cluster import KUBE_OVN, Cluster, Disagreements, brief, problems, started

pytestmark = pytest.mark.usefixtures("ovn_tools")


@pytest.fixture
def cluster(live_env_factory: EnvFactory, tmp_path: Path) -> Iterator[Cluster]:
    with started(live_env_factory, "kube-ovn-quiet", tmp_path) as c:
        yield c


def owner(api_version: str, kind: str, obj: dict[str, object]) -> dict[str, object]:
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def test_quiet_cluster_made_by_the_controller_scans_clean(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    c = cluster
    for i, name in enumerate(("worker-1", "worker-2")):
        c.node(name, f"172.18.0.{i + 2}")

    # Ordinary pods, and StatefulSet pods named node-… (the StatefulSet controller's part is
    # played here: it creates the pods with their owner reference; Kube-OVN does the rest).
    c.namespace("apps")
    for i in range(2):
        c.pod(f"web-{i}x", "apps", "worker-1")
    sts = c.create("/apis/apps/v1/namespaces/apps/statefulsets", {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "node-red"},
        "spec": {"serviceName": "node-red", "replicas": 2,
                 "selector": {"matchLabels": {"app": "node-red"}},
                 "template": {"metadata": {"labels": {"app": "node-red"}},
                              "spec": {"containers": [{"name": "c", "image": "node-red"}]}}}})
    for i in range(2):
        c.pod(f"node-red-{i}", "apps", f"worker-{i + 1}",
              owner=owner("apps/v1", "StatefulSet", sts))

    # Completed Job pods: the kubelet reports Succeeded, the controller releases their address.
    job = c.create("/apis/batch/v1/namespaces/apps/jobs", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"manualSelector": True, "selector": {"matchLabels": {"job": "migrate"}},
                 "template": {"metadata": {"labels": {"job": "migrate"}},
                              "spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}}})
    for i in range(2):
        c.pod(f"migrate-{i}abcd", "apps", "worker-2", owner=owner("batch/v1", "Job", job),
              restart_policy="Never")
        c.pod_phase(f"migrate-{i}abcd", "apps", "Succeeded")

    # A dual-stack subnet bound to a namespace, with pods.
    c.subnet("dual", "10.30.0.0/24,fd00:30::/120", "10.30.0.1,fd00:30::1",
             namespaces=["dual"])
    c.namespace("dual")
    for i in range(2):
        pod = c.pod(f"db-{i}x", "dual", "worker-1")
        assert "," in pod["metadata"]["annotations"]["ovn.kubernetes.io/ip_address"]

    # Vips in the default subnet and in the dual-stack one.
    c.vip("vip-default", "ovn-default")
    c.vip("vip-dual", "dual", namespace="dual")

    # OvnEips in the external subnet, used by NAT rules on the default VPC's router.
    c.subnet("external", "172.20.10.0/24", "172.20.10.1")
    for name in ("eip-fip", "eip-snat", "eip-dnat", "eip-idle"):
        c.ovn_eip(name, "external")
    ip_name = "web-0x.apps"
    c.create(f"{KUBE_OVN}/ovn-fips", {
        "apiVersion": "kubeovn.io/v1", "kind": "OvnFip", "metadata": {"name": "fip-web"},
        "spec": {"ovnEip": "eip-fip", "ipName": ip_name}})
    c.create(f"{KUBE_OVN}/ovn-snat-rules", {
        "apiVersion": "kubeovn.io/v1", "kind": "OvnSnatRule", "metadata": {"name": "snat-default"},
        "spec": {"ovnEip": "eip-snat", "vpcSubnet": "ovn-default"}})
    c.create(f"{KUBE_OVN}/ovn-dnat-rules", {
        "apiVersion": "kubeovn.io/v1", "kind": "OvnDnatRule", "metadata": {"name": "dnat-web"},
        "spec": {"ovnEip": "eip-dnat", "ipName": "web-1x.apps", "protocol": "tcp",
                 "internalPort": "80", "externalPort": "8080"}})
    for kind, name in (("ovn-fips", "fip-web"), ("ovn-snat-rules", "snat-default"),
                       ("ovn-dnat-rules", "dnat-web")):
        c.wait(f"{kind}/{name} Ready", lambda kind=kind, name=name: (
            (c.get(f"{KUBE_OVN}/{kind}/{name}").get("status") or {}).get("ready")))

    # The completed pods' addresses are released (the controller's part, not ours).
    c.wait("the completed Job pods' IP CRs are deleted", lambda: all(
        c.get_or_none(f"{KUBE_OVN}/ips/migrate-{i}abcd.apps") is None for i in range(2)))

    code, report, _ = c.scan(capsys)
    d = Disagreements()
    d.expect("warnings and errors", brief(problems(report)), [])
    d.expect("exit code", code, 0)
    d.check()
