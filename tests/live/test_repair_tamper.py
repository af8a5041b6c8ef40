"""A plan approves, a fresh read decides: tampered plan files against the genuine servers.

Each tampering a careless colleague or an attacker with write access to a reviewed plan file
could make: retarget an action (same key, another object), drop its preconditions, add an
action, change the policy, swap the file after review, a plan from a snapshot, a backdated
`created`. Nothing outside what a fresh read plans may be deleted, and the screen and the
journal must say what was refused and why.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live.conftest import LiveEnv
from live.test_repair_live import (
    LOG,
    etcd_revision,
    etcd_writes_since,
    journal,
    nb_dump,
    repair,
    run,
)

LEADER = "kube-ovn-controller-7d9c6b5f4-abcde"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _get(env: LiveEnv, path: str) -> dict[str, Any]:
    api = env.api()
    try:
        return api.get(path)
    finally:
        api.close()


def _plan(env: LiveEnv, tmp: Path, capsys: pytest.CaptureFixture[str], *opts: str
          ) -> tuple[Path, dict[str, Any], str]:
    path = tmp / "plan.json"
    code, _, err = run(repair(env, tmp, *opts, "--plan-out", str(path)), capsys)
    assert code == 4, err
    sha = _flat(err).split("sha256 ")[1].split()[0]
    return path, json.loads(path.read_text()), sha


def _write(tmp: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp / name
    path.write_text(json.dumps(doc))
    return path


def test_a_tampered_plan_deletes_only_what_the_fresh_read_plans(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = _plan(leaky_rw, tmp_path, capsys, "--allow-controller-restart",
                      "--ack-hazards")
    app = _get(leaky_rw, "/api/v1/namespaces/ns1/pods/app-1")["metadata"]
    app_ip = _get(leaky_rw, "/apis/kubeovn.io/v1/ips/app-1.ns1")["metadata"]
    by_name = {(a["action"], a["target"]["name"]): a for a in doc["actions"]}
    # Retarget: the restart's key is its kind alone; name, namespace and preconditions are
    # another running pod's.
    restart = by_name[("restart-controller", LEADER)]
    restart["target"].update(name="app-1", namespace="ns1", uuid=app["uid"],
                             resourceVersion=app["resourceVersion"])
    restart["preconditions"].update(uid=app["uid"], resourceVersion=app["resourceVersion"])
    # Drop the preconditions of a delete.
    stray = by_name[("delete-ip-cr", "stray-ip")]
    for key in ("uid", "resourceVersion", "absent"):
        stray["preconditions"].pop(key)
    # Add an action: the live pod's IP CR.
    added = copy.deepcopy(by_name[("delete-ip-cr", "ghost.ns1")])
    added.update(id="A99", ip="10.10.0.10")
    added["target"].update(name="app-1.ns1", uuid=app_ip["uid"],
                           resourceVersion=app_ip["resourceVersion"])
    added["preconditions"].update(uid=app_ip["uid"], resourceVersion=app_ip["resourceVersion"],
                                  absent=[])
    doc["actions"].append(added)
    tampered = _write(tmp_path, "tampered.json", doc)

    revision = etcd_revision(leaky_rw)
    code, out, err = run(repair(leaky_rw, tmp_path, "--plan", str(tampered), "--yes",
                                "--wait-timeout", "3s"), capsys)
    written = etcd_writes_since(leaky_rw, revision)
    screen = _flat(out + err)
    # What the fresh read plans and the file approves unchanged ran.
    for line in ("A01 delete-nb-nat NAT dnat_and_snat 172.30.0.13 -> 10.10.0.13: released",
                 "A05 delete-ip-cr IP ghost.ns1: released",
                 "A06 delete-nat-cr OvnFip fip-dangling: released"):
        assert line in screen, screen[-3000:]
    # Each tampering is refused, and the screen says why.
    assert ("A07 restart-controller Pod ns1/app-1: skipped-changed — the approved action "
            "differs from what a fresh read plans for Pod kube-system/" + LEADER) in screen
    assert 'target.name: approved "app-1", fresh read "' + LEADER + '"' in screen
    assert "A04 delete-ip-cr IP stray-ip: skipped-changed — the approved action differs" \
        in screen and "preconditions.absent: approved (missing)" in screen
    assert "A99 delete-ip-cr IP app-1.ns1: skipped-changed — a fresh read does not plan it" \
        in screen
    # ... and the journal too.
    outcomes = {e["id"]: e for e in journal(tmp_path) if e["event"] == "outcome"}
    assert outcomes["A07"]["outcome"] == "skipped-changed"
    assert "target.name" in outcomes["A07"]["detail"]
    assert outcomes["A04"]["outcome"] == outcomes["A99"]["outcome"] == "skipped-changed"
    # Nothing outside the fresh plan was touched.
    allowed = ("/registry/kubeovn.io/ips/ghost.ns1", "/registry/kubeovn.io/ovn-fips/fip-dangling",
               "/registry/events/")
    assert [k for k in written if not k.startswith(allowed)] == [], written
    for path in ("/api/v1/namespaces/ns1/pods/app-1", "/apis/kubeovn.io/v1/ips/app-1.ns1",
                 "/apis/kubeovn.io/v1/ips/stray-ip",
                 f"/api/v1/namespaces/kube-system/pods/{LEADER}"):
        assert "deletionTimestamp" not in _get(leaky_rw, path)["metadata"], path
    assert code & 1


def test_plan_file_refusals_change_nothing(leaky_env: LiveEnv, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path, doc, sha = _plan(leaky_env, tmp_path, capsys)
    assert len(doc["actions"]) == 6

    def edited(**changes: Any) -> dict[str, Any]:
        d = copy.deepcopy(doc)
        for key, value in changes.items():
            if key.startswith("policy."):
                d["policy"][key[len("policy."):]] = value
            else:
                d[key] = value
        return d

    cases = [
        (edited(**{"policy.max_actions": "lots"}), [], 16, "policy.max_actions: expected a "
         "whole number ≥ 0, got 'lots'"),
        (edited(**{"policy.max_actions": 2}), [], 16, "6 actions, more than the plan's own "
         "max_actions 2"),
        (edited(**{"policy.grace_seconds": 0}), [], 16, "policy.grace_seconds: expected a "
         "number of seconds ≥ 30"),
        (edited(**{"policy.max_leak_ratio": -1}), [], 16, "policy.max_leak_ratio"),
        (edited(schema="eipfsck/plan/v2"), [], 16, "schema: expected 'eipfsck/plan/v1'"),
        # A policy changed in range, or any other edit: not the file that was reviewed.
        (edited(**{"policy.allow_controller_restart": True, "policy.ack_hazards": True}),
         ["--plan-sha256", sha], 32, "not the reviewed " + sha),
        (edited(source=str(tmp_path / "snapshot")), [], 32,
         "a plan from a snapshot is for review only, never applied"),
        (edited(created="2026-01-01T00:00:00+00:00"), [], 32, "older than --max-age"),
    ]
    revision = etcd_revision(leaky_env)
    nb_before = nb_dump(leaky_env)
    for i, (d, extra, want_code, want) in enumerate(cases):
        bad = _write(tmp_path, f"bad{i}.json", d)
        code, out, err = run(repair(leaky_env, tmp_path, "--plan", str(bad), "--yes", *extra),
                             capsys)
        assert code == want_code, (i, err)
        assert want in _flat(err), (i, err)
        assert "Traceback" not in err and out == ""
        last = journal(tmp_path)[-1]
        assert last["event"] == "refused" and want in _flat(last["reason"]), (i, last)
    # The reviewed file itself passes the digest check (and is then declined: no terminal).
    code, _, err = run(repair(leaky_env, tmp_path, "--plan", str(path), "--plan-sha256", sha),
                       capsys)
    assert code == 32 and "no terminal to confirm on" in err
    assert etcd_writes_since(leaky_env, revision) == []
    assert nb_dump(leaky_env) == nb_before


def test_a_backdated_plan_does_not_skip_the_grace(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A `created` moved back ten minutes (inside --max-age) would, if trusted, make the
    leaks look seen twice already. The run makes its own first read and waits the grace."""
    from datetime import datetime, timedelta

    _, doc, _ = _plan(leaky_rw, tmp_path, capsys, "--allow-controller-restart",
                      "--ack-hazards")
    doc["created"] = (datetime.fromisoformat(doc["created"])
                      - timedelta(minutes=10)).isoformat()
    backdated = _write(tmp_path, "backdated.json", doc)
    _, _, err = run(repair(leaky_rw, tmp_path, "--plan", str(backdated), "--yes",
                           "--wait-timeout", "3s"), capsys)
    screen = _flat(err)
    assert "the first of the two reads they must be seen in is made now, not taken from the " \
           "plan's `created`" in screen
    assert "waiting 3" in screen  # the countdown of (about) the 30 s floor
    events = [e["event"] for e in journal(tmp_path)]
    assert "first_read" in events and events.index("first_read") < events.index("start")


# -- property: whatever the file says, the calls made are the fresh plan's ----------------------


class _DryRun(Exception):
    """Stops an NB transaction at the writer's own seam, after it is built and verified."""


LIVE_OBJECTS = (("Pod", "/api/v1/namespaces/ns1/pods/app-1"),
                ("Pod", "/api/v1/namespaces/kube-system/pods/vpc-nat-gw-gw1-0"),
                ("IP", "/apis/kubeovn.io/v1/ips/app-1.ns1"),
                ("IP", "/apis/kubeovn.io/v1/ips/db-0.ns1"))


def _live_targets(env: LiveEnv) -> list[dict[str, Any]]:
    """Objects a live owner uses: what a retargeted action would delete."""
    out = []
    for kind, path in LIVE_OBJECTS:
        m = _get(env, path)["metadata"]
        out.append({"kind": kind, "name": m["name"], "namespace": m.get("namespace"),
                    "uuid": m["uid"], "resourceVersion": m["resourceVersion"]})
    return out


def _mutation_pool(doc: dict[str, Any], env: LiveEnv) -> list[Any]:
    pool: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and len(x) < 80:
            pool.add(x)
    walk(doc["actions"])
    for t in _live_targets(env):
        pool.update({t["name"], t["uuid"], t["resourceVersion"], t["namespace"] or ""})
    return [*sorted(pool), None, 0, -1, 10**6, True, [], {}]


def _paths(x: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def _mutations(draw: st.DrawFn, doc: dict[str, Any], pool: list[Any],
               live: list[dict[str, Any]]) -> dict[str, Any]:
    d = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["set", "set", "drop", "copy-action", "drop-action",
                                     "policy", "retarget", "retarget"]))
        if what == "retarget" and d["actions"]:
            # Same key where the key allows it, another (live) object, its own uid and
            # resourceVersion, with or without the preconditions to match.
            a = draw(st.sampled_from(d["actions"]))
            t = draw(st.sampled_from(live))
            a["target"] = {k: v for k, v in t.items() if v is not None}
            if draw(st.booleans()):
                a["preconditions"].update(uid=t["uuid"], resourceVersion=t["resourceVersion"])
            continue
        if what == "copy-action" and d["actions"]:
            a = copy.deepcopy(draw(st.sampled_from(d["actions"])))
            a["id"] = f"X{len(d['actions'])}"
            d["actions"].append(a)
            continue
        if what == "drop-action" and d["actions"]:
            d["actions"].pop(draw(st.integers(0, len(d["actions"]) - 1)))
            continue
        if what == "policy":
            key = draw(st.sampled_from(sorted(d["policy"])))
            d["policy"][key] = draw(st.sampled_from([True, False, 0, 1, 1.0, 1000, 30.0]))
            continue
        paths = [p for p in _paths(d["actions"]) if p]
        if not paths:
            continue
        path = ("actions", *draw(st.sampled_from(paths)))
        parent: Any = d
        for step in path[:-1]:
            parent = parent[step]
        if what == "drop" and isinstance(parent, dict):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = draw(st.sampled_from(pool))
    return d


def _expected_calls(fresh: Any) -> tuple[set[tuple[str, str]], set[str], set[tuple[Any, ...]]]:
    """The Kubernetes writes (method, path), the Event subjects, and the NB rows a fresh plan
    may make: the set every run's calls must stay inside."""
    from eipfsck.repair.kubeapply import _path

    k8s: set[tuple[str, str]] = set()
    subjects: set[str] = set()
    rows: set[tuple[Any, ...]] = set()
    for a in fresh.actions:
        t = a.target
        subjects.add(t.name)
        if a.action.startswith("delete-nb-"):
            rows.update((r["table"], r["uuid"], r.get("vip"))
                        for r in a.preconditions["rows"])
        elif a.action == "resurrect":
            k8s.update({("POST", _path(t.kind, None)), ("DELETE", _path(t.kind, None, t.name))})
        else:
            k8s.add(("DELETE", _path(t.kind, t.namespace, t.name)))
    return k8s, subjects, rows


def test_no_edit_of_a_plan_file_makes_a_call_the_fresh_plan_would_not(
        leaky_env: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Random edits of a real plan file (fields replaced by other values of the plan or of
    live objects, fields dropped, actions copied or dropped, the policy changed), applied to
    the genuine servers. The applier's own call boundary is wrapped: every Kubernetes write
    goes to the real API server with dryRun=All (admission, preconditions and all, but not
    persisted), every NB transaction is built and verified against the real ovsdb-server and
    stopped right before its commit. The calls made must be a subset of the fresh plan's."""
    from eipfsck.collect import kube as kube_module
    from eipfsck.repair import nbapply
    from eipfsck.repair import run as run_module
    from eipfsck.repair.outcome import ActionResult

    _, doc, _ = _plan(leaky_env, tmp_path, capsys, "--allow-controller-restart",
                      "--ack-hazards", "--allow-resurrect", "--controller-log", str(LOG))
    pool = _mutation_pool(doc, leaky_env)
    live = _live_targets(leaky_env)
    k8s_calls: list[tuple[str, str, Any]] = []
    nb_calls: list[tuple[Any, ...]] = []
    fresh_plans: list[Any] = []

    real_once = kube_module.Requester._once

    def once(self: Any, method: str, path: str, query: list[tuple[str, Any]],
             payload: dict[str, Any] | None = None) -> Any:
        if method != "GET":
            k8s_calls.append((method, path, payload))
            # A DELETE with a body takes its options from the body alone (the API server
            # reads the query only when the body is empty): dryRun goes in both.
            query = [*query, ("dryRun", "All")]
            if payload is not None:
                payload = {**payload, "dryRun": ["All"]}
        return real_once(self, method, path, query, payload)

    real_delete = nbapply.NbWriter.delete

    def delete(self: Any, rows: Any, before_commit: Any = None) -> ActionResult:
        rows = tuple(rows)

        def stop() -> None:
            nb_calls.extend((r.table, r.uuid, r.vip) for r in rows)
            raise _DryRun

        try:
            return real_delete(self, rows, stop)
        except _DryRun:
            return ActionResult("skipped-changed", "test: stopped before the commit")

    real_reverify = run_module.reverify

    def reverify(plan: Any, fresh: Any, *args: Any) -> Any:
        fresh_plans.append(fresh)
        return real_reverify(plan, fresh, *args)

    monkeypatch.setattr(kube_module.Requester, "_once", once)
    monkeypatch.setattr(nbapply.NbWriter, "delete", delete)
    monkeypatch.setattr(run_module, "reverify", reverify)
    # The property is about which calls are made, not when: no waiting out the grace.
    monkeypatch.setattr(run_module, "_wait_grace", lambda *args: None)
    ran: list[int] = []

    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_mutations(doc, pool, live))
    def check(mutated: dict[str, Any]) -> None:
        k8s_calls.clear()
        nb_calls.clear()
        fresh_plans.clear()
        with tempfile.TemporaryDirectory() as d:
            path = _write(Path(d), "plan.json", mutated)
            code, _, err = run(repair(leaky_env, Path(d), "--plan", str(path), "--yes",
                                      "--wait-timeout", "1s"), capsys)
        assert "Traceback" not in err and 0 <= code < 64, (code, err)
        if not fresh_plans:
            assert not k8s_calls and not nb_calls, err  # refused before the fresh read
            return
        k8s, subjects, rows = _expected_calls(fresh_plans[-1])
        for method, path, payload in k8s_calls:
            if path.endswith("/events"):
                assert payload["involvedObject"]["name"] in subjects, payload
                continue
            assert (method, path) in k8s, (method, path, sorted(k8s))
        assert set(nb_calls) <= rows, (nb_calls, rows)
        ran.append(len(k8s_calls) + len(nb_calls))

    revision = etcd_revision(leaky_env)
    check()
    # Not vacuous: some edited plans still had approved actions that ran.
    assert any(ran), ran
    # And the dry run was one: nothing persisted on the shared environment.
    assert etcd_writes_since(leaky_env, revision) == []
