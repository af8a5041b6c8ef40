"""deploy/helm/eipfsck, rendered by a pinned helm (scripts/test-env helm: helm.sh/helm/v3 built
from the Go module proxy) and installed by it into the genuine kube-apiserver of scripts/test-env.

* With default values the chart renders exactly the objects `kubectl apply -k deploy/` applies;
  its opt-in parts render exactly deploy/rbac-repair.yaml and deploy/rbac-nb-exec.yaml. So the
  scan RBAC test_deploy.py proves minimal (each rule removed in turn breaks the scan) is the
  chart's, and the chart's rules are checked again below on the server, as granted.
* Values change what they say and nothing else; bad values stop the rendering with a message.
* `helm install` into the apiserver: every object is created, the CronJob's pod passes Pod
  Security "restricted", a scan as the chart's ServiceAccount equals the admin's, and
  `helm uninstall` removes it all.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from clirun import run
from live.conftest import REPO_ROOT, TEST_ENV, UP_TIMEOUT, EnvFactory, LiveEnv, seeded
from live.test_deploy import (
    DEPLOY,
    LEAKY,
    PROMETHEUS_RULE_CRD,
    Paths,
    call,
    docs,
    expand,
    install_crd,
    key,
    service_account,
)

from eipfsck.cli import app

CHART = DEPLOY / "helm" / "eipfsck"
# Render for the apiserver the tests run (helm's own default is an old v1.20).
KUBE_VERSION = re.search(r"k8s\.io/kubernetes (v[0-9.]+)", (
    REPO_ROOT / "scripts" / "test-env.d" / "kube-apiserver" / "go.mod").read_text())[1]
ObjKey = tuple[str, str, str]


@pytest.fixture(scope="session")
def helm() -> str:
    done = subprocess.run([str(TEST_ENV), "helm"], capture_output=True, text=True,
                          timeout=UP_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def render(helm: str, *sets: str) -> subprocess.CompletedProcess[str]:
    args = [a for s in sets for a in ("--set", s)]
    return subprocess.run([helm, "template", "eipfsck", str(CHART), "--kube-version",
                           KUBE_VERSION, *args],
                          capture_output=True, text=True, timeout=120, check=False)


def objects(helm: str, *sets: str) -> dict[ObjKey, dict[str, Any]]:
    done = render(helm, *sets)
    assert done.returncode == 0, done.stderr
    return by_key(d for d in yaml.safe_load_all(done.stdout) if d)


def by_key(objs: Any) -> dict[ObjKey, dict[str, Any]]:
    out: dict[ObjKey, dict[str, Any]] = {}
    for o in objs:
        k = (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        assert k not in out, f"{k} twice"
        out[k] = o
    return out


def kustomize() -> dict[ObjKey, dict[str, Any]]:
    """The objects `kubectl apply -k deploy/` applies. kustomization.yaml lists resources and
    nothing else (no transformer, generator or patch), so kustomize passes them unchanged."""
    kust = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert set(kust) == {"apiVersion", "kind", "resources"}, set(kust)
    return by_key(d for f in kust["resources"] for d in docs(f))


def cronjob(objs: dict[ObjKey, dict[str, Any]]) -> dict[str, Any]:
    (job,) = [o for k, o in objs.items() if k[0] == "CronJob"]
    return job


def container(objs: dict[ObjKey, dict[str, Any]]) -> dict[str, Any]:
    (c,) = cronjob(objs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return c


# -- rendering -----------------------------------------------------------------------------------


def test_default_values_render_what_kubectl_apply_k_deploy_applies(helm: str) -> None:
    chart, deploy = objects(helm), kustomize()
    assert sorted(chart) == sorted(deploy)
    for k in deploy:
        assert chart[k] == deploy[k], k
    assert {k[0] for k in chart} == {"Namespace", "ServiceAccount", "ClusterRole", "Role",
                                     "ClusterRoleBinding", "RoleBinding", "CronJob",
                                     "PrometheusRule"}
    assert cronjob(chart)["spec"]["concurrencyPolicy"] == "Forbid"


def test_opt_in_parts_render_the_opt_in_manifests(helm: str) -> None:
    base = objects(helm)
    more = objects(helm, "repair.rbac=true", "nb.mode=kubectl-exec")
    added = {k: o for k, o in more.items() if k not in base}
    assert added == by_key([*docs("rbac-repair.yaml"), *docs("rbac-nb-exec.yaml")])
    assert container(more)["args"][-2:] == ["--ovn-nb", "kubectl-exec"]
    less = objects(helm, "prometheusRule.enabled=false", "namespace.create=false")
    assert set(base) - set(less) == {("PrometheusRule", "eipfsck", "eipfsck"),
                                     ("Namespace", "", "eipfsck")}


def test_values_change_what_they_name(helm: str) -> None:
    objs = objects(helm, "scan.schedule=5 * * * *", "image.repository=registry.local/eipfsck",
                   "image.tag=dev", "scan.resources.limits.memory=2Gi",
                   "namespace.name=audit", "kubeOvnNamespace=ovn-system",
                   "nb.mode=address", "nb.address=ssl:10.0.0.5:6641",
                   "nb.tls.secretName=ovn-tls", "scan.pushgateway=http://pgw:9091",
                   "scan.extraArgs={--page-size,100}")
    job, c = cronjob(objs), container(objs)
    assert job["spec"]["schedule"] == "5 * * * *"
    assert job["metadata"]["namespace"] == "audit"
    assert c["image"] == "registry.local/eipfsck:dev"
    assert c["resources"]["limits"]["memory"] == "2Gi"
    args = c["args"]
    assert args[args.index("--kube-ovn-namespace") + 1] == "ovn-system"
    assert args[args.index("--ovn-nb") + 1] == "ssl:10.0.0.5:6641"
    assert args[args.index("--ovn-nb-ca-cert") + 1] == "/etc/eipfsck/ovn-nb-tls/cacert"
    assert args[args.index("--pushgateway") + 1] == "http://pgw:9091"
    assert args[-2:] == ["--page-size", "100"]
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {"name": "ovn-nb-tls", "secret": {"secretName": "ovn-tls", "defaultMode": 0o440}} \
        in pod["volumes"]
    # The Roles follow Kube-OVN's namespace; every subject is the ServiceAccount in "audit".
    assert {k[1] for k in objs if k[0] in ("Role", "RoleBinding")} == {"ovn-system"}
    assert {k[1] for k in objs if k[0] in ("ServiceAccount", "CronJob", "PrometheusRule")} \
        == {"audit"}
    subjects = [s for o in objs.values() for s in o.get("subjects", [])]
    assert subjects and all(s["namespace"] == "audit" for s in subjects)
    assert ("Namespace", "", "audit") in objs
    # Every option the chart can pass is one eipfsck scan has.
    scan = typer.main.get_command(app).commands["scan"]
    options = {o for p in scan.params for o in p.opts + p.secondary_opts}
    assert {a for a in args if a.startswith("-")} <= options


def test_helm_lint_is_clean(helm: str) -> None:
    done = subprocess.run([helm, "lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout


@pytest.mark.parametrize(("sets", "message"), [
    (["nb.mode=direct"], "nb.mode must be service, address or kubectl-exec"),
    (["nb.mode=address"], "nb.mode address needs nb.address"),
    (["nb.tls.secretName=x"], "nb.tls is for nb.mode address"),
    (["namespace.name="], "namespace.name is required"),
])
def test_bad_values_stop_the_rendering(helm: str, sets: list[str], message: str) -> None:
    done = render(helm, *sets)
    assert done.returncode != 0 and message in done.stderr, done.stderr


# -- installing ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm_env(live_env_factory: EnvFactory) -> Iterator[LiveEnv]:
    env = seeded(live_env_factory, "helm", LEAKY)
    try:
        api = env.api()
        try:
            install_crd(api, PROMETHEUS_RULE_CRD)
        finally:
            api.close()
        yield env
    finally:
        live_env_factory.stop(env.state)


def helm_cmd(helm: str, env: LiveEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args, "--kubeconfig", env.kubeconfig, "--namespace", "default"],
                          capture_output=True, text=True, timeout=300, check=False)


def test_helm_install_scan_as_its_service_account_and_uninstall(
        helm: str, helm_env: LiveEnv, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = helm_env
    sets = ["repair.rbac=true"]
    rendered = objects(helm, *sets)
    done = helm_cmd(helm, env, "install", "eipfsck", str(CHART), "--wait=false",
                    *[a for s in sets for a in ("--set", s)])
    assert done.returncode == 0, done.stderr
    # helm prints the apiserver's warnings: none, so the pod passes Pod Security "restricted".
    assert "warning" not in done.stderr.lower(), done.stderr
    api = env.api()
    try:
        paths = Paths(api)
        for k, obj in rendered.items():
            status, body, _ = call(api, "GET", paths.of(obj))
            assert status == 200, (k, body)
            assert body["metadata"]["labels"]["app.kubernetes.io/name"] == "eipfsck", k
            assert body["metadata"]["annotations"]["meta.helm.sh/release-name"] == "eipfsck"
        status, _, warnings = call(
            api, "PATCH", paths.of(cronjob(rendered)), cronjob(rendered),
            [("fieldManager", "eipfsck-helm-test"), ("dryRun", "All"), ("force", "true")],
            "application/apply-patch+yaml")
        assert status == 200 and not warnings, warnings

        # The chart's RBAC, as the apiserver grants it: exactly its rules (beyond what any
        # ServiceAccount may do), and a scan as its ServiceAccount sees what the admin sees.
        sa = service_account(env, tmp_path, [])
        nobody = service_account(env, tmp_path, [], name="eipfsck-test-nobody")
        try:
            scan_rules = expand(rendered[("ClusterRole", "", "eipfsck-scan")]["rules"])
            repair_rules = expand(rendered[("ClusterRole", "", "eipfsck-repair")]["rules"])
            cluster = {g[1:] for g in scan_rules | repair_rules}
            assert sa.granted("default") - nobody.granted("default") == cluster
            code, out, err = run(["scan", "-o", "json", "--kubeconfig", sa.kubeconfig,
                                  "--ovn-nb", env.nb_tcp], capsys)
            admin_code, admin_out, _ = run(["scan", "-o", "json", "--kubeconfig",
                                            env.kubeconfig, "--ovn-nb", env.nb_tcp], capsys)
            assert code == admin_code == 4, err
            report, admin = json.loads(out), json.loads(admin_out)
            assert report["findings"]
            assert sorted(map(key, report["findings"])) == sorted(map(key, admin["findings"]))
            assert "forbidden" not in err.lower(), err
        finally:
            sa.api.close()
            nobody.api.close()

        # No --wait: no namespace controller runs here, so the Namespace stays Terminating.
        done = helm_cmd(helm, env, "uninstall", "eipfsck")
        assert done.returncode == 0, done.stderr
        left = [k for k, obj in rendered.items()
                if k[0] != "Namespace" and call(api, "GET", paths.of(obj))[0] == 200]
        assert left == []
    finally:
        api.close()
