"""`eipfsck doctor`: can this machine and this identity scan (and repair) this cluster?

Every check is one line, always listed: ok, fail, skip (with why: an earlier check it
depends on failed, or an option turned it off) or note (something only repair or an option
needs). The permission checks ask the API server itself (SelfSubjectAccessReview), which
needs no rights of its own, so they list every missing rule at once.

A failure carries the exit bit the scan would end with for the same problem (no kubeconfig:
16 with the same hint; an endpoint that is not an API server, a missing permission, an NB
that cannot be read: 8), so doctor and scan keep one exit-code contract.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from eipfsck import exitcodes
from eipfsck.collect.access import Need, repair_needs, scan_needs
from eipfsck.collect.kube import (
    CollectError,
    Exhausted,
    KubeTarget,
    Requester,
    connect,
    identify,
    tls_note,
)
from eipfsck.collect.live import NB_SERVICE, LiveOptions
from eipfsck.collect.ovnnb import NbTarget, probe_northbound
from eipfsck.errors import UsageError
from eipfsck.kubeovn import names as n

Status = Literal["ok", "fail", "skip", "note"]

# Every check, in the order they run; each is listed whatever happens to the others.
CHECKS = ("kubeconfig", "API server", "RBAC for scan", "RBAC for repair", "Kube-OVN",
          "northbound")


@dataclass(frozen=True)
class Check:
    status: Status
    name: str
    detail: str
    code: int = exitcodes.CLEAN  # the exit bit a failure sets, as a scan would
    hint: str | None = None


class _Doctor:
    def __init__(self, opts: LiveOptions) -> None:
        self.opts = opts
        self.kube: KubeTarget = opts.kube
        self.ns = opts.kube.kube_ovn_namespace
        self.out: list[Check] = []
        self.http: Requester | None = None
        self.auth = ""

    def add(self, status: Status, name: str, detail: str, code: int | None = None,
            hint: str | None = None) -> None:
        if code is None:
            code = exitcodes.INCONCLUSIVE if status == "fail" else exitcodes.CLEAN
        self.out.append(Check(status, name, detail, code, hint))

    def skip_rest(self, why: str) -> None:
        done = {c.name for c in self.out}
        for name in CHECKS:
            if name not in done:
                self.add("skip", name, why)

    def run(self) -> list[Check]:
        if not self.connect():
            if self.opts.nb_mode == "remote":
                self.northbound()  # a given --ovn-nb needs no kubeconfig
            self.skip_rest("not run: needs the kubeconfig that failed above")
            return self.out
        if not self.api():
            if self.opts.nb_mode == "remote":
                self.northbound()
            self.skip_rest("not run: needs the API server that failed above")
            return self.out
        self.permissions("scan", [x for x in scan_needs(self.ns) if not x.why],
                         optional=[x for x in scan_needs(self.ns) if x.why])
        self.permissions("repair", [x for x in repair_needs(self.ns) if not x.why],
                         optional=[x for x in repair_needs(self.ns) if x.why])
        self.kube_ovn()
        self.northbound()
        return self.out

    def connect(self) -> bool:
        try:
            api, context, auth = connect(self.kube)
        except UsageError as exc:
            self.add("fail", "kubeconfig", exc.message, exc.exit_code, exc.hint)
            return False
        self.http, self.auth = Requester(api, self.kube), auth
        where = api.configuration.host
        self.add("ok", "kubeconfig", f"{auth}{f', context {context}' if context else ''}: "
                 f"{where}")
        return True

    def api(self) -> bool:
        assert self.http is not None
        try:
            version = identify(self.http)
        except CollectError as exc:
            self.add("fail", "API server", exc.message, exc.exit_code, exc.hint)
            return False
        note = tls_note(self.http.api)
        self.add("ok", "API server", f"reachable, Kubernetes {version}"
                 + (f"; {note}" if note else ""))
        return True

    def allowed(self, need: Need) -> tuple[bool | None, str]:
        assert self.http is not None
        attrs: dict[str, Any] = {"verb": need.verb, "group": need.group,
                                 "resource": need.resource}
        for key, value in (("namespace", need.namespace), ("name", need.name),
                           ("subresource", need.subresource)):
            if value:
                attrs[key] = value
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}
        try:
            answer = self.http.send(
                "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body)
        except Exhausted as exc:
            return None, str(exc)
        if answer.status not in (200, 201):
            return None, f"HTTP {answer.status}: {answer.status_message()}"
        return bool((answer.document().get("status") or {}).get("allowed")), ""

    def permissions(self, what: str, required: list[Need], optional: list[Need]) -> None:
        missing, unknown = [], []
        for need in required:
            ok, why = self.allowed(need)
            if ok is None:
                unknown.append(why)
            elif not ok:
                missing.append(str(need))
        if unknown:
            self.add("fail", f"RBAC for {what}", f"cannot ask the API server: {unknown[0]}")
            return
        status: Status = "ok" if not missing else ("fail" if what == "scan" else "note")
        detail = (f"all {len(required)} permissions granted" if not missing else
                  f"missing {len(missing)} of {len(required)}: " + "; ".join(missing))
        if what == "repair" and missing:
            detail += " (only needed to repair)"
        self.add(status, f"RBAC for {what}", detail)
        extra = [f"{need} (for {need.why})" for need in optional if self.allowed(need)[0] is False]
        if extra:
            self.add("note", f"RBAC for {what}, options", "not granted: " + "; ".join(extra))

    def kube_ovn(self) -> None:
        assert self.http is not None
        try:
            subnets = self.http.get("/apis/kubeovn.io/v1/subnets", [("limit", 1)])
            dep = self.http.get(f"/apis/apps/v1/namespaces/{self.ns}/deployments/{n.CONTROLLER}")
            lease = self.http.get(f"/apis/coordination.k8s.io/v1/namespaces/{self.ns}/leases/"
                                  f"{n.CONTROLLER}")
        except Exhausted as exc:
            self.add("fail", "Kube-OVN", str(exc))
            return
        if subnets.status == 404:
            self.add("fail", "Kube-OVN", "the Subnet CRD (subnets.kubeovn.io) is not installed: "
                     "is this a Kube-OVN cluster?")
            return
        parts = ["Subnet CRD installed" if subnets.status == 200
                 else f"subnets: HTTP {subnets.status}"]
        if dep.status == 200:
            image = next((c.get("image") for c in n.controller_containers(dep.document())
                          if c.get("image")), None)
            version = n.image_version(image)
            parts.append(f"controller image {image}" + (f" (v{version.major}.{version.minor})"
                                                         if version else ""))
        else:
            parts.append(f"Deployment {self.ns}/{n.CONTROLLER}: HTTP {dep.status}")
        if lease.status == 200:
            holder = (lease.document().get("spec") or {}).get("holderIdentity")
            parts.append(f"leader {holder}" if holder else "no leader holds the Lease")
        self.add("ok" if subnets.status == 200 else "fail", "Kube-OVN", "; ".join(parts))

    def northbound(self) -> None:
        opts = self.opts
        if opts.nb_mode == "none":
            self.add("skip", "northbound", "not run: --no-nb")
            return
        if opts.nb_mode == "remote":
            assert opts.nb is not None
            self.probe(opts.nb)
            return
        if opts.nb_mode == "kubectl-exec":
            self.exec_mode("--ovn-nb kubectl-exec")
            return
        assert self.http is not None
        try:
            answer = self.http.get(f"/api/v1/namespaces/{self.ns}/services/{NB_SERVICE}")
        except Exhausted as exc:
            self.add("fail", "northbound", str(exc))
            return
        if answer.status != 200:
            self.add("fail", "northbound", f"no --ovn-nb given and Service {self.ns}/"
                     f"{NB_SERVICE}: HTTP {answer.status}; give --ovn-nb or --no-nb")
            return
        if self.auth == "in-cluster":
            spec = answer.document().get("spec") or {}
            port = next((p.get("port") for p in spec.get("ports") or []), 6641)
            ip = spec.get("clusterIP")
            self.probe(NbTarget(f"tcp:{ip}:{port}", timeout=self.opts.nb_timeout))
            return
        self.exec_mode(f"auto: Service {self.ns}/{NB_SERVICE} exists, read through the API "
                       "server")

    def probe(self, target: NbTarget) -> None:
        started = time.monotonic()
        try:
            text = probe_northbound(target)
        except Exception as exc:  # whatever the reason, the answer is one line
            self.add("fail", "northbound", str(getattr(exc, "message", exc)))
            return
        self.add("ok", "northbound", f"{text} ({time.monotonic() - started:.1f} s)")

    def exec_mode(self, why: str) -> None:
        answers = [self.allowed(Need(verb, "", "pods", self.ns, subresource="exec"))
                   for verb in ("get", "create")]
        ok = all(a for a, _ in answers)
        detail = next((d for _, d in answers if d), "")
        if ok:
            self.add("ok", "northbound", f"through ovn-nbctl in the ovn-central leader pod "
                     f"({why}); pods/exec allowed. Repair needs a direct --ovn-nb to delete "
                     "NB rows")
        else:
            self.add("fail", "northbound", f"{why}, but get and create on pods/exec in "
                     f"{self.ns} are not both allowed"
                     + (f" ({detail})" if detail else "")
                     + "; grant it (deploy/rbac-nb-exec.yaml) or give --ovn-nb")


def run_doctor(opts: LiveOptions) -> list[Check]:
    return _Doctor(opts).run()


def exit_code(checks: list[Check]) -> int:
    """The bits of every failure, added, as the scan's exit code adds them."""
    code = exitcodes.CLEAN
    for c in checks:
        if c.status == "fail":
            code |= c.code
    return code
