"""The leaky example (examples/leaky-cluster) and the healthy example.

The expected table below is the §10 oracle written out finding by finding, negative
controls included: a finding that appears, disappears or changes severity fails it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eipfsck.pipeline import ScanOptions, scan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LEAKY = EXAMPLES / "leaky-cluster"
HEALTHY = EXAMPLES / "healthy-cluster"
LOG = EXAMPLES / "leaky-cluster-controller.log"

# (check, severity, subnet, ip, subjects) for every finding of the §10 fixture.
EXPECTED = {
    # external 172.30.0.21: C01, the IptablesEIP whose finalizer was stripped.
    ("leaked-ip", "error", "external", "172.30.0.21", ("external",)),
    # external 172.30.0.10: C04 eip-fip-a vs eip-dup, and C16 for eip-fip-a.
    ("double-claim", "error", "external", "172.30.0.10", ("eip-dup", "eip-fip-a")),
    ("restore-hazard", "info", "external", "172.30.0.10", ("eip-fip-a",)),
    # external 172.30.0.30: C03 + C16.
    ("owner-ip-available", "error", "external", "172.30.0.30", ("eip-avail",)),
    ("restore-hazard", "info", "external", "172.30.0.30", ("eip-avail",)),
    # external 172.30.0.13: orphan NAT n3 on an available IP (raised to error).
    ("orphan-nb-nat", "error", "external", "172.30.0.13",
     ("dnat_and_snat 172.30.0.13 -> 10.10.0.13",)),
    # external 172.30.0.14: the LRP kept the old IP (drift), the IP is available.
    ("nb-address-drift", "error", "external", "172.30.0.14", ("vpc2-external", "vpc2-external")),
    # external 172.30.0.15: fip-dangling -> eip-gone; NAT n4 on an available IP.
    ("dangling-eip-ref", "error", "external", "172.30.0.15", ("fip-dangling",)),
    # external 172.30.0.201: inside excludeIps, info.
    ("owner-ip-excluded", "info", "external", "172.30.0.201", ("eip-excl",)),
    # IP stray-ip: C12 + C05.
    ("owner-ip-out-of-cidr", "error", "external", "172.31.0.5", ("stray-ip",)),
    ("orphan-ip-cr", "warning", "external", "172.31.0.5", ("stray-ip",)),
    # external status: count 9 vs |using| 7.
    ("status-count-mismatch", "warning", "external", None, ("external",)),
    # vpc1-net1 10.10.0.13 / fd00:10:10::d: vip-b's leak, and its virtual port.
    ("leaked-ip", "error", "vpc1-net1", "10.10.0.13", ("vpc1-net1",)),
    ("leaked-ip", "error", "vpc1-net1", "fd00:10:10::d", ("vpc1-net1",)),
    ("orphan-nb-lsp", "warning", "vpc1-net1", "10.10.0.13", ("vip-b",)),
    # vpc1-net1 fd00:10:10::2: the phantom IPv6 of vip-a.
    ("phantom-v6-restore", "warning", "vpc1-net1", "fd00:10:10::2", ("vip-a", "vpc1-net1")),
    # vpc1-net1 fd00:10:10::32: vip-a's real IPv6 is available.
    ("owner-ip-available", "error", "vpc1-net1", "fd00:10:10::32", ("vip-a",)),
    # vip-a: a Vip in a dual-stack subnet is a restore hazard.
    ("restore-hazard", "info", "vpc1-net1", "10.10.0.50", ("vip-a",)),
    # ghost.ns1: orphan IP CR and its port, on available IPs (#4304).
    ("orphan-ip-cr", "warning", "vpc1-net1", "10.10.0.12", ("ghost.ns1",)),
    ("orphan-nb-lsp", "error", "vpc1-net1", "10.10.0.12", ("ghost.ns1",)),
}
# Negative controls: objects of §10 that must appear in no finding.
CLEAN_SUBJECTS = {"db-0.ns1", "app-1", "app-1.ns1", "gw1", "vpc-nat-gw-gw1-0",
                  "vpc-nat-gw-gw1-0.kube-system", "vpc1-external", "node1", "external-vpc1",
                  "external-vpc2", "fip-a", "snat-net1", "eip-snat", "ipt-eip-1",
                  "localnet.external", "vpc1-vpc1-net1"}


def _scan(path: Path, **kw: object) -> dict:
    return scan(ScanOptions(snapshot=str(path), **kw)).report  # type: ignore[arg-type]


def _key(f: dict) -> tuple:
    return (f["check"], f["severity"], f["subnet"], f["ip"],
            tuple(sorted(s["name"] for s in f["subjects"])))


def test_leaky_cluster_gives_exactly_the_expected_findings() -> None:
    report = _scan(LEAKY)
    got = {_key(f) for f in report["findings"]}
    assert got == EXPECTED, (sorted(got - EXPECTED), sorted(EXPECTED - got))
    assert len(report["findings"]) == len(EXPECTED)
    assert report["summary"]["exit_code"] == 4
    assert report["inconclusive"] == []


def test_leaky_cluster_negative_controls() -> None:
    report = _scan(LEAKY)
    mentioned = {s["name"] for f in report["findings"] for s in f["subjects"]}
    assert not (mentioned & CLEAN_SUBJECTS)
    # vpc1-net1's counts equal its ranges although anomalies exist: no count finding.
    assert not [f for f in report["findings"]
                if f["check"] == "status-count-mismatch" and f["subnet"] == "vpc1-net1"]


def test_leaky_cluster_explanations() -> None:
    report = _scan(LEAKY, controller_log=str(LOG))
    by = {(f["check"], f["ip"]): f for f in report["findings"]}
    leak = by[("leaked-ip", "172.30.0.21")]
    assert leak["evidence"]["ipam_key"] == "ipt-eip-2"
    assert leak["evidence"]["confirmed"] is False
    assert leak["evidence"]["status_range"]["field"] == "status.v4usingIPrange"
    assert by[("leaked-ip", "10.10.0.13")]["evidence"]["ipam_key"] == "vip-b"
    assert by[("leaked-ip", "fd00:10:10::d")]["evidence"]["ipam_key"] == "vip-b"
    # The log also shows the phantom being filed under vip-a at the last leader start.
    assert by[("phantom-v6-restore", "fd00:10:10::2")]["evidence"]["ipam_key"] == "vip-a"
    assert [r["name"] for r in by[("leaked-ip", "10.10.0.13")]["evidence"]["nb_rows"]
            if r["kind"] == "Logical_Switch_Port"] == ["vip-b"]
    delta = {(d["delta"], d["ip"]) for d in by[("status-count-mismatch", None)]["evidence"]
             ["delta"]}
    # §10: delta = +stray-ip +eip-avail +eip-excl −.21
    assert delta == {("+1", "172.31.0.5"), ("+1", "172.30.0.30"), ("+1", "172.30.0.201"),
                     ("-1", "172.30.0.21")}
    for f in report["findings"]:
        assert f["explanation"] and f["remedy"]


def test_healthy_cluster_is_clean() -> None:
    report = _scan(HEALTHY)
    assert report["summary"]["exit_code"] == 0, [_key(f) for f in report["findings"]]
    assert [f for f in report["findings"] if f["severity"] != "info"] == []
    assert report["inconclusive"] == []


def test_healthy_cluster_info_findings_are_the_deliberate_ones() -> None:
    # The static IP inside excludeIps is the one legitimate look-alike that is still
    # worth an info line; nothing else in the healthy cluster may be mentioned.
    report = _scan(HEALTHY)
    assert {(_key(f)[0], _key(f)[4]) for f in report["findings"]} == {
        ("owner-ip-excluded", ("static-1", "static-1.ns1"))}


@pytest.mark.parametrize("path,code", [(LEAKY, 4), (HEALTHY, 0)])
def test_readme_demo_command(path: Path, code: int) -> None:
    proc = subprocess.run([sys.executable, "-m", "eipfsck", "scan", "--snapshot", str(path)],
                          capture_output=True, text=True, env={"COLUMNS": "80", "PATH": ""},
                          check=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    if code:
        for ip in ("172.30.0.21", "10.10.0.13", "fd00:10:10::d"):
            assert ip in proc.stdout
