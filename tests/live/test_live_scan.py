"""Live scans against the genuine kube-apiserver + etcd + ovsdb-server of scripts/test-env.

The bar: a live scan of seeded content finds exactly what the offline scan of that content
finds, and `eipfsck snapshot` saves exactly what the live scan read. Failures (403, absent
CRDs, 410 Gone, an NB that cannot be read) end as one clear message and exit bit 8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import run
from live.conftest import EXAMPLES, LiveEnv
from live.faultproxy import FaultProxy

from eipfsck.collect.kube import KubeCollector, KubeTarget

RBAC_GROUPS = ["", "apps", "kubeovn.io", "kubevirt.io", "k8s.cni.cncf.io",
               "coordination.k8s.io"]


def key(f: dict[str, Any]) -> tuple[Any, ...]:
    """A finding without what a reseed changes (NB row uuids inside messages, times)."""
    return (f["check"], f["subnet"], f["ip"], tuple(sorted(s["name"] for s in f["subjects"])))


def live_args(env: LiveEnv, *extra: str) -> list[str]:
    return ["--kubeconfig", env.kubeconfig, "--ovn-nb", env.nb_tcp, *extra]



@pytest.mark.parametrize("example", ["leaky", "healthy"])
def test_live_equals_offline_and_snapshot_round_trips(
        example: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    env: LiveEnv = request.getfixturevalue(f"{example}_env")
    code, out, err = run(["scan", "-o", "json", *live_args(env)], capsys)
    live = json.loads(out)
    offline_code, offline_out, _ = run(
        ["scan", "-o", "json", "--snapshot", str(EXAMPLES / f"{example}-cluster")], capsys)
    offline = json.loads(offline_out)

    # The same content gives the same findings and the same exit code.
    assert sorted(map(key, live["findings"])) == sorted(map(key, offline["findings"]))
    assert code == offline_code
    assert live["cluster"]["kube_ovn_version"] == offline["cluster"]["kube_ovn_version"]
    assert live["checks"] == offline["checks"]
    assert live["captured_at_source"] == "live collection"
    assert "northbound: ovsdb tcp:127.0.0.1:" in err
    # Every kind the example lacks is absent (its CRD is not installed), and says so.
    assert set(live["absent"]) == set(offline["absent"])
    assert {s["name"]: s["state"] for s in live["sources"]} == \
        {s["name"]: s["state"] for s in offline["sources"]}
    assert all(s["resource_version"] for s in live["sources"]
               if s["origin"] == "k8s" and s["state"] == "complete" and s["name"] not in
               ("configmaps", "deployments.apps", "leases.coordination.k8s.io"))
    if example == "leaky":
        assert live["findings"] and code & 4

    # eipfsck snapshot saves what the live scan read: scanning it gives the identical report.
    snap_code, _, snap_err = run(["snapshot", str(tmp_path / "snap"), *live_args(env)], capsys)
    assert snap_code == 0, snap_err
    assert "wrote " in snap_err
    again_code, again_out, _ = run(
        ["scan", "-o", "json", "--snapshot", str(tmp_path / "snap")], capsys)
    again = json.loads(again_out)
    assert [(f["check"], f["subnet"], f["ip"], f["message"]) for f in again["findings"]] == \
        [(f["check"], f["subnet"], f["ip"], f["message"]) for f in live["findings"]]
    # A list's resourceVersion is etcd's revision when it was read, and the apiserver renews
    # its own identity lease every few seconds: two reads moments apart may differ there.
    def without_rv(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k != "resource_version"} for s in sources]

    assert without_rv(again["sources"]) == without_rv(live["sources"])
    assert [bool(s["resource_version"]) for s in again["sources"]] == \
        [bool(s["resource_version"]) for s in live["sources"]]
    assert again["cluster"]["uid"] == live["cluster"]["uid"]
    assert again_code == code
    meta = json.loads((tmp_path / "snap" / "meta.json").read_text())
    assert meta["cluster"]["uid"] and meta["cluster"]["server"] == env.apiserver
    if live["cluster"]["version_source"].startswith("NB_Global"):
        assert meta["kube_ovn_version"] == live["cluster"]["kube_ovn_version"]
    assert (tmp_path / "snap").stat().st_mode & 0o777 == 0o700


def _bind(env: LiveEnv, name: str, rules: list[dict[str, Any]]) -> None:
    api = env.api()
    try:
        for path in (f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
                     f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}"):
            if api.exists(path):
                api.request("DELETE", path)
        api.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": rules})
        api.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                          "name": "limited"}]})
    finally:
        api.close()


def test_get_list_only_user_scans_and_a_forbidden_kind_is_named(
        leaky_env: LiveEnv, capsys: pytest.CaptureFixture[str]) -> None:
    env = leaky_env
    limited = ["--kubeconfig", env.kubeconfig_limited, "--ovn-nb", env.nb_tcp]
    # Without any grant, the subnets cannot be read: nothing can be checked.
    code, out, err = run(["scan", *limited], capsys)
    assert code == 8 and out == ""
    assert "cannot read subnets.kubeovn.io" in err
    assert 'resources: ["subnets"], verbs: ["list"]' in err

    # get + list on everything except pods: a scan, inconclusive, with the rule to add.
    every = [{"apiGroups": RBAC_GROUPS, "resources": ["*"], "verbs": ["get", "list"]}]
    no_pods = [{"apiGroups": [g], "resources": ["*"] if g else
                ["nodes", "services", "namespaces", "configmaps"], "verbs": ["get", "list"]}
               for g in RBAC_GROUPS]
    _bind(env, "eipfsck-test-reader", no_pods)
    code, out, err = run(["scan", "-o", "json", *limited], capsys)
    report = json.loads(out)
    assert code & 8
    assert "forbidden to list pods cluster-wide" in err
    assert 'add this RBAC rule: ClusterRole (all namespaces): apiGroups: [""], ' \
        'resources: ["pods"], verbs: ["list"]' in err
    pods = next(s for s in report["sources"] if s["name"] == "pods")
    assert pods["state"] == "failed" and "forbidden" in pods["detail"]
    assert "leaked-ip" in {s["check"] for s in report["checks"]["skipped"]}

    # get + list on everything it reads: the same report as the admin's.
    _bind(env, "eipfsck-test-reader", every)
    code, out, err = run(["scan", "-o", "json", *limited], capsys)
    admin_code, admin_out, _ = run(["scan", "-o", "json", *live_args(env)], capsys)
    assert code == admin_code and not code & 8, err
    assert sorted(map(key, json.loads(out)["findings"])) == \
        sorted(map(key, json.loads(admin_out)["findings"]))


def test_nb_that_cannot_be_read_is_inconclusive_and_no_nb_is_not(
        healthy_env: LiveEnv, capsys: pytest.CaptureFixture[str]) -> None:
    env = healthy_env
    base = ["scan", "-o", "json", "--kubeconfig", env.kubeconfig]
    code, out, err = run([*base, "--ovn-nb", "tcp:127.0.0.1:1"], capsys)
    report = json.loads(out)
    assert code & 8
    assert {s["state"] for s in report["sources"] if s["origin"] == "nb"} == {"failed"}
    assert any("Logical_Switch: failed" in r for r in report["inconclusive"])

    code, out, err = run([*base, "--no-nb"], capsys)
    report = json.loads(out)
    assert not code & 8, report["inconclusive"]
    assert {s["state"] for s in report["sources"] if s["origin"] == "nb"} == {"skipped"}
    assert "northbound: not read (--no-nb)" in err

    # Neither --ovn-nb nor a Service ovn-nb: the NB is not silently skipped.
    code, out, err = run(base, capsys)
    assert code & 8
    assert "Service kube-system/ovn-nb not found" in err


def test_nb_over_tls_with_a_test_ca(healthy_env: LiveEnv, tmp_path: Path) -> None:
    """ssl: settings are process-global in ovs: run the CLI in its own process."""
    env = healthy_env
    cmd = [sys.executable, "-m", "eipfsck", "scan", "-o", "json", "--kubeconfig",
           env.kubeconfig, "--ovn-nb", env.nb_ssl, "--ovn-nb-private-key", env.nb_key,
           "--ovn-nb-certificate", env.nb_cert, "--ovn-nb-ca-cert", env.nb_ca]
    envvars = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "OVN_NB_DB")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=envvars)
    assert proc.returncode in (0, 4), proc.stderr
    report = json.loads(proc.stdout)
    assert {s["state"] for s in report["sources"] if s["origin"] == "nb"} == {"complete"}
    assert f"northbound: ovsdb {env.nb_ssl}" in proc.stderr
    # Missing client files are a usage error before anything is read.
    bad = subprocess.run(cmd[:-6], capture_output=True, text=True, timeout=60, env=envvars)
    assert bad.returncode == 16 and "ssl: needs --ovn-nb-private-key" in bad.stderr


def _make_pods(env: LiveEnv, n: int) -> None:
    api = env.api()
    try:
        for i in range(n):
            api.request("POST", "/api/v1/namespaces/default/pods", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i:03d}"},
                "spec": {"containers": [{"name": "c", "image": "example.invalid/pause"}]}})
    finally:
        api.close()


def _compact(env: LiveEnv) -> None:
    """Compact etcd to its current revision: every continue token issued so far expires."""
    import urllib.request

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(env.etcd + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    revision = int(post("/v3/kv/range", {"key": "Lw=="})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": revision, "physical": True})


class _CompactAfterFirstPage:
    """Progress hook: after the first page of pods (of the first `times` attempts), write
    once and compact etcd, so the continue token of that attempt is expired for real."""

    def __init__(self, env: LiveEnv, times: int) -> None:
        self.env, self.times, self.first, self.restarts = env, times, True, 0

    def start(self, name: str) -> None:
        self.first = True

    def advance(self, name: str, count: int) -> None:
        if name != "pods" or not self.first or self.times == 0:
            return
        self.first = False
        self.times -= 1
        api = self.env.api()
        try:  # one more write, so the compaction revision is past the list's
            api.request("POST", "/api/v1/namespaces/default/configmaps", {
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "bump-"}})
        finally:
            api.close()
        _compact(self.env)

    def restart(self, name: str) -> None:
        self.restarts += 1
        self.first = True

    def done(self, name: str, state: str, count: int) -> None:
        pass


def _read_pods(target: KubeTarget, hook: _CompactAfterFirstPage) -> tuple[Any, Any]:
    collector = KubeCollector(target, hook)
    try:
        result = collector.collect(("subnets.kubeovn.io", "pods"))
    finally:
        collector.close()
    return result, next(s for s in result.sources if s.name == "pods")


def test_expired_continue_token_restarts_the_list(fresh_env: LiveEnv, install_crds: Any
                                                  ) -> None:
    env = fresh_env
    install_crds(env, ["subnets.kubeovn.io"])
    _make_pods(env, 12)
    target = KubeTarget(kubeconfig=env.kubeconfig, page_size=5, max_restarts=2)

    hook = _CompactAfterFirstPage(env, 1)  # expire the token once
    result, pods = _read_pods(target, hook)
    assert hook.restarts == 1
    assert (pods.state, pods.count) == ("complete", 12)
    assert sorted(p["metadata"]["name"] for p in result.k8s["pods"]) == \
        [f"p{i:03d}" for i in range(12)]
    assert any("410 Gone" in w and "1/2" in w for w in result.warnings)

    # Expiring on every attempt: bounded, then that source fails (exit 8 in a scan).
    hook = _CompactAfterFirstPage(env, 99)
    result, pods = _read_pods(target, hook)
    assert hook.restarts == 2
    assert pods.state == "failed" and "410 Gone" in (pods.detail or "")
    assert "pods" not in result.k8s


def test_absent_subnet_crd_and_missing_kubeconfig(
        fresh_env: LiveEnv, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, _, err = run(["scan", "--kubeconfig", fresh_env.kubeconfig, "--no-nb"], capsys)
    assert code == 8
    assert "the Subnet CRD (subnets.kubeovn.io) is not installed" in err
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    code, _, err = run(["scan", "--no-nb"], capsys)
    assert code == 16 and "no cluster to read" in err
    code, _out, err = run(["scan", "--kubeconfig", "/nonexistent/kubeconfig"], capsys)
    assert code == 16 and "no such file" in err


def _scan_through_proxy(env: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        faults: Any) -> tuple[int, dict[str, Any], str, list[Any]]:
    proxy = FaultProxy(env.apiserver, env.apiserver_ca, faults)
    try:
        kc = proxy.kubeconfig(env.admin_token, tmp_path / f"kc-{len(list(tmp_path.iterdir()))}")
        code, out, err = run(["scan", "-o", "json", "--kubeconfig", kc, "--ovn-nb", env.nb_tcp],
                             capsys)
    finally:
        proxy.close()
    return code, json.loads(out), err, proxy.seen


def test_transient_api_faults_are_retried_and_exhaustion_fails_only_that_source(
        leaky_env: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """5xx, 429 (with Retry-After) and a connection closed without an answer are retried
    with backoff; a list that never answers fails that source only (exit bit 8)."""
    admin_code, admin_out, _ = run(["scan", "-o", "json", *live_args(leaky_env)], capsys)
    admin = json.loads(admin_out)

    def transient(path: str, n: int) -> int | str | None:
        if path == "/api/v1/pods":
            return {1: 503, 2: "reset", 3: 429}.get(n)
        if path == "/apis/kubeovn.io/v1/subnets":
            return 500 if n == 1 else None
        return None

    code, report, err, seen = _scan_through_proxy(leaky_env, tmp_path, capsys, transient)
    assert code == admin_code, err
    assert sorted(map(key, report["findings"])) == sorted(map(key, admin["findings"]))
    assert {s["name"]: s["state"] for s in report["sources"]} == \
        {s["name"]: s["state"] for s in admin["sources"]}
    pods = [outcome for method, path, outcome in seen if path == "/api/v1/pods"]
    assert pods[:4] == [503, "reset", 429, 200]

    def broken(path: str, n: int) -> int | str | None:
        return 503 if path == "/api/v1/pods" else None

    code, report, err, seen = _scan_through_proxy(leaky_env, tmp_path, capsys, broken)
    assert code & 8
    pods_source = next(s for s in report["sources"] if s["name"] == "pods")
    assert pods_source["state"] == "failed"
    assert "no answer after 5 attempts" in pods_source["detail"]
    assert "HTTP 503" in pods_source["detail"]
    assert [o for _, p, o in seen if p == "/api/v1/pods"] == [503] * 5
    others = [s for s in report["sources"] if s["origin"] == "k8s" and s["name"] != "pods"]
    assert all(s["state"] != "failed" for s in others)
