"""Plan files, binding to a cluster, confirmation wait and re-verification (pure parts)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from builders import Cluster, k8s

from eipfsck.checks.runner import run_checks
from eipfsck.errors import InputError, UsageError
from eipfsck.model import Model
from eipfsck.repair.plan import Plan, RepairPolicy, Target, build_plan
from eipfsck.repair.planfile import plan_to_json, read_plan, write_plan
from eipfsck.repair.verify import binding_refusal, confirmation_wait, reverify

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
POLICY = RepairPolicy(allow_controller_restart=True, ack_hazards=True, max_leak_ratio=1.0)


def cluster(ghost_rv: str = "5", leak: bool = True) -> Cluster:
    c = Cluster()
    using = [f"10.0.0.{i}" for i in range(20, 30)] + (["10.0.0.9"] if leak else [])
    c.subnet("net1", "10.0.0.0/24", using=using)
    for i in range(20, 30):
        c.pod(f"p{i}", "ns1", f"10.0.0.{i}", "net1")
    c.add("leases.coordination.k8s.io", k8s("kube-ovn-controller", "kube-system",
                                            spec={"holderIdentity": "ctl-1"}))
    c.add("pods", k8s("ctl-1", "kube-system", resourceVersion="7", spec={"nodeName": "n"},
                      status={"phase": "Running"}))
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
])
def test_bad_plan_files_name_the_field(tmp_path: Path, edit, message: str) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    doc = plan_to_json(plan)
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        read_plan(str(path))
    assert str(path) in err.value.message and message in err.value.message


def test_missing_plan_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_plan(str(tmp_path / "nope.json"))
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        read_plan(str(tmp_path / "x.json"))


def test_binding() -> None:
    plan = Plan({"uid": "uid-1", "server": "https://a"}, T0, "t", "s", {}, [], [])
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


def test_confirmation_wait_only_for_leak_actions(tmp_path: Path) -> None:
    with_leak = plan_of(cluster().model(tmp_path / "a"))
    without = plan_of(cluster(leak=False).model(tmp_path / "b"))
    grace = timedelta(minutes=2)
    assert confirmation_wait(with_leak, T0 + timedelta(seconds=30), grace) == 90
    assert confirmation_wait(with_leak, T0 + timedelta(minutes=5), grace) == 0
    assert confirmation_wait(without, T0, grace) == 0


def test_reverify_same_changed_gone(tmp_path: Path) -> None:
    plan = plan_of(cluster().model(tmp_path / "a"))
    same_model = cluster().model(tmp_path / "b")
    same = reverify(plan, plan_of(same_model, T0 + timedelta(minutes=3)), same_model)
    assert [r for _, r in same] == [None, None]

    changed_model = cluster(ghost_rv="6").model(tmp_path / "c")
    changed = reverify(plan, plan_of(changed_model), changed_model)
    assert changed[0][1] is not None and changed[0][1].outcome == "skipped-changed"
    assert "resourceVersion 5 → 6" in changed[0][1].detail
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
    c.add("pods", k8s("ctl-2", "kube-system", spec={"nodeName": "n"},
                      status={"phase": "Running"}))
    model = c.model(tmp_path / "b")
    results = reverify(plan, plan_of(model), model)
    restart = results[-1][1]
    assert restart is not None and "leader changed" in restart.detail
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
