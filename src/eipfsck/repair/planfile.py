"""The plan document (`eipfsck/plan/v1`): written for review, read back to approve.

A plan file never defines an action: apply runs what a fresh read plans, and only where it
equals an approved action (repair/verify.py). Reading is still strict, because the policy in
the file is the one the fresh read plans with: a field that is missing, of the wrong type or
out of range is a one-line error naming the file and the field (exit 16), never a guess.
The sha256 of the file's bytes is shown at review and again at apply.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args

from eipfsck.errors import UsageError
from eipfsck.repair.plan import Action, ActionKind, Gate, Held, Plan, RepairPolicy, Target
from eipfsck.repair.verify import GRACE_FLOOR
from eipfsck.report import outfile

PLAN_SCHEMA = "eipfsck/plan/v1"


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "schema": PLAN_SCHEMA,
        "cluster": plan.cluster,
        "created": plan.created.isoformat(),
        "tool_version": plan.tool_version,
        "source": plan.source,
        "policy": plan.policy,
        "actions": [a.as_json() for a in plan.actions],
        "held": [h.as_json() for h in plan.held],
        "hazards": plan.hazards,
        "scan": plan.scan,
    }


class PlanFileError(UsageError):
    """A --plan file that is not a well-formed plan: refused before anything is read live."""


def plan_bytes(plan: Plan) -> bytes:
    return (json.dumps(plan_to_json(plan), indent=2, sort_keys=False) + "\n").encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_plan_target(path: str) -> None:
    """Refuse, before the scan, a --plan-out that cannot be a regular file we replace."""
    outfile.check_target(path, "--plan-out")


def write_plan(path: str, plan: Plan) -> str:
    """Write the plan (0600, whole, never following a link: report/outfile.py) and return the
    sha256 of the bytes written. A non-regular target is a UsageError (exit 16); a directory
    or an unwritable place an EipfsckError (exit bit 8)."""
    data = plan_bytes(plan)
    outfile.write_bytes(path, data, 0o600, "--plan-out")
    return digest(data)


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, what: str) -> PlanFileError:
        return PlanFileError(f"{self.where}: {field}: {what}",
                             hint="a plan is written by eipfsck repair --plan-out; re-create "
                                  "it rather than editing it")

    def obj(self, doc: Any, field: str) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise self.fail(field, "expected an object")
        return doc

    def str_(self, doc: dict[str, Any], key: str, field: str, optional: bool = False
             ) -> str | None:
        v = doc.get(key)
        if v is None and optional:
            return None
        if not isinstance(v, str) or not v:
            raise self.fail(f"{field}.{key}", "expected a non-empty string")
        return v

    def list_(self, doc: dict[str, Any], key: str, field: str) -> list[Any]:
        v = doc.get(key, [])
        if not isinstance(v, list):
            raise self.fail(f"{field}.{key}", "expected a list")
        return v


def read_plan(path: str) -> Plan:
    return read_plan_file(path)[0]


def read_plan_file(path: str) -> tuple[Plan, str]:
    """The plan and the sha256 of the bytes it was parsed from (read once: a file swapped
    after this point changes nothing)."""
    where = path
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--plan {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--plan {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PlanFileError(f"{where}: not JSON ({str(exc).splitlines()[0][:200]})") from None
    r = _Reader(where)
    doc = r.obj(doc, "(top level)")
    if doc.get("schema") != PLAN_SCHEMA:
        raise r.fail("schema", f"expected {PLAN_SCHEMA!r}, got {doc.get('schema')!r}")
    created_text = r.str_(doc, "created", "")
    try:
        created = datetime.fromisoformat(str(created_text))
    except ValueError:
        raise r.fail("created", f"not an ISO 8601 time: {created_text!r}") from None
    if created.tzinfo is None:
        raise r.fail("created", "has no time zone")
    source = r.str_(doc, "source", "")
    policy = _policy(r, doc.get("policy"))
    actions = [_action(r, a, f"actions[{i}]") for i, a in enumerate(r.list_(doc, "actions", ""))]
    if len(actions) > policy.max_actions:
        raise r.fail("actions", f"{len(actions)} actions, more than the plan's own "
                     f"max_actions {policy.max_actions}")
    ids = [a.id for a in actions]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise r.fail("actions", f"ids used twice: {', '.join(twice)}")
    held = [_held(r, h, f"held[{i}]") for i, h in enumerate(r.list_(doc, "held", ""))]
    return Plan(r.obj(doc.get("cluster"), "cluster"), created,
                str(doc.get("tool_version", "")), str(source),
                policy.as_json(), actions, held,
                r.list_(doc, "hazards", ""), r.obj(doc.get("scan", {}), "scan")), digest(raw)


_POLICY_BOOLS = ("allow_controller_restart", "ack_hazards", "allow_resurrect")


def _policy(r: _Reader, doc: Any) -> RepairPolicy:
    """The options the plan was made with, every one present, typed and in range: the fresh
    read plans with them, so a bad one is refused, never defaulted."""
    p = r.obj(doc, "policy")
    known = {"max_actions", "max_leak_ratio", "grace_seconds", *_POLICY_BOOLS}
    extra = sorted(set(p) - known)
    if extra:
        raise r.fail("policy", f"unknown option(s) {', '.join(map(repr, extra))}")
    for key in sorted(known - set(p)):
        raise r.fail(f"policy.{key}", "missing")
    cap = p["max_actions"]
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise r.fail("policy.max_actions", f"expected a whole number ≥ 0, got {cap!r}")
    ratio = p["max_leak_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) \
            or not 0 <= ratio <= 1:
        raise r.fail("policy.max_leak_ratio", f"expected a number from 0 to 1, got {ratio!r}")
    grace = p["grace_seconds"]
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) \
            or not math.isfinite(grace) or grace < GRACE_FLOOR.total_seconds():
        raise r.fail("policy.grace_seconds", f"expected a number of seconds ≥ "
                     f"{GRACE_FLOOR.total_seconds():g} (the floor), got {grace!r}")
    for key in _POLICY_BOOLS:
        if not isinstance(p[key], bool):
            raise r.fail(f"policy.{key}", f"expected true or false, got {p[key]!r}")
    return RepairPolicy(max_actions=cap, max_leak_ratio=float(ratio),
                        grace=timedelta(seconds=float(grace)),
                        allow_controller_restart=p["allow_controller_restart"],
                        ack_hazards=p["ack_hazards"], allow_resurrect=p["allow_resurrect"])


def _action(r: _Reader, doc: Any, field: str) -> Action:
    doc = r.obj(doc, field)
    kind = r.str_(doc, "action", field)
    if kind not in get_args(ActionKind):
        raise r.fail(f"{field}.action", f"unknown action {kind!r}")
    t = r.obj(doc.get("target"), f"{field}.target")
    target = Target(str(r.str_(t, "kind", f"{field}.target")),
                    str(r.str_(t, "name", f"{field}.target")),
                    r.str_(t, "namespace", f"{field}.target", optional=True),
                    r.str_(t, "uuid", f"{field}.target", optional=True),
                    r.str_(t, "resourceVersion", f"{field}.target", optional=True))
    pre = r.obj(doc.get("preconditions"), f"{field}.preconditions")
    addresses = r.list_(doc, "addresses", field)
    return Action(str(r.str_(doc, "id", field)), kind, str(r.str_(doc, "finding", field)),
                  r.str_(doc, "subnet", field, optional=True),
                  r.str_(doc, "ip", field, optional=True), target, pre,
                  str(r.str_(doc, "reason", field)), tuple(str(a) for a in addresses))


def _held(r: _Reader, doc: Any, field: str) -> Held:
    doc = r.obj(doc, field)
    gate = r.str_(doc, "gate", field)
    if gate not in get_args(Gate):
        raise r.fail(f"{field}.gate", f"unknown gate {gate!r}")
    return Held(str(r.str_(doc, "finding", field)), r.str_(doc, "subnet", field, optional=True),
                r.str_(doc, "ip", field, optional=True), str(doc.get("subject", "")), gate,
                str(doc.get("reason", "")), str(doc.get("remedy", "")))
