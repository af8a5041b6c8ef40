"""--controller-log auto through the genuine kube-apiserver, streamed from a node's kubelet.

The test environment has no kubelet, so this test serves one endpoint of it: a node's
status names 127.0.0.1 and a port where a local HTTPS server answers /containerLogs/... by
streaming a log in chunks, as a kubelet does. The kube-apiserver finds that node from the
pod, connects to it (it verifies no kubelet certificate unless --kubelet-certificate-authority
is given, and scripts/test-env gives none) and proxies the stream; eipfsck reads it through
the official kubernetes client (read_namespaced_pod_log, _preload_content=False).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clirun import run as cli_run
from live.conftest import EXAMPLES, EnvFactory, LiveEnv, seeded
from live.faultproxy import FaultProxy
from live.seed import Api
from logserver import LogServer

from eipfsck.controller_log import MAX_LINE

NS = "kube-system"
POD = "kube-ovn-controller-7d9c6b5f4-logs"  # a leader whose container has the chart's name
NODE = "node1"
LOG = (EXAMPLES / "leaky-cluster-controller.log").read_bytes()
FILLER = b"I0520 09:00:00.000000 1 pod.go:1] handle add pod ns1/x " + b"y" * 60 + b"\n"
BLOCK = FILLER * ((1 << 20) // len(FILLER))
MIB = 24  # of filler before the example's lines, and one overlong line among them


def served_log() -> Iterator[bytes]:
    for i in range(MIB):
        yield BLOCK
        if i == MIB // 2:
            yield b"z" * (MAX_LINE + 5) + b"\n"
    yield LOG


def _serve_from(api: Api, port: int) -> None:
    """node1's kubelet at 127.0.0.1:port; a leader pod on node1 with the container
    kube-ovn-controller, holding the controller's Lease."""
    node = api.get(f"/api/v1/nodes/{NODE}")
    node["status"] = {**(node.get("status") or {}),
                      "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
    api.request("PUT", f"/api/v1/nodes/{NODE}/status", node)
    leader = api.get(f"/api/v1/namespaces/{NS}/pods/kube-ovn-controller-7d9c6b5f4-abcde")
    api.request("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": NS, "labels": leader["metadata"]["labels"]},
        "spec": {"nodeName": NODE, "hostNetwork": True, "containers": [
            {"name": "kube-ovn-controller",
             "image": leader["spec"]["containers"][0]["image"]}]}})
    lease = api.get(f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/kube-ovn-controller")
    lease["spec"]["holderIdentity"] = POD
    api.request("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/"
                "kube-ovn-controller", lease)


@pytest.fixture(scope="module")
def kubelet(live_env_factory: EnvFactory) -> Iterator[tuple[LiveEnv, LogServer]]:
    """examples/leaky-cluster seeded, its leader's log served by node1's "kubelet"."""
    env = seeded(live_env_factory, "log-auto", EXAMPLES / "leaky-cluster")
    certs = env.state / "apiserver" / "certs"  # any pair: the apiserver verifies none here
    try:
        with LogServer(served_log, tls=(str(certs / "apiserver.crt"),
                                        str(certs / "apiserver.key"))) as server:
            api = env.api()
            try:
                _serve_from(api, server.port)
            finally:
                api.close()
            yield env, server
    finally:
        live_env_factory.stop(env.state)


def _scan(env: LiveEnv, capsys: pytest.CaptureFixture[str], *log: str
          ) -> tuple[int, dict[str, Any], str]:
    code, out, err = cli_run(["scan", "-o", "json", "--kubeconfig", env.kubeconfig,
                              "--ovn-nb", env.nb_tcp, *log], capsys)
    assert "internal error" not in err, err
    return code, json.loads(out), err


def _named(report: dict[str, Any]) -> list[tuple[str, str | None, Any, Any, Any]]:
    """Each finding with what the log gave it (the log's name aside)."""
    out = []
    for f in report["findings"]:
        ev = f.get("evidence") or {}
        out.append((f["check"], f.get("ip"), ev.get("ipam_key"), ev.get("former_owner"),
                    (ev.get("controller_log") or {}).get("line")))
    return sorted(out, key=repr)


def test_auto_streams_the_leaders_log_through_the_apiserver_as_a_file_reads(
        kubelet: tuple[LiveEnv, LogServer], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    env, server = kubelet
    log_file = tmp_path / "same.log"
    log_file.write_bytes(b"".join(served_log()))
    lines = log_file.read_bytes().count(b"\n")
    asked = len(server.requests)
    code, auto, err = _scan(env, capsys, "--controller-log", "auto", "--since", "48h")
    assert len(server.requests) == asked + 1, err
    path, _, query = server.requests[-1].partition("?")
    assert path == f"/containerLogs/{NS}/{POD}/kube-ovn-controller"
    assert "sinceSeconds=172800" in query.split("&")
    note = next(x for x in err.splitlines() if "controller log" in x)
    assert f"controller log: {lines} lines of pod {NS}/{POD} (since 172800s)" in note, note
    assert f"1 line(s) longer than {MAX_LINE >> 20} MiB" in note, note
    file_code, from_file, _ = _scan(env, capsys, "--controller-log", str(log_file))
    _, without, _ = _scan(env, capsys)
    assert code == file_code == 4
    assert _named(auto) == _named(from_file)  # the same names, from the same line numbers
    named = [f for f in _named(auto) if f[2] is not None]
    assert named and all(line > MIB * BLOCK.count(b"\n") for *_, line in named), named
    assert not [f for f in _named(without) if f[2] is not None]  # names come from the log
    sources = {(f.get("evidence") or {}).get("controller_log", {}).get("file")
               for f in auto["findings"] if (f.get("evidence") or {}).get("controller_log")}
    assert sources == {f"pod {NS}/{POD} log"}


def test_a_log_cut_at_the_kubelet_mid_line_is_named_as_possibly_cut(
        kubelet: tuple[LiveEnv, LogServer], capsys: pytest.CaptureFixture[str]) -> None:
    """The kubelet's connection breaks mid-line: the apiserver ends its own answer cleanly, so
    the one trace left is a last line without its end. The names are kept (the log may also
    have been caught mid-write); the note says they may be out of date. A cut exactly at a
    line's end leaves no trace at all through the apiserver."""
    env, server = kubelet
    server.cut = "chunked"
    try:
        code, report, err = _scan(env, capsys, "--controller-log", "auto")
    finally:
        server.cut = None
    note = next(x for x in err.splitlines() if "controller log" in x)
    assert "its last line has no end: the log may have been cut" in note, note
    assert code == 4
    assert [f for f in _named(report) if f[2] is not None]


@pytest.mark.parametrize("fault", ["truncate", None])
def test_a_log_answer_cut_between_apiserver_and_eipfsck_names_no_one(
        fault: str | None, kubelet: tuple[LiveEnv, LogServer], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The connection to the apiserver breaks half-way through the log (a proxy in between
    closes it short of its Content-Length): the end of the log is lost, and with it perhaps
    the allocation of a later owner, so no name is given rather than a stale one. The same
    proxy without the fault (None) is the control: names are given."""
    env, _ = kubelet
    proxy = FaultProxy(env.apiserver, env.apiserver_ca,
                       lambda path, n: fault if path.endswith("/log") else None)
    try:
        kc = proxy.kubeconfig(env.admin_token, tmp_path / "kc")
        code, out, err = cli_run(["scan", "-o", "json", "--kubeconfig", kc,
                                  "--ovn-nb", env.nb_tcp, "--controller-log", "auto"], capsys)
    finally:
        proxy.close()
    assert "internal error" not in err, err
    assert ("GET", f"/api/v1/namespaces/{NS}/pods/{POD}/log", fault or 200) in proxy.seen
    note = next(x for x in err.splitlines() if "controller log" in x)
    named = [f for f in _named(json.loads(out)) if f[2] is not None]
    assert code == 4
    if fault:
        assert f"controller log of pod {NS}/{POD}: cut before its end (" in note, note
        assert "former owners are not named" in note and not named, note
    else:
        lines = b"".join(served_log()).count(b"\n")
        assert f"controller log: {lines} lines of pod {NS}/{POD}" in note, note
        assert named, note
