"""deploy/ against the genuine kube-apiserver of scripts/test-env.

* Every manifest (all documents of deploy/*.yaml and deploy/*.yaml.example) is accepted by a
  server-side dry run, creates nothing, and the CronJobs' pods pass Pod Security "restricted".
* rbac-scan.yaml is sufficient: a scan as ServiceAccount eipfsck (a TokenRequest token) equals
  the admin's. And minimal: without any one element of its rules the scan fails and names it.
* rbac-nb-exec.yaml: both of its verbs are needed for eipfsck's WebSocket exec.
* rbac-repair.yaml: `repair` as the ServiceAccount runs without a 403 and writes its Events.

No kubelet runs here. The apiserver serves pods/log and pods/exec by dialing the node's kubelet,
and the example snapshot's nodes have private-range addresses: before any log request the nodes
are pointed at a closed loopback port, and the pod exec is tried on has no node, so nothing
leaves this machine. (Today the log request already ends in the apiserver, with a 400 for the
seeded pod's placeholder container; the loopback nodes keep it so if that changes.)
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from clirun import run
from live.conftest import EXAMPLES, REPO_ROOT, EnvFactory, LiveEnv, seeded
from live.seed import Api

from eipfsck.cli import app
from eipfsck.collect.kube import API_RESOURCES, _rbac_hint
from eipfsck.collect.live import NB_SERVICE
from eipfsck.collect.nbexec import OVN_CENTRAL_CONTAINER, run_in_pod
from eipfsck.kubeovn import names as n

DEPLOY = REPO_ROOT / "deploy"
PROMETHEUS_RULE_CRD = (DEPLOY / "crds" / "test-only" / "prometheus-operator"
                       / "monitoring.coreos.com_prometheusrules.yaml")
LEAKY = EXAMPLES / "leaky-cluster"
LEADER = "kube-ovn-controller-7d9c6b5f4-abcde"  # the leaky example's Lease holder
KUBE_OVN_NS = "kube-system"
MANAGER = "eipfsck-deploy-test"
OPT_IN = {"rbac-nb-exec.yaml", "rbac-repair.yaml", "cronjob-repair.yaml.example"}
WAIT = 30.0



# -- manifests ----------------------------------------------------------------------------------


def has_403(text: str) -> bool:
    """An HTTP 403 in a message: the number alone, not inside another (a random port such as
    44031 is in every NB note)."""
    return re.search(r"(?<![0-9])403(?![0-9])", text) is not None


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def manifest_files() -> list[str]:
    files = [p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"]
    return sorted(files) + sorted(p.name for p in DEPLOY.glob("*.yaml.example"))


def find(name: str, kind: str) -> dict[str, Any]:
    return next(d for d in docs(name) if d["kind"] == kind)


def expand(rules: list[dict[str, Any]], namespace: str = "") -> set[tuple[str, ...]]:
    """(namespace, verb, group, resource, name or '*') for every grant in these rules."""
    return {(namespace, v, g, r, name)
            for rule in rules for v in rule["verbs"] for g in rule["apiGroups"]
            for r in rule["resources"] for name in rule.get("resourceNames") or ["*"]}


# -- talking to the apiserver -------------------------------------------------------------------


def call(api: Api, method: str, path: str, body: Any = None, query: list[tuple[str, Any]] = (),
         content_type: str = "application/json") -> tuple[int, Any, str]:
    """(status, body, Warning headers) without raising on an error status."""
    client = api.client
    ser = client.param_serialize(method=method, resource_path=path, query_params=list(query),
                                 header_params={"Content-Type": content_type,
                                                "Accept": "application/json"},
                                 body=body, auth_settings=["BearerToken"])
    resp = client.call_api(*ser, _request_timeout=30)
    raw = resp.read()
    return resp.status, json.loads(raw) if raw else None, resp.getheader("Warning") or ""


class Paths:
    """REST paths of manifest objects, from the apiserver's own discovery."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.known: dict[tuple[str, str], tuple[str, bool]] = {}

    def of(self, obj: dict[str, Any]) -> str:
        version, kind = obj["apiVersion"], obj["kind"]
        if (version, kind) not in self.known:
            base = f"/api/{version}" if "/" not in version else f"/apis/{version}"
            for r in self.api.get(base)["resources"]:
                if "/" not in r["name"]:
                    self.known[(version, r["kind"])] = (r["name"], r["namespaced"])
        plural, namespaced = self.known[(version, kind)]
        base = f"/api/{version}" if "/" not in version else f"/apis/{version}"
        meta = obj["metadata"]
        ns = f"/namespaces/{meta['namespace']}" if namespaced else ""
        return f"{base}{ns}/{plural}/{meta['name']}"


def apply(api: Api, paths: Paths, obj: dict[str, Any], dry_run: bool = False
          ) -> tuple[int, Any, str]:
    """Server-side apply (create or update), strict field validation."""
    query = [("fieldManager", MANAGER), ("force", "true"), ("fieldValidation", "Strict")]
    if dry_run:
        query.append(("dryRun", "All"))
    return call(api, "PATCH", paths.of(obj), obj, query, "application/apply-patch+yaml")


def apply_ok(api: Api, paths: Paths, obj: dict[str, Any]) -> None:
    status, body, _ = apply(api, paths, obj)
    assert status in (200, 201), f"applying {obj['kind']} {obj['metadata']['name']}: {body}"


def install_crd(api: Api, path: Path) -> None:
    """Create a CRD from a file and wait until its resource is served (as seed.install_crds)."""
    (crd,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
    api.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    spec = crd["spec"]
    version = next(v for v in spec["versions"] if v.get("storage"))["name"]
    served = f"/apis/{spec['group']}/{version}/{spec['names']['plural']}"
    deadline = time.monotonic() + WAIT
    while not api.exists(served):
        assert time.monotonic() < deadline, f"{path.name}: {served} not served in {WAIT}s"
        time.sleep(0.05)


def closed_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback_kubelets(env: LiveEnv) -> int:
    """Point every node's kubelet at a closed port on 127.0.0.1 (see the module docstring)."""
    port = closed_loopback_port()
    api = env.api()
    try:
        for node in api.get("/api/v1/nodes")["items"]:
            status, body, _ = call(
                api, "PATCH", f"/api/v1/nodes/{node['metadata']['name']}/status",
                {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}},
                content_type="application/merge-patch+json")
            assert status == 200, body
    finally:
        api.close()
    return port


@dataclass
class ServiceAccount:
    """ServiceAccount eipfsck with the given deploy/ files applied, and a kubeconfig for it."""

    env: LiveEnv
    kubeconfig: str
    api: Api  # as the ServiceAccount (for self-reviews)

    def allowed(self, attrs: dict[str, str]) -> bool:
        _, body, _ = call(self.api, "POST",
                          "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                          {"apiVersion": "authorization.k8s.io/v1",
                           "kind": "SelfSubjectAccessReview",
                           "spec": {"resourceAttributes": attrs}})
        return bool(body["status"].get("allowed"))

    def wait_allowed(self, attrs: dict[str, str], want: bool) -> None:
        """The RBAC authorizer sees role changes through an informer: wait until it does."""
        deadline = time.monotonic() + WAIT
        while self.allowed(attrs) != want:
            assert time.monotonic() < deadline, f"authorizer still says {not want} for {attrs}"
            time.sleep(0.05)

    def granted(self, namespace: str) -> set[tuple[str, ...]]:
        _, body, _ = call(self.api, "POST",
                          "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                          {"apiVersion": "authorization.k8s.io/v1",
                           "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}})
        return {g[1:] for g in expand(body["status"]["resourceRules"])}


def service_account(env: LiveEnv, tmp: Path, files: list[str],
                    name: str = "eipfsck") -> ServiceAccount:
    """Apply namespace.yaml, serviceaccount.yaml and `files`; log in as ServiceAccount `name`
    of namespace eipfsck (created if it is not eipfsck) with a TokenRequest token."""
    api = env.api()
    try:
        paths = Paths(api)
        for file in ["namespace.yaml", "serviceaccount.yaml", *files]:
            for obj in docs(file):
                apply_ok(api, paths, obj)
        base = "/api/v1/namespaces/eipfsck/serviceaccounts"
        if not api.exists(f"{base}/{name}"):
            api.request("POST", base, {"apiVersion": "v1", "kind": "ServiceAccount",
                                       "metadata": {"name": name, "namespace": "eipfsck"}})
        token = api.request("POST", f"{base}/{name}/token",
                            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                             "spec": {"expirationSeconds": 3600}})["status"]["token"]
    finally:
        api.close()
    kubeconfig = tmp / f"kubeconfig-{name}"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "eipfsck",
        "clusters": [{"name": "test", "cluster": {
            "server": env.apiserver, "certificate-authority": env.apiserver_ca}}],
        "users": [{"name": "eipfsck", "user": {"token": token}}],
        "contexts": [{"name": "eipfsck", "context": {"cluster": "test", "user": "eipfsck"}}]}))
    kubeconfig.chmod(0o600)
    return ServiceAccount(env, str(kubeconfig), Api(str(kubeconfig)))


def key(f: dict[str, Any]) -> tuple[Any, ...]:
    return (f["check"], f["subnet"], f["ip"], tuple(sorted(s["name"] for s in f["subjects"])))


# -- the manifests themselves (no server) -----------------------------------------------------


def test_kustomization_lists_the_scan_only_install() -> None:
    kust = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    # A kustomization-wide namespace would move the kube-system Roles into eipfsck.
    assert "namespace" not in kust
    assert set(kust["resources"]) == set(manifest_files()) - OPT_IN
    assert "prometheus-rules.yaml" in kust["resources"]
    paths_seen = set()
    for name in manifest_files():
        for obj in docs(name):
            meta = obj["metadata"]
            paths_seen.add((obj["kind"], meta.get("namespace"), meta["name"]))
            if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                # kubectl apply would otherwise put it in the caller's current namespace.
                assert meta.get("namespace") in ("eipfsck", KUBE_OVN_NS), (name, meta)
    assert len(paths_seen) == sum(len(docs(f)) for f in manifest_files()), "duplicate objects"


def test_rbac_files_match_what_the_code_issues() -> None:
    """The manifests follow kube.API_RESOURCES and the repair writer: a resource added to
    the code without a rule (or the reverse) fails here before any cluster does."""
    cluster = find("rbac-scan.yaml", "ClusterRole")["rules"]
    role = find("rbac-scan.yaml", "Role")["rules"]
    assert all(len(r["verbs"]) == 1 and len(r["apiGroups"]) == 1 for r in cluster + role)
    listed = {(a.group, a.plural) for a in API_RESOURCES.values() if not a.named}
    named = {(a.group, a.plural, name) for a in API_RESOURCES.values() for name in a.named}
    assert expand(cluster) == {("", "list", g, r, "*") for g, r in listed} | {
        ("", "get", "", "namespaces", "kube-system")}
    assert ("", "namespaces", "kube-system") in named
    assert expand(role) == {("", "get", g, r, name) for g, r, name in named
                            if r != "namespaces"} | {
        ("", "get", "", "services", NB_SERVICE), ("", "get", "", "pods/log", "*")}

    repair = expand(find("rbac-repair.yaml", "ClusterRole")["rules"])
    deletable = {"ips.kubeovn.io", *(res for res, *_ in n.NAT_RULE_KINDS)}
    assert {(v, g, r) for _, v, g, r, _ in repair if v == "delete"} == {
        ("delete", "kubeovn.io", res.split(".")[0]) for res in deletable} | {
        ("delete", "kubeovn.io", "vips"), ("delete", "kubeovn.io", "ovn-eips")}
    assert {r for _, v, _, r, _ in repair if v == "create"} == {"events", "vips", "ovn-eips"}
    restart = expand(find("rbac-repair.yaml", "Role")["rules"])
    assert ("", "delete", "", "pods", "*") in restart
    assert ("", "get", "coordination.k8s.io", "leases", n.CONTROLLER) in restart


def test_cronjob_arguments_are_options_eipfsck_has() -> None:
    group = typer.main.get_command(app)
    for name, wanted in (("cronjob-scan.yaml", "scan"), ("cronjob-repair.yaml.example",
                                                          "repair")):
        job = find(name, "CronJob")
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        assert job["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
        (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        args = container["args"]
        if container.get("command"):  # the repair example: sh -c "eipfsck repair ..."
            args = shlex.split(args[0].split(";")[0])[1:]
        assert args[0] == wanted
        options = {o for p in group.commands[wanted].params for o in p.opts + p.secondary_opts}
        assert {a for a in args if a.startswith("-")} <= options, (name, options)
    scan = find("cronjob-scan.yaml", "CronJob")
    args = scan["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--fail-on") + 1] == "never"
    assert "--pushgateway" in (DEPLOY / "cronjob-scan.yaml").read_text()  # the commented line


# -- every manifest, dry run ---------------------------------------------------------------------


def test_every_manifest_is_accepted_by_a_server_side_dry_run(fresh_env: LiveEnv) -> None:
    api = fresh_env.api()
    try:
        install_crd(api, PROMETHEUS_RULE_CRD)
        paths = Paths(api)
        # Namespaced objects need their namespace: the one real write.
        for obj in docs("namespace.yaml"):
            apply_ok(api, paths, obj)
        accepted = []
        for name in manifest_files():
            for obj in docs(name):
                path = paths.of(obj)
                before = call(api, "GET", path)
                status, body, warnings = apply(api, paths, obj, dry_run=True)
                what = f"{name}: {obj['kind']} {obj['metadata']['name']}"
                assert status in (200, 201), f"{what}: HTTP {status}: {body}"
                # No warning: no unknown field, no Pod Security "restricted" violation.
                assert not warnings, f"{what}: {warnings}"
                after = call(api, "GET", path)
                assert after[0] == before[0], f"{what}: the dry run created it"
                if before[0] == 200:
                    assert after[1]["metadata"]["resourceVersion"] == \
                        before[1]["metadata"]["resourceVersion"], f"{what}: changed"
                accepted.append((name, obj["kind"]))
        kinds = {k for _, k in accepted}
        assert {"Namespace", "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding",
                "RoleBinding", "CronJob", "PersistentVolumeClaim", "PrometheusRule"} <= kinds
        assert {f for f, _ in accepted} == set(manifest_files())

        # The no-warning check above is live: a pod that breaks "restricted" is warned about.
        job = copy.deepcopy(find("cronjob-scan.yaml", "CronJob"))
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        del pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"]
        status, _, warnings = apply(api, paths, job, dry_run=True)
        assert status == 201 and "would violate PodSecurity" in warnings, warnings
        assert "allowPrivilegeEscalation != false" in warnings, warnings
    finally:
        api.close()


# -- RBAC: scan --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scan_env(live_env_factory: EnvFactory) -> Iterator[LiveEnv]:
    """The leaky example, plus Kube-OVN's Service ovn-nb (so that the NB auto mode goes on to
    look for the ovn-central pods), with the kubelets on loopback."""
    env = seeded(live_env_factory, "deploy-rbac", LEAKY)
    try:
        loopback_kubelets(env)
        api = env.api()
        try:
            api.request("POST", f"/api/v1/namespaces/{KUBE_OVN_NS}/services", {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": NB_SERVICE, "namespace": KUBE_OVN_NS},
                "spec": {"ports": [{"name": "ovn-nb", "port": 6641}],
                         "selector": {"app": "ovn-central", "ovn-nb-leader": "true"}}})
        finally:
            api.close()
        yield env
    finally:
        live_env_factory.stop(env.state)


@pytest.fixture(scope="module")
def scan_sa(scan_env: LiveEnv, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ServiceAccount]:
    sa = service_account(scan_env, tmp_path_factory.mktemp("sa"), ["rbac-scan.yaml"])
    yield sa
    sa.api.close()


def scan_args(sa: ServiceAccount, how: str) -> list[str]:
    base = ["scan", "-o", "json", "--kubeconfig", sa.kubeconfig]
    nb = ["--ovn-nb", sa.env.nb_tcp]
    return {"scan": base + nb, "auto-nb": base,
            "log": base + nb + ["--controller-log", "auto"]}[how]


def test_scan_as_the_service_account_sees_what_admin_sees(
        scan_sa: ServiceAccount, capsys: pytest.CaptureFixture[str]) -> None:
    env = scan_sa.env
    code, out, err = run(scan_args(scan_sa, "scan"), capsys)
    admin_code, admin_out, _ = run(["scan", "-o", "json", "--kubeconfig", env.kubeconfig,
                                    "--ovn-nb", env.nb_tcp], capsys)
    report, admin = json.loads(out), json.loads(admin_out)
    assert code == admin_code == 4, err
    assert sorted(map(key, report["findings"])) == sorted(map(key, admin["findings"]))
    assert report["findings"]
    assert {s["name"]: s["state"] for s in report["sources"]} == \
        {s["name"]: s["state"] for s in admin["sources"]}
    assert not [s for s in report["sources"] if s["state"] in ("failed", "partial")]
    assert "forbidden" not in err.lower()

    # --controller-log auto: the log GET is authorized; it fails only at the (absent) kubelet.
    code, _, err = run(scan_args(scan_sa, "log"), capsys)
    note = next(line for line in err.splitlines() if "controller log" in line)
    assert f"controller log of pod {KUBE_OVN_NS}/{LEADER}: HTTP" in note, note
    assert not has_403(note) and "forbidden" not in note.lower(), note
    assert code == 4

    # No --ovn-nb: the Service GET is authorized, then the ovn-central pods are listed.
    code, _, err = run(scan_args(scan_sa, "auto-nb"), capsys)
    assert f"auto: Service {KUBE_OVN_NS}/{NB_SERVICE} exists" in err, err
    assert "no pod app=ovn-central in namespace kube-system" in err, err
    assert not has_403(err) and "forbidden" not in err.lower()
    assert code & 8  # the NB is not read here (no ovn-central pod): inconclusive, rightly


def test_the_scan_roles_grant_nothing_more(scan_sa: ServiceAccount, tmp_path: Path) -> None:
    """What the authorizer lets the ServiceAccount do, beyond what any ServiceAccount without
    a binding may do (self-reviews, discovery, ...), is exactly the files' rules."""
    nobody = service_account(scan_sa.env, tmp_path, [], name="eipfsck-test-nobody")
    cluster = expand(find("rbac-scan.yaml", "ClusterRole")["rules"])
    role = expand(find("rbac-scan.yaml", "Role")["rules"])
    try:
        for ns, want in ((KUBE_OVN_NS, cluster | role), ("eipfsck", cluster),
                         ("default", cluster)):
            everyone = nobody.granted(ns)
            assert everyone, ns
            assert scan_sa.granted(ns) - everyone == {g[1:] for g in want}, ns
    finally:
        nobody.api.close()


def elements(role: dict[str, Any]
             ) -> Iterator[tuple[str, dict[str, Any], dict[str, str], str]]:
    """(label, the role without one element, the access that element gave, its resource):
    each resource of each rule, and each name of a rule with several resourceNames."""
    ns = role["metadata"].get("namespace", "")
    for i, rule in enumerate(role["rules"]):
        (group,), (verb,) = rule["apiGroups"], rule["verbs"]
        names = rule.get("resourceNames") or []
        for res in rule["resources"]:
            plural, _, sub = res.partition("/")
            attrs = {"namespace": ns, "verb": verb, "group": group, "resource": plural,
                     "subresource": sub, "name": names[0] if names else ""}
            if res == "pods/log":
                attrs["name"] = LEADER
            for name in [None, *names] if len(names) > 1 else [None]:
                less = copy.deepcopy(role)
                if name is None:
                    less["rules"][i]["resources"].remove(res)
                    label = f"{role['kind']} {res}"
                else:
                    less["rules"][i]["resourceNames"].remove(name)
                    attrs = {**attrs, "name": name}
                    label = f"{role['kind']} {res} {name}"
                less["rules"] = [r for r in less["rules"] if r["resources"]]
                yield label, less, attrs, res


def evidence(kind: str, group: str, resource: str) -> tuple[str, str]:
    """(how to scan, the stderr text that names the missing rule)."""
    if resource == "pods/log":
        return "log", f"controller log of pod {KUBE_OVN_NS}/{LEADER}: HTTP 403"
    if kind == "Role" and resource == "services":
        return "auto-nb", f"Service {KUBE_OVN_NS}/{NB_SERVICE} HTTP 403"
    stem = next(k for k, a in API_RESOURCES.items() if (a.group, a.plural) == (group, resource))
    return "scan", _rbac_hint(stem, KUBE_OVN_NS)


def test_every_element_of_the_scan_roles_is_needed(
        scan_sa: ServiceAccount, capsys: pytest.CaptureFixture[str]) -> None:
    api = scan_sa.env.api()
    paths = Paths(api)
    baseline, _, _ = run(scan_args(scan_sa, "scan"), capsys)
    problems, tried = [], []
    try:
        for role in (find("rbac-scan.yaml", "ClusterRole"), find("rbac-scan.yaml", "Role")):
            for label, less, attrs, res in elements(role):
                assert scan_sa.allowed(attrs), f"{label}: not granted to begin with"
                apply_ok(api, paths, less)
                try:
                    scan_sa.wait_allowed(attrs, False)
                    how, text = evidence(role["kind"], attrs["group"], res)
                    code, _, err = run(scan_args(scan_sa, how), capsys)
                finally:
                    apply_ok(api, paths, role)
                    scan_sa.wait_allowed(attrs, True)
                tried.append(label)
                # An unreadable controller log is a note by design, never a failed source:
                # that scan keeps its exit code; every other element makes it inconclusive.
                want_code = code == baseline if how == "log" else bool(code & 8)
                if text not in err or not want_code:
                    problems.append(f"{label}: exit {code}, expected "
                                    f"{'unchanged' if how == 'log' else 'bit 8'} and "
                                    f"{text!r} in:\n{err}")
    finally:
        api.close()
    assert not problems, "\n\n".join(problems)
    # 23 listed kinds and the namespace; the ConfigMaps (all, and each name), Deployment,
    # Lease, Service, pods/log.
    assert len(tried) == 24 + 4 + 4, tried


# -- RBAC: kubectl-exec ------------------------------------------------------------------------


def test_nb_exec_role_needs_both_verbs(scan_sa: ServiceAccount) -> None:
    """eipfsck's exec (a WebSocket, as --ovn-nb kubectl-exec uses it) into an ovn-central pod.
    The pod has no node, so an authorized exec ends in the apiserver, never at a kubelet."""
    env = scan_sa.env
    api = env.api()
    paths = Paths(api)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "ovn-central-test", "namespace": KUBE_OVN_NS,
                        "labels": {"app": "ovn-central", "ovn-nb-leader": "true"}},
           "spec": {"containers": [{"name": OVN_CENTRAL_CONTAINER,
                                    "image": "registry.invalid/ovn-central:0"}]}}
    api.request("POST", f"/api/v1/namespaces/{KUBE_OVN_NS}/pods", pod)
    exec_role = find("rbac-nb-exec.yaml", "Role")
    attrs = {verb: {"namespace": KUBE_OVN_NS, "verb": verb, "resource": "pods",
                    "subresource": "exec", "name": "ovn-central-test"}
             for verb in ("get", "create")}

    def try_exec() -> str:
        try:
            run_in_pod(scan_sa.api.client, KUBE_OVN_NS, "ovn-central-test", ["true"], 10)
        except Exception as exc:  # the websocket client's failures come in several types
            return str(exc)
        raise AssertionError("exec into a pod without a node succeeded")

    try:
        assert has_403(try_exec())  # rbac-scan.yaml alone: no exec
        for obj in docs("rbac-nb-exec.yaml"):
            apply_ok(api, paths, obj)
        for verb in attrs:
            scan_sa.wait_allowed(attrs[verb], True)
        allowed = try_exec()
        assert not has_403(allowed) and "Forbidden" not in allowed, allowed
        for verb in ("get", "create"):
            other = "create" if verb == "get" else "get"
            apply_ok(api, paths, {**exec_role, "rules": [{**exec_role["rules"][0],
                                                          "verbs": [other]}]})
            scan_sa.wait_allowed(attrs[verb], False)
            assert has_403(try_exec()), f"exec worked without {verb!r}"
    finally:
        for obj in docs("rbac-nb-exec.yaml"):
            call(api, "DELETE", paths.of(obj))
        call(api, "DELETE", paths.of(pod), {"gracePeriodSeconds": 0})
        api.close()


# -- RBAC: repair --------------------------------------------------------------------------------




def test_repair_as_the_service_account(leaky_rw: LiveEnv, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    env = leaky_rw
    sa = service_account(env, tmp_path, ["rbac-scan.yaml", "rbac-repair.yaml"])
    try:
        nb = ["--ovn-nb", env.nb_tcp]
        code, out, err = run(["repair", "--kubeconfig", sa.kubeconfig, *nb, "--dry-run",
                              "-o", "json"], capsys)
        admin_code, admin_out, _ = run(["repair", "--kubeconfig", env.kubeconfig, *nb,
                                        "--dry-run", "-o", "json"], capsys)
        plan, admin_plan = json.loads(out), json.loads(admin_out)
        assert code == admin_code == 4, err
        assert [(a["action"], a["target"]["name"]) for a in plan["actions"]] == \
            [(a["action"], a["target"]["name"]) for a in admin_plan["actions"]]
        assert len(plan["actions"]) == 6
        assert "incomplete-scan" not in {h["gate"] for h in plan["held"]}

        code, out, err = run(["repair", "--kubeconfig", sa.kubeconfig, *nb, "--yes",
                              "--grace", "30s", "--journal", str(tmp_path / "journal.jsonl"),
                              "-o", "json"], capsys)
        doc = json.loads(out)
        results = {f'{r["target"]["kind"]} {r["target"]["name"]}': r["outcome"]
                   for r in doc["results"]}
        assert results == {
            "NAT dnat_and_snat 172.30.0.13 -> 10.10.0.13": "released",
            "Logical_Switch_Port ghost.ns1": "released",
            "Logical_Switch_Port vip-b": "released",
            "IP stray-ip": "released", "IP ghost.ns1": "released",
            "OvnFip fip-dangling": "released"}, err
        assert code == 1 | 4, err
        assert not has_403(err) and "forbidden" not in err.lower(), err
        assert "not written" not in err, err  # no Event failed
    finally:
        sa.api.close()
    api = env.api()
    try:
        events = api.get("/api/v1/events")["items"]
    finally:
        api.close()
    written = {(e["involvedObject"]["kind"], e["involvedObject"]["name"],
                e["metadata"]["namespace"]) for e in events if e["reason"] == "EipfsckRepair"}
    assert written == {("IP", "stray-ip", "default"), ("IP", "ghost.ns1", "default"),
                       ("OvnFip", "fip-dangling", "default")}
