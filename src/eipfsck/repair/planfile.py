"""The plan document (`eipfsck/plan/v1`): written for review, read back to be applied.

Reading is strict: a plan decides what gets deleted, so a field that is missing or of the
wrong type is an error naming the file and the field, never a guess.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from eipfsck.errors import InputError, UsageError
from eipfsck.repair.plan import Action, ActionKind, Gate, Held, Plan, Target

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


def write_plan(path: str, plan: Plan) -> None:
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"--plan-out {path}: directory {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    data = json.dumps(plan_to_json(plan), indent=2, sort_keys=False) + "\n"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--plan-out {path}: {exc.strerror or exc}") from None


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, what: str) -> InputError:
        return InputError(f"{self.where}: {field}: {what}",
                          hint="a plan is written by eipfsck repair --plan-out; re-create it "
                               "rather than editing it")

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
    where = path
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--plan {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--plan {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"{where}: not JSON ({exc})") from None
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
    actions = [_action(r, a, f"actions[{i}]") for i, a in enumerate(r.list_(doc, "actions", ""))]
    held = [_held(r, h, f"held[{i}]") for i, h in enumerate(r.list_(doc, "held", ""))]
    return Plan(r.obj(doc.get("cluster"), "cluster"), created,
                str(doc.get("tool_version", "")), str(doc.get("source", "")),
                r.obj(doc.get("policy", {}), "policy"), actions, held,
                r.list_(doc, "hazards", ""), r.obj(doc.get("scan", {}), "scan"))


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
