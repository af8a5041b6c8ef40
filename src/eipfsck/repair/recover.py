"""Before anything new is planned: finish or undo what an earlier run left half-done.

An action whose journal has an intent and no outcome was interrupted (killed, a second
Ctrl-C, a lost node). Most actions are one request or one OVSDB transaction: they happened or
they did not, and the fresh read that follows decides whether anything is left to do. One is
not: a resurrect re-creates a Vip or OvnEip that holds the leaked address until it is deleted
again; an interrupted one leaves that object behind, so it is deleted here, normally (the
controller's delete path releases the entry, as the action intended), and only if it is the
object eipfsck created (its uid, journaled right after the create, or eipfsck's label).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eipfsck.collect.kube import Exhausted
from eipfsck.errors import RefusedError
from eipfsck.repair.journal import Journal
from eipfsck.repair.kubeapply import KubeWriter

MANAGED_BY = ("app.kubernetes.io/managed-by", "eipfsck")


@dataclass(frozen=True)
class Pending:
    run: str
    id: str
    action: dict[str, Any]
    cluster: str | None
    created_uid: str | None  # resurrect: the object it created, when journaled

    def describe(self) -> str:
        t = self.action.get("target") or {}
        where = f"{t.get('namespace')}/" if t.get("namespace") else ""
        return f"{self.id} {self.action.get('action')} {t.get('kind')} {where}{t.get('name')}"


def pending(entries: list[dict[str, Any]]) -> list[Pending]:
    """Intents without an outcome (or a later recovery), oldest first."""
    run_of_start = ""
    intents: dict[tuple[str, str], dict[str, Any]] = {}
    closed: set[tuple[str, str]] = set()
    created: dict[tuple[str, str], str | None] = {}
    for i, e in enumerate(entries):
        event = e.get("event")
        if event == "start" and not e.get("run"):
            run_of_start = f"line {i + 1}"  # journals written before run ids
        run = str(e.get("run") or run_of_start)
        key = (run, str(e.get("id")))
        if event == "intent":
            intents[key] = e
        elif event == "outcome":
            closed.add(key)
        elif event == "recovered":
            closed.add((str(e.get("of_run")), str(e.get("id"))))
        elif event == "created":
            created[key] = e.get("uid")
    return [Pending(run, id_, e.get("action") or {}, e.get("cluster"), created.get((run, id_)))
            for (run, id_), e in intents.items() if (run, id_) not in closed]


def recover(journal: Journal, kube: KubeWriter, cluster_uid: str | None,
            note: Any) -> list[str]:
    """Finish or undo every interrupted action of this cluster; say each on screen (`note`)
    and in the journal. Refuses to go on (exit 32) if one cannot be settled now."""
    said: list[str] = []
    if cluster_uid is None:
        return said  # which cluster this is is unknown: the binding refuses the run anyway
    for p in pending(journal.entries()):
        if p.cluster and p.cluster != cluster_uid:
            continue  # another cluster's run: settled when repair runs there
        try:
            outcome, detail = _settle(p, kube)
        except Exhausted as exc:
            outcome, detail = "failed", str(exc)
        if outcome == "failed":
            journal.record("refused", reason=f"interrupted action {p.describe()} of run "
                           f"{p.run} cannot be settled: {detail}")
            raise RefusedError(f"the journal has an interrupted action that cannot be settled "
                               f"now ({p.describe()}, run {p.run}): {detail}",
                               hint="fix what the message names, or settle it by hand, then "
                                    "run repair again")
        journal.record("recovered", of_run=p.run, id=p.id, action=p.action.get("action"),
                       outcome=outcome, detail=detail)
        text = f"journal: {p.describe()} (run {p.run}) was interrupted: {detail}"
        note(text)
        said.append(text)
    return said


def _settle(p: Pending, kube: KubeWriter) -> tuple[str, str]:
    kind = p.action.get("action")
    if kind != "resurrect":
        return "finished", ("it was one request (or one transaction), so it either happened "
                            "or not; the fresh read decides whether anything is left to do")
    t = p.action.get("target") or {}
    tkind, name = str(t.get("kind")), str(t.get("name"))
    status, obj = kube.get(tkind, None, name)
    if status == 404:
        return "finished", f"the {tkind} {name} it re-creates is not there (never created, " \
                           "or deleted already)"
    if status != 200:
        return "failed", f"reading {tkind} {name}: HTTP {status}"
    meta = obj.get("metadata") or {}
    ours = meta.get("uid") == p.created_uid if p.created_uid else \
        (meta.get("labels") or {}).get(MANAGED_BY[0]) == MANAGED_BY[1]
    if not ours:
        return "finished", (f"{tkind} {name} exists but is not the one eipfsck created "
                            f"(uid {meta.get('uid')}): left alone")
    if meta.get("deletionTimestamp"):
        return "undone", f"the re-created {tkind} {name} is already being deleted"
    answer = kube.delete_created(tkind, name, meta.get("uid"))
    if answer.status in (200, 202, 404):
        return "undone", (f"deleted the re-created {tkind} {name} (uid {meta.get('uid')}) "
                          "normally, so the controller's delete path releases its address")
    return "failed", f"deleting the re-created {tkind} {name}: HTTP {answer.status}: " \
                     f"{answer.status_message()}"
