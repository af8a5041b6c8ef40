"""The incident's shape for other owners, with the genuine Kube-OVN controller.

A Vip deleted after its finalizer was stripped; pods whose IP CR lost its finalizer (a live pod
whose IP CR was deleted, a pod deleted after that, a pod deleted while its IP CR was still
there). Whatever the real controller leaves is the truth: its own status says whether the
address is still in use, and a restart of the real controller (its InitIPAM rebuilds the
allocator from the objects) says whether that was a leak. eipfsck must report a leak exactly
when there is one, and the restart must release exactly what it reported. See
tests/live/kubeovn_cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live.conftest import EnvFactory
from live.kubeovn_cluster import KUBE_OVN, Cluster, Disagreements, brief, problems, started

from eipfsck.addresses import parse_ip
from eipfsck.controller_log import parse_allocations

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
    pods = {name: c.pod(name, "default", "worker-1")["metadata"]["annotations"][
        "ovn.kubernetes.io/ip_address"] for name in ("app-1x", "app-2x", "app-3x")}
    pod_ip, leaked_ip, released_ip = pods["app-1x"], pods["app-2x"], pods["app-3x"]
    c.wait("Subnet ovn-default counts every address",
           lambda: {kept, lost, *pods.values()} <= c.using("ovn-default"))

    # Vip: finalizer stripped, deleted.
    c.strip_finalizers(f"{KUBE_OVN}/vips/vip-lost")
    c.delete(f"{KUBE_OVN}/vips/vip-lost")
    c.wait_gone(f"{KUBE_OVN}/vips/vip-lost")
    # Two pods' IP CRs: finalizer stripped, IP CR deleted (the pods keep running).
    for name in ("app-1x", "app-2x"):
        c.strip_finalizers(f"{KUBE_OVN}/ips/{name}.default")
        c.delete(f"{KUBE_OVN}/ips/{name}.default")
        c.wait_gone(f"{KUBE_OVN}/ips/{name}.default")
    # app-2x is then deleted: handleDeletePod (pkg/controller/pod.go) releases a pod's
    # address only through its IP CR (ipsLister.Get, then ReleaseAddressByNic); with the IP CR
    # already gone it skips the release, so the allocator keeps the address: a leak, always.
    c.delete_pod("app-2x", "default")
    # app-3x: its IP CR loses the finalizer, then the pod is deleted. handleDeletePod finds
    # the IP CR, deletes it and releases the address itself: no leak.
    c.strip_finalizers(f"{KUBE_OVN}/ips/app-3x.default")
    c.delete_pod("app-3x", "default")
    c.wait("the deleted pod's IP CR is gone",
           lambda: c.get_or_none(f"{KUBE_OVN}/ips/app-3x.default") is None)
    # The subnet status is recomputed from the allocator on IP CR events; the IP CR's delete
    # event can be handled before handleDeletePod's release, leaving the status one release
    # behind until the next event. A later pod is that event (its address is static, so it
    # cannot take a released one).
    later_ip = "10.16.0.200"
    c.pod("app-4x", "default", "worker-1",
          annotations={"ovn.kubernetes.io/ip_address": later_ip})

    in_use = c.settled_using("ovn-default")
    assert {kept, pod_ip, later_ip} <= in_use
    # The controller's own account, which the shape is built to produce every time.
    assert leaked_ip in in_use, f"the controller released {leaked_ip} (app-2x): no leak built"
    assert released_ip not in in_use, f"the controller kept {released_ip} (app-3x)"
    # v1.14.10's Vip delete handler releases the Vip's address; whatever it did is the truth.
    truth = sorted(("ovn-default", ip) for ip in (lost, leaked_ip) if ip in in_use)

    code, report, _ = c.scan(capsys)
    assert leaks(report) == truth, (f"the controller left {truth} in use (Vip {lost}, "
                                    f"app-2x's {leaked_ip})", brief(problems(report)))
    # The live pod's address is its own (a missing IP CR is not a leak). One thing besides
    # the leaks is true and said: usingIPs counts IP CRs, so the status count leaves out the
    # live pod whose IP CR was deleted, and the count's delta names its address.
    d = Disagreements()
    d.context.append(f"(the controller left {truth} in use; Vip {lost}, app-2x's {leaked_ip}, "
                     f"app-3x's {released_ip}, the live pod's {pod_ip} without IP CR)")
    others = [f for f in problems(report) if f["check"] != "leaked-ip"]
    d.expect("warnings and errors besides the leaks",
             [(f["severity"], f["check"], f["subnet"]) for f in others],
             [("warning", "status-count-mismatch", "ovn-default")])
    d.expect("what the count leaves out besides the leaks", sorted(
        (x["ip"], x["reason"]) for f in others for x in f["evidence"].get("delta", [])
        if not x["legitimate"] and x["reason"] != "no owner"),
        [(pod_ip, "held by an owner the count does not include")])
    d.expect("exit code", code, 4)
    # The controller's own log, read as eipfsck reads it: app-3x's address was released by
    # the allocator after its allocation (releaseAddr's line, for its key), app-2x's never was,
    # and the leak carries no release it did not have.
    allocs = parse_allocations(c.log.read_text(errors="replace").splitlines(), "log")
    d.expect("the log's releases after the last allocation (app-3x, app-2x)",
             [(ip, allocs[("ovn-default", parse_ip(ip))].released_line is not None)
              for ip in (released_ip, leaked_ip)],
             [(released_ip, True), (leaked_ip, False)])
    d.expect("app-2x's leak without a release in its evidence",
             [("released_in_log" in f["evidence"]) for f in report["findings"]
              if f["check"] == "leaked-ip" and f["ip"] == leaked_ip], [False])

    # The real controller's restart is the proof: what eipfsck called leaked is released, the
    # live owners keep theirs.
    c.restart_controller()
    c.wait("Subnet ovn-default Ready under the new leader", lambda: c.ready_subnet("ovn-default"))
    c.wait("the new leader's status of ovn-default", lambda: not (
        {ip for _, ip in truth} & c.using("ovn-default")))
    after = c.using("ovn-default")
    assert {kept, pod_ip, later_ip} <= after
    code, report, _ = c.scan(capsys)
    assert leaks(report) == [], brief(problems(report))
    d.expect("after the restart: warnings and errors", brief(problems(report)), [])
    d.expect("after the restart: exit code", code, 0)
    d.check()
