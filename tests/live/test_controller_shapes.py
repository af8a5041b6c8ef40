"""The incident's shape for other owners, with the genuine Kube-OVN controller.

A Vip deleted after its finalizer was stripped; a pod whose IP CR lost its finalizer. Whatever the
real controller leaves is the truth: its own status says whether the address is still in use,
and a restart of the real controller (its InitIPAM rebuilds the allocator from the objects)
says whether that was a leak. eipfsck must report a leak exactly when there is one, and the
restart must release exactly what it reported. See tests/live/kubeovn_cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live.conftest import EnvFactory
from live.kubeovn_cluster import KUBE_OVN, Cluster, Disagreements, brief, problems, started

pytestmark = pytest.mark.usefixtures("ovn_tools")


@pytest.fixture
def cluster(live_env_factory: EnvFactory, tmp_path: Path) -> Iterator[Cluster]:
    with started(live_env_factory, "kube-ovn-shapes", tmp_path) as c:
        yield c


def leaks(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["subnet"], f["ip"]) for f in report["findings"] if f["check"] == "leaked-ip")


def test_vip_and_pod_ip_cr_without_finalizer_match_the_controller(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    c = cluster
    c.node("worker-1", "172.18.0.2")
    kept = c.vip("vip-kept", "ovn-default")["status"]["v4ip"]
    lost = c.vip("vip-lost", "ovn-default")["status"]["v4ip"]
    pod = c.pod("app-1x", "default", "worker-1")
    pod_ip = pod["metadata"]["annotations"]["ovn.kubernetes.io/ip_address"]
    gone = c.pod("app-2x", "default", "worker-1")
    gone_ip = gone["metadata"]["annotations"]["ovn.kubernetes.io/ip_address"]
    c.wait("Subnet ovn-default counts every address",
           lambda: {kept, lost, pod_ip, gone_ip} <= c.using("ovn-default"))

    # Vip: finalizer stripped, deleted.
    c.strip_finalizers(f"{KUBE_OVN}/vips/vip-lost")
    c.delete(f"{KUBE_OVN}/vips/vip-lost")
    c.wait_gone(f"{KUBE_OVN}/vips/vip-lost")
    # A live pod's IP CR: finalizer stripped, IP CR deleted (the pod keeps running).
    c.strip_finalizers(f"{KUBE_OVN}/ips/app-1x.default")
    c.delete(f"{KUBE_OVN}/ips/app-1x.default")
    c.wait_gone(f"{KUBE_OVN}/ips/app-1x.default")
    # Another pod's IP CR loses its finalizer, then the pod is deleted (kubelet confirms).
    c.strip_finalizers(f"{KUBE_OVN}/ips/app-2x.default")
    c.delete_pod("app-2x", "default")
    c.wait("the deleted pod's IP CR is gone",
           lambda: c.get_or_none(f"{KUBE_OVN}/ips/app-2x.default") is None)

    # The controller rewrites the status after each delete handler: take its account once it
    # has stopped changing (a bound, not a timing assertion).
    in_use = c.settled_using("ovn-default")
    truth = sorted(("ovn-default", ip) for ip in (lost, gone_ip) if ip in in_use)
    assert pod_ip in in_use and kept in in_use

    code, report, _ = c.scan(capsys)
    assert leaks(report) == truth, (f"the controller left {truth} in use (Vip {lost}, the "
                                    f"deleted pod's {gone_ip})", brief(problems(report)))
    # The live pod's address is its own (a missing IP CR is not a leak). One thing besides
    # the leaks is true and said: usingIPs counts IP CRs, so the status count leaves out the
    # live pod whose IP CR was deleted, and the count's delta names its address.
    d = Disagreements()
    d.context.append(f"(the controller left {truth} in use; Vip {lost}, the deleted pod's "
                     f"{gone_ip}, the live pod's {pod_ip} without IP CR)")
    others = [f for f in problems(report) if f["check"] != "leaked-ip"]
    d.expect("warnings and errors besides the leaks",
             [(f["severity"], f["check"], f["subnet"]) for f in others],
             [("warning", "status-count-mismatch", "ovn-default")])
    d.expect("what the count leaves out besides the leaks", sorted(
        (x["ip"], x["reason"]) for f in others for x in f["evidence"].get("delta", [])
        if not x["legitimate"] and x["reason"] != "no owner"),
        [(pod_ip, "held by an owner the count does not include")])
    d.expect("exit code", code, 4)  # the count's warning, with or without a leak

    # The real controller's restart is the proof: what eipfsck called leaked is released, the
    # live owners keep theirs.
    c.restart_controller()
    c.wait("Subnet ovn-default Ready under the new leader", lambda: c.ready_subnet("ovn-default"))
    c.wait("the new leader's status of ovn-default", lambda: not (
        {ip for _, ip in truth} & c.using("ovn-default")))
    after = c.using("ovn-default")
    assert {kept, pod_ip} <= after
    code, report, _ = c.scan(capsys)
    assert leaks(report) == [], brief(problems(report))
    d.expect("after the restart: warnings and errors", brief(problems(report)), [])
    d.expect("after the restart: exit code", code, 0)
    d.check()
