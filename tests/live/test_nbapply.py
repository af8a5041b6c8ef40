"""Deleting orphaned NB rows against real ovsdb-server processes (never a mock).

Every plan (`NbRowDelete.expect`) is built from what `read_northbound` returns, the decoded
form the real planner uses, and every outcome is checked against what ovn-nbctl lists after.
"""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time
from typing import Any

import pytest
from live import ovsdb
from live.test_ovnnb import Proxy

from eipfsck.collect.ovnnb import NbTarget, read_northbound
from eipfsck.repair.nbapply import NbRowDelete, NbWriteError, NbWriter
from eipfsck.repair.outcome import ActionResult
from eipfsck.snapshot import as_list, decode_nb_table

LB_KEEP = "10.96.0.1:443"
LB_DROP = "10.96.0.10:53"


pytestmark = pytest.mark.usefixtures("ovn_tools")


@pytest.fixture
def nb(nb: ovsdb.NbServer) -> ovsdb.NbServer:
    """conftest's standalone NB server, populated."""
    populate(nb)
    return nb


def populate(server: ovsdb.NbServer) -> None:
    """Two routers with NATs, a switch with a plain pod port and the router-type peer of a
    router port, and a load balancer with two VIPs on a router."""
    cmds = [
        "lr-add vpc1",
        "lr-add vpc2",
        "ls-add sw1",
        "lsp-add sw1 pod-a.ns1",
        "lsp-set-addresses pod-a.ns1 '00:00:00:aa:bb:01 192.168.0.5'",
        "set Logical_Switch_Port pod-a.ns1 external_ids:pod=ns1/pod-a external_ids:ls=sw1",
        "lsp-add sw1 pod-b.ns1",
        "lsp-set-addresses pod-b.ns1 '00:00:00:aa:bb:02 192.168.0.6'",
        "lrp-add vpc1 vpc1-sw1 00:00:00:02:00:01 192.168.0.1/24",
        "lsp-add sw1 sw1-vpc1",
        "lsp-set-type sw1-vpc1 router",
        "lsp-set-addresses sw1-vpc1 router",
        "lsp-set-options sw1-vpc1 router-port=vpc1-sw1",
        "lrp-add vpc1 vpc1-ext 00:00:00:02:00:02 172.30.0.1/24",
        "--id=@snat create NAT type=snat external_ip=172.30.0.30 logical_ip=192.168.0.0/24 "
        "external_ids:vendor=kube-ovn",
        "add Logical_Router vpc1 nat @snat",
        "--id=@fip create NAT type=dnat_and_snat external_ip=172.30.0.31 logical_ip=192.168.0.5 "
        "logical_port=pod-a.ns1 external_mac='\"00:00:00:cc:cc:01\"' external_ids:ovn-eip=eip-1",
        "add Logical_Router vpc1 nat @fip",
        "--id=@other create NAT type=snat external_ip=172.30.0.40 logical_ip=10.1.0.0/16",
        "add Logical_Router vpc2 nat @other",
        f"lb-add lb1 {LB_KEEP} 192.168.0.5:6443,192.168.0.6:6443 tcp",
        f"lb-add lb1 {LB_DROP} 192.168.0.7:53",
        "lr-lb-add vpc1 lb1",
    ]
    args: list[str] = []
    for cmd in cmds:
        args += ["--", *shlex.split(cmd)]
    server.nbctl(*args[1:])


# ---------------------------------------------------------------------------------------------
# Helpers


def planned(server: ovsdb.NbServer) -> dict[str, list[dict[str, Any]]]:
    """The rows as the planner sees them: read_northbound's decoded form."""
    result = read_northbound(NbTarget(server.tcp, timeout=10))
    assert result.error is None and result.rows is not None, result.error
    return result.rows


def nb_rows(server: ovsdb.NbServer, table: str) -> dict[str, dict[str, Any]]:
    """What is in the server now, by UUID, per ovn-nbctl."""
    rows = decode_nb_table(table, server.list_json(table), f"ovn-nbctl list {table}")
    return {r["_uuid"]: r for r in rows}


def named(rows: dict[str, list[dict[str, Any]]], table: str, name: str) -> dict[str, Any]:
    return next(r for r in rows[table] if r["name"] == name)


def nat(rows: dict[str, list[dict[str, Any]]], external_ip: str) -> dict[str, Any]:
    return next(r for r in rows["NAT"] if r["external_ip"] == external_ip)


def whole(table: str, row: dict[str, Any]) -> NbRowDelete:
    """A delete planned on every column read (the strictest plan)."""
    return NbRowDelete(table, row["_uuid"], {c: v for c, v in row.items() if c != "_uuid"})


def vip_delete(lb: dict[str, Any], vip: str = LB_DROP) -> NbRowDelete:
    return NbRowDelete("Load_Balancer", lb["_uuid"], {"vips": {vip: lb["vips"][vip]}}, vip=vip)


def writer(server: ovsdb.NbServer, timeout: float = 5) -> NbWriter:
    return NbWriter(NbTarget(server.tcp, timeout=timeout))


def set_backends(server: ovsdb.NbServer, vip: str, backends: str) -> None:
    server.nbctl("set", "Load_Balancer", "lb1", f'vips:"{vip}"="{backends}"')


def resources() -> tuple[int, int]:
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


def transacts(proxy: Proxy) -> list[list[dict[str, Any]]]:
    """The operations of every transaction the client sent through the proxy."""
    return [m["params"][1:] for m in proxy.client_messages() if m.get("method") == "transact"]


def assert_result(result: ActionResult, outcome: str, *fragments: str) -> None:
    assert result.outcome == outcome, result
    assert "\n" not in result.detail
    for fragment in fragments:
        assert fragment in result.detail, result.detail


# ---------------------------------------------------------------------------------------------
# Deleting


def test_nat_deleted_others_untouched(nb: ovsdb.NbServer,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    rows = planned(nb)
    snat, fip, other = nat(rows, "172.30.0.30"), nat(rows, "172.30.0.31"), \
        nat(rows, "172.30.0.40")
    before_res = resources()

    with writer(nb) as w:
        assert w.endpoint == nb.tcp
        result = w.delete([whole("NAT", snat)])

    assert resources() == before_res  # no thread, no socket left behind
    assert_result(result, "released", f"deleted NAT {snat['_uuid']} from router vpc1")
    assert result.before == {snat["_uuid"]: snat}
    now = nb_rows(nb, "NAT")
    assert set(now) == {fip["_uuid"], other["_uuid"]}
    assert now[fip["_uuid"]] == fip and now[other["_uuid"]] == other
    routers = {r["name"]: r for r in nb_rows(nb, "Logical_Router").values()}
    assert as_list(routers["vpc1"]["nat"]) == [fip["_uuid"]]
    assert as_list(routers["vpc2"]["nat"]) == [other["_uuid"]]
    assert capfd.readouterr() == ("", "")


def test_router_port_and_peer_deleted_together(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lrp = named(rows, "Logical_Router_Port", "vpc1-sw1")
    lsp = named(rows, "Logical_Switch_Port", "sw1-vpc1")
    assert lsp["type"] == "router" and lsp["options"] == {"router-port": "vpc1-sw1"}

    with writer(nb) as w:
        result = w.delete([whole("Logical_Router_Port", lrp), whole("Logical_Switch_Port", lsp)])

    assert_result(result, "released",
                  f"deleted Logical_Router_Port {lrp['_uuid']} (vpc1-sw1) from router vpc1",
                  f"deleted Logical_Switch_Port {lsp['_uuid']} (sw1-vpc1) from switch sw1")
    assert result.before == {lrp["_uuid"]: lrp, lsp["_uuid"]: lsp}
    assert lrp["_uuid"] not in nb_rows(nb, "Logical_Router_Port")
    assert lsp["_uuid"] not in nb_rows(nb, "Logical_Switch_Port")
    assert nb.nbctl("lrp-list", "vpc1").split() == \
        [next(u for u, r in nb_rows(nb, "Logical_Router_Port").items()
              if r["name"] == "vpc1-ext"), "(vpc1-ext)"]
    assert sorted(nb.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port").split()) \
        == ["pod-a.ns1", "pod-b.ns1"]


def test_plain_switch_port_deleted(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lsp = named(rows, "Logical_Switch_Port", "pod-a.ns1")
    assert lsp["external_ids"] == {"pod": "ns1/pod-a", "ls": "sw1"}

    with writer(nb) as w:
        result = w.delete([whole("Logical_Switch_Port", lsp)])

    assert_result(result, "released", f"Logical_Switch_Port {lsp['_uuid']} (pod-a.ns1) "
                  "from switch sw1")
    assert lsp["_uuid"] not in nb_rows(nb, "Logical_Switch_Port")
    sw1 = next(iter(nb_rows(nb, "Logical_Switch").values()))
    assert lsp["_uuid"] not in as_list(sw1["ports"])
    assert len(as_list(sw1["ports"])) == 2


def test_load_balancer_only_the_vip_removed(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lb = named(rows, "Load_Balancer", "lb1")

    with writer(nb) as w:
        result = w.delete([vip_delete(lb)])

    assert_result(result, "released", f"removed VIP {LB_DROP} from Load_Balancer "
                  f"{lb['_uuid']} (lb1)")
    assert result.before == {lb["_uuid"]: lb}
    now = nb_rows(nb, "Load_Balancer")
    assert list(now) == [lb["_uuid"]]  # the row stays
    assert now[lb["_uuid"]]["vips"] == {LB_KEEP: lb["vips"][LB_KEEP]}
    assert now[lb["_uuid"]] == {**lb, "vips": {LB_KEEP: lb["vips"][LB_KEEP]}}
    vpc1 = next(r for r in nb_rows(nb, "Logical_Router").values() if r["name"] == "vpc1")
    assert as_list(vpc1["load_balancer"]) == [lb["_uuid"]]  # still attached


# ---------------------------------------------------------------------------------------------
# Already gone


def test_row_already_deleted(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    snat = nat(rows, "172.30.0.30")
    nb.nbctl("remove", "Logical_Router", "vpc1", "nat", snat["_uuid"])

    with writer(nb) as w:
        result = w.delete([whole("NAT", snat)])

    assert result == ActionResult("already-gone", f"already gone: NAT {snat['_uuid']}")
    assert len(nb_rows(nb, "NAT")) == 2


def test_vip_already_removed(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lb = named(rows, "Load_Balancer", "lb1")
    nb.nbctl("lb-del", "lb1", LB_DROP)

    with writer(nb) as w:
        result = w.delete([vip_delete(lb)])

    assert result == ActionResult("already-gone",
                                  f"already gone: Load_Balancer {lb['_uuid']} VIP {LB_DROP}")
    assert nb_rows(nb, "Load_Balancer")[lb["_uuid"]]["vips"] == {LB_KEEP: lb["vips"][LB_KEEP]}


def test_some_gone_the_rest_deleted(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lrp = named(rows, "Logical_Router_Port", "vpc1-sw1")
    lsp = named(rows, "Logical_Switch_Port", "sw1-vpc1")
    nb.nbctl("lsp-del", "sw1-vpc1")

    with writer(nb) as w:
        result = w.delete([whole("Logical_Router_Port", lrp), whole("Logical_Switch_Port", lsp)])

    assert_result(result, "released", f"deleted Logical_Router_Port {lrp['_uuid']}",
                  f"already gone: Logical_Switch_Port {lsp['_uuid']}")
    assert result.before == {lrp["_uuid"]: lrp}
    assert lrp["_uuid"] not in nb_rows(nb, "Logical_Router_Port")


# ---------------------------------------------------------------------------------------------
# Changed


def test_row_changed_before_the_read_is_skipped(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    fip = nat(rows, "172.30.0.31")
    nb.nbctl("set", "NAT", fip["_uuid"], "logical_ip=192.168.0.9")

    with Proxy(nb.port) as proxy, \
            NbWriter(NbTarget(f"tcp:127.0.0.1:{proxy.port}", timeout=5)) as w:
        result = w.delete([whole("NAT", fip)])

    assert_result(result, "skipped-changed", f"NAT {fip['_uuid']} changed since it was planned",
                  'logical_ip: planned "192.168.0.5", now "192.168.0.9"', "nothing deleted")
    assert transacts(proxy) == []  # caught by the compare: nothing was even sent
    assert nb_rows(nb, "NAT")[fip["_uuid"]] == {**fip, "logical_ip": "192.168.0.9"}


def test_row_changed_between_compare_and_commit_fails_the_wait(nb: ovsdb.NbServer) -> None:
    """The change lands after the compare (in before_commit), so only the OVSDB wait that
    verify() put in the transaction can stop the delete: the server must refuse it."""
    rows = planned(nb)
    fip = nat(rows, "172.30.0.31")
    calls = []

    def change() -> None:
        calls.append(1)
        nb.nbctl("set", "NAT", fip["_uuid"], "logical_ip=192.168.0.9")

    with Proxy(nb.port) as proxy, \
            NbWriter(NbTarget(f"tcp:127.0.0.1:{proxy.port}", timeout=5)) as w:
        result = w.delete([whole("NAT", fip)], before_commit=change)

    assert calls == [1]
    # The server's own words for the refused wait, naming the row: the commit was sent and
    # refused, not stopped by the compare.
    assert_result(result, "skipped-changed",
                  "the OVSDB wait failed: the row changed between the read and the commit",
                  f'commit 1 refused by ovsdb-server: wait on NAT {fip["_uuid"]}: timed out '
                  '("where" clause test failed)',
                  'logical_ip: planned "192.168.0.5", now "192.168.0.9"', "nothing deleted")
    assert result.before == {fip["_uuid"]: fip}
    # Exactly one transaction: the wait on the planned values and the unreference, together.
    [ops] = transacts(proxy)
    waits = [op for op in ops if op["op"] == "wait"]
    assert waits == [{"op": "wait", "table": "NAT", "timeout": 0, "until": "==",
                      "where": [["_uuid", "==", ["uuid", fip["_uuid"]]]],
                      "columns": sorted(c for c in fip if c != "_uuid"),
                      "rows": [waits[0]["rows"][0]]}]
    assert waits[0]["rows"][0]["logical_ip"] == "192.168.0.5"
    assert {"op": "mutate", "table": "Logical_Router",
            "where": [["_uuid", "==", ["uuid", named(rows, "Logical_Router", "vpc1")["_uuid"]]]],
            "mutations": [["nat", "delete", ["set", [["uuid", fip["_uuid"]]]]]]} in ops
    now = nb_rows(nb, "NAT")
    assert now[fip["_uuid"]] == {**fip, "logical_ip": "192.168.0.9"}
    vpc1 = next(r for r in nb_rows(nb, "Logical_Router").values() if r["name"] == "vpc1")
    assert fip["_uuid"] in as_list(vpc1["nat"])


def test_row_deleted_between_compare_and_commit_is_already_gone(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    snat = nat(rows, "172.30.0.30")

    with writer(nb) as w:
        result = w.delete([whole("NAT", snat)], before_commit=lambda: nb.nbctl(
            "remove", "Logical_Router", "vpc1", "nat", snat["_uuid"]))

    assert_result(result, "already-gone", "the OVSDB wait failed", f"wait on NAT {snat['_uuid']}",
                  f"already gone: NAT {snat['_uuid']}")
    assert snat["_uuid"] not in nb_rows(nb, "NAT")


def test_pair_with_changed_peer_deletes_neither(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lrp = named(rows, "Logical_Router_Port", "vpc1-sw1")
    lsp = named(rows, "Logical_Switch_Port", "sw1-vpc1")
    nb.nbctl("lsp-set-options", "sw1-vpc1", "router-port=vpc1-other")

    with writer(nb) as w:
        result = w.delete([whole("Logical_Router_Port", lrp), whole("Logical_Switch_Port", lsp)])

    assert_result(result, "skipped-changed", f"Logical_Switch_Port {lsp['_uuid']} changed",
                  'options: planned {"router-port": "vpc1-sw1"}, now '
                  '{"router-port": "vpc1-other"}')
    assert nb_rows(nb, "Logical_Router_Port")[lrp["_uuid"]] == lrp
    assert lsp["_uuid"] in nb_rows(nb, "Logical_Switch_Port")


def test_pair_whose_peer_changes_before_the_commit_deletes_neither(nb: ovsdb.NbServer) -> None:
    """The wait on the second row refuses the whole transaction, the first row's part too."""
    rows = planned(nb)
    lrp = named(rows, "Logical_Router_Port", "vpc1-sw1")
    lsp = named(rows, "Logical_Switch_Port", "sw1-vpc1")

    with writer(nb) as w:
        result = w.delete(
            [whole("Logical_Router_Port", lrp), whole("Logical_Switch_Port", lsp)],
            before_commit=lambda: nb.nbctl("lsp-set-options", "sw1-vpc1",
                                           "router-port=vpc1-other"))

    assert_result(result, "skipped-changed", "the OVSDB wait failed",
                  f"wait on Logical_Switch_Port {lsp['_uuid']}: timed out",
                  f"Logical_Switch_Port {lsp['_uuid']} changed")
    assert nb_rows(nb, "Logical_Router_Port")[lrp["_uuid"]] == lrp
    assert nb_rows(nb, "Logical_Switch_Port")[lsp["_uuid"]] == \
        {**lsp, "options": {"router-port": "vpc1-other"}}


def test_unplanned_change_to_the_same_column_retries_once(nb: ovsdb.NbServer) -> None:
    """Another VIP of the same load balancer changes before the commit: the wait on `vips`
    refuses it, the re-read finds the planned VIP as planned, and one more commit succeeds."""
    rows = planned(nb)
    lb = named(rows, "Load_Balancer", "lb1")

    with Proxy(nb.port) as proxy, \
            NbWriter(NbTarget(f"tcp:127.0.0.1:{proxy.port}", timeout=5)) as w:
        result = w.delete([vip_delete(lb)],
                          before_commit=lambda: set_backends(nb, LB_KEEP, "192.168.0.8:6443"))

    assert_result(result, "released", f"removed VIP {LB_DROP}", "after one retry",
                  f"commit 1 refused by ovsdb-server: wait on Load_Balancer {lb['_uuid']}")
    assert len(transacts(proxy)) == 2
    assert nb_rows(nb, "Load_Balancer")[lb["_uuid"]]["vips"] == {LB_KEEP: "192.168.0.8:6443"}


def test_never_more_than_one_retry(nb: ovsdb.NbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """If every commit is refused while the plan still matches, the second refusal ends it."""
    rows = planned(nb)
    lb = named(rows, "Load_Balancer", "lb1")
    commit = NbWriter._commit
    backends = iter(f"192.168.0.{i}:6443" for i in range(20, 30))

    def change_then_commit(self: NbWriter, *args: Any) -> Any:
        set_backends(nb, LB_KEEP, next(backends))
        return commit(self, *args)

    monkeypatch.setattr(NbWriter, "_commit", change_then_commit)
    with Proxy(nb.port) as proxy, \
            NbWriter(NbTarget(f"tcp:127.0.0.1:{proxy.port}", timeout=5)) as w:
        result = w.delete([vip_delete(lb)])

    assert_result(result, "skipped-changed", "the OVSDB wait failed on both commits",
                  "commit 1 refused", "commit 2 refused", "nothing deleted")
    assert len(transacts(proxy)) == 2
    assert nb_rows(nb, "Load_Balancer")[lb["_uuid"]]["vips"] == {
        LB_KEEP: "192.168.0.21:6443", LB_DROP: lb["vips"][LB_DROP]}


# ---------------------------------------------------------------------------------------------
# Failures


def test_unreachable_server(capfd: pytest.CaptureFixture[str]) -> None:
    port = ovsdb.free_port()
    before = resources()
    t0 = time.monotonic()
    with pytest.raises(NbWriteError) as err, NbWriter(NbTarget(f"tcp:127.0.0.1:{port}",
                                                               timeout=2)):
        pytest.fail("connected to nothing")
    assert time.monotonic() - t0 < 2 + 2
    assert f"tcp:127.0.0.1:{port}" in err.value.message
    assert "connection refused" in err.value.message
    assert "\n" not in err.value.message
    assert resources() == before
    assert capfd.readouterr() == ("", "")


def test_hung_server_fails_to_connect_within_the_timeout(nb: ovsdb.NbServer) -> None:
    nb.proc.send_signal(signal.SIGSTOP)  # the kernel accepts, the server never answers
    try:
        t0 = time.monotonic()
        with pytest.raises(NbWriteError) as err, writer(nb, timeout=1):
            pytest.fail("connected to a stopped server")
        elapsed = time.monotonic() - t0
    finally:
        nb.proc.send_signal(signal.SIGCONT)
    assert 0.9 < elapsed < 1 + 2
    assert "no answer within" in err.value.message, err.value.message


def test_server_killed_before_the_commit_fails(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    snat = nat(rows, "172.30.0.30")
    with writer(nb) as w:
        result = w.delete([whole("NAT", snat)], before_commit=nb.kill)
    assert_result(result, "failed", f"{nb.tcp}: connection lost during the commit")
    assert result.before == {snat["_uuid"]: snat}


def test_server_hung_before_the_commit_fails_within_the_timeout(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    snat = nat(rows, "172.30.0.30")
    try:
        with writer(nb, timeout=1) as w:
            t0 = time.monotonic()
            result = w.delete([whole("NAT", snat)],
                              before_commit=lambda: nb.proc.send_signal(signal.SIGSTOP))
            elapsed = time.monotonic() - t0
    finally:
        nb.proc.send_signal(signal.SIGCONT)
    assert_result(result, "failed", "no answer to the commit within 1 s", "re-read")
    assert 0.9 < elapsed < 1 + 2


def test_invalid_request_raises_before_touching_the_server(nb: ovsdb.NbServer) -> None:
    rows = planned(nb)
    lb = named(rows, "Load_Balancer", "lb1")
    with writer(nb) as w, pytest.raises(ValueError, match="never deleted"):
        w.delete([NbRowDelete("Load_Balancer", lb["_uuid"], {"name": "lb1"})])
    assert nb_rows(nb, "Load_Balancer")[lb["_uuid"]] == lb


# ---------------------------------------------------------------------------------------------
# RAFT


def test_cluster_deletes_through_the_leader(cluster: list[ovsdb.NbServer]) -> None:
    leader = next(s for s in cluster if ovsdb.cluster_role(s) == "leader")
    followers = [s for s in cluster if s is not leader]
    populate(leader)
    rows = planned(leader)
    snat = nat(rows, "172.30.0.30")
    remote = ",".join([*(f.tcp for f in followers), leader.tcp])

    for _ in range(3):  # the session shuffles the members: several orders get tried
        with NbWriter(NbTarget(remote, timeout=10)) as w:
            assert w.endpoint == leader.tcp
    with NbWriter(NbTarget(remote, timeout=10)) as w:
        assert w.endpoint == leader.tcp
        result = w.delete([whole("NAT", snat)])

    assert_result(result, "released", f"deleted NAT {snat['_uuid']} from router vpc1")
    assert snat["_uuid"] not in nb_rows(leader, "NAT")
    end = time.monotonic() + 5
    while any(snat["_uuid"] in nb_rows(f, "NAT") for f in followers):
        assert time.monotonic() < end, "the delete did not reach the followers"
        time.sleep(0.05)
