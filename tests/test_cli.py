"""The command line, run through its real entry point: the exit-code contract, selection
options, the report file and the JSON report's structure (README "Exit codes").
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import Cluster, k8s, subnet_status

from eipfsck import __version__
from eipfsck.checks.catalogue import BY_ID, CATALOGUE
from eipfsck.cli import main

ENV_LEAKS = ("FORCE_COLOR", "NO_COLOR", "EIPFSCK_DEBUG", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
             "CLICOLOR_FORCE", "COLUMNS", "LINES")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour forcing or width from the developer's shell; messages with long tmp paths
    stay on one line (the 80-column case is tested through a subprocess)."""
    for name in ENV_LEAKS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "300")


def _flat(text: str) -> str:
    return " ".join(text.split())


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out, err


def child(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_LEAKS}
    env["COLUMNS"] = str(columns)
    env["TERM"] = "xterm-256color"  # a colour terminal type, yet stdout is a pipe
    return subprocess.run([sys.executable, "-m", "eipfsck", *args], capture_output=True,
                          text=True, env=env, check=False)


# -- clusters ---------------------------------------------------------------------------------


def clean(root: Path) -> Path:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.vip("vip1", "net1", "10.0.0.3")
    return c.write(root)


def leak(root: Path) -> Path:
    """One leaked IP (error); the using count disagrees with the range (warning)."""
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"], count=1)
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    return c.write(root)


def info_only(root: Path) -> Path:
    """A pod whose static IP lies inside excludeIps: info findings only."""
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", exclude=["10.0.0.1", "10.0.0.10..10.0.0.12"],
             using=["10.0.0.2"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.pod("static", "ns1", "10.0.0.11", "net1")
    return c.write(root)


def malformed(root: Path) -> Path:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.add("pods", {"metadata": {"namespace": "ns1"}})
    return c.write(root)


def two_subnets(root: Path) -> Path:
    """A leak in each of two subnets, plus an info finding in the second."""
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"], count=1)
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.subnet("net2", "10.0.1.0/28", exclude=["10.0.1.1", "10.0.1.9"],
             using=["10.0.1.2", "10.0.1.4"], count=1)
    c.pod("b", "ns1", "10.0.1.2", "net2")
    c.ip_cr("b.ns1", "net2", "10.0.1.2", pod="b", ns="ns1")
    c.pod("static", "ns1", "10.0.1.9", "net2")
    return c.write(root)


def findings(out: str) -> list[dict[str, Any]]:
    return json.loads(out)["findings"]


def checks_of(out: str) -> set[str]:
    return {f["check"] for f in findings(out)}


# -- the exit-code contract ------------------------------------------------------------------

CONTRACT: list[tuple[Callable[[Path], Path], list[str], int]] = [
    (clean, [], 0),
    (leak, [], 4),
    (leak, ["--fail-on", "error"], 4),
    (leak, ["--fail-on", "info"], 4),
    (leak, ["--fail-on", "never"], 0),
    (info_only, [], 0),
    (info_only, ["--fail-on", "warning"], 0),
    (info_only, ["--fail-on", "error"], 0),
    (info_only, ["--fail-on", "info"], 4),
    (malformed, ["--fail-on", "never"], 8),
    (malformed, ["--fail-on", "error"], 8),
]


@pytest.mark.parametrize("output", ["table", "json"])
@pytest.mark.parametrize(("cluster", "args", "code"), CONTRACT,
                         ids=[f"{c.__name__}{''.join(a)}" for c, a, _ in CONTRACT])
def test_exit_code_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            cluster: Callable[[Path], Path], args: list[str], code: int,
                            output: str) -> None:
    snap = cluster(tmp_path / "snap")
    got, out, err = cli(capsys, "scan", "--snapshot", str(snap), "-o", output, *args)
    assert got == code, (out, err)
    assert err == ""
    if output == "json":
        assert json.loads(out)["summary"]["exit_code"] == code
    else:
        assert out.rstrip().splitlines()[-1].startswith(f"exit {code}:")


def test_the_findings_behind_the_contract(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "scan", "-s", str(leak(tmp_path / "l")), "-o", "json")
    # the leak, once: the status count differs from the using range only by that leak
    assert [(f["check"], f["ip"]) for f in findings(out) if f["severity"] == "error"] == [
        ("leaked-ip", "10.0.0.3")]
    assert checks_of(out) == {"leaked-ip"}
    _, out, _ = cli(capsys, "scan", "-s", str(info_only(tmp_path / "i")), "-o", "json")
    sevs = {f["severity"] for f in findings(out)}
    assert sevs == {"info"}
    assert "owner-ip-excluded" in checks_of(out)
    _, out, _ = cli(capsys, "scan", "-s", str(clean(tmp_path / "c")), "-o", "json")
    assert findings(out) == []


def test_malformed_object_sets_bit_8_on_top_of_findings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "scan", "-s", str(malformed(tmp_path / "m")), "-o", "json")
    assert code == 8 | 4  # malformed-object is a warning, and the source is partial
    assert "malformed-object" in checks_of(out)


def test_version_through_the_real_interpreter() -> None:
    p = child("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"eipfsck {__version__}"
    assert p.stderr == ""


# -- usage errors ----------------------------------------------------------------------------


def test_unknown_only_id_is_a_usage_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "scan", "-s", str(clean(tmp_path / "s")), "--only", "bogus")
    assert code == 16
    assert "unknown check id 'bogus'" in err
    assert "eipfsck checks" in err  # the hint says where the ids are
    assert out == ""


def test_scan_without_snapshot_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "scan")
    assert code == 16
    assert err.startswith("eipfsck: error: ")
    assert "--snapshot" in err
    assert out == ""


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "scan", "--bogus")
    assert code == 16
    assert "--bogus" in err and "Traceback" not in err


def test_bad_fail_on_value_is_a_usage_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "scan", "-s", str(clean(tmp_path / "s")), "--fail-on", "loud")
    assert code == 16
    assert "loud" in err


def test_explain_unknown_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "explain", "nope")
    assert code == 16
    assert "nope" in err and out == ""


def test_no_arguments_prints_help_and_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys)
    assert code == 16
    assert "scan" in out + err


# -- selection: --only, --skip, --subnet -------------------------------------------------------


def test_only_hides_other_checks_and_counts_them(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    _, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    everything = json.loads(out)
    assert {"leaked-ip", "owner-ip-excluded"} <= checks_of(out)
    code, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json", "--only", "leaked-ip")
    report = json.loads(out)
    assert checks_of(out) == {"leaked-ip"}
    assert [f for f in everything["findings"] if f["check"] == "leaked-ip"] == report["findings"]
    assert report["summary"]["suppressed"] == len(everything["findings"]) - len(
        report["findings"])
    assert report["summary"]["suppressed"] > 0
    assert "owner-ip-excluded" in report["checks"]["deselected"]
    assert "leaked-ip" not in report["checks"]["deselected"]
    assert code == 4


def test_only_accepts_comma_lists_and_any_case(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    _, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json",
                    "--only", "Leaked-IP,owner-ip-excluded")
    assert checks_of(out) == {"leaked-ip", "owner-ip-excluded"}


def test_skip_hides_a_check_and_the_exit_code_follows_what_is_shown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    _, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    everything = findings(out)
    code, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json",
                       "--skip", "leaked-ip", "--skip", "status-count-mismatch")
    report = json.loads(out)
    assert "leaked-ip" not in checks_of(out)
    assert "status-count-mismatch" not in checks_of(out)
    assert "owner-ip-excluded" in checks_of(out)
    hidden = [f for f in everything
              if f["check"] in ("leaked-ip", "status-count-mismatch")]
    assert report["summary"]["suppressed"] == len(hidden) >= 2
    assert report["findings"] == [f for f in everything if f not in hidden]
    assert report["summary"]["by_check"].get("leaked-ip") is None
    assert code == 0  # what remains is info
    # the hidden leaks still count in the subnet summaries: they exist
    assert [fam["leaked"] for s in report["subnets"] for fam in s["families"]] == [1, 1]


def test_subnet_filters_findings_and_summaries(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    code, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json", "--subnet", "net1")
    report = json.loads(out)
    assert {f["subnet"] for f in report["findings"]} == {"net1"}
    assert [f["ip"] for f in report["findings"] if f["check"] == "leaked-ip"] == ["10.0.0.3"]
    assert [s["name"] for s in report["subnets"]] == ["net1"]
    assert report["summary"]["suppressed"] >= 2
    assert code == 4
    _, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json", "--subnet", "net2")
    assert {f["subnet"] for f in findings(out)} == {"net2"}
    _, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json", "--subnet", "net1,net2")
    assert [s["name"] for s in json.loads(out)["subnets"]] == ["net1", "net2"]


def test_table_subnet_filter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    _, out, _ = cli(capsys, "scan", "-s", str(snap), "--subnet", "net2")
    assert "10.0.1.4" in out and "10.0.0.3" not in out


def test_unknown_subnet_is_a_usage_error(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "scan", "-s", str(two_subnets(tmp_path / "s")),
                         "--subnet", "nope")
    assert code == 16
    assert "nope" in err and out == ""


# -- --report FILE -------------------------------------------------------------------------------


def without_scan_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "scanned_at"}


def test_report_file_is_the_json_report_with_mode_0600(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o644)
    code, table_out, _ = cli(capsys, "scan", "-s", str(snap), "--report", str(target))
    assert code == 4
    assert "leaked-ip" in table_out  # stdout still has the table
    written = json.loads(target.read_text())
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    code2, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    assert code2 == code
    assert without_scan_time(written) == without_scan_time(json.loads(out))
    assert "scanned_at" in written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.json.")]


def test_report_file_and_json_stdout_of_one_run_are_identical(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.json"
    _, out, _ = cli(capsys, "scan", "-s", str(leak(tmp_path / "s")), "-o", "json",
                    "--report", str(target))
    assert target.read_text() == out


def test_failed_scan_leaves_the_previous_report_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = leak(tmp_path / "s")
    pods = snap / "k8s" / "pods.json"
    pods.write_text(pods.read_text()[:40])
    target = tmp_path / "report.json"
    target.write_text('{"previous": true}\n')
    before = target.stat()
    code, out, err = cli(capsys, "scan", "-s", str(snap), "--report", str(target))
    assert code == 8
    assert str(pods) in err
    assert target.read_text() == '{"previous": true}\n'
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    assert out == ""


def test_report_into_a_missing_directory_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "scan", "-s", str(leak(tmp_path / "s")),
                       "--report", str(tmp_path / "no" / "r.json"))
    assert code == 16
    assert str(tmp_path / "no") in err


# -- the table on a pipe -----------------------------------------------------------------------


def busy(root: Path) -> Path:
    """Many kinds of findings, long names, dual stack and a /64: a wide report."""
    c = Cluster()
    long_ns = "a-rather-long-namespace-name-for-the-tenant"
    c.subnet("a-rather-long-subnet-name-for-the-tenant-vpc", "10.0.0.0/28,fd00:10:20:30::/120",
             exclude=["10.0.0.1", "fd00:10:20:30::1", "10.0.0.10..10.0.0.12"],
             using=["10.0.0.2", "10.0.0.3", "fd00:10:20:30::2", "fd00:10:20:30::3"], count=1)
    c.pod("web-0", long_ns, "10.0.0.2,fd00:10:20:30::2",
          "a-rather-long-subnet-name-for-the-tenant-vpc")
    c.ip_cr(f"web-0.{long_ns}", "a-rather-long-subnet-name-for-the-tenant-vpc",
            "10.0.0.2,fd00:10:20:30::2", pod="web-0", ns=long_ns)
    c.pod("static", long_ns, "10.0.0.11", "a-rather-long-subnet-name-for-the-tenant-vpc")
    c.ip_cr("ghost.x", "a-rather-long-subnet-name-for-the-tenant-vpc", "10.0.0.5",
            pod="ghost", ns="x")
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.20"])
    # a /64 with float64 counts as v1.15 writes them (the builder enumerates, so by hand)
    c.subnet("big-v6", "fd00:99::/64", gateway="fd00:99::1", status={
        "v4usingIPrange": "", "v4availableIPrange": "", "v4usingIPs": 0, "v4availableIPs": 0,
        "v6usingIPrange": "fd00:99::2-fd00:99::3",
        "v6availableIPrange": "fd00:99::4-fd00:99::ffff:ffff:ffff:fffe",
        "v6usingIPs": 1, "v6availableIPs": 1.8446744073709552e+19})
    c.pod("v6pod", long_ns, "fd00:99::2", "big-v6")
    c.ip_cr(f"v6pod.{long_ns}", "big-v6", "fd00:99::2", pod="v6pod", ns=long_ns)
    return c.write(root)


def test_piped_table_is_plain_and_never_wrapped(tmp_path: Path) -> None:
    """Piped output is for grep: one finding message per line, the subnet names and CIDRs
    whole, whatever COLUMNS says (the terminal case: tests/test_cli_output.py)."""
    snap = busy(tmp_path / "snap")
    p = child("scan", "--snapshot", str(snap), columns=80)
    assert p.returncode == 4, p.stderr
    assert p.stderr == ""
    assert "\x1b" not in p.stdout
    assert "leaked-ip" in p.stdout and "fd00:10:20:30::3" in p.stdout
    assert "fd00:99::3" in p.stdout  # the leak in the /64
    lines = p.stdout.splitlines()
    report = json.loads(child("scan", "--snapshot", str(snap), "-o", "json").stdout)
    for f in report["findings"]:
        assert any(f["message"] in line for line in lines), f["message"]
    assert any(line.split()[:2] == ["a-rather-long-subnet-name-for-the-tenant-vpc",
                                    "10.0.0.0/28"] for line in lines)
    assert any(len(line) > 80 for line in lines)


def test_piped_error_has_no_colour(tmp_path: Path) -> None:
    p = child("scan", "--snapshot", str(tmp_path / "nope"))
    assert p.returncode == 16
    assert "\x1b" not in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("cidr", ["fd00:100::/120", "fd00:1234:5678::/120", "2001:abcd::/120",
                                  "2001:db8:abcd:12::/120"])
def test_table_prints_cidrs_literally(tmp_path: Path, cidr: str) -> None:
    """Cells are data, not markup: ":100:" or ":abcd:" in an IPv6 CIDR must not turn into
    an emoji (rich's emoji codes include 100, 1234, a, b, ab, abc, abcd, cd, bed, bee)."""
    c = Cluster()
    pod_ip = cidr.replace("::/120", "::2")
    c.subnet("v6net", cidr, using=[pod_ip])
    c.pod("a", "ns1", pod_ip, "v6net")
    c.ip_cr("a.ns1", "v6net", pod_ip, pod="a", ns="ns1")
    p = child("scan", "--snapshot", str(c.write(tmp_path / "snap")), columns=200)
    assert p.returncode == 0, p.stderr
    assert cidr in p.stdout, p.stdout


# -- the JSON report ---------------------------------------------------------------------------

FINDING_KEYS = {"check", "severity", "subnet", "family", "ip", "subjects", "evidence",
                "explanation", "remedy", "repairable"}


def identified(root: Path) -> Path:
    """A cluster with identity, a leader, and a dual-stack subnet written in upper case."""
    c = Cluster()
    c.add("namespaces", k8s("kube-system"))
    c.add("leases.coordination.k8s.io", k8s("kube-ovn-controller", "kube-system",
                                            spec={"holderIdentity": "kube-ovn-controller-7d9"}))
    st = subnet_status("10.0.0.0/28,fd00:10::/120", ["10.0.0.1", "fd00:10::1"],
                       ["10.0.0.2", "fd00:10::2", "fd00:10::6"], count=1)
    # a controller that wrote IPv6 in exploded upper case
    st["v6usingIPrange"] = ",".join(
        "-".join(ipaddress.IPv6Address(a).exploded.upper() for a in part.split("-"))
        for part in st["v6usingIPrange"].split(","))
    assert "FD00:0010:0000" in st["v6usingIPrange"]
    c.subnet("dual", "10.0.0.0/28,FD00:10::/120", gateway="10.0.0.1,FD00:10::1",
             exclude=["10.0.0.1", "FD00:10::1"], status=st)
    c.pod("a", "ns1", "10.0.0.2,FD00:0010::0002", "dual")
    c.ip_cr("a.ns1", "dual", "10.0.0.2,FD00:10::2", pod="a", ns="ns1")
    c.pod("b", "ns1", "10.0.0.3,FD00:10::1", "dual")  # on the gateway
    return c.write(root)


def test_json_report_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = identified(tmp_path / "snap")
    code, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    r = json.loads(out)
    assert r["schema"] == "eipfsck/report/v1"
    assert r["tool"] == {"name": "eipfsck", "version": __version__}
    assert r["captured_at"].startswith("2026-11-29T00:00:00")
    assert re.match(r"\d{4}-\d\d-\d\dT", r["scanned_at"])
    assert r["cluster"]["uid"] == k8s("kube-system")["metadata"]["uid"]
    assert r["cluster"]["kube_ovn_version"] == "v1.16.2" or \
        r["cluster"]["kube_ovn_version"].lstrip("v") == "1.16.2"
    assert r["cluster"]["controller_leader"] == "kube-ovn-controller-7d9"
    sources = {s["name"]: s for s in r["sources"]}
    assert sources["subnets.kubeovn.io"]["state"] == "complete"
    assert sources["subnets.kubeovn.io"]["resource_version"] == "1"
    assert sources["ippools.kubeovn.io"]["state"] == "absent"
    assert "ippools.kubeovn.io" in r["absent"]
    assert {"findings", "by_severity", "suppressed", "fail_on", "exit_code"} <= set(
        r["summary"])
    assert r["summary"]["exit_code"] == code
    (s,) = r["subnets"]
    assert s["name"] == "dual"
    fams = {f["family"]: f for f in s["families"]}
    assert set(fams) == {"ipv4", "ipv6"}
    v6 = fams["ipv6"]
    assert v6["cidr"] == "fd00:10::/120"
    assert (v6["size"], v6["excluded"], v6["using"], v6["available"]) == (254, 1, 2, 251)
    assert v6["owned"] == 2 and v6["leaked"] == 1  # pods a and b (b on the gateway)
    for f in r["findings"]:
        assert set(f) >= FINDING_KEYS, f
        assert f["check"] in BY_ID
        assert f["severity"] in ("info", "warning", "error")
        assert f["explanation"] == BY_ID[f["check"]].explanation
        assert f["remedy"] == BY_ID[f["check"]].remedy
        assert isinstance(f["repairable"], bool)
        assert all({"kind", "name"} <= set(sub) for sub in f["subjects"])


def test_ipv6_in_the_report_is_canonical(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "scan", "-s", str(identified(tmp_path / "snap")), "-o", "json")
    r = json.loads(out)
    v6_ips = [f["ip"] for f in r["findings"] if f["family"] == "ipv6" and f["ip"]]
    assert "fd00:10::6" in v6_ips  # the leak, read from an exploded upper-case range
    assert "fd00:10::1" in v6_ips  # the pod on the gateway, annotated in upper case
    for ip in v6_ips:
        assert ip == str(ipaddress.IPv6Address(ip))
    (leak6,) = [f for f in r["findings"] if f["check"] == "leaked-ip" and f["family"] == "ipv6"]
    assert leak6["evidence"]["status_range"]["interval"] == "fd00:10::6"
    for f in r["findings"]:
        # exclude_entry quotes the spec's excludeIps entry as written, to find it there
        f["evidence"].pop("exclude_entry", None)
    text = json.dumps(r)
    assert "FD00" not in text and "0010:" not in text


def test_findings_are_sorted_and_stable(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    _, first, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    _, second, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    assert findings(first) == findings(second)
    keys = [(f["subnet"] or "", f["family"] or "") for f in findings(first)]
    assert keys == sorted(keys)


def test_findings_do_not_depend_on_input_order(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    snap = two_subnets(tmp_path / "s")
    _, before, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    for f in (snap / "k8s").iterdir():
        doc = json.loads(f.read_text())
        doc["items"].reverse()
        f.write_text(json.dumps(doc))
    _, after, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json")
    assert findings(after) == findings(before)


# -- checks and explain ---------------------------------------------------------------------------


def test_checks_lists_every_catalogue_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "checks")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed == [c.id for c in CATALOGUE]


def test_checks_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "checks", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert [c["id"] for c in doc] == [c.id for c in CATALOGUE]
    for entry, spec in zip(doc, CATALOGUE, strict=True):
        assert entry["severity"] == spec.severity
        assert entry["repairable"] == spec.repairable


def test_explain_prints_the_remedy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "explain", "leaked-ip")
    assert code == 0
    spec = BY_ID["leaked-ip"]
    assert out.startswith("leaked-ip (C01), default severity error")
    assert _flat(spec.remedy) in _flat(out)  # wrapped to the terminal
    assert _flat(spec.explanation) in _flat(out)


def test_explain_is_case_insensitive(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "explain", "Double-Claim")
    assert code == 0
    assert _flat(BY_ID["double-claim"].remedy) in _flat(out)


# -- severity that differs from the catalogue says why -----------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _all_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    snaps = [EXAMPLES / "leaky-cluster", EXAMPLES / "healthy-cluster"]
    snaps += [build(tmp_path / build.__name__) for build in
              (clean, leak, info_only, malformed, two_subnets, busy, identified)]
    reports = []
    for snap in snaps:
        _, out, _ = cli(capsys, "scan", "-s", str(snap), "-o", "json", "--fail-on", "never")
        reports.append(json.loads(out))
    return reports


def test_a_severity_other_than_the_catalogue_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = set()
    for report in _all_reports(tmp_path, capsys):
        for f in report["findings"]:
            spec = BY_ID[f["check"]]
            if f["severity"] == spec.severity:
                assert f["severity_reason"] is None, f
            else:
                assert (f["severity"], f["severity_reason"]) in spec.severity_when, f
                seen.add((f["check"], f["severity"]))
    # the demo's raised findings are among them: the test means something
    assert {("orphan-nb-nat", "error"), ("orphan-nb-lsp", "error"),
            ("dangling-eip-ref", "error")} <= seen


def test_the_table_and_checks_and_explain_say_why(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "scan", "-s", str(EXAMPLES / "leaky-cluster"))
    assert "ERROR   orphan-nb-nat  172.30.0.13  (error: its IP is marked available)" in out
    assert "WARNING orphan-nb-lsp  10.10.0.13\n" in out  # at its default: nothing added
    _, out, _ = cli(capsys, "checks")
    (line,) = [x for x in out.splitlines() if x.startswith("orphan-nb-nat ")]
    assert line.endswith("[error when its IP is marked available]")
    _, out, _ = cli(capsys, "checks", "-o", "json")
    (entry,) = [c for c in json.loads(out) if c["id"] == "dangling-eip-ref"]
    assert entry["severity_when"] == [{"severity": "error",
                                       "when": "its NB rows translate an IP marked available"}]
    _, out, _ = cli(capsys, "explain", "orphan-nb-lsp")
    assert out.startswith("orphan-nb-lsp (C06), default severity warning (error when its IP "
                          "is marked available)")
