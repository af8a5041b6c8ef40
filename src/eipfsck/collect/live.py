"""A live cluster into a Snapshot: Kubernetes first (subnets, then owners), then the NB.

This is the only place that knows a snapshot came from a live cluster; the Snapshot it
returns is the same type the loader returns, and `eipfsck snapshot` writes it unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import urllib3
from kubernetes import client as k8s_client

from eipfsck import __version__
from eipfsck.addresses import Address
from eipfsck.collect.kube import Exhausted, KubeCollector, KubeTarget, _Answer, _short
from eipfsck.collect.nbexec import read_northbound_exec
from eipfsck.collect.ovnnb import NbResult, NbTarget, read_northbound
from eipfsck.collect.progress import Progress, Silent
from eipfsck.controller_log import MAX_LINE, Allocation, read_log_stream
from eipfsck.kubeovn.names import CONTROLLER, controller_lease, lease_holder
from eipfsck.snapshot import Snapshot
from eipfsck.snapshot_writer import SNAPSHOT_SCHEMA

NbMode = Literal["remote", "kubectl-exec", "auto", "none"]
NB_SERVICE = "ovn-nb"  # Kube-OVN's Service in front of the NB leader (port 6641)


@dataclass(frozen=True)
class LiveOptions:
    kube: KubeTarget
    nb_mode: NbMode = "auto"
    nb: NbTarget | None = None  # for nb_mode "remote"
    nb_timeout: float = 30.0
    controller_log: bool = False
    log_since: float = 24 * 3600.0


@dataclass
class LiveResult:
    snapshot: Snapshot
    allocations: dict[tuple[str, Address], Allocation] | None
    notes: list[str] = field(default_factory=list)  # for stderr: which NB way, what failed


def collect_live(opts: LiveOptions, progress: Progress | None = None) -> LiveResult:
    progress = progress or Silent()
    started = datetime.now(UTC)
    collector = KubeCollector(opts.kube, progress)
    try:
        kube = collector.collect()
        nb, nb_way = _read_nb(opts, collector, progress)
        allocations = None
        notes = list(collector.warnings)
        if opts.controller_log:
            allocations, note = _read_controller_log(collector, opts, kube.k8s)
            notes.append(note)
    finally:
        collector.close()
    notes.append(f"northbound: {nb_way}")
    if nb.error:
        notes.append(f"northbound: {nb.error}")
    meta: dict[str, Any] = {
        "schema": SNAPSHOT_SCHEMA,
        "captured_at": started.isoformat(),
        "tool": f"eipfsck {__version__}",
        "cluster": {"server": kube.server, "context": kube.context},
        "northbound": {"way": nb_way, "endpoint": nb.endpoint},
    }
    snap = Snapshot(
        origin=f"live {kube.server}" + (f" (context {kube.context})" if kube.context else ""),
        captured_at=started, captured_at_source="live collection", meta=meta,
        k8s=kube.k8s, nb=nb.rows, sources=tuple(kube.sources) + nb.sources,
        problems=tuple(kube.problems), rejected=kube.rejected,
    )
    return LiveResult(snap, allocations, notes)


def _read_nb(opts: LiveOptions, collector: KubeCollector,
             progress: Progress) -> tuple[NbResult, str]:
    if opts.nb_mode == "none":
        return NbResult.skipped("--no-nb: not read on purpose"), "not read (--no-nb)"
    if opts.nb_mode == "remote":
        assert opts.nb is not None
        result = read_northbound(opts.nb, progress)
        return result, f"ovsdb {result.endpoint or opts.nb.remote}"
    namespace = opts.kube.kube_ovn_namespace
    if opts.nb_mode == "kubectl-exec":
        return _exec(collector, namespace, progress, opts.nb_timeout, "--ovn-nb kubectl-exec")
    # auto: Kube-OVN's ovn-nb Service says the NB runs in the cluster. From inside a pod its
    # cluster IP is reachable; from an operator's machine usually only the API server is.
    try:
        answer = collector.http.get(f"/api/v1/namespaces/{namespace}/services/{NB_SERVICE}")
    except Exhausted as exc:
        return (NbResult.failed(f"looking for Service {namespace}/{NB_SERVICE}: {exc}"),
                "not found")
    if answer.status != 200:
        why = ("not found" if answer.status == 404
               else f"HTTP {answer.status}: {answer.status_message()}")
        if answer.status == 403:
            why += (f" (add this RBAC rule: get on services, resourceNames [{NB_SERVICE}], "
                    f"in namespace {namespace}; deploy/rbac-scan.yaml has it)")
        return NbResult.failed(f"no --ovn-nb or OVN_NB_DB given, and Service {namespace}/"
                               f"{NB_SERVICE} {why}: give --ovn-nb, or --no-nb to skip the "
                               "NB checks"), "not found"
    if collector.auth == "in-cluster":
        remote = _service_remote(answer.body)
        if remote is None:
            return NbResult.failed(f"Service {namespace}/{NB_SERVICE} has no cluster IP and "
                                   "port; give --ovn-nb"), "not found"
        result = read_northbound(NbTarget(remote, timeout=opts.nb_timeout), progress)
        return result, (f"ovsdb {remote} (auto: Service {namespace}/{NB_SERVICE}, "
                        "in-cluster)")
    return _exec(collector, namespace, progress, opts.nb_timeout,
                 f"auto: Service {namespace}/{NB_SERVICE} exists, NB read through the API "
                 "server")


def _exec(collector: KubeCollector, namespace: str, progress: Progress, timeout: float,
          why: str) -> tuple[NbResult, str]:
    result = read_northbound_exec(collector.api, collector.http, namespace, progress, timeout)
    return result, f"ovn-nbctl in pod {result.endpoint or '?'} via kubectl exec ({why})"


def _service_remote(body: bytes) -> str | None:
    try:
        spec = json.loads(body).get("spec") or {}
    except (ValueError, AttributeError):
        return None
    ip = spec.get("clusterIP")
    ports = [p.get("port") for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not isinstance(ip, str) or ip in ("", "None") or not ports:
        return None
    host = f"[{ip}]" if ":" in ip else ip
    return f"tcp:{host}:{ports[0]}"


def _read_controller_log(collector: KubeCollector, opts: LiveOptions,
                         k8s: dict[str, list[dict[str, Any]]]
                         ) -> tuple[dict[tuple[str, Address], Allocation] | None, str]:
    """The leader's log names the former owner of each leak; it only adds names, so a log that
    cannot be read is a note, never a failed source."""
    namespace = opts.kube.kube_ovn_namespace
    holder = lease_holder(controller_lease(k8s.get("leases.coordination.k8s.io", [])))
    if not holder:
        return None, (f"controller log: no leader in Lease {namespace}/{CONTROLLER}; "
                      "former owners are not named")
    pod = f"pod {namespace}/{holder}"
    timeout = opts.kube.request_timeout
    try:
        # Streamed (_preload_content=False): the log is parsed as it arrives, line by line and
        # with a file's one cap (controller_log.MAX_LINE), never held whole in memory.
        answer = k8s_client.CoreV1Api(collector.api).read_namespaced_pod_log(
            holder, namespace, container=CONTROLLER, since_seconds=int(opts.log_since),
            _preload_content=False,
            _request_timeout=(timeout, timeout) if timeout else None)  # connect, each read
    except k8s_client.ApiException as exc:
        if not exc.status:  # the client's word for a TLS failure
            why = (exc.reason or "TLS error").strip().splitlines()[-1]
            return None, f"controller log of {pod}: {why}; former owners are not named"
        rule = (f" (add this RBAC rule: get on pods/log in namespace {namespace})"
                if exc.status == 403 else "")
        message = _Answer(exc.status, (exc.body or "").encode()).status_message()
        return None, (f"controller log of {pod}: HTTP {exc.status}: {message}{rule}; former "
                      "owners are not named")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return None, f"controller log of {pod}: {_short(exc)}; former owners are not named"
    answer.auto_close = False  # read through io wrappers, which close it themselves
    try:
        log = read_log_stream(answer, f"{pod} log")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # Without its end, the log could name a key that allocated an address before its
        # last owner did: better no name than a stale one (resurrect would act on it).
        return None, (f"controller log of {pod}: cut before its end ({_short(exc)}); former "
                      "owners are not named")
    finally:
        answer.release_conn()
    long = (f"; {log.long_lines} line(s) longer than {MAX_LINE >> 20} MiB read only to "
            "there" if log.long_lines else "")
    # Kept: the log may also have been caught mid-write, and a wrong name is bounded (docs/
    # repair.md: the controller accepts a resurrect only under the key it holds).
    cut = ("; its last line has no end: the log may have been cut, and a former owner named "
           "may be out of date" if log.ends_mid_line else "")
    return log.allocations, (f"controller log: {log.lines} lines of {pod} (since "
                             f"{int(opts.log_since)}s), {len(log.allocations)} allocations"
                             f"{long}{cut}")
