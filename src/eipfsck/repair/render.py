"""Plans and repair results for people: what will be done, what will not and why, what happened."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from eipfsck.repair.outcome import ActionResult
from eipfsck.repair.plan import REFUSING_GATES, Action, Plan

_GATE_TITLES = {
    "incomplete-scan": "Refused: the scan is incomplete",
    "leak-ratio": "Refused: implausibly many leaks",
    "hazards": "Refused: restore hazards not acknowledged (--ack-hazards)",
    "max-actions": "Refused: beyond --max-actions",
    "not-repairable": "For a human (no safe automatic action)",
    "protected": "Protected (looks orphaned, is not)",
    "owner-referenced": "Not touched: an owner references it",
    "in-flight": "Waiting: allocations in progress",
    "needs-option": "Needs an opt-in option",
    "nb-row-left": "Waiting: NB rows still carry the IP",
    "no-leader": "No controller leader known",
}


def render_plan(plan: Plan, console: Console, sha256: str | None = None) -> None:
    console.print(f"Repair plan from {plan.source}, read {plan.created.isoformat()}"
                  + (f", cluster {plan.cluster.get('uid')}" if plan.cluster.get("uid") else ""))
    if sha256:
        console.print(f"Plan sha256: {sha256}")
    console.print("Policy: " + policy_text(plan.policy))
    if plan.hazards:
        console.print("")
        console.print(f"Restore hazards ({len(plan.hazards)}): a controller restart acts on "
                      "these owners (see restore-hazard in docs/checks.md):")
        for h in plan.hazards:
            console.print(f"  - {h['subject']} {h.get('ip') or ''}: {h['message']}")
    console.print("")
    if plan.actions:
        console.print(f"Actions ({len(plan.actions)}), in the order they run:")
        for a in plan.actions:
            console.print(f"  {a.id}  {a.action}  {a.target}"
                          + (f"  [{a.finding} {a.ip}]" if a.ip else f"  [{a.finding}]"))
            console.print(f"       {a.reason}")
    else:
        console.print("No action: nothing is safe to repair automatically.")
    groups: dict[str, list[Any]] = defaultdict(list)
    for h in plan.held:
        groups[h.gate].append(h)
    for gate in sorted(groups, key=lambda g: (g not in REFUSING_GATES, g)):
        console.print("")
        console.print(f"{_GATE_TITLES.get(gate, gate)} ({len(groups[gate])}):")
        shown: set[str] = set()
        for h in groups[gate]:
            where = " ".join(x for x in (h.subnet or "", h.ip or "") if x)
            console.print(f"  - {h.finding} {where} ({h.subject}): {h.reason}")
            if h.remedy and h.remedy not in shown:
                shown.add(h.remedy)  # said once per group: leaks share one remedy
                console.print(f"      what to do: {h.remedy}")


def policy_text(policy: dict[str, Any]) -> str:
    """The options a plan was made with, as the flags that set them."""
    def flag(key: str, name: str) -> str:
        return name if policy.get(key) is True else f"no {name}"
    grace = policy.get("grace_seconds")
    ratio = policy.get("max_leak_ratio")
    return ", ".join([
        f"--max-actions {policy.get('max_actions')}",
        f"--max-leak-ratio {ratio:g}" if isinstance(ratio, (int, float)) else
        f"--max-leak-ratio {ratio}",
        f"--grace {grace:g}s" if isinstance(grace, (int, float)) else f"--grace {grace}",
        flag("allow_controller_restart", "--allow-controller-restart"),
        flag("ack_hazards", "--ack-hazards"), flag("allow_resurrect", "--allow-resurrect")])


def render_result(action: Action, result: ActionResult, console: Console) -> None:
    console.print(f"{action.id} {action.action} {action.target}: {result.outcome} — "
                  f"{result.detail}")


def render_summary(counts: dict[str, int], before: dict[str, Any] | None,
                   after: dict[str, Any] | None, subnets: set[str], console: Console,
                   interrupted: bool) -> None:
    console.print("")
    if interrupted:
        console.print("Stopped by Ctrl-C (or SIGTERM) between actions; the rest was not run.")
    console.print("Outcomes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if before is None or after is None:
        return
    b = {s["name"]: s for s in before.get("subnets", [])}
    a = {s["name"]: s for s in after.get("subnets", [])}
    t = Table(title="Touched subnets, before and after", title_justify="left")
    for col in ("subnet", "family", "using", "available", "leaked"):
        t.add_column(col)
    for name in sorted(subnets):
        for fam_after in (a.get(name) or {}).get("families", []):
            fam = fam_after.get("family")
            fam_before = next((f for f in (b.get(name) or {}).get("families", [])
                               if f.get("family") == fam), {})
            t.add_row(name, str(fam), *(f"{fam_before.get(k, '?')} → {fam_after.get(k, '?')}"
                                        for k in ("using", "available", "leaked")))
    if subnets:
        console.print(t)
    counts_before = before.get("summary", {}).get("findings")
    counts_after = after.get("summary", {}).get("findings")
    console.print(f"Findings: {counts_before} before, {counts_after} after")
