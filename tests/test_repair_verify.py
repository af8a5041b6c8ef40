"""Plan files, binding to a cluster, confirmation wait and re-verification (pure parts)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from builders import Cluster, controller_leader

from eipfsck.checks.runner import run_checks
from eipfsck.errors import UsageError
from eipfsck.model import Model
from eipfsck.repair.plan import Action, Plan, RepairPolicy, Target, build_plan
from eipfsck.repair.planfile import PlanFileError, plan_to_json, read_plan, write_plan
from eipfsck.repair.verify import binding_refusal, grace_left, reverify

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
POLICY = RepairPolicy(allow_controller_restart=True, ack_hazards=True, max_leak_ratio=1.0)


def cluster(ghost_rv: str = "5", leak: bool = True) -> Cluster:
    c = Cluster()
    using = [f"10.0.0.{i}" for i in range(20, 30)] + (["10.0.0.9"] if leak else [])
    c.subnet("net1", "10.0.0.0/24", using=using)
    for i in range(20, 30):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    controller_leader(c, "ctl-1", resourceVersion="7")
    c.ip_cr("ghost.ns1", "net1", "10.0.0.77", pod="ghost", ns="ns1", resourceVersion=ghost_rv)
    return c


def plan_of(model: Model, created: datetime = T0) -> Plan:
    return build_plan(model, run_checks(model).findings, POLICY,
                      cluster={"uid": "uid-1", "server": "https://x"}, created=created,
                      tool_version="t", source="test", inconclusive=[])


def test_plan_file_round_trips_and_is_private(tmp_path: Path) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    assert [a.action for a in plan.actions] == ["delete-ip-cr", "restart-controller"]
    out = tmp_path / "plan.json"
    write_plan(str(out), plan)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    again = read_plan(str(out))
    assert plan_to_json(again) == plan_to_json(plan)
    doc = json.loads(out.read_text())
    assert doc["schema"] == "eipfsck/plan/v1"
    a = doc["actions"][0]
    assert set(a) >= {"id", "action", "finding", "ip", "target", "preconditions", "reason"}
    assert a["target"]["kind"] == "IP" and a["target"]["resourceVersion"] == "5"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.pop("created"), "created: expected a non-empty string"),
    (lambda d: d.update(schema="eipfsck/plan/v9"), "schema: expected"),
    (lambda d: d["actions"][0].update(action="strip-finalizer"),
     "actions[0].action: unknown action 'strip-finalizer'"),
    (lambda d: d["actions"][1]["target"].pop("name"), "actions[1].target.name"),
    (lambda d: d["actions"][0].update(preconditions=[]), "actions[0].preconditions"),
    (lambda d: d.update(created="2026-11-29T10:00:00"), "created: has no time zone"),
    (lambda d: d["policy"].update(max_actions="lots"), "policy.max_actions: expected a whole"),
    (lambda d: d["policy"].update(max_actions=-1), "policy.max_actions: expected a whole"),
    (lambda d: d["policy"].update(max_actions=True), "policy.max_actions: expected a whole"),
    (lambda d: d["policy"].update(max_actions=1), "2 actions, more than the plan's own "
                                                  "max_actions 1"),
    (lambda d: d["policy"].update(grace_seconds=0), "policy.grace_seconds: expected a number "
                                                    "of seconds ≥ 30"),
    (lambda d: d["policy"].update(grace_seconds=-5.0), "policy.grace_seconds"),
    (lambda d: d["policy"].update(max_leak_ratio=2), "policy.max_leak_ratio: expected a "
                                                     "number from 0 to 1"),
    (lambda d: d["policy"].update(allow_resurrect="yes"), "policy.allow_resurrect: expected "
                                                          "true or false"),
    (lambda d: d["policy"].pop("ack_hazards"), "policy.ack_hazards: missing"),
    (lambda d: d["policy"].update(force=True), "policy: unknown option(s) 'force'"),
    (lambda d: d.update(policy=[]), "policy: expected an object"),
    (lambda d: d["actions"][1].update(id="A01"), "actions: ids used twice: A01"),
    (lambda d: d.pop("source"), "source: expected a non-empty string"),
])
def test_bad_plan_files_name_the_field(tmp_path: Path, edit, message: str) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    doc = plan_to_json(plan)
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanFileError) as err:
        read_plan(str(path))
    assert str(path) in err.value.message and message in err.value.message
    assert err.value.exit_code == 16 and "\n" not in err.value.message


def test_missing_plan_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_plan(str(tmp_path / "nope.json"))
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(PlanFileError, match="not JSON"):
        read_plan(str(tmp_path / "x.json"))


def test_binding() -> None:
    plan = Plan({"uid": "uid-1", "server": "https://a"}, T0, "t", "live https://a", {}, [], [])
    age = timedelta(minutes=15)
    assert binding_refusal(plan, "uid-1", T0 + timedelta(minutes=14), age) is None
    assert "cluster uid-1, but this is cluster uid-2" in str(
        binding_refusal(plan, "uid-2", T0, age))
    assert "older than --max-age" in str(binding_refusal(plan, "uid-1",
                                                         T0 + timedelta(minutes=16), age))
    assert "cannot be read" in str(binding_refusal(plan, None, T0, age))
    assert "from the future" in str(binding_refusal(plan, "uid-1", T0 - timedelta(hours=1),
                                                    age))
    nameless = replace(plan, cluster={})
    assert "names no cluster" in str(binding_refusal(nameless, "uid-1", T0, age))
    from_snapshot = replace(plan, source="/tmp/snap")
    assert "a plan from a snapshot is for review only, never applied" in str(
        binding_refusal(from_snapshot, "uid-1", T0, age))


def test_grace_is_counted_on_one_clock_and_has_a_floor() -> None:
    grace = timedelta(minutes=2)
    assert grace_left(T0, T0 + timedelta(seconds=30), grace) == 90
    assert grace_left(T0, T0 + timedelta(minutes=5), grace) == 0
    # No grace below the floor, whatever the policy says.
    assert grace_left(T0, T0, timedelta(0)) == 30
    assert grace_left(T0, T0 + timedelta(seconds=10), timedelta(seconds=1)) == 20


def test_reverify_same_changed_gone(tmp_path: Path) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    same_model = cluster().model(tmp_path / "b")
    same = reverify(plan, plan_of(same_model, T0 + timedelta(minutes=3)), same_model)
    assert [r for _, r in same] == [None, None]

    changed_model = cluster(ghost_rv="6").model(tmp_path / "c")
    changed = reverify(plan, plan_of(changed_model), changed_model)
    assert changed[0][1] is not None and changed[0][1].outcome == "skipped-changed"
    assert 'target.resourceVersion: approved "5", fresh read "6"' in changed[0][1].detail
    assert changed[1][1] is None

    c = cluster(leak=False)
    c.objects["ips.kubeovn.io"] = []
    gone_model = c.model(tmp_path / "d")
    gone = reverify(plan, plan_of(gone_model), gone_model)
    assert gone[0][1] is not None and gone[0][1].outcome == "already-gone"
    # The leak is no longer there: the restart is not confirmed.
    assert gone[1][1] is not None and gone[1][1].outcome == "skipped-changed"


def test_reverify_new_owner_appears(tmp_path: Path) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    c = cluster()
    c.pod("ghost", "ns1", "10.0.0.77", "net1")  # the owner came back
    model = c.model(tmp_path / "b")
    (ip_cr, r1), _ = reverify(plan, plan_of(model), model)
    assert ip_cr.target.name == "ghost.ns1"
    assert r1 is not None and r1.outcome == "skipped-changed"


def test_reverify_leader_changed(tmp_path: Path) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    c = cluster()
    c.objects["leases.coordination.k8s.io"][0]["spec"]["holderIdentity"] = "ctl-2"
    ctl2 = json.loads(json.dumps(c.objects["pods"][-1]))
    ctl2["metadata"].update(name="ctl-2", uid="other")
    c.add("pods", ctl2)
    model = c.model(tmp_path / "b")
    results = reverify(plan, plan_of(model), model)
    restart = results[-1][1]
    assert restart is not None and restart.outcome == "skipped-changed"
    assert 'preconditions.lease.holderIdentity: approved "ctl-1", fresh read "ctl-2"' \
        in restart.detail
    assert Target("Pod", "ctl-1", "kube-system").name == plan.actions[-1].target.name


def test_a_release_waits_for_its_nb_deletes_and_is_verified_by_the_rescan(
        tmp_path: Path) -> None:
    from eipfsck.pipeline import ScanOptions, scan
    from eipfsck.repair.outcome import ActionResult
    from eipfsck.repair.run import _unmet, _verified

    plan = plan_of(cluster().model(tmp_path / "a"))
    restart = replace(plan.actions[-1], preconditions={**plan.actions[-1].preconditions,
                                                       "after": ["A01"]})
    nb = replace(plan.actions[0], id="A01")
    assert _unmet(restart, [(nb, ActionResult("released", "ok"))]) is None
    assert _unmet(restart, [(nb, ActionResult("already-gone", "ok"))]) is None
    held = _unmet(restart, [(nb, ActionResult("skipped-changed", "x"))])
    assert held is not None and held.outcome == "skipped-changed" and "A01" in held.detail
    assert _unmet(restart, []) is not None  # a dependency never run blocks too

    ok = ActionResult("released", "new leader")
    still = scan(ScanOptions(snapshot=str(cluster().write(tmp_path / "still"))))
    healed = scan(ScanOptions(snapshot=str(cluster(leak=False).write(tmp_path / "healed"))))
    assert _verified(restart, ok, healed) == ok
    failed = _verified(restart, ok, still)
    assert failed.outcome == "failed" and "10.0.0.9 leaked: not released" in failed.detail


# -- a plan approves, a fresh read decides ------------------------------------------------------


def _edited(plan: Plan, i: int, edit) -> Plan:
    """The plan as read back from a file whose action i was edited."""
    doc = plan_to_json(plan)
    edit(doc["actions"][i])
    return replace(plan, actions=[replace(a) for a in plan.actions[:i]]
                   + [_action_of(doc["actions"][i])] + plan.actions[i + 1:])


def _action_of(doc: dict) -> Action:
    from eipfsck.repair.planfile import _action, _Reader
    return _action(_Reader("t"), doc, "a")


def test_what_runs_is_the_fresh_action_never_the_files(tmp_path: Path) -> None:
    model = cluster().model(tmp_path / "a")
    plan = plan_of(model)
    fresh = plan_of(model, T0 + timedelta(minutes=3))
    checked = reverify(plan, fresh, model)
    for c, f in zip(checked, fresh.actions, strict=True):
        assert c.early is None
        assert c.action is not f and c.action.as_json() == {**f.as_json(), "id": c.action.id}


@pytest.mark.parametrize(("edit", "field"), [
    # retarget: same key (the restart's is only its kind), another pod
    (lambda a: a["target"].update(name="good-1", namespace="app"), "target.name"),
    (lambda a: a["preconditions"].update(uid="uid-of-good-1"), "preconditions.uid"),
    (lambda a: a["preconditions"].pop("uid"), "preconditions.uid"),
    (lambda a: a["preconditions"].pop("resourceVersion"), "preconditions.resourceVersion"),
    (lambda a: a["preconditions"].pop("leaks"), "preconditions.leaks"),
    (lambda a: a["preconditions"].update(leaks=[{"subnet": "net1", "ip": "10.0.0.20"}]),
     "preconditions.leaks"),
    (lambda a: a["preconditions"]["lease"].update(holderIdentity="x"),
     "preconditions.lease.holderIdentity"),
])
def test_an_edited_restart_is_skipped(tmp_path: Path, edit, field: str) -> None:
    model = cluster().model(tmp_path / "a")
    plan = plan_of(model)
    assert plan.actions[-1].action == "restart-controller"
    checked = reverify(_edited(plan, len(plan.actions) - 1, edit), plan_of(model), model)
    last = checked[-1]
    assert last.early is not None and last.early.outcome == "skipped-changed"
    assert field in last.early.detail


@pytest.mark.parametrize(("edit", "field"), [
    (lambda a: a["preconditions"].pop("absent"), "preconditions.absent"),
    (lambda a: a["preconditions"].update(absent=[]), "preconditions.absent"),
    (lambda a: a["target"].update(name="p20.ns1"), "(action)"),
    (lambda a: a["preconditions"].pop("uid"), "preconditions.uid"),
])
def test_an_edited_delete_is_skipped(tmp_path: Path, edit, field: str) -> None:
    model = cluster().model(tmp_path / "a")
    plan = plan_of(model)
    checked = reverify(_edited(plan, 0, edit), plan_of(model), model)
    early = checked[0].early
    assert early is not None, "an edited action must never run"
    if field == "(action)":  # another key: not planned by the fresh read (nor there at all)
        assert early.outcome in ("skipped-changed", "already-gone")
    else:
        assert early.outcome == "skipped-changed" and field in early.detail


def test_unapproved_fresh_actions_never_run_and_duplicates_run_once(tmp_path: Path) -> None:
    from eipfsck.repair.verify import unapproved

    model = cluster().model(tmp_path / "a")
    plan = plan_of(model)
    only_first = replace(plan, actions=plan.actions[:1])
    checked = reverify(only_first, plan_of(model), model)
    assert [c.action.action for c in checked] == ["delete-ip-cr"]
    assert [a.action for a in unapproved(only_first, plan_of(model))] == ["restart-controller"]
    twice = replace(plan, actions=[plan.actions[0], replace(plan.actions[0], id="A09")])
    checked = reverify(twice, plan_of(model), model)
    assert checked[0].early is None
    assert checked[1].early is not None and "approves this action twice" in \
        checked[1].early.detail


def test_a_release_acts_only_on_leaks_seen_in_the_first_read_too(tmp_path: Path) -> None:
    model = cluster().model(tmp_path / "a")
    plan = plan_of(model)
    seen = reverify(plan, plan_of(model), model, first_leaks={("net1", "10.0.0.9")})
    assert seen[-1].early is None
    unseen = reverify(plan, plan_of(model), model, first_leaks=set())
    assert unseen[-1].early is not None
    assert "10.0.0.9 (net1) was not leaked in the first" in unseen[-1].early.detail
    assert unseen[0].early is None  # a delete is not a release: no first read needed


def test_a_restart_never_targets_a_pod_that_is_not_the_deployments(tmp_path: Path) -> None:
    """The planner itself: a Lease holder that is not the controller Deployment's pod in
    Kube-OVN's namespace is held (no-leader), never restarted."""
    c = cluster()
    pod = c.objects["pods"][-1]["metadata"]
    pod["ownerReferences"] = []
    plan = plan_of(c.model(tmp_path / "a"))
    assert "restart-controller" not in [a.action for a in plan.actions]
    assert any(h.gate == "no-leader" and "not owned by a ReplicaSet" in h.reason
               for h in plan.held)
