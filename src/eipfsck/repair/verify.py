"""Checks between a plan and a fresh observation (pure): binding, confirmation, re-verification.

The fresh observation is the second one of design.md rule 3: a plan's action runs only if
planning again from a fresh read, at least the grace period after the plan's own read, still
yields the same action on the same, unchanged subject.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from eipfsck.kubeovn import names as n
from eipfsck.model import Model
from eipfsck.repair.outcome import ActionResult
from eipfsck.repair.plan import LEAK_ACTIONS, NB_ACTIONS, Action, Plan
from eipfsck.snapshot import as_map


def binding_refusal(plan: Plan, live_uid: str | None, now: datetime, max_age: timedelta
                    ) -> str | None:
    """Why this plan may not be applied to this cluster now, or None."""
    planned_uid = plan.cluster.get("uid")
    if not planned_uid:
        return "the plan names no cluster (no kube-system namespace UID): re-plan against the " \
               "live cluster"
    if live_uid is None:
        return "the live cluster's identity (kube-system namespace UID) cannot be read"
    if planned_uid != live_uid:
        return (f"the plan is for cluster {planned_uid}, but this is cluster {live_uid} "
                f"({plan.cluster.get('server') or 'unknown server'} in the plan)")
    age = now - plan.created
    if age > max_age:
        return (f"the plan is {_human(age)} old, older than --max-age {_human(max_age)}: "
                "re-plan, the cluster has moved on")
    if age < -timedelta(minutes=5):
        return f"the plan is from the future ({plan.created.isoformat()}): check the clocks"
    return None


def confirmation_wait(plan: Plan, now: datetime, grace: timedelta) -> float:
    """Seconds to wait before the second observation may confirm the plan's leaks."""
    if not any(a.action in LEAK_ACTIONS for a in plan.actions):
        return 0.0
    return max(0.0, (plan.created + grace - now).total_seconds())


def reverify(plan: Plan, fresh: Plan, fresh_model: Model
             ) -> list[tuple[Action, ActionResult | None]]:
    """Each planned action with None (go ahead) or the outcome it gets without being run."""
    fresh_by_key = {a.key(): a for a in fresh.actions}
    held_by_subject = {h.subject: h for h in fresh.held}
    out: list[tuple[Action, ActionResult | None]] = []
    for a in plan.actions:
        again = fresh_by_key.get(a.key())
        if again is None:
            if not subject_exists(fresh_model, a):
                out.append((a, ActionResult("already-gone", f"{a.target} is gone on a fresh "
                                            "read")))
                continue
            held = held_by_subject.get(str(a.target))
            why = f"{held.gate}: {held.reason}" if held else "the finding is gone"
            out.append((a, ActionResult("skipped-changed", f"a fresh read no longer plans it "
                                        f"({why})")))
            continue
        change = _difference(a, again)
        out.append((a, ActionResult("skipped-changed", change) if change else None))
    return out


def _difference(planned: Action, fresh: Action) -> str | None:
    if planned.action in NB_ACTIONS:
        if planned.preconditions.get("rows") != fresh.preconditions.get("rows"):
            return f"{planned.target} changed since the plan"
        return None
    if planned.action == "restart-controller":
        was = (planned.preconditions.get("lease") or {}).get("holderIdentity")
        now = (fresh.preconditions.get("lease") or {}).get("holderIdentity")
        if was != now:
            return f"the controller leader changed ({was} → {now}) since the plan"
        if planned.target.uuid != fresh.target.uuid:
            return "the leader pod was re-created since the plan"
        return None
    if planned.action == "resurrect":
        if planned.preconditions.get("addresses") != fresh.preconditions.get("addresses"):
            return "the leaked addresses of this key changed since the plan"
        return None
    if planned.target.uuid != fresh.target.uuid:
        return f"{planned.target} was re-created since the plan"
    if planned.target.resource_version != fresh.target.resource_version:
        return (f"{planned.target} changed since the plan (resourceVersion "
                f"{planned.target.resource_version} → {fresh.target.resource_version})")
    return None


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
