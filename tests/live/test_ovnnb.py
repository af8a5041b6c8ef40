"""The OVN northbound collector against real ovsdb-server processes (never a mock).

Each test gets its own server (see ovsdb.py). Faults a server does not make on demand (a
connection cut halfway through the dump) come from a small TCP proxy in front of a real one.
"""

from __future__ import annotations

import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from live import ovsdb

from eipfsck.collect.ovnnb import NbResult, NbTarget, read_northbound
from eipfsck.snapshot import (
    NB_COLUMNS,
    NB_MAP_COLUMNS,
    NB_REFERENCE_COLUMNS,
    NB_TABLES,
    decode_nb_table,
    encode_nb_table,
)

pytestmark = pytest.mark.usefixtures("ovn_tools")


@pytest.fixture(scope="module")
def pki() -> Iterator[ovsdb.Pki]:
    d = ovsdb.short_dir()
    yield ovsdb.make_pki(d)
    shutil.rmtree(d, ignore_errors=True)


class Recorder:
    """A Progress that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def start(self, name: str) -> None:
        self.calls.append(("start", name))

    def advance(self, name: str, count: int) -> None:
        self.calls.append(("advance", name, count))

    def restart(self, name: str) -> None:
        self.calls.append(("restart", name))

    def done(self, name: str, state: str, count: int) -> None:
        self.calls.append(("done", name, state, count))


def populate(server: ovsdb.NbServer) -> None:
    """A small Kube-OVN-like NB database that exercises every cell shape the model reads."""
    server.nbctl("init")
    cmds = [
        "set NB_Global . external_ids:kube-ovn-version=v1.14.4 external_ids:vendor=kube-ovn",
        # The default subnet's switch and its ports.
        "ls-add ovn-default",
        "set Logical_Switch ovn-default other_config:subnet=10.16.0.0/16 "
        "other_config:exclude_ips=10.16.0.1 external_ids:vendor=kube-ovn",
        "lsp-add ovn-default pod-a.ns1",
        "lsp-set-addresses pod-a.ns1 '00:00:00:aa:bb:01 10.16.0.5 fd00:10:16::5'",
        "set Logical_Switch_Port pod-a.ns1 external_ids:pod='\"ns1/pod-a\"' "
        "external_ids:ls=ovn-default "
        "options:requested-chassis=node1",
        "lsp-add ovn-default pod-b.ns1",
        "lsp-set-addresses pod-b.ns1 dynamic",
        "set Logical_Switch_Port pod-b.ns1 dynamic_addresses='\"0a:00:00:00:00:06 10.16.0.6\"'",
        "lsp-add ovn-default pod-c.ns2",
        "lsp-set-addresses pod-c.ns2 '00:00:00:aa:bb:07 10.16.0.7' '00:00:00:aa:bb:08 10.16.0.8'",
        "lsp-add ovn-default unknown-port",
        "lsp-set-addresses unknown-port unknown",
        "lsp-add ovn-default no-addresses",
        "lsp-add ovn-default ovn-default-ovn-cluster",
        "lsp-set-type ovn-default-ovn-cluster router",
        "lsp-set-addresses ovn-default-ovn-cluster router",
        "lsp-set-options ovn-default-ovn-cluster router-port=ovn-cluster-ovn-default",
        # The external switch with a localnet port.
        "ls-add external",
        "lsp-add external localnet.external",
        "lsp-set-type localnet.external localnet",
        "lsp-set-addresses localnet.external unknown",
        "lsp-set-options localnet.external network_name=external",
        # The cluster router: two ports (one dual-stack), NATs of every type, two LBs.
        "lr-add ovn-cluster",
        "set Logical_Router ovn-cluster external_ids:vendor=kube-ovn "
        "options:always_learn_from_arp_request=false",
        "lrp-add ovn-cluster ovn-cluster-ovn-default 00:00:00:01:00:01 10.16.0.1/16 "
        "fd00:10:16::1/64 peer=ovn-cluster-join",
        "lrp-add ovn-cluster ovn-cluster-external 00:00:00:01:00:02 172.30.0.1/24",
        "--id=@snat create NAT type=snat external_ip=172.30.0.20 logical_ip=10.16.0.0/16 "
        "external_ids:vendor=kube-ovn external_ids:ovn-snat=snat-1",
        "add Logical_Router ovn-cluster nat @snat",
        "--id=@dnat create NAT type=dnat external_ip=172.30.0.21 logical_ip=10.16.0.5 "
        "external_ids:ovn-dnat=dnat-1",
        "add Logical_Router ovn-cluster nat @dnat",
        "--id=@fip create NAT type=dnat_and_snat external_ip=172.30.0.22 logical_ip=10.16.0.7 "
        "logical_port=pod-c.ns2 external_mac='\"00:00:00:cc:cc:01\"' external_ids:ovn-eip=eip-1 "
        "options:stateless=true",
        "add Logical_Router ovn-cluster nat @fip",
        "lb-add cluster-tcp-loadbalancer 10.96.0.1:443 10.16.0.5:6443,10.16.0.6:6443 tcp",
        "lb-add cluster-tcp-loadbalancer 10.96.0.10:53 10.16.0.7:53",
        "lb-add cluster-udp-loadbalancer 10.96.0.10:53 10.16.0.7:53 udp",
        "--id=@nolb create Load_Balancer name=no-protocol "
        "vips:'\"10.96.0.20:80\"'='\"10.16.0.5:80\"' "
        "external_ids:vendor=kube-ovn",
        "lr-lb-add ovn-cluster cluster-tcp-loadbalancer",
        "lr-lb-add ovn-cluster cluster-udp-loadbalancer",
        # A second router with exactly one port, one NAT and one LB: one-element reference sets.
        "lr-add vpc1",
        "lrp-add vpc1 vpc1-subnet1 00:00:00:02:00:01 192.168.0.1/24",
        "--id=@vnat create NAT type=snat external_ip=172.30.0.30 logical_ip=192.168.0.0/24",
        "add Logical_Router vpc1 nat @vnat",
        "lr-lb-add vpc1 cluster-udp-loadbalancer",
    ]
    args: list[str] = []
    for cmd in cmds:
        args += ["--", *shlex.split(cmd)]
    server.nbctl(*args[1:])


def nbctl_rows(server: ovsdb.NbServer, table: str) -> list[dict[str, Any]]:
    rows = decode_nb_table(table, server.list_json(table), f"ovn-nbctl list {table}")
    return sorted(rows, key=lambda r: r["_uuid"])


def assert_failed(result: NbResult, *fragments: str) -> None:
    assert result.rows is None
    assert result.endpoint is None
    assert result.error and "\n" not in result.error
    for fragment in fragments:
        assert fragment in result.error, result.error
    assert [s.name for s in result.sources] == list(NB_TABLES)
    for s in result.sources:
        assert (s.origin, s.state, s.count, s.detail) == ("nb", "failed", 0, result.error)


def resources() -> tuple[int, int]:
    """Threads and open file descriptors of this process: a read must leave both as it found
    them (no connection thread, no socket left open), whatever happened."""
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


# ---------------------------------------------------------------------------------------------
# The key property: a live read equals decode_nb_table of ovn-nbctl's JSON, table by table


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_rows_equal_decoded_ovn_nbctl_list(nb: ovsdb.NbServer, transport: str) -> None:
    populate(nb)
    remote = nb.tcp if transport == "tcp" else nb.unix
    progress = Recorder()
    before = resources()

    result = read_northbound(NbTarget(remote, timeout=10), progress)

    assert resources() == before
    assert result.error is None and result.rows is not None
    assert result.endpoint == remote
    for table in NB_TABLES:
        expected = nbctl_rows(nb, table)
        assert expected, f"populate() left {table} empty: the comparison would prove nothing"
        assert result.rows[table] == expected, table
    assert [(s.name, s.origin, s.state, s.count) for s in result.sources] == [
        (t, "nb", "complete", len(result.rows[t])) for t in NB_TABLES]
    assert progress.calls == (
        [("start", t) for t in NB_TABLES]
        + [("advance", t, len(result.rows[t])) for t in NB_TABLES]
        + [("done", t, "complete", len(result.rows[t])) for t in NB_TABLES])

    # The shapes the model relies on really occur, so equality above covers them.
    by_name = {r["name"]: r for r in result.rows["Logical_Switch_Port"]}
    assert by_name["pod-a.ns1"]["addresses"] == "00:00:00:aa:bb:01 10.16.0.5 fd00:10:16::5"
    assert by_name["pod-c.ns2"]["addresses"] == [  # sorted, as ovn-nbctl prints sets
        "00:00:00:aa:bb:07 10.16.0.7", "00:00:00:aa:bb:08 10.16.0.8"]
    assert by_name["pod-b.ns1"]["addresses"] == "dynamic"
    assert by_name["pod-b.ns1"]["dynamic_addresses"] == "0a:00:00:00:00:06 10.16.0.6"
    assert by_name["pod-a.ns1"]["dynamic_addresses"] == []
    assert by_name["no-addresses"]["addresses"] == []
    assert by_name["ovn-default-ovn-cluster"]["options"] == {
        "router-port": "ovn-cluster-ovn-default"}
    lrps = {r["name"]: r for r in result.rows["Logical_Router_Port"]}
    assert lrps["ovn-cluster-ovn-default"]["peer"] == "ovn-cluster-join"
    assert lrps["ovn-cluster-external"]["peer"] == []
    assert lrps["ovn-cluster-ovn-default"]["networks"] == ["10.16.0.1/16", "fd00:10:16::1/64"]
    routers = {r["name"]: r for r in result.rows["Logical_Router"]}
    assert isinstance(routers["ovn-cluster"]["nat"], list)
    assert len(routers["ovn-cluster"]["nat"]) == 3
    assert isinstance(routers["vpc1"]["ports"], str)  # one-element reference set: bare UUID
    nats = {r["type"]: r for r in result.rows["NAT"] if r["external_ip"] != "172.30.0.30"}
    assert nats["dnat_and_snat"]["logical_port"] == "pod-c.ns2"
    assert nats["snat"]["logical_port"] == []
    lbs = {r["name"]: r for r in result.rows["Load_Balancer"]}
    assert lbs["no-protocol"]["protocol"] == []
    assert lbs["cluster-tcp-loadbalancer"]["vips"] == {
        "10.96.0.1:443": "10.16.0.5:6443,10.16.0.6:6443", "10.96.0.10:53": "10.16.0.7:53"}
    assert result.rows["NB_Global"][0]["external_ids"]["kube-ovn-version"] == "v1.14.4"
    for table in NB_TABLES:
        uuids = [r["_uuid"] for r in result.rows[table]]
        assert uuids == sorted(uuids)


def test_monitors_only_the_kept_columns(nb: ovsdb.NbServer) -> None:
    """What the client asks the server for, read off the wire: NB_COLUMNS and nothing else."""
    populate(nb)
    with Proxy(nb.port) as proxy:
        result = read_northbound(NbTarget(f"tcp:127.0.0.1:{proxy.port}", timeout=10))
    assert result.error is None and result.rows is not None

    requests = [m for m in proxy.client_messages() if m.get("method") == "monitor_cond_since"]
    assert len(requests) == 1
    db, _monitor_id, monitored = requests[0]["params"][:3]
    assert db == "OVN_Northbound"
    assert set(monitored) == set(NB_TABLES)
    for table, spec in monitored.items():
        specs = spec if isinstance(spec, list) else [spec]
        columns = {c for s in specs for c in s["columns"]}
        assert columns == NB_COLUMNS[table] - {"_uuid"}, table
    assert "up" not in monitored["Logical_Switch_Port"][0]["columns"]
    assert "options" not in monitored["Logical_Router"][0]["columns"]
    for table in NB_TABLES:
        for row in result.rows[table]:
            assert set(row) == NB_COLUMNS[table], table


# ---------------------------------------------------------------------------------------------
# encode_nb_table


def test_encode_round_trips_live_rows_and_reproduces_ovn_nbctl(nb: ovsdb.NbServer) -> None:
    populate(nb)
    result = read_northbound(NbTarget(nb.unix, timeout=10))
    assert result.rows is not None
    for table in NB_TABLES:
        rows = result.rows[table]
        assert decode_nb_table(table, encode_nb_table(table, rows), "encoded") == rows

        real = nb.list_json(table)
        encoded = encode_nb_table(table, decode_nb_table(table, real, "nbctl"))
        assert encoded["headings"][0] == "_uuid"
        assert set(encoded["headings"]) == NB_COLUMNS[table]
        assert _cells_by_uuid(encoded) == _cells_by_uuid(real, NB_COLUMNS[table]), table


def _cells_by_uuid(doc: dict[str, Any], keep: frozenset[str] | None = None
                   ) -> dict[str, dict[str, Any]]:
    out = {}
    for row in doc["data"]:
        cells = {h: c for h, c in zip(doc["headings"], row, strict=True)
                 if keep is None or h in keep}
        out[cells["_uuid"][1]] = cells
    return out


def test_reference_columns_match_the_installed_schema() -> None:
    schema = json.loads(ovsdb.NB_SCHEMA.read_text())
    derived: dict[str, set[str]] = {}
    for table in NB_TABLES:
        for column in NB_COLUMNS[table] - {"_uuid"}:
            ctype = schema["tables"][table]["columns"][column]["type"]
            parts = [ctype.get(k) for k in ("key", "value")] if isinstance(ctype, dict) else []
            if any(isinstance(p, dict) and "refTable" in p for p in parts):
                derived.setdefault(table, set()).add(column)
    assert derived == {t: set(c) for t, c in NB_REFERENCE_COLUMNS.items()}


_atoms = st.one_of(st.text(max_size=12), st.integers(-(2**40), 2**40), st.booleans())
_uuid = st.uuids().map(str)


@st.composite
def _rows(draw: Any, table: str) -> list[dict[str, Any]]:
    refs = NB_REFERENCE_COLUMNS.get(table, frozenset())
    rows = []
    for _ in range(draw(st.integers(0, 3))):
        row: dict[str, Any] = {"_uuid": draw(_uuid)}
        for column in sorted(NB_COLUMNS[table] - {"_uuid"}):
            if column in refs:
                row[column] = draw(st.one_of(_uuid, st.lists(_uuid, max_size=3)))
            elif column in NB_MAP_COLUMNS:  # the schema's kinds: decoding refuses others
                row[column] = draw(st.dictionaries(st.text(max_size=8), _atoms, max_size=3))
            else:
                row[column] = draw(st.one_of(_atoms, st.lists(_atoms, max_size=3)))
        rows.append(row)
    return rows


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_decode_inverts_encode(data: st.DataObject) -> None:
    for table in NB_TABLES:
        rows = data.draw(_rows(table))
        doc = encode_nb_table(table, rows)
        assert json.loads(json.dumps(doc)) == doc
        assert decode_nb_table(table, doc, "encoded") == rows


@pytest.mark.parametrize(("table", "row", "message"), [
    ("Logical_Switch", {"_uuid": "u", "name": "x", "ports": [], "external_ids": {}},
     "missing column(s) other_config"),
    ("NB_Global", {"_uuid": "u", "external_ids": {}, "options": {}}, "unknown column(s) options"),
    ("NB_Global", {"_uuid": "u", "external_ids": None}, "expected a string, number or boolean"),
    ("Logical_Router", {"_uuid": "u", "name": "r", "ports": [1], "nat": [],
                        "load_balancer": [], "external_ids": {}}, "expected a UUID string"),
    ("ACL", {"_uuid": "u"}, "not one eipfsck keeps"),
])
def test_encode_rejects_what_decode_cannot_produce(table: str, row: dict[str, Any],
                                                    message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        encode_nb_table(table, [row])


# ---------------------------------------------------------------------------------------------
# TLS


def test_ssl_read(pki: ovsdb.Pki) -> None:
    server = ovsdb.start_nb(pki)
    try:
        server.nbctl("ls-add", "over-tls")
        result = read_northbound(NbTarget(
            server.ssl_remote, private_key=str(pki.client_key),
            certificate=str(pki.client_cert), ca_cert=str(pki.ca_cert), timeout=10))
    finally:
        server.stop()
    assert result.error is None and result.rows is not None
    assert result.endpoint == server.ssl_remote
    assert [r["name"] for r in result.rows["Logical_Switch"]] == ["over-tls"]


_SUBPROCESS_READ = textwrap.dedent("""
    import json, sys
    from eipfsck.collect.ovnnb import NbTarget, read_northbound
    out = []
    for args in json.loads(sys.argv[1]):
        r = read_northbound(NbTarget(**args))
        out.append({"rows": r.rows, "endpoint": r.endpoint, "error": r.error,
                    "states": sorted({s.state for s in r.sources})})
    print(json.dumps(out))
""")


def test_ssl_wrong_ca_or_untrusted_client_fails_cleanly(pki: ovsdb.Pki) -> None:
    """In a child process: ovs keeps the TLS files process-wide."""
    server = ovsdb.start_nb(pki)
    try:
        reads = [
            {"remote": server.ssl_remote, "private_key": str(pki.client_key),
             "certificate": str(pki.client_cert), "ca_cert": str(pki.other_ca_cert),
             "timeout": 5},
            {"remote": server.ssl_remote, "private_key": str(pki.other_client_key),
             "certificate": str(pki.other_client_cert), "ca_cert": str(pki.ca_cert),
             "timeout": 5},
        ]
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _SUBPROCESS_READ, json.dumps(reads)],
                              capture_output=True, text=True, timeout=60, check=False)
        elapsed = time.monotonic() - t0
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no traceback, no log line from ovs or ovsdbapp
    wrong_ca, untrusted = json.loads(proc.stdout)
    for r in (wrong_ca, untrusted):
        assert r["rows"] is None and r["endpoint"] is None and r["states"] == ["failed"]
    assert "TLS handshake failed: certificate verify failed" in wrong_ca["error"]
    assert server.ssl_remote in wrong_ca["error"]
    assert "may have rejected the client certificate" in untrusted["error"], untrusted["error"]
    assert elapsed < 5  # both fail at once, not by timing out


@pytest.mark.parametrize("missing", ["private_key", "certificate", "ca_cert"])
def test_ssl_missing_file_is_named(pki: ovsdb.Pki, missing: str) -> None:
    files = {"private_key": str(pki.client_key), "certificate": str(pki.client_cert),
             "ca_cert": str(pki.ca_cert)}
    files[missing] = "/nonexistent/eipfsck-test.pem"
    result = read_northbound(NbTarget("ssl:127.0.0.1:6641", **files, timeout=5))
    assert_failed(result, "/nonexistent/eipfsck-test.pem", "not found")


def test_ssl_without_files_fails() -> None:
    assert_failed(read_northbound(NbTarget("ssl:127.0.0.1:6641")), "needs a private key file")


# ---------------------------------------------------------------------------------------------
# Several members, RAFT


def test_dead_first_member_then_live_one(nb: ovsdb.NbServer) -> None:
    """The schema is fetched in the order given (dead member first, every time); the IDL's
    session then shuffles the members, so several reads see it try both orders."""
    nb.nbctl("ls-add", "sw")
    dead = f"tcp:127.0.0.1:{ovsdb.free_port()}"
    t0 = time.monotonic()
    for _ in range(8):
        result = read_northbound(NbTarget(f"{dead}, {nb.tcp}", timeout=10))
        assert result.error is None and result.rows is not None
        assert result.endpoint == nb.tcp
        assert [r["name"] for r in result.rows["Logical_Switch"]] == ["sw"]
    assert time.monotonic() - t0 < 3


def test_cluster_reads_from_the_leader(cluster: list[ovsdb.NbServer]) -> None:
    leader = next(s for s in cluster if ovsdb.cluster_role(s) == "leader")
    followers = [s for s in cluster if s is not leader]
    leader.nbctl("ls-add", "written-on-leader")

    # Followers alone: both answer (the schema comes from one), and both are turned down.
    result = read_northbound(NbTarget(",".join(f.tcp for f in followers), timeout=0.5))
    assert_failed(result, "no cluster leader found", *(f"{f.tcp}: follower, not the leader"
                                                       for f in followers))

    # All members: whichever order the session picks, the leader is the one read.
    remote = ",".join([*(f.tcp for f in followers), leader.tcp])
    t0 = time.monotonic()
    for _ in range(4):
        result = read_northbound(NbTarget(remote, timeout=10))
        assert result.error is None and result.rows is not None, result.error
        assert result.endpoint == leader.tcp
        assert [r["name"] for r in result.rows["Logical_Switch"]] == ["written-on-leader"]
        assert result.rows["Logical_Switch"] == nbctl_rows(leader, "Logical_Switch")
    assert time.monotonic() - t0 < 5


def test_cluster_without_a_leader_fails(cluster: list[ovsdb.NbServer]) -> None:
    leader = next(s for s in cluster if ovsdb.cluster_role(s) == "leader")
    survivor = next(s for s in cluster if s is not leader)
    for s in cluster:
        if s is not survivor:
            s.kill()
    remote = ",".join(s.tcp for s in cluster)
    t0 = time.monotonic()
    result = read_northbound(NbTarget(remote, timeout=0.75))
    elapsed = time.monotonic() - t0
    assert_failed(result, "no cluster leader found", survivor.tcp)
    assert 0.7 < elapsed < 2


# ---------------------------------------------------------------------------------------------
# Failures


def test_server_not_running(capfd: pytest.CaptureFixture[str]) -> None:
    port = ovsdb.free_port()
    before = resources()
    t0 = time.monotonic()
    result = read_northbound(NbTarget(f"tcp:127.0.0.1:{port}", timeout=2))
    assert_failed(result, f"tcp:127.0.0.1:{port}", "connection refused")
    result = read_northbound(NbTarget("unix:/nonexistent/nb.sock", timeout=2))
    assert_failed(result, "unix:/nonexistent/nb.sock", "no such file or directory")
    assert time.monotonic() - t0 < 1
    assert resources() == before
    assert capfd.readouterr() == ("", "")


def test_hung_server_fails_within_the_timeout(nb: ovsdb.NbServer,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    nb.proc.send_signal(signal.SIGSTOP)  # accepts (the kernel does), never answers
    before = resources()
    try:
        t0 = time.monotonic()
        result = read_northbound(NbTarget(nb.tcp, timeout=0.5))
        elapsed = time.monotonic() - t0
    finally:
        nb.proc.send_signal(signal.SIGCONT)
    assert_failed(result, nb.tcp, "no answer within")
    assert 0.45 < elapsed < 1.5
    assert resources() == before
    assert capfd.readouterr() == ("", "")


def test_not_a_northbound_server() -> None:
    """The southbound port is a common slip: say so instead of timing out."""
    sb = ovsdb.start_nb(schema=ovsdb.SB_SCHEMA)
    try:
        result = read_northbound(NbTarget(sb.tcp, timeout=5))
    finally:
        sb.stop()
    assert_failed(result, sb.tcp, "no OVN_Northbound database on this server")


@pytest.mark.parametrize(("remote", "message"), [
    ("", "no OVN northbound remote given"),
    ("http://127.0.0.1:6641", "invalid OVN northbound remote"),
    ("tcp:127.0.0.1", "no port"),
])
def test_invalid_remote(remote: str, message: str) -> None:
    assert_failed(read_northbound(NbTarget(remote)), message)


def test_connection_cut_mid_dump_fails_whole(nb: ovsdb.NbServer,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    """The server's reply to the monitor request is cut after 64 KiB of a ~600 KiB dump.

    A dead member is listed after the proxy: once the link drops, the IDL's session moves on
    to it, and the message must still name the member that was lost."""
    nb.nbctl("lr-add", "r1")  # other tables are non-empty: a partial set would show
    nb.transact(_bulk_ports(5000))
    dead = f"tcp:127.0.0.1:{ovsdb.free_port()}"
    before = resources()
    with Proxy(nb.port, cut_after=64 * 1024) as proxy:  # joins its threads on exit
        member = f"tcp:127.0.0.1:{proxy.port}"
        t0 = time.monotonic()
        result = read_northbound(NbTarget(f"{member},{dead}", timeout=10))
        elapsed = time.monotonic() - t0
    after = resources()
    assert proxy.cuts == 1  # the dump was larger than the cut, and cut exactly once
    assert_failed(result, f"{member}: connection lost during the initial dump")
    assert elapsed < 3  # reported at once, not after the timeout
    assert after == before
    assert capfd.readouterr() == ("", "")


def test_server_killed_while_rows_are_copied(nb: ovsdb.NbServer) -> None:
    populate(nb)

    class KillOnFirstAdvance(Recorder):
        def advance(self, name: str, count: int) -> None:
            super().advance(name, count)
            if len(self.calls) == len(NB_TABLES) + 1:
                nb.kill()

    progress = KillOnFirstAdvance()
    result = read_northbound(NbTarget(nb.tcp, timeout=10), progress)
    assert_failed(result, "connection lost while the rows were being copied")
    assert progress.calls[-len(NB_TABLES):] == [("done", t, "failed", 0) for t in NB_TABLES]


def _bulk_ports(n: int) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": f"p{i}",
         "row": {"name": f"lsp-{i:05d}",
                 "addresses": f"0a:00:00:00:{i >> 8:02x}:{i & 255:02x} 10.16.{i >> 8}.{i & 255}",
                 "external_ids": ["map", [["pod", f"ns/pod-{i}"], ["vendor", "kube-ovn"]]]}}
        for i in range(n)]
    ops.append({"op": "insert", "table": "Logical_Switch",
                "row": {"name": "big", "ports": ["set", [["named-uuid", f"p{i}"]
                                                         for i in range(n)]]}})
    return ops


# ---------------------------------------------------------------------------------------------
# A TCP proxy in front of a real server


class Proxy:
    """Forwards loopback TCP to a real ovsdb-server and records what clients send.

    With `cut_after`, once a connection's client has sent its data monitor request
    (monitor_cond_since), only `cut_after` more bytes of the server's side are forwarded, then
    both sides are closed: the client sees the server vanish in the middle of its reply.
    """

    def __init__(self, upstream_port: int, cut_after: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.cuts = 0
        self._sent = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self) -> Proxy:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._threads[0].join(5)  # no new pumps once the acceptor is gone
        for t in self._threads[1:]:
            t.join(5)
        self._listener.close()

    def client_messages(self) -> list[dict[str, Any]]:
        decoder = json.JSONDecoder()
        text = self._sent.decode()
        out, pos = [], 0
        while pos < len(text):
            msg, pos = decoder.raw_decode(text, pos)
            out.append(msg)
        return out

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            t = threading.Thread(target=self._pump, args=(client,), daemon=True)
            self._threads.append(t)
            t.start()

    def _pump(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ)
        sel.register(upstream, selectors.EVENT_READ)
        requested = False
        budget = self.cut_after
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.05):
                    sock = client if key.fileobj is client else upstream
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        with self._lock:
                            tail = bytes(self._sent[-32:])
                            self._sent += data
                        requested = requested or b'"monitor_cond_since"' in tail + data
                        upstream.sendall(data)
                        continue
                    if requested and budget is not None:
                        if len(data) >= budget:
                            client.sendall(data[:budget])
                            with self._lock:
                                self.cuts += 1
                            return
                        budget -= len(data)
                    client.sendall(data)
        finally:
            sel.close()
            for s in (client, upstream):
                s.close()
