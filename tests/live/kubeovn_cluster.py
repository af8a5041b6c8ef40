"""A cluster whose Kube-OVN state is made by the genuine kube-ovn-controller.

`scripts/test-env up --kube-ovn` runs the real controller (v1.14.10, built from the module proxy)
under a supervisor that acts as its Deployment. Tests built on this module only do what a user or
Kubernetes itself would do: create nodes, pods and Kube-OVN objects by their spec, strip a
finalizer, delete things, delete the controller's pod. They never write a Kube-OVN object's status
or an NB row: the controller does. A Pod's status and a Node's addresses are written here as a
kubelet would (there is no kubelet).
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from clirun import run as cli_run
from live.conftest import EnvFactory, LiveEnv
from live.seed import Api, ApiError

T = TypeVar("T")
KUBE_OVN = "/apis/kubeovn.io/v1"
NS = "kube-system"
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/kube-ovn-controller"
WAIT = 180.0   # the controller works on 2 shared cores: a bound, not a timing assertion
FINALIZER = "kube-ovn-controller"


def expand_range(text: str | None) -> set[str]:
    """A subnet status using/available range ("10.0.0.1-10.0.0.3,10.0.0.9") as addresses."""
    out: set[str] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)
        while a <= b:
            out.add(str(a))
            a += 1
    return out


class Cluster:
    def __init__(self, env: LiveEnv, tmp: Path) -> None:
        self.env = env
        self.tmp = tmp
        self.api: Api = env.api()
        self.log = Path(env.vars["EIPFSCK_TEST_KUBE_OVN_LOG"])
        self.version = env.vars["EIPFSCK_TEST_KUBE_OVN_VERSION"]

    def close(self) -> None:
        self.api.close()

    # -- plain API calls ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> Any:
        client = self.api.client
        serialized = client.param_serialize(
            method=method, resource_path=path, header_params={
                "Accept": "application/json", "Content-Type": content_type},
            body=body, auth_settings=["BearerToken"])
        response = client.call_api(*serialized, _request_timeout=60)
        raw = response.read()
        data = json.loads(raw) if raw else None
        if not 200 <= response.status < 300:
            raise ApiError(method, path, response.status, data)
        return data

    def get(self, path: str) -> Any:
        return self.api.get(path)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, collection: str, obj: dict[str, Any]) -> Any:
        return self.api.request("POST", collection, obj)

    def merge_patch(self, path: str, patch: dict[str, Any]) -> Any:
        return self.request("PATCH", path, patch, "application/merge-patch+json")

    def delete(self, path: str) -> None:
        try:
            self.api.request("DELETE", path)
        except ApiError as exc:
            if exc.status != 404:
                raise

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
        """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"the controller did not get there within {timeout:.0f}s: {what}; "
                            f"last lines of its log:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.5)

    def wait_gone(self, path: str) -> None:
        self.wait(f"{path} deleted", lambda: self.get_or_none(path) is None)

    def log_tail(self, n: int = 15) -> str:
        try:
            # Without a VPC NAT gateway configured, the controller logs this every second.
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines()
                     if "ovn-vpc-nat-config" not in ln]
            return "\n".join(lines[-n:])
        except OSError as exc:
            return f"({exc})"

    # -- what a kubelet or a user does --------------------------------------------------------

    def node(self, name: str, ip: str, kubelet_port: int | None = None) -> dict[str, Any]:
        """A Node as its kubelet registers it. With `kubelet_port` (a kubelet_exec.ExecKubelet
        on `ip`), the apiserver reaches that node's kubelet there: the Hostname address is left
        out, since the apiserver prefers it and cannot resolve it."""
        self.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                      "metadata": {"name": name,
                                                   "labels": {"kubernetes.io/hostname": name,
                                                              "kubernetes.io/os": "linux"}}})
        status: dict[str, Any] = {
            "addresses": [{"type": "InternalIP", "address": ip},
                          {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "lastHeartbeatTime": now(), "lastTransitionTime": now()}]}
        if kubelet_port is not None:
            status["addresses"] = status["addresses"][:1]
            status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
        self.request("PATCH", f"/api/v1/nodes/{name}/status", {"status": status},
                     "application/merge-patch+json")
        return self.wait(f"Node {name} gets its join address",
                         lambda: self.annotated(f"/api/v1/nodes/{name}",
                                                "ovn.kubernetes.io/ip_address"))

    def namespace(self, name: str) -> None:
        self.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": name}})

    def pod(self, name: str, namespace: str, node: str, *, annotations: dict[str, str] | None
            = None, owner: dict[str, Any] | None = None, wait: bool = True,
            restart_policy: str = "Always") -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": namespace,
                                "annotations": annotations or {}}
        if owner:
            meta["ownerReferences"] = [owner]
        self.create(f"/api/v1/namespaces/{namespace}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "restartPolicy": restart_policy,
                     "containers": [{"name": "c", "image": "busybox"}]}})
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        if not wait:
            return self.get(path)
        def allocated() -> dict[str, Any] | None:
            pod = self.annotated(path, "ovn.kubernetes.io/allocated")
            if pod and self.get_or_none(f"{KUBE_OVN}/ips/{name}.{namespace}"):
                return pod
            return None
        return self.wait(f"Pod {namespace}/{name} gets its address and IP CR", allocated)

    def delete_pod(self, name: str, namespace: str) -> None:
        """A normal (graceful) delete, then the kubelet's confirmation once the containers are
        stopped: a pod bound to a node stays until its kubelet deletes it with grace 0."""
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        self.delete(path)
        try:
            self.api.request("DELETE", path, {"gracePeriodSeconds": 0})
        except ApiError as exc:
            if exc.status != 404:
                raise
        self.wait_gone(path)

    def pod_phase(self, name: str, namespace: str, phase: str) -> None:
        """What a kubelet writes when the pod's containers ran (Succeeded) or are up (Running)."""
        self.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                     {"status": {"phase": phase}}, "application/merge-patch+json")

    def annotated(self, path: str, key: str) -> dict[str, Any] | None:
        obj = self.get_or_none(path)
        if obj and (obj["metadata"].get("annotations") or {}).get(key):
            return obj  # type: ignore[no-any-return]
        return None

    def strip_finalizers(self, path: str) -> None:
        """What the operator in the incident did: drop the controller's finalizer."""
        self.merge_patch(path, {"metadata": {"finalizers": None}})

    # -- Kube-OVN objects, by their spec only -------------------------------------------------

    def subnet(self, name: str, cidr: str, gateway: str, **spec: Any) -> dict[str, Any]:
        self.create(f"{KUBE_OVN}/subnets", {
            "apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": {"name": name},
            "spec": {"cidrBlock": cidr, "gateway": gateway, "protocol":
                     "Dual" if "," in cidr else "IPv4", **spec}})
        return self.wait(f"Subnet {name} Ready", lambda: self.ready_subnet(name))

    def ready_subnet(self, name: str) -> dict[str, Any] | None:
        obj = self.get_or_none(f"{KUBE_OVN}/subnets/{name}")
        conds = ((obj or {}).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
            return obj  # type: ignore[no-any-return]
        return None

    def ovn_eip(self, name: str, subnet: str, **spec: Any) -> dict[str, Any]:
        self.create(f"{KUBE_OVN}/ovn-eips", {
            "apiVersion": "kubeovn.io/v1", "kind": "OvnEip", "metadata": {"name": name},
            "spec": {"externalSubnet": subnet, **spec}})
        return self.wait(f"OvnEip {name} gets its address and finalizer",
                         lambda: self.accepted(f"{KUBE_OVN}/ovn-eips/{name}", "v4Ip"))

    def vip(self, name: str, subnet: str, namespace: str = "default", **spec: Any
            ) -> dict[str, Any]:
        self.create(f"{KUBE_OVN}/vips", {
            "apiVersion": "kubeovn.io/v1", "kind": "Vip", "metadata": {"name": name},
            "spec": {"subnet": subnet, "namespace": namespace, **spec}})
        # No finalizer to wait for: v1.14 Vips have none (vip.go; added in v1.15).
        return self.wait(f"Vip {name} gets its address",
                         lambda: self.accepted(f"{KUBE_OVN}/vips/{name}", "v4ip",
                                               finalizer=False))

    def accepted(self, path: str, field: str, finalizer: bool = True) -> dict[str, Any] | None:
        obj = self.get_or_none(path)
        if obj and (obj.get("status") or {}).get(field) and \
                (obj["metadata"].get("finalizers") or not finalizer):
            return obj  # type: ignore[no-any-return]
        return None

    def using(self, subnet: str) -> set[str]:
        """The addresses the controller reports in use in a subnet (its status, v4 and v6)."""
        status = self.get(f"{KUBE_OVN}/subnets/{subnet}").get("status") or {}
        return expand_range(status.get("v4usingIPrange")) | \
            expand_range(status.get("v6usingIPrange"))

    def settled_using(self, subnet: str, quiet: float = 6.0) -> set[str]:
        """using(subnet) once the subnet's status has not changed for `quiet` seconds."""
        path = f"{KUBE_OVN}/subnets/{subnet}"
        last: dict[str, Any] = {"rv": "", "since": time.monotonic()}

        def probe() -> bool:
            rv = self.get(path)["metadata"]["resourceVersion"]
            if rv != last["rv"]:
                last.update(rv=rv, since=time.monotonic())
            return time.monotonic() - float(last["since"]) >= quiet
        self.wait(f"the status of Subnet {subnet} settles", probe)
        return self.using(subnet)

    # -- the controller -----------------------------------------------------------------------

    def leader(self) -> str | None:
        lease = self.get_or_none(LEASE) or {}
        holder = (lease.get("spec") or {}).get("holderIdentity")
        return holder if isinstance(holder, str) and holder else None

    def controller_pod(self) -> dict[str, Any]:
        name = self.wait("a kube-ovn-controller leader", self.leader)
        return self.get(f"/api/v1/namespaces/{NS}/pods/{name}")  # type: ignore[no-any-return]

    def wait_new_leader(self, old: str, subnets: Iterable[str] = ()) -> str:
        """After the old leader's pod was deleted: a new pod leads and the subnets' status was
        rewritten by it (InitIPAM, then the status queue)."""
        def probe() -> str | None:
            holder = self.leader()
            if not holder or holder == old:
                return None
            return holder if self.get_or_none(f"/api/v1/namespaces/{NS}/pods/{holder}") else None
        new = self.wait(f"a new kube-ovn-controller leader after {old}", probe)
        for s in subnets:
            self.wait(f"Subnet {s} Ready under the new leader", lambda s=s: self.ready_subnet(s))
        return new

    def restart_controller(self) -> str:
        """Delete the leader's pod, as an operator would; the supervisor starts a new one."""
        old = self.controller_pod()["metadata"]["name"]
        self.delete(f"/api/v1/namespaces/{NS}/pods/{old}")
        return self.wait_new_leader(old)

    # -- eipfsck ------------------------------------------------------------------------------

    def cluster_args(self) -> list[str]:
        return ["--kubeconfig", self.env.kubeconfig, "--ovn-nb", self.env.nb_tcp,
                "--controller-log", str(self.log)]

    def scan(self, capsys: pytest.CaptureFixture[str], *extra: str
             ) -> tuple[int, dict[str, Any], str]:
        code, out, err = cli_run(["scan", "-o", "json", *self.cluster_args(), *extra], capsys)
        assert "internal error" not in err, err
        return code, json.loads(out), err

    def repair(self, capsys: pytest.CaptureFixture[str], journal: Path, *extra: str
               ) -> tuple[int, str, str]:
        # 30 s: the smallest grace repair accepts once it has a floor (two reads that far apart).
        code, out, err = cli_run(["repair", *self.cluster_args(), "--journal", str(journal),
                                  "--grace", "30s", "--yes", *extra], capsys)
        assert "internal error" not in err, err
        return code, out, err


class Disagreements:
    """Where eipfsck's report disagrees with what the controller did. Collected, not raised at
    once, so that one run shows every disagreement and the steps after it (repair, the restart)
    still run; `check()` at the end fails the test with all of them."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.context: list[str] = []

    def expect(self, what: str, actual: Any, expected: Any) -> None:
        if actual != expected:
            self.found.append(f"{what}:\n    got      {actual!r}\n    expected {expected!r}")

    def check(self) -> None:
        if self.found:
            pytest.fail("eipfsck disagrees with the genuine controller:\n" +
                        "\n".join(self.found + self.context), pytrace=False)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def problems(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings at warning or above (what makes the exit code non-zero)."""
    return [f for f in report["findings"] if f["severity"] in ("warning", "error")]


def brief(findings: Iterable[dict[str, Any]]) -> list[str]:
    return [f"{f['severity']} {f['check']} {f.get('subnet')} {f.get('ip')}: {f['message']}"
            for f in findings]


@contextmanager
def started(factory: EnvFactory, name: str, tmp_path: Path) -> Iterator[Cluster]:
    """A fresh environment with the genuine controller, as a Cluster; always stopped."""
    env = factory.start(name, kube_ovn=True)
    c = Cluster(env, tmp_path)
    try:
        yield c
    finally:
        c.close()
        factory.stop(env.state)
