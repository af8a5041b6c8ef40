"""A plan approves, a fresh read decides (pure): binding, grace, and which action runs.

A plan (from this run's first read, or from a reviewed file) only says which actions the
operator approved and the values they saw. What runs is always the action a fresh read plans,
and only when it equals an approved action field by field: kind, target, uid,
resourceVersion, every precondition (owners that must be absent, NB columns, the leader, the
leaks, the dependencies). Anything missing, extra or different is `skipped-changed`, and the
detail names the first fields that differ. A file therefore cannot make repair delete
anything a fresh read would not delete by itself.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from eipfsck.kubeovn import names as n
from eipfsck.model import Model
from eipfsck.repair.outcome import ActionResult
from eipfsck.repair.plan import LEAK_ACTIONS, NB_ACTIONS, Action, Plan
from eipfsck.snapshot import as_map

# The least time between the two reads that must both see a leak, whatever --grace or a plan
# file says: the allocator files an address before any record of it is written
# (pkg/controller/pod.go handleAddOrUpdatePod: IPAM first, then the port, the IP CR and the
# annotation), and a busy controller takes seconds to write them.
GRACE_FLOOR = timedelta(seconds=30)
LIVE_SOURCE = "live "


def binding_refusal(plan: Plan, live_uid: str | None, server_now: datetime,
                    max_age: timedelta) -> str | None:
    """Why this plan may not be applied to this cluster now, or None. `server_now` is the
    API server's clock: the plan's `created` was taken from it too."""
    if not plan.source.startswith(LIVE_SOURCE):
        return (f"the plan was made from {plan.source or 'an unknown source'}, not from a live "
                "read: a plan from a snapshot is for review only, never applied")
    planned_uid = plan.cluster.get("uid")
    if not planned_uid:
        return "the plan names no cluster (no kube-system namespace UID): re-plan against the " \
               "live cluster"
    if live_uid is None:
        return "the live cluster's identity (kube-system namespace UID) cannot be read"
    if planned_uid != live_uid:
        return (f"the plan is for cluster {planned_uid}, but this is cluster {live_uid} "
                f"({plan.cluster.get('server') or 'unknown server'} in the plan)")
    age = server_now - plan.created
    if age > max_age:
        return (f"the plan is {_human(age)} old, older than --max-age {_human(max_age)}: "
                "re-plan, the cluster has moved on")
    if age < -timedelta(minutes=5):
        return f"the plan is from the future ({plan.created.isoformat()}): check the clocks"
    return None


def effective_grace(grace: timedelta) -> timedelta:
    return max(grace, GRACE_FLOOR)


def grace_left(first_read: datetime, server_now: datetime, grace: timedelta) -> float:
    """Seconds, on the API server's clock, until a second read may confirm the first."""
    return max(0.0, (first_read + effective_grace(grace) - server_now).total_seconds())


def has_leak_actions(plan: Plan) -> bool:
    return any(a.action in LEAK_ACTIONS for a in plan.actions)


class Checked(NamedTuple):
    """One approved action after the fresh read: `action` is what runs (the fresh read's
    action, under the approved id) when `early` is None, else the approved one as the file
    has it, with the outcome it gets without running."""

    action: Action
    early: ActionResult | None


def reverify(plan: Plan, fresh: Plan, fresh_model: Model,
             first_leaks: set[tuple[str | None, str]] | None = None) -> list[Checked]:
    """Each approved action, in the approved order, with what happens to it.

    `first_leaks` are the leaks (subnet, ip) of the first of the two reads a leak must be seen
    in: a release acts only on leaks in both reads."""
    fresh_by_key = {a.key(): a for a in fresh.actions}
    fresh_ids = {a.id: a for a in fresh.actions}
    approved_ids = {a.id: a for a in plan.actions}
    held_by_subject = {h.subject: h for h in fresh.held}
    seen: set[tuple[str, ...]] = set()
    out: list[Checked] = []
    for a in plan.actions:
        key = a.key()
        if key in seen:
            out.append(Checked(a, ActionResult("skipped-changed", "the plan approves this "
                                               "action twice; it runs once")))
            continue
        seen.add(key)
        again = fresh_by_key.get(key)
        if again is None:
            if not subject_exists(fresh_model, a):
                out.append(Checked(a, ActionResult("already-gone", f"{a.target} is gone on a "
                                                   "fresh read")))
                continue
            held = held_by_subject.get(str(a.target))
            why = f"{held.gate}: {held.reason}" if held else \
                "no finding of a fresh read asks for it"
            out.append(Checked(a, ActionResult("skipped-changed", "a fresh read does not plan "
                                               f"it ({why})")))
            continue
        diffs = differences(approval_view(a, approved_ids), approval_view(again, fresh_ids))
        if diffs:
            out.append(Checked(a, ActionResult("skipped-changed", _changed_text(a, again, diffs))))
            continue
        unseen = _unseen_leaks(again, first_leaks)
        if unseen:
            out.append(Checked(a, ActionResult(
                "skipped-changed", f"not released: {', '.join(unseen)} was not leaked in the "
                "first of the two reads a leak must be seen in")))
            continue
        # What runs is the fresh action; the approved id keeps its dependencies' names (equal
        # to the fresh ones, as the views compared them by what they name).
        run = replace(again, id=a.id)
        if "after" in a.preconditions:
            run = replace(run, preconditions={**again.preconditions,
                                              "after": list(a.preconditions["after"])})
        out.append(Checked(run, None))
    return out


def unapproved(plan: Plan, fresh: Plan) -> list[Action]:
    """What a fresh read plans that the plan does not approve: never run, only reported."""
    keys = {a.key() for a in plan.actions}
    return [a for a in fresh.actions if a.key() not in keys]


def approval_view(a: Action, by_id: dict[str, Action]) -> dict[str, Any]:
    """Everything an approval covers, in JSON form: all of the action but its id, and its
    dependencies by what they act on rather than by their ids (which differ between plans)."""
    doc: dict[str, Any] = json.loads(json.dumps(a.as_json(), default=str))
    doc.pop("id", None)
    pre = doc.get("preconditions")
    if isinstance(pre, dict) and isinstance(pre.get("after"), list):
        pre["after"] = sorted(
            json.dumps(by_id[i].key()) if isinstance(i, str) and i in by_id
            else f"unknown action {i!r}" for i in pre["after"])
    return doc


def differences(approved: Any, fresh: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field, approved, fresh) wherever the two differ, fields named by their path."""
    if isinstance(approved, dict) and isinstance(fresh, dict):
        out = []
        for k in sorted(set(approved) | set(fresh)):
            out += differences(approved.get(k, _MISSING), fresh.get(k, _MISSING),
                               f"{path}.{k}" if path else k)
        return out
    return [] if approved == fresh else [(path or "(action)", approved, fresh)]


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def _short(v: Any) -> str:
    text = repr(v) if isinstance(v, _Missing) else json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 70 else text[:69] + "…"


def _changed_text(approved: Action, fresh: Action, diffs: list[tuple[str, Any, Any]]) -> str:
    # The target first: what an edit would have acted on is the first thing to read.
    diffs = sorted(diffs, key=lambda d: (not d[0].startswith("target."), d[0]))
    shown = "; ".join(f"{f}: approved {_short(x)}, fresh read {_short(y)}"
                      for f, x, y in diffs[:3])
    more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
    return (f"the approved action differs from what a fresh read plans for {fresh.target}: "
            f"{shown}{more}")


def _unseen_leaks(a: Action, first: set[tuple[str | None, str]] | None) -> list[str]:
    if first is None or a.action not in LEAK_ACTIONS:
        return []
    if a.action == "restart-controller":
        wanted = [(x.get("subnet"), str(x.get("ip"))) for x in a.preconditions.get("leaks") or []]
    else:
        subnet = a.preconditions.get("subnet")
        wanted = [(subnet, str(x)) for x in a.preconditions.get("addresses") or []]
    return [f"{ip} ({s})" for s, ip in wanted if (s, ip) not in first]


def subject_exists(model: Model, action: Action) -> bool:
    t = action.target
    snap = model.snapshot
    if action.action in NB_ACTIONS:
        for row in snap.nb_rows(t.kind):
            if row.get("_uuid") == t.uuid:
                vip = action.preconditions.get("vip")
                return vip is None or vip in as_map(row.get("vips"))
        return False
    if action.action == "resurrect":
        return True  # its subject is the leak, not an object
    resource = n.RESOURCE_OF_KIND.get(t.kind, "")
    return any(o["metadata"].get("name") == t.name
               and (o["metadata"].get("namespace") or None) == t.namespace
               for o in snap.items(resource))


def _human(d: timedelta) -> str:
    s = int(abs(d.total_seconds()))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
