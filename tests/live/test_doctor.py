"""`eipfsck doctor` against the genuine servers: what it says for a good setup and for each
kind of broken one (no rights, no NB, no kubeconfig)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirun import run
from live.conftest import LiveEnv

from eipfsck.collect.access import repair_needs, scan_needs


def lines(out: str) -> dict[str, str]:
    """check name -> "status: detail" from doctor's one-line-per-check output."""
    got = {}
    for line in out.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        got[name] = f"{status}: {detail}"
    return got


def test_admin_with_a_reachable_nb_is_healthy(leaky_env: LiveEnv,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["doctor", "--kubeconfig", leaky_env.kubeconfig, "--ovn-nb",
                        leaky_env.nb_tcp], capsys)
    got = lines(out)
    assert code == 0, out
    assert got["kubeconfig"].startswith("ok: kubeconfig, context")
    assert got["API server"].startswith("ok: reachable, Kubernetes v1.")
    n_scan = len([x for x in scan_needs("kube-system") if not x.why])
    assert got["RBAC for scan"] == f"ok: all {n_scan} permissions granted"
    n_repair = len([x for x in repair_needs("kube-system") if not x.why])
    assert got["RBAC for repair"] == f"ok: all {n_repair} permissions granted"
    assert "controller image" in got["Kube-OVN"] and "leader kube-ovn-controller-" in \
        got["Kube-OVN"]
    assert got["northbound"].startswith(f"ok: {leaky_env.nb_tcp} serves OVN_Northbound schema")


def test_no_rights_lists_every_missing_rule(leaky_env: LiveEnv,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["doctor", "--kubeconfig", leaky_env.kubeconfig_limited, "--ovn-nb",
                        leaky_env.nb_tcp], capsys)
    got = lines(out)
    assert code == 8
    scan = got["RBAC for scan"]
    assert scan.startswith("fail: missing ")
    for rule in ("list subnets.kubeovn.io", "list pods", "get namespaces kube-system",
                 "get configmaps ovn-external-gw-config in namespace kube-system",
                 "get leases.coordination.k8s.io kube-ovn-controller in namespace kube-system"):
        assert rule in scan
    assert got["RBAC for repair"].startswith("note: missing ")
    assert "(only needed to repair)" in got["RBAC for repair"]


def test_unreachable_nb_and_missing_service(leaky_env: LiveEnv, healthy_env: LiveEnv,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["doctor", "--kubeconfig", leaky_env.kubeconfig, "--ovn-nb",
                        "tcp:127.0.0.1:1", "--request-timeout", "2s"], capsys)
    assert code == 8
    assert lines(out)["northbound"].startswith("fail: cannot read the OVN northbound database")
    code, out, _ = run(["doctor", "--kubeconfig", healthy_env.kubeconfig], capsys)
    assert code == 8
    assert "Service kube-system/ovn-nb: HTTP 404" in lines(out)["northbound"]


def test_missing_kubeconfig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["doctor", "--kubeconfig", str(tmp_path / "nope")], capsys)
    assert code == 8
    assert lines(out)["kubeconfig"].startswith("fail: --kubeconfig")


def test_kubectl_exec_mode_needs_both_exec_verbs(leaky_env: LiveEnv,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["doctor", "--kubeconfig", leaky_env.kubeconfig, "--ovn-nb",
                        "kubectl-exec"], capsys)
    assert lines(out)["northbound"].startswith("ok: through ovn-nbctl in the ovn-central "
                                               "leader pod (--ovn-nb kubectl-exec)")
    code, out, _ = run(["doctor", "--kubeconfig", leaky_env.kubeconfig_limited, "--ovn-nb",
                        "kubectl-exec"], capsys)
    assert code == 8
    assert "get and create on pods/exec in kube-system are not both allowed" in \
        lines(out)["northbound"]
