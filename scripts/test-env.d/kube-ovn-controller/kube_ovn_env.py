#!/usr/bin/env python3
"""The Kube-OVN part of `scripts/test-env up --kube-ovn` (standard library only).

    kube_ovn_env.py crds DIR CRD_YAML
        install the module's own CRDs (one YAML document each) and wait until all are Established
    kube_ovn_env.py supervise DIR
        act as the controller's Deployment, ReplicaSet and kubelet: keep one kube-ovn-controller
        process running for the one Pod object that names it
    kube_ovn_env.py ready DIR TIMEOUT
        wait until the controller leads (the Lease names the supervisor's Pod) and its default
        subnets (DIR/supervisor.json "subnets") are Ready

DIR is STATE/kube-ovn of the environment. The supervisor reads DIR/supervisor.json (written by
scripts/test-env) and DIR/token: the API server,
the controller binary, its flags and environment. There is no kube-controller-manager and no
kubelet in the test environment, so the supervisor plays their parts for this one workload:

* it creates Deployment kube-ovn-controller (image tag = the module's version), a ReplicaSet it
  owns and a Pod the ReplicaSet owns, bound to a node name, Running, with the controller's flags;
* it starts the controller with POD_NAME = that Pod's name (the leader-election identity, so the
  Lease holder names the Pod, as in a real cluster);
* when the Pod is deleted (or marked for deletion), it stops the process (TERM, then KILL after
  the Pod's grace period), confirms the deletion as a kubelet would, and starts a new process
  under a new Pod name, as a ReplicaSet would;
* when the process exits on its own, it starts it again in the same Pod (restartCount + 1), as a
  kubelet restarts a container.

The controller writes /var/log/kube-ovn/kube-ovn-controller.log whatever its flags
(pkg/util/log.go InitLogFilePerm, and klog's --log_file). Environments run in parallel, so each
process runs in a mount namespace of its own (`unshare --mount`) where DIR/log is
bind-mounted onto /var/log/kube-ovn.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NAME = "kube-ovn-controller"
LABELS = {"app": NAME, "component": "network", "type": "infra"}
POLL = 1.0          # seconds between looks at the Pod
STOP_GRACE = 10.0   # seconds between TERM and KILL when the environment goes down
# A kubelet's crash-loop back-off, shortened: a controller that keeps exiting is retried, slowly.
BACKOFF = (1.0, 2.0, 5.0, 10.0, 20.0)


def log(msg: str) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    print(f"{stamp} kube_ovn_env: {msg}", flush=True)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    def __init__(self, server: str, ca: str, token: str) -> None:
        self.server = server.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=ca)
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json", raw: bytes | None = None
             ) -> tuple[int, dict[str, Any]]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            "Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                doc = json.loads(exc.read() or b"{}")
            except ValueError:
                doc = {}
            return exc.code, doc

    def must(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201),
             **kw: Any) -> dict[str, Any]:
        code, doc = self.call(method, path, body, **kw)
        if code not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {code}: {doc.get('message', doc)}")
        return doc


def api_from_dir(d: Path) -> Api:
    conf = json.loads((d / "supervisor.json").read_text())
    token = (d / "token").read_text().strip()
    return Api(conf["server"], conf["ca"], token)


# ---------------------------------------------------------------------------------------------
# crds
# ---------------------------------------------------------------------------------------------

def yaml_documents(text: str) -> list[str]:
    """The non-empty documents of a multi-document YAML stream (split on `---` lines)."""
    docs, cur = [], []
    for line in text.splitlines():
        if line.rstrip() == "---":
            docs.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    docs.append("\n".join(cur))
    return [d for d in docs
            if any(ln.strip() and not ln.lstrip().startswith("#") for ln in d.splitlines())]


def cmd_crds(d: Path, crd_file: Path, timeout: float = 60.0) -> None:
    api = api_from_dir(d)
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    names = []
    for doc in yaml_documents(crd_file.read_text()):
        # The API server decodes YAML itself: the module's file is sent as it is.
        created = api.must("POST", path, raw=doc.encode(), content_type="application/yaml")
        names.append(created["metadata"]["name"])
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending:
        conds = api.must("GET", f"{path}/{pending[0]}").get("status", {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise RuntimeError(f"CRD {pending[0]} not Established within {timeout:.0f}s")
        time.sleep(0.2)
    log(f"installed {len(names)} CRDs from {crd_file.name}")


# ---------------------------------------------------------------------------------------------
# supervise
# ---------------------------------------------------------------------------------------------

SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' generated names


def suffix(n: int) -> str:
    return "".join(random.choice(SUFFIX_CHARS) for _ in range(n))


def set_pdeathsig() -> None:
    """The controller dies with its supervisor, even when the supervisor is killed."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Supervisor:
    def __init__(self, d: Path) -> None:
        self.dir = d
        self.conf = json.loads((self.dir / "supervisor.json").read_text())
        self.api = api_from_dir(d)
        self.ns = self.conf["namespace"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.pod: str | None = None
        self.restarts = 0
        self.stopping = threading.Event()

    # -- objects ------------------------------------------------------------------------------

    def container(self) -> dict[str, Any]:
        return {"name": NAME, "image": self.conf["image"],
                "args": ["/kube-ovn/start-controller.sh", *self.conf["args"]],
                "env": [{"name": k, "value": v} for k, v in self.conf["env"].items()
                        if k != "POD_NAME"]}

    def ensure_workload(self) -> tuple[str, str]:
        """Deployment and ReplicaSet (created once); returns the ReplicaSet's name and uid."""
        template = {"metadata": {"labels": LABELS},
                    "spec": {"hostNetwork": True, "containers": [self.container()]}}
        base = f"/apis/apps/v1/namespaces/{self.ns}"
        code, dep = self.api.call("GET", f"{base}/deployments/{NAME}")
        if code == 404:
            dep = self.api.must("POST", f"{base}/deployments", {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": NAME, "namespace": self.ns, "labels": LABELS},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": NAME}},
                         "template": template}})
        elif code != 200:
            raise RuntimeError(f"GET deployment {NAME}: HTTP {code}")
        rs_name = f"{NAME}-{self.conf['template_hash']}"
        code, rs = self.api.call("GET", f"{base}/replicasets/{rs_name}")
        if code == 404:
            labels = {**LABELS, "pod-template-hash": self.conf["template_hash"]}
            rs = self.api.must("POST", f"{base}/replicasets", {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": self.ns, "labels": labels,
                             "ownerReferences": [self.owner_ref("apps/v1", "Deployment", dep)]},
                "spec": {"replicas": 1, "selector": {"matchLabels": {
                    "app": NAME, "pod-template-hash": self.conf["template_hash"]}},
                         "template": {**template, "metadata": {"labels": labels}}}})
        elif code != 200:
            raise RuntimeError(f"GET replicaset {rs_name}: HTTP {code}")
        return rs_name, rs["metadata"]["uid"]

    @staticmethod
    def owner_ref(api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def create_pod(self) -> str:
        rs_name, rs_uid = self.ensure_workload()
        labels = {**LABELS, "pod-template-hash": self.conf["template_hash"]}
        path = f"/api/v1/namespaces/{self.ns}/pods"
        while True:
            name = f"{rs_name}-{suffix(5)}"
            code, doc = self.api.call("POST", path, {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": self.ns, "labels": labels,
                             "ownerReferences": [{
                                 "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
                                 "uid": rs_uid, "controller": True,
                                 "blockOwnerDeletion": True}]},
                "spec": {"nodeName": self.conf["node"], "hostNetwork": True,
                         "containers": [self.container()]}})
            if code == 409:
                continue  # that random name exists already
            if code != 201:
                raise RuntimeError(f"creating Pod {name}: HTTP {code}: {doc.get('message')}")
            return name

    def report_status(self, running: bool) -> None:
        """What a kubelet would write: Running and Ready with the host's IP, or not ready."""
        assert self.pod is not None
        started = now_rfc3339()
        state = {"running": {"startedAt": started}} if running else {
            "waiting": {"reason": "CrashLoopBackOff"}}
        status = {
            "phase": "Running", "hostIP": self.conf["env"]["POD_IP"],
            "podIP": self.conf["env"]["POD_IP"], "podIPs": [{"ip": self.conf["env"]["POD_IP"]}],
            "startTime": started,
            "conditions": [{"type": t, "status": "True" if running or t == "PodScheduled"
                            else "False", "lastTransitionTime": started}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": NAME, "image": self.conf["image"], "imageID": "",
                                   "ready": running, "started": running,
                                   "restartCount": self.restarts, "state": state}]}
        code, doc = self.api.call("PATCH", f"/api/v1/namespaces/{self.ns}/pods/{self.pod}/status",
                                  {"status": status},
                                  content_type="application/merge-patch+json")
        if code != 200 and code != 404:
            log(f"writing the status of Pod {self.pod}: HTTP {code}: {doc.get('message')}")

    # -- the process --------------------------------------------------------------------------

    def start_process(self) -> None:
        assert self.pod is not None
        env = {**self.conf["env"], "POD_NAME": self.pod,
               "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        cmd = ["unshare", "--mount", "--propagation", "private", "--",
               "sh", "-c", 'mount --bind "$0" /var/log/kube-ovn && exec "$@"',
               str(self.dir / "log"), self.conf["binary"], *self.conf["args"]]
        out = open(self.dir / "controller.out", "ab")  # noqa: SIM115 - handed to the child
        try:
            out.write(f"==> {now_rfc3339()} Pod {self.pod} (restart {self.restarts})\n".encode())
            out.flush()
            self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, preexec_fn=set_pdeathsig,
                                         cwd=self.dir)
        finally:
            out.close()
        (self.dir / "controller.pid").write_text(f"{self.proc.pid}\n")
        (self.dir / "pod").write_text(f"{self.pod}\n")
        log(f"started kube-ovn-controller pid {self.proc.pid} as Pod {self.pod}")

    def stop_process(self, grace: float) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"controller pid {self.proc.pid} ignored TERM for {grace:.0f}s; KILL")
                self.proc.kill()
                self.proc.wait()
        log(f"controller pid {self.proc.pid} stopped (exit {self.proc.returncode})")
        self.proc = None
        (self.dir / "controller.pid").unlink(missing_ok=True)

    # -- the loop -----------------------------------------------------------------------------

    def pod_state(self) -> tuple[str, float]:
        """'present', 'deleting' (with its grace seconds) or 'gone'."""
        code, doc = self.api.call("GET", f"/api/v1/namespaces/{self.ns}/pods/{self.pod}")
        if code == 404:
            return "gone", 0.0
        if code != 200:
            return "present", 0.0  # the API server hiccupped: look again later
        meta = doc.get("metadata", {})
        if meta.get("deletionTimestamp"):
            return "deleting", float(meta.get("deletionGracePeriodSeconds") or 0)
        return "present", 0.0

    def new_pod(self) -> None:
        self.pod = self.create_pod()
        self.restarts = 0
        (self.dir / "restarts").write_text("0\n")
        self.start_process()
        self.report_status(True)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_term)
        self.new_pod()
        backoff = 0
        while not self.stopping.wait(POLL):
            state, grace = self.pod_state()
            if state != "present":
                log(f"Pod {self.pod} {'is being deleted' if state == 'deleting' else 'is gone'};"
                    " stopping its controller")
                self.stop_process(max(grace, 1.0))
                if state == "deleting":  # a kubelet confirms the deletion once it stopped
                    self.api.call("DELETE", f"/api/v1/namespaces/{self.ns}/pods/{self.pod}",
                                  {"gracePeriodSeconds": 0})
                self.new_pod()
                backoff = 0
                continue
            assert self.proc is not None
            if self.proc.poll() is not None:
                log(f"controller pid {self.proc.pid} exited with {self.proc.returncode}")
                self.proc = None
                self.restarts += 1
                (self.dir / "restarts").write_text(f"{self.restarts}\n")
                self.report_status(False)
                self.stopping.wait(BACKOFF[min(backoff, len(BACKOFF) - 1)])
                backoff += 1
                if not self.stopping.is_set():
                    self.start_process()
                    self.report_status(True)
        self.stop_process(STOP_GRACE)
        log("supervisor stopped")

    def on_term(self, signum: int, _frame: Any) -> None:
        self.stopping.set()


def cmd_ready(d: Path, timeout: float) -> None:
    conf = json.loads((d / "supervisor.json").read_text())
    api = api_from_dir(d)
    deadline = time.monotonic() + timeout
    why = "nothing read yet"
    while time.monotonic() < deadline:
        time.sleep(0.5)
        pod = (d / "pod").read_text().strip() if (d / "pod").exists() else None
        restarts = (d / "restarts").read_text().strip() if (d / "restarts").exists() else "0"
        if int(restarts or 0) >= 3:
            raise RuntimeError(f"kube-ovn-controller exited {restarts} times in Pod {pod}; "
                               f"see {d / 'controller.out'}")
        code, lease = api.call(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/{conf['namespace']}/leases/{NAME}")
        holder = (lease.get("spec") or {}).get("holderIdentity") if code == 200 else None
        if pod is None or holder != pod:
            why = f"Lease {NAME} held by {holder!r}, the supervisor's Pod is {pod!r}"
            continue
        for subnet in conf["subnets"]:
            code, doc = api.call("GET", f"/apis/kubeovn.io/v1/subnets/{subnet}")
            conds = (doc.get("status") or {}).get("conditions") or [] if code == 200 else []
            if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                why = f"Subnet {subnet} is not Ready (HTTP {code})"
                break
        else:
            log(f"kube-ovn-controller leads as {pod}; subnets {', '.join(conf['subnets'])} Ready")
            return
    raise RuntimeError(f"kube-ovn-controller not ready within {timeout:.0f}s: {why}")


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 3 and argv[0] == "crds":
            cmd_crds(Path(argv[1]), Path(argv[2]))
        elif len(argv) == 2 and argv[0] == "supervise":
            Supervisor(Path(argv[1])).run()
        elif len(argv) == 3 and argv[0] == "ready":
            cmd_ready(Path(argv[1]), float(argv[2]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (RuntimeError, OSError, urllib.error.URLError) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
