"""`eipfsck doctor` against the genuine servers: what it says for a good setup and for each
kind of broken one (no rights, no NB, no kubeconfig)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clirun import run
from live.conftest import LiveEnv

from eipfsck.collect.access import repair_needs, scan_needs
from eipfsck.doctor import CHECKS


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
    assert code == 16  # a usage error, as the scan says
    got = lines(out)
    assert got["kubeconfig"].startswith("fail: --kubeconfig")
    assert list(got) == list(CHECKS)
    assert all(got[name].startswith("skip: not run: needs the kubeconfig")
               for name in CHECKS[1:])


def _insecure(env: LiveEnv, tmp_path: Path) -> Path:
    """The admin kubeconfig with TLS verification turned off, as some clusters hand it out."""
    config = yaml.safe_load(Path(env.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"].pop("certificate-authority", None)
        cluster["cluster"].pop("certificate-authority-data", None)
        cluster["cluster"]["insecure-skip-tls-verify"] = True
    path = tmp_path / "insecure-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def _eipfsck(*args: str) -> subprocess.CompletedProcess[str]:
    """The real process: a warning goes to its stderr, not to pytest's warning capture."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    return subprocess.run([sys.executable, "-m", "eipfsck", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def test_tls_verification_off_is_one_line_of_our_own(leaky_env: LiveEnv,
                                                     tmp_path: Path) -> None:
    """Against the genuine apiserver over https: urllib3's InsecureRequestWarning (a source
    path and a URL, for every request) never reaches stderr; one note of ours does."""
    kubeconfig = str(_insecure(leaky_env, tmp_path))
    done = _eipfsck("scan", "--kubeconfig", kubeconfig, "--no-nb", "-o", "json")
    assert done.returncode & 8 == 0, done.stderr
    assert "InsecureRequestWarning" not in done.stderr and "warn" not in done.stderr
    tls = [line for line in done.stderr.splitlines() if "TLS verification is off" in line]
    assert len(tls) == 1 and tls[0].startswith("eipfsck: TLS verification is off for https://")
    assert tls[0].endswith("(insecure-skip-tls-verify in the kubeconfig): the server's "
                           "identity is not checked")
    done = _eipfsck("doctor", "--kubeconfig", kubeconfig, "--no-nb")
    assert "InsecureRequestWarning" not in done.stderr and "warn" not in done.stderr
    assert lines(done.stdout)["API server"].startswith("ok: reachable, Kubernetes v1.")
    assert "TLS verification is off" in lines(done.stdout)["API server"]


def test_the_genuine_apiserver_is_identified(leaky_env: LiveEnv,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The negative control of tests/test_cli_endpoints.py: /version of the real apiserver
    passes identification, for the admin and for the limited user alike."""
    for kubeconfig in (leaky_env.kubeconfig, leaky_env.kubeconfig_limited):
        _, out, _ = run(["doctor", "--kubeconfig", kubeconfig, "--no-nb"], capsys)
        assert lines(out)["API server"].startswith("ok: reachable, Kubernetes v1."), out
        assert "not a Kubernetes API server" not in out


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
