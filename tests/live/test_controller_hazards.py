"""Restore hazards: what eipfsck predicts a leader restart will lose is what the real one loses.

Before a restart eipfsck lists `restore-hazard` findings: owners that InitIPAM will not restore
as they are. Here the genuine Kube-OVN controller makes them (a dual-stack Vip, an OvnEip created
without spec.externalSubnet) next to negative controls (a single-stack Vip, an OvnEip naming its
subnet), then its pod is deleted, the supervisor starts a new one, and the new leader's own
subnet status says what happened. See tests/live/kubeovn_cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live.conftest import EnvFactory
from live.kubeovn_cluster import KUBE_OVN, Cluster, brief, started

pytestmark = pytest.mark.usefixtures("ovn_tools")


@pytest.fixture
def cluster(live_env_factory: EnvFactory, tmp_path: Path) -> Iterator[Cluster]:
    with started(live_env_factory, "kube-ovn-hazards", tmp_path) as c:
        yield c


def hazards(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """restore-hazard findings by the name of the object they are about."""
    out = {}
    for f in report["findings"]:
        if f["check"] == "restore-hazard":
            for s in f["subjects"]:
                out[s["name"]] = f
    return out


def test_restore_hazards_predicted_are_what_a_real_restart_does(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    c = cluster
    c.subnet("dual", "10.30.0.0/24,fd00:30::/120", "10.30.0.1,fd00:30::1")
    c.subnet("external", "172.20.10.0/24", "172.20.10.1")
    # A Vip deleted normally leaves a free IPv6 below vip-dual's: the lowest free one at restart.
    c.vip("vip-gone", "dual")
    dual = c.vip("vip-dual", "dual")["status"]
    c.delete(f"{KUBE_OVN}/vips/vip-gone")
    c.wait_gone(f"{KUBE_OVN}/vips/vip-gone")
    single = c.vip("vip-single", "ovn-default")["status"]
    assert dual["v4ip"] and dual["v6ip"]
    # An OvnEip without spec.externalSubnet: the controller allocates from its default external
    # subnet (--external-gateway-switch) but never writes the field back to an existing object.
    c.create(f"{KUBE_OVN}/ovn-eips", {"apiVersion": "kubeovn.io/v1", "kind": "OvnEip",
                                      "metadata": {"name": "eip-default"}, "spec": {}})
    default = c.wait("OvnEip eip-default gets its address", lambda: c.accepted(
        f"{KUBE_OVN}/ovn-eips/eip-default", "v4Ip"))
    assert not default["spec"].get("externalSubnet")
    named = c.ovn_eip("eip-named", "external")["status"]
    default_ip = default["status"]["v4Ip"]
    c.wait("the subnets count every address", lambda: (
        {dual["v4ip"], dual["v6ip"]} <= c.using("dual")
        and {default_ip, named["v4Ip"]} <= c.using("external")
        and single["v4ip"] in c.using("ovn-default")))

    _, report, _ = c.scan(capsys)
    predicted = hazards(report)
    assert set(predicted) == {"vip-dual", "eip-default"}, brief(report["findings"])

    c.restart_controller()
    for s in ("dual", "external", "ovn-default"):
        c.wait(f"Subnet {s} Ready under the new leader", lambda s=s: c.ready_subnet(s))
    # What the new leader did, by its own status.
    # vip-dual: its IPv4 is restored, its real IPv6 is not (the lowest free IPv6 is filed under
    # its key instead).
    c.wait("the new leader's status of Subnet dual", lambda: dual["v6ip"] not in c.using("dual"))
    dual_after = c.using("dual")
    assert dual["v4ip"] in dual_after
    assert any(":" in a for a in dual_after), dual_after  # the IPv6 filed under the Vip's key
    # eip-default: not restored at all; eip-named is.
    c.wait("the new leader's status of Subnet external",
           lambda: default_ip not in c.using("external"))
    assert named["v4Ip"] in c.using("external")
    # The negative control: a Vip in a single-stack subnet keeps its address.
    assert single["v4ip"] in c.using("ovn-default")
