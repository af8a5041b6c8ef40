"""Kubernetes side of repair: deletes with preconditions, the leader restart, resurrect-and-delete.

Every action first re-reads its subject (and the owners that must still be absent) and compares
it with the plan; the delete itself then carries `preconditions` (uid + resourceVersion), so
the apiserver refuses it if the object changed in between (409). Nothing is ever forced: a
changed subject is `skipped-changed`, a vanished one `already-gone`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from eipfsck.collect.kube import API_RESOURCES, Exhausted, KubeTarget, Requester, _Answer, connect
from eipfsck.kubeovn import names as n
from eipfsck.repair.leader import leader_pod_problem
from eipfsck.repair.outcome import ActionResult
from eipfsck.repair.plan import Action


@dataclass(frozen=True)
class Waits:
    """Bounds for the steps that wait on the controller."""

    leader: float = 120.0  # a new lease holder after the leader pod is deleted
    status: float = 120.0  # the touched subnets' status recomputed by the new leader
    resurrect: float = 60.0  # status and finalizer on a re-created object
    poll: float = 1.0


def _path(kind: str, namespace: str | None, name: str | None = None) -> str:
    return API_RESOURCES[n.RESOURCE_OF_KIND[kind]].path(namespace, name)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


class KubeWriter:
    def __init__(self, target: KubeTarget, waits: Waits | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        api, _, _ = connect(target)
        self.http = Requester(api, target)
        self.waits = waits or Waits()
        self.sleep, self.clock = sleep, clock
        self.record: Callable[..., None] = lambda event, **fields: None

    def get(self, kind: str, namespace: str | None, name: str) -> tuple[int, dict[str, Any]]:
        return self.get_path(_path(kind, namespace, name))

    def cluster_uid(self) -> str | None:
        """The identity a plan is bound to: the kube-system namespace's UID."""
        try:
            status, ns = self.get_path("/api/v1/namespaces/kube-system")
        except Exhausted:
            return None
        return _meta(ns).get("uid") if status == 200 else None

    def get_path(self, path: str) -> tuple[int, dict[str, Any]]:
        answer = self.http.get(path)
        return answer.status, answer.document() if answer.status == 200 else {}

    # -- checks before acting ----------------------------------------------------------------

    def still_absent(self, action: Action) -> str | None:
        """The owners the fresh read found missing must still be missing (read just now)."""
        for ref in action.preconditions.get("absent") or []:
            kind, name = ref.get("kind"), ref.get("name")
            if not isinstance(kind, str) or not isinstance(name, str):
                continue
            if kind not in n.RESOURCE_OF_KIND:
                continue
            status, _ = self.get(kind, ref.get("namespace"), name)
            if status == 200:
                where = f"{ref['namespace']}/{name}" if ref.get("namespace") else name
                return f"{kind} {where} exists now"
            if status != 404:
                return f"cannot tell whether {kind} {name} exists (HTTP {status})"
        return None

    def _compare(self, action: Action) -> tuple[ActionResult | None, dict[str, Any]]:
        t = action.target
        status, obj = self.get(t.kind, t.namespace, t.name)
        if status == 404:
            return ActionResult("already-gone", f"{t} no longer exists"), {}
        if status != 200:
            return ActionResult("failed", f"reading {t}: HTTP {status}"), {}
        m = _meta(obj)
        want_uid = action.preconditions.get("uid")
        want_rv = action.preconditions.get("resourceVersion")
        if not want_uid or not want_rv:
            # Never a delete without both: the fresh read always gives them.
            return ActionResult("failed", f"{t}: the action carries no uid and "
                                "resourceVersion to check; nothing was deleted", obj), obj
        if m.get("uid") != want_uid:
            return ActionResult("skipped-changed", f"{t} was re-created (uid {m.get('uid')}, "
                                f"planned {want_uid})", obj), obj
        if m.get("deletionTimestamp"):
            return ActionResult("already-gone", f"{t} is already being deleted", obj), obj
        if m.get("resourceVersion") != want_rv:
            return ActionResult("skipped-changed", f"{t} changed since the plan "
                                f"(resourceVersion {m.get('resourceVersion')}, planned "
                                f"{want_rv})", obj), obj
        return None, obj

    # -- actions -----------------------------------------------------------------------------

    def apply(self, action: Action, record: Callable[..., None] | None = None
              ) -> ActionResult:
        """Run one Kubernetes action; an API server that never answers fails that action.
        `record` journals what a half-done action leaves behind (resurrect's new object)."""
        self.record = record or (lambda event, **fields: None)
        run = {"restart-controller": self._restart, "resurrect": self._resurrect}.get(
            action.action, self._delete)
        try:
            return run(action)
        except Exhausted as exc:
            return ActionResult("failed", str(exc))

    def server_now(self) -> datetime:
        """The API server's clock (its Date header): the grace and a plan's age are measured
        on one clock, whatever this machine's says."""
        answer = self.http.get("/version")
        date = next((v for k, v in answer.headers.items() if k.lower() == "date"), None)
        try:
            when = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            when = None
        if when is None or when.tzinfo is None:
            raise Exhausted(f"GET /version: the API server sent no usable Date header "
                            f"({date!r})")
        return when

    def delete_created(self, kind: str, name: str, uid: str | None) -> _Answer:
        """A normal delete of an object eipfsck created, pinned to its uid."""
        pre = {"uid": uid} if uid else {}
        return self.http.send("DELETE", _path(kind, None, name),
                              {"apiVersion": "v1", "kind": "DeleteOptions",
                               "preconditions": pre})

    def _delete(self, action: Action) -> ActionResult:
        early, obj = self._compare(action)
        if early is not None:
            return early
        gone = self.still_absent(action)
        if gone is not None:
            return ActionResult("skipped-changed", f"not deleted: {gone}", obj)
        return self._delete_with_preconditions(action, obj)

    def _delete_with_preconditions(self, action: Action, obj: dict[str, Any]) -> ActionResult:
        t = action.target
        m = _meta(obj)
        body = {"apiVersion": "v1", "kind": "DeleteOptions",
                "preconditions": {"uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")}}
        answer = self.http.send("DELETE", _path(t.kind, t.namespace, t.name), body)
        if answer.status in (200, 202):
            return ActionResult("released", f"deleted {t} (uid {m.get('uid')}, resourceVersion "
                                f"{m.get('resourceVersion')})", obj)
        if answer.status == 404:
            return ActionResult("already-gone", f"{t} was deleted meanwhile", obj)
        if answer.status == 409:
            return ActionResult("skipped-changed", f"the apiserver refused the delete: "
                                f"{answer.status_message()}", obj)
        return ActionResult("failed", f"DELETE {t}: HTTP {answer.status}: "
                            f"{answer.status_message()}", obj)

    def _restart(self, action: Action) -> ActionResult:
        lease_pre = action.preconditions.get("lease") or {}
        ns, name = lease_pre.get("namespace"), lease_pre.get("name")
        status, lease = self.get("Lease", ns, name)
        if status != 200:
            return ActionResult("failed", f"reading Lease {ns}/{name}: HTTP {status}")
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder != lease_pre.get("holderIdentity"):
            return ActionResult("skipped-changed", f"leadership moved to {holder!r} since the "
                                "plan: the allocator was rebuilt already; scan again", lease)
        t = action.target
        if (t.kind, t.namespace, t.name) != ("Pod", ns, holder):
            return ActionResult("skipped-changed", f"{t} is not the pod holding Lease "
                                f"{ns}/{name} ({holder!r}): not deleted", lease)
        early, pod = self._compare(action)
        if early is not None:
            return early
        code, deployment = self.get_path(
            f"/apis/apps/v1/namespaces/{quote(str(ns), safe='')}/deployments/{n.CONTROLLER}")
        problem = leader_pod_problem(pod, holder, str(ns), deployment if code == 200 else None)
        if problem is not None:
            return ActionResult("skipped-changed", f"not deleted: {problem}", pod)
        before = {"lease": lease, "pod_uid": _meta(pod).get("uid")}
        # Read before the delete: a new leader quick enough to rewrite the status before a
        # read after it would otherwise be waited for in vain.
        subnet_rvs = {}
        for s in action.preconditions.get("subnets") or []:
            code, obj = self.get("Subnet", None, s)
            subnet_rvs[s] = _meta(obj).get("resourceVersion") if code == 200 else None
        result = self._delete_with_preconditions(action, pod)
        if result.outcome != "released":
            return result
        new_holder = self._wait_new_leader(ns, name, holder, spec.get("leaseTransitions"))
        if new_holder is None:
            return ActionResult("failed", f"deleted the leader pod {holder}, but no new leader "
                                f"took Lease {ns}/{name} within {self.waits.leader:g} s",
                                before)
        stale = self._wait_status(subnet_rvs)
        if stale:
            return ActionResult("failed", f"new leader {new_holder}, but the status of "
                                f"{', '.join(stale)} was not rewritten within "
                                f"{self.waits.status:g} s", before)
        return ActionResult("released", f"deleted the leader pod {holder}; {new_holder} leads "
                            "now and rewrote the status of "
                            f"{', '.join(subnet_rvs) or 'no subnet'}", before)

    def _wait_new_leader(self, ns: str, name: str, old: Any, transitions: Any) -> str | None:
        end = self.clock() + self.waits.leader
        while self.clock() < end:
            status, lease = self.get("Lease", ns, name)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            moved = holder and holder != old
            flipped = transitions is not None and spec.get("leaseTransitions") not in (
                None, transitions)
            if status == 200 and (moved or (flipped and holder)):
                return str(holder)
            self.sleep(self.waits.poll)
        return None

    def _wait_status(self, before: dict[str, str | None]) -> list[str]:
        """Subnets whose status the new leader has not rewritten yet (none once it has)."""
        end = self.clock() + self.waits.status
        waiting = dict(before)
        while waiting and self.clock() < end:
            for s, rv in list(waiting.items()):
                code, obj = self.get("Subnet", None, s)
                if code == 200 and _meta(obj).get("resourceVersion") != rv:
                    del waiting[s]
            if waiting:
                self.sleep(self.waits.poll)
        return sorted(waiting)

    def _resurrect(self, action: Action) -> ActionResult:
        t = action.target
        gone = self.still_absent(action)
        if gone is not None:
            return ActionResult("skipped-changed", f"not re-created: {gone}")
        addrs = list(action.preconditions.get("addresses") or [])
        subnet = str(action.preconditions.get("subnet"))
        body = resurrect_object(t.kind, t.name, subnet, addrs)
        answer = self.http.send("POST", _path(t.kind, None), body)
        if answer.status == 409:
            return ActionResult("skipped-changed", f"{t} exists now: "
                                f"{answer.status_message()}")
        if answer.status not in (200, 201):
            return ActionResult("failed", f"creating {t}: HTTP {answer.status}: "
                                f"{answer.status_message()}")
        created = answer.document()
        uid = _meta(created).get("uid")
        try:
            self.record("created", kind=t.kind, name=t.name, uid=uid)
            accepted = self._wait_accepted(t.kind, t.name, addrs)
        except BaseException:
            # Aborted (a second interrupt) while the object waits for the controller: it
            # must not stay behind holding the leaked address. Best effort; the journal's
            # intent without outcome makes the next run finish this if it fails.
            try:
                gone = self.delete_created(t.kind, t.name, uid)
                if gone.status in (200, 202, 404):
                    self.record("undone", kind=t.kind, name=t.name, uid=uid)
            except Exception:  # the interrupt is what is raised
                pass
            raise
        deleted = self.delete_created(t.kind, t.name, uid)
        if deleted.status not in (200, 202, 404):
            return ActionResult("failed", f"re-created {t} but could not delete it: HTTP "
                                f"{deleted.status}: {deleted.status_message()}; delete it by "
                                "hand", created)
        if not accepted:
            return ActionResult("failed", f"the controller never wrote {t}'s status with "
                                f"{', '.join(addrs)} within {self.waits.resurrect:g} s (the "
                                "IPAM key is probably not this name: the controller log names "
                                "the real one as AddressConflict); deleted it again, nothing "
                                "was released", created)
        if not self._wait_gone(t.kind, t.name):
            return ActionResult("failed", f"{t} was accepted and deleted, but it is still "
                                f"there after {self.waits.resurrect:g} s: the controller has "
                                "not run its delete path", created)
        return ActionResult("released", f"re-created {t} with {', '.join(addrs)}, the "
                            "controller accepted it, and deleting it released the entry",
                            created)

    def _wait_accepted(self, kind: str, name: str, addrs: list[str]) -> bool:
        end = self.clock() + self.waits.resurrect
        while self.clock() < end:
            status, obj = self.get(kind, None, name)
            if status == 200:
                st = obj.get("status") or {}
                have = {str(v) for k, v in st.items() if k.lower() in ("v4ip", "v6ip") and v}
                if set(addrs) <= have and _meta(obj).get("finalizers"):
                    return True
            self.sleep(self.waits.poll)
        return False

    def _wait_gone(self, kind: str, name: str) -> bool:
        end = self.clock() + self.waits.resurrect
        while self.clock() < end:
            status, _ = self.get(kind, None, name)
            if status == 404:
                return True
            self.sleep(self.waits.poll)
        return False

    # -- events ------------------------------------------------------------------------------

    def event(self, action: Action, result: ActionResult, namespace: str) -> str | None:
        """Best effort: an Event on the subject; returns why it could not be written."""
        t = action.target
        if t.kind not in n.RESOURCE_OF_KIND:
            return None  # NB rows have no Kubernetes object to attach an Event to
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        resource = n.RESOURCE_OF_KIND[t.kind]
        group = resource.partition(".")[2]
        api_version = "v1" if not group else f"{group}/v1"
        ns = t.namespace or namespace
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": "eipfsck-", "namespace": ns},
            "involvedObject": {"apiVersion": api_version, "kind": t.kind, "name": t.name,
                               "namespace": t.namespace, "uid": t.uuid},
            "reason": "EipfsckRepair", "type": "Normal" if result.outcome != "failed"
            else "Warning",
            "message": f"{action.action} ({action.finding}): {result.outcome}: "
                       f"{result.detail}"[:1000],
            "source": {"component": "eipfsck"}, "firstTimestamp": now, "lastTimestamp": now,
            "count": 1, "reportingComponent": "eipfsck", "reportingInstance": "eipfsck",
        }
        try:
            answer = self.http.send("POST", f"/api/v1/namespaces/{quote(ns, safe='')}/events",
                                    body)
        except Exhausted as exc:
            return str(exc)
        if answer.status not in (200, 201):
            return f"HTTP {answer.status}: {answer.status_message()}"
        return None


def resurrect_object(kind: str, name: str, subnet: str, addrs: list[str]) -> dict[str, Any]:
    """The object resurrect re-creates: deleting it normally runs the controller's own delete
    path, which releases the IPAM entry under its name (Kube-OVN pkg/controller/vip.go
    handleDelVirtualIP, pkg/controller/ovn_eip.go handleDelOvnEip: ReleaseAddressByPod)."""
    v4 = next((a for a in addrs if ":" not in a), "")
    v6 = next((a for a in addrs if ":" in a), "")
    labels = {"app.kubernetes.io/managed-by": "eipfsck"}
    if kind == "OvnEip":
        spec: dict[str, Any] = {"externalSubnet": subnet, "type": ""}
        if v4:
            spec["v4Ip"] = v4
        if v6:
            spec["v6Ip"] = v6
    else:
        spec = {"subnet": subnet}
        if v4:
            spec["v4ip"] = v4
        if v6:
            spec["v6ip"] = v6
    return {"apiVersion": "kubeovn.io/v1", "kind": kind,
            "metadata": {"name": name, "labels": labels}, "spec": spec}
