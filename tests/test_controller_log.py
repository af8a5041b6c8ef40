"""Former owners of leaked IPs, read from kube-ovn-controller's klog lines (ipam.go)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import Cluster

from eipfsck.addresses import parse_ip
from eipfsck.cli import main
from eipfsck.controller_log import parse_allocations, read_controller_log

EIP_LINE = ("I0822 10:11:12.123456       1 ipam.go:70] allocate v4 172.30.0.21, v6 , "
            "mac 8e:11:22:33:44:21 for ipt-eip-2 from subnet external")
DUAL_LINE = ("I0822 10:12:00.000001       1 ipam.go:70] allocate v4 10.10.0.13, "
             "v6 fd00:10:10::d, mac 00:00:00:00:00:0d for vip-b from subnet vpc1-net1")


def test_single_stack_eip_allocation() -> None:
    out = parse_allocations([EIP_LINE], "ctl.log")
    a = parse_ip("172.30.0.21")
    assert list(out) == [("external", a)]
    alloc = out[("external", a)]
    assert alloc.key == "ipt-eip-2"
    assert alloc.subnet == "external"
    assert alloc.address == a
    assert alloc.line_no == 1
    assert alloc.time == "0822 10:11:12.123456"
    assert alloc.source == "ctl.log"


def test_dual_stack_allocation_files_both_addresses_under_one_key() -> None:
    out = parse_allocations(["some other line", DUAL_LINE], "ctl.log")
    assert set(out) == {("vpc1-net1", parse_ip("10.10.0.13")),
                        ("vpc1-net1", parse_ip("fd00:10:10::d"))}
    for alloc in out.values():
        assert alloc.key == "vip-b"
        assert alloc.line_no == 2


def test_ipv4_only_static_form() -> None:
    line = ("I0822 10:00:00.000000       1 ipam.go:92] allocate v4 10.0.0.5, "
            "mac 00:00:00:aa:bb:cc for ns1/web-0 from subnet s")
    out = parse_allocations([line], "f")
    assert {k: v.key for k, v in out.items()} == {("s", parse_ip("10.0.0.5")): "ns1/web-0"}


def test_static_ip_line_names_its_key() -> None:
    # Issue 11 item 10: GetStaticAddress logs each requested address on its own line
    # (pkg/ipam/ipam.go, v1.14.35+, v1.15.7+, v1.16), the mac possibly empty.
    lines = [
        "I0822 10:00:00.000000       1 ipam.go:97] allocate static ip 10.10.0.13, mac "
        "00:00:00:cc:00:0d for vip-b from subnet vpc1-net1",
        "I0822 10:00:00.000001       1 ipam.go:97] allocate static ip fd00:10:10::d, mac  "
        "for vip-b from subnet vpc1-net1",
        # negative controls: the request line and the failure carry no allocation
        "I0822 10:00:00.000002       1 ipam.go:80] allocating static ip 10.10.0.14 from "
        "subnet vpc1-net1",
        "E0822 10:00:00.000003       1 ipam.go:90] failed to allocate static ip 10.10.0.15 "
        "for ns1/web-0",
    ]
    out = parse_allocations(lines, "f")
    assert {(k[0], str(k[1])): v.key for k, v in out.items()} == {
        ("vpc1-net1", "10.10.0.13"): "vip-b", ("vpc1-net1", "fd00:10:10::d"): "vip-b"}


def test_ipv6_only_form_is_canonical() -> None:
    line = ("I0822 10:00:00.000000       1 ipam.go:92] allocate v6 FD00:20::0005, "
            "mac 00:00:00:aa:bb:cc for ns1/web-1 from subnet s6")
    out = parse_allocations([line], "f")
    assert list(out) == [("s6", parse_ip("fd00:20::5"))]
    assert str(out[("s6", parse_ip("fd00:20::5"))].address) == "fd00:20::5"


def test_ippool_form_names_the_subnet() -> None:
    line = ("I0822 10:00:00.000000       1 ipam.go:70] allocate v4 10.0.0.7, v6 , "
            "mac 00:00:00:aa:bb:07 for ns1/app-1 from ippool p1 in subnet s")
    out = parse_allocations([line], "f")
    assert {k: v.key for k, v in out.items()} == {("s", parse_ip("10.0.0.7")): "ns1/app-1"}


def test_a_later_allocation_of_the_same_ip_wins() -> None:
    lines = [
        "I0822 10:00:00.000000       1 ipam.go:70] allocate v4 10.0.0.9, v6 , mac m1 "
        "for ns1/old from subnet s",
        "I0822 10:05:00.000000       1 ipam.go:70] allocate v4 10.0.0.10, v6 , mac m2 "
        "for ns1/other from subnet s",
        "I0822 11:00:00.000000       1 ipam.go:70] allocate v4 10.0.0.9, v6 , mac m3 "
        "for ns1/new from subnet s",
    ]
    out = parse_allocations(lines, "f")
    nine = out[("s", parse_ip("10.0.0.9"))]
    assert nine.key == "ns1/new"
    assert nine.line_no == 3
    assert nine.time == "0822 11:00:00.000000"
    assert out[("s", parse_ip("10.0.0.10"))].key == "ns1/other"


def test_same_ip_in_two_subnets_is_two_entries() -> None:
    lines = [
        "I0822 10:00:00.000000 1 ipam.go:70] allocate v4 10.0.0.9, v6 , mac m for a from "
        "subnet s1",
        "I0822 10:00:01.000000 1 ipam.go:70] allocate v4 10.0.0.9, v6 , mac m for b from "
        "subnet s2",
    ]
    out = parse_allocations(lines, "f")
    assert out[("s1", parse_ip("10.0.0.9"))].key == "a"
    assert out[("s2", parse_ip("10.0.0.9"))].key == "b"


def test_unrelated_and_pre_v1_11_lines_are_ignored() -> None:
    lines = [
        "I0822 10:00:00.000000       1 pod.go:1234] handle add/update pod ns1/web-0",
        "E0822 10:00:00.000000       1 ipam.go:80] failed to allocate ip for ns1/web-0",
        "I0822 10:00:00.000000       1 ipam.go:90] release v4 10.0.0.5 for ns1/web-0",
        # before v1.11 the line did not say which subnet: unusable
        "I0822 10:00:00.000000       1 ipam.go:60] allocate v4 10.0.0.5 v6  mac "
        "00:00:00:aa:bb:cc for ns1/web-0",
        "I0822 10:00:00.000000       1 ipam.go:60] allocate v4 10.0.0.6, v6 , mac "
        "00:00:00:aa:bb:cc for ns1/web-0",
        "",
        "allocate",
    ]
    assert parse_allocations(lines, "f") == {}


def test_a_line_without_klog_header_still_counts_but_has_no_time() -> None:
    out = parse_allocations(["allocate v4 10.0.0.5, v6 , mac m for k from subnet s"], "f")
    assert out[("s", parse_ip("10.0.0.5"))].time is None


def test_read_controller_log_numbers_lines_of_the_file(tmp_path: Path) -> None:
    log = tmp_path / "ctl.log"
    log.write_text("\n".join(["I0822 first line", "", EIP_LINE, DUAL_LINE]) + "\n")
    out = read_controller_log(str(log))
    assert out[("external", parse_ip("172.30.0.21"))].line_no == 3
    assert out[("vpc1-net1", parse_ip("fd00:10:10::d"))].line_no == 4
    assert out[("external", parse_ip("172.30.0.21"))].source == str(log)


# -- through the CLI -------------------------------------------------------------------


def leaky_cluster(root: Path) -> Path:
    c = Cluster()
    c.subnet("external", "172.30.0.0/24", using=["172.30.0.20", "172.30.0.21"], count=1)
    c.ovn_eip("eip-1", "172.30.0.20")
    return c.write(root / "snap")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_controller_log_names_the_former_owner_of_a_leak(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = leaky_cluster(tmp_path)
    log = tmp_path / "kube-ovn-controller.log"
    log.write_text("\n".join([
        "I0822 09:00:00.000000       1 ipam.go:70] allocate v4 172.30.0.21, v6 , mac "
        "8e:11:22:33:44:20 for ns1/old-pod from subnet external",
        "I0822 09:00:01.000000       1 ipam.go:70] allocate v4 172.30.0.20, v6 , mac "
        "8e:11:22:33:44:20 for eip-1 from subnet external",
        EIP_LINE,
    ]) + "\n")
    code, out, err = run_cli(["scan", "--snapshot", str(snap), "-o", "json",
                              "--controller-log", str(log)], capsys)
    assert code == 4, err
    report = json.loads(out)
    leaks = [f for f in report["findings"] if f["check"] == "leaked-ip"]
    assert [f["ip"] for f in leaks] == ["172.30.0.21"]
    ev = leaks[0]["evidence"]
    assert ev["ipam_key"] == "ipt-eip-2"
    assert "ipt-eip-2" in ev["former_owner"]
    assert ev["controller_log"]["file"] == str(log)
    assert ev["controller_log"]["line"] == 3
    assert "ipt-eip-2" in leaks[0]["message"]


def test_without_a_log_the_leak_has_no_former_owner(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = leaky_cluster(tmp_path)
    code, out, _ = run_cli(["scan", "--snapshot", str(snap), "-o", "json"], capsys)
    assert code == 4
    (leak,) = [f for f in json.loads(out)["findings"] if f["check"] == "leaked-ip"]
    assert "ipam_key" not in leak["evidence"] and "former_owner" not in leak["evidence"]


def test_a_log_entry_for_another_subnet_is_not_used(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = leaky_cluster(tmp_path)
    log = tmp_path / "ctl.log"
    log.write_text("I0822 09:00:00.000000 1 ipam.go:70] allocate v4 172.30.0.21, v6 , mac m "
                   "for someone from subnet elsewhere\n")
    code, out, _ = run_cli(["scan", "--snapshot", str(snap), "-o", "json",
                            "--controller-log", str(log)], capsys)
    assert code == 4
    (leak,) = [f for f in json.loads(out)["findings"] if f["check"] == "leaked-ip"]
    assert "ipam_key" not in leak["evidence"]


def test_a_missing_controller_log_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = leaky_cluster(tmp_path)
    code, out, err = run_cli(["scan", "--snapshot", str(snap),
                              "--controller-log", "/nonexistent/ctl.log"], capsys)
    assert code == 16
    assert "/nonexistent/ctl.log" in err
    assert "Traceback" not in err
    assert out == ""


def test_an_unreadable_controller_log_is_an_input_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # wide, so the long tmp path stays on one line (see test_snapshot_loader's one-line test)
    monkeypatch.setenv("COLUMNS", "300")
    snap = leaky_cluster(tmp_path)
    code, out, err = run_cli(["scan", "--snapshot", str(snap),
                              "--controller-log", str(tmp_path)], capsys)
    assert code == 8
    assert f"{tmp_path}: cannot read controller log" in err
    assert "Traceback" not in err and out == ""


# -- the former owner's kind, from its delete handler (issue 15 item 7) ----------------------

_ALLOC = ("I0822 09:00:00.000000       1 ipam.go:70] allocate v4 172.30.0.21, v6 , mac "
          "8e:11:22:33:44:21 for {key} from subnet external")


@pytest.mark.parametrize(("line", "kind"), [
    ("vpc_nat_gw_eip.go:337] handle delete iptables eip {key}", "IptablesEIP"),  # all versions
    ("ovn_eip.go:220] handle del ovn eip {key}", "OvnEip"),                       # <= v1.14
    ("ovn_eip.go:271] handle del ovn eip {key} (without finalizer)", "OvnEip"),   # v1.15+
    ("ovn_eip.go:166] handle deleting ovn eip {key}", "OvnEip"),                  # v1.15+
    ("vip.go:232] handle delete vip {key}", "Vip"),                               # <= v1.14
    ("vip.go:191] handle deleting vip {key}", "Vip"),                             # v1.15+
])
def test_delete_handler_line_names_the_kind(line: str, kind: str) -> None:
    lines = [_ALLOC.format(key="gone-1"),
             "I0822 10:00:00.000000       1 " + line.format(key="gone-1")]
    (alloc,) = parse_allocations(lines, "f").values()
    assert (alloc.kind, alloc.kind_line) == (kind, 2)


def test_delete_lines_that_do_not_name_the_kind_of_the_allocation() -> None:
    lines = [
        # a delete of an earlier object of that name, before this allocation
        "I0822 08:00:00.000000       1 vip.go:232] handle delete vip gone-1",
        _ALLOC.format(key="gone-1"),
        # other keys and other kinds' handlers
        "I0822 10:00:00.000000       1 vip.go:232] handle delete vip gone-2",
        "I0822 10:00:00.000000       1 pod.go:986] handle delete pod gone-1",
        "I0822 10:00:00.000000       1 vip.go:241] delete vip arp proxy lsp gone-1",
    ]
    (alloc,) = parse_allocations(lines, "f").values()
    assert alloc.kind is None


def test_former_kind_from_the_log_decides_resurrect(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from eipfsck.checks.runner import run_checks
    from eipfsck.model import build_model
    from eipfsck.repair.plan import RepairPolicy, build_plan
    from eipfsck.snapshot import load_snapshot

    def plan(key: str, delete: str | None) -> tuple[dict[str, object], list[tuple[str, str]]]:
        lines = [_ALLOC.format(key=key)] + ([delete] if delete else [])
        root = tmp_path / f"{key}-{bool(delete)}"
        model = build_model(load_snapshot(leaky_cluster(root)),
                            allocations=parse_allocations(lines, "ctl.log"))
        findings = run_checks(model).findings
        (leak,) = [f for f in findings if f.check == "leaked-ip"]
        p = build_plan(model, findings, RepairPolicy(allow_resurrect=True, max_leak_ratio=1),
                       cluster={"uid": "u"}, created=datetime.now(UTC), tool_version="t",
                       source="test", inconclusive=[])
        return leak.evidence, [(a.action, a.target.kind) for a in p.actions]

    # The subnet holds OvnEips, so without the log the key is guessed to be an OvnEip's.
    ev, actions = plan("ipt-eip-2", None)
    assert "former_kind" not in ev and ("resurrect", "OvnEip") in actions
    # The log names an IptablesEIP: named as such, and never re-created.
    ev, actions = plan("ipt-eip-2", "I0822 10:00:00.000000       1 vpc_nat_gw_eip.go:337] "
                                    "handle delete iptables eip ipt-eip-2")
    assert ev["former_kind"] == "IptablesEIP"
    assert ev["former_owner"].startswith("IptablesEIP ipt-eip-2")
    assert not [a for a in actions if a[0] == "resurrect"]
    # The log names a Vip: re-created as a Vip, not as the guessed OvnEip.
    ev, actions = plan("vip-9", "I0822 10:00:00.000000       1 vip.go:191] "
                                "handle deleting vip vip-9")
    assert ("resurrect", "Vip") in actions
