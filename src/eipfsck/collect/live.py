"""A live cluster into a Snapshot: Kubernetes first (subnets, then owners), then the NB.

This is the only place that knows a snapshot came from a live cluster; the Snapshot it
returns is the same type the loader returns, and `eipfsck snapshot` writes it unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from eipfsck import __version__
from eipfsck.addresses import Address
from eipfsck.collect.kube import Exhausted, KubeCollector, KubeTarget
from eipfsck.collect.nbexec import read_northbound_exec
from eipfsck.collect.ovnnb import NbResult, NbTarget, read_northbound
from eipfsck.collect.progress import Progress, Silent
from eipfsck.controller_log import Allocation, parse_allocations
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
    path = f"/api/v1/namespaces/{namespace}/pods/{holder}/log"
    query: list[tuple[str, Any]] = [("container", CONTROLLER),
                                    ("sinceSeconds", int(opts.log_since))]
    try:
        answer = collector.http.get(path, query)
    except Exhausted as exc:
        return None, f"controller log: {exc}; former owners are not named"
    if answer.status != 200:
        rule = (f" (add this RBAC rule: get on pods/log in namespace {namespace})"
                if answer.status == 403 else "")
        return None, (f"controller log of pod {namespace}/{holder}: HTTP {answer.status}: "
                      f"{answer.status_message()}{rule}; former owners are not named")
    lines = answer.body.decode("utf-8", "replace").splitlines()
    allocations = parse_allocations(lines, f"pod {namespace}/{holder} log")
    return allocations, (f"controller log: {len(lines)} lines of pod {namespace}/{holder} "
                         f"(since {int(opts.log_since)}s), {len(allocations)} allocations")
