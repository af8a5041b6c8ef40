"""eipfsck repair against the genuine kube-apiserver + etcd + ovsdb-server of scripts/test-env.

There is no Kube-OVN controller here. Where a test needs one (the leader restart, resurrect),
the test plays its part in a thread and the test's name says "simulated": it takes the Lease
over, writes the status, removes the finalizer. Everything eipfsck does is real: real deletes
with preconditions, real OVSDB transactions with their wait, a real journal.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clirun import run as cli_run
from live.conftest import EXAMPLES, REPO_ROOT, LiveEnv
from live.seed import Api, ApiError

LEAKY = EXAMPLES / "leaky-cluster"
LOG = EXAMPLES / "leaky-cluster-controller.log"
LEADER = "kube-ovn-controller-7d9c6b5f4-abcde"





def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code, out, err = cli_run(args, capsys)
    assert "internal error" not in err, err
    if "-o" in args and "--dry-run" not in args and "nothing to apply" not in err:
        assert out.startswith("{"), err
    return code, out, err


def cluster_args(env: LiveEnv) -> list[str]:
    return ["--kubeconfig", env.kubeconfig, "--ovn-nb", env.nb_tcp]


def repair(env: LiveEnv, tmp: Path, *extra: str) -> list[str]:
    # A plan carries the grace it was made with; 30 s is the floor no flag lowers, so a run
    # that releases a leak waits that long between its two reads.
    grace = [] if "--plan" in extra else ["--grace", "30s"]
    return ["repair", *cluster_args(env), "--journal", str(tmp / "journal.jsonl"), *grace,
            *extra]


# -- what the servers hold, for before/after comparisons ----------------------------------------


def nb_dump(env: LiveEnv) -> dict[str, Any]:
    out = {}
    for table in ("Logical_Switch", "Logical_Switch_Port", "Logical_Router",
                  "Logical_Router_Port", "NAT", "Load_Balancer", "NB_Global"):
        proc = subprocess.run(["ovn-nbctl", f"--db={env.nb_unix}", "--format=json", "list",
                               table], capture_output=True, text=True, check=True, timeout=30)
        doc = json.loads(proc.stdout)
        out[table] = sorted(json.dumps(r, sort_keys=True) for r in doc["data"])
    return out


# The apiserver renews its own identity leases every few seconds, and compacts etcd every five
# minutes (it records the revision in compact_rev_key): those writes are not ours.
APISERVER_OWN = ("/registry/leases/kube-system/apiserver-", "/registry/peerserverleases/",
                 "compact_rev_key")


def _etcd_range(env: LiveEnv, **body: Any) -> dict[str, Any]:
    everything = base64.b64encode(b"\0").decode()
    request = urllib.request.Request(
        f"{env.etcd}/v3/kv/range", headers={"Content-Type": "application/json"},
        data=json.dumps({"key": everything, "range_end": everything, **body}).encode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        doc: dict[str, Any] = json.load(answer)
    return doc


def etcd_revision(env: LiveEnv) -> int:
    return int(_etcd_range(env, count_only=True)["header"]["revision"])


def etcd_writes_since(env: LiveEnv, revision: int) -> list[str]:
    """Every etcd key written after `revision`, read from etcd itself (its gRPC gateway), but
    the apiserver's own lease renewals."""
    doc = _etcd_range(env, keys_only=True, min_mod_revision=str(revision + 1))
    keys = [base64.b64decode(kv["key"]).decode() for kv in doc.get("kvs", [])]
    return [k for k in keys if not k.startswith(APISERVER_OWN)]


def k8s_dump(api: Api) -> dict[str, Any]:
    out = {}
    for path in ("/apis/kubeovn.io/v1/ips", "/apis/kubeovn.io/v1/ovn-fips",
                 "/apis/kubeovn.io/v1/vips", "/apis/kubeovn.io/v1/ovn-eips",
                 "/apis/kubeovn.io/v1/subnets", "/api/v1/pods",
                 "/apis/coordination.k8s.io/v1/leases", "/api/v1/events"):
        items = [i for i in api.get(path)["items"]
                 if not i["metadata"]["name"].startswith("apiserver-")]  # its own renewals
        out[path] = sorted(json.dumps(i, sort_keys=True) for i in items)
    return out


def nb_has(env: LiveEnv, table: str, uuid: str) -> bool:
    proc = subprocess.run(["ovn-nbctl", f"--db={env.nb_unix}", "--bare", "--columns=_uuid",
                           "list", table], capture_output=True, text=True, check=True)
    return uuid in proc.stdout.split()


def journal(tmp: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp / "journal.jsonl").read_text().splitlines()]


def outcomes(doc: dict[str, Any]) -> dict[str, str]:
    return {f'{r["target"]["kind"]} {r["target"]["name"]}': r["outcome"] for r in doc["results"]}


# -- dry run -------------------------------------------------------------------------------------


def test_dry_run_changes_nothing_on_either_server(leaky_env: LiveEnv, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    api = leaky_env.api()
    try:
        revision = etcd_revision(leaky_env)
        before = (k8s_dump(api), nb_dump(leaky_env))
        code, out, _err = run(["repair", *cluster_args(leaky_env), "--dry-run", "-o", "json",
                              "--allow-controller-restart", "--ack-hazards",
                              "--allow-resurrect", "--controller-log", str(LOG),
                              "--plan-out", str(tmp_path / "plan.json")], capsys)
        after = (k8s_dump(api), nb_dump(leaky_env))
        written = etcd_writes_since(leaky_env, revision)
    finally:
        api.close()
    assert code == 4
    plan = json.loads(out)
    assert [a["action"] for a in plan["actions"]] == [
        "delete-nb-nat", "delete-nb-lsp", "delete-nb-lsp", "delete-ip-cr", "delete-ip-cr",
        "delete-nat-cr", "resurrect", "restart-controller"]
    assert plan["cluster"]["uid"] and plan["cluster"]["nb"].startswith("tcp:")
    assert stat.S_IMODE(os.stat(tmp_path / "plan.json").st_mode) == 0o600
    assert written == [], f"the dry run wrote to etcd: {written}"
    assert before[0] == after[0]
    assert before[1] == after[1]
    assert not (tmp_path / "journal.jsonl").exists()


def test_healthy_cluster_plans_nothing(healthy_env: LiveEnv,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["repair", *cluster_args(healthy_env), "--dry-run", "-o", "json",
                        "--allow-controller-restart", "--ack-hazards"], capsys)
    assert code == 0
    assert json.loads(out)["actions"] == []


# -- apply ---------------------------------------------------------------------------------------


def test_repair_applies_journals_and_rescans(leaky_rw: LiveEnv, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    nat = next(r["_uuid"] for r in _nb_rows(leaky_rw, "NAT")
               if r["external_ip"] == "172.30.0.13")
    code, out, err = run(repair(leaky_rw, tmp_path, "--yes", "-o", "json"), capsys)
    doc = json.loads(out)
    assert outcomes(doc) == {
        "NAT dnat_and_snat 172.30.0.13 -> 10.10.0.13": "released",
        "Logical_Switch_Port ghost.ns1": "released", "Logical_Switch_Port vip-b": "released",
        "IP stray-ip": "released", "IP ghost.ns1": "released",
        "OvnFip fip-dangling": "released"}
    # 1: repairs made; 4: findings remain (double-claim, the leaks, the IP CRs now waiting on
    # the controller's finalizer, which nobody runs here).
    assert code == 1 | 4
    assert not nb_has(leaky_rw, "NAT", nat)
    api = leaky_rw.api()
    try:
        ip = api.get("/apis/kubeovn.io/v1/ips/stray-ip")
        assert ip["metadata"]["deletionTimestamp"]  # a normal delete: the finalizer path
        events = api.get("/api/v1/namespaces/default/events")["items"]
    finally:
        api.close()
    reasons = {(e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in events
               if e["reason"] == "EipfsckRepair"}
    assert ("IP", "stray-ip") in reasons and ("OvnFip", "fip-dangling") in reasons
    entries = journal(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "journal.jsonl").st_mode) == 0o600
    assert [e["event"] for e in entries] == ["start"] + ["intent", "outcome"] * 6 + ["end"], \
        [e["event"] for e in entries]
    assert all(e["before"] for e in entries if e["event"] == "outcome")
    assert entries[-1]["outcomes"]["released"] == 6

    # Run again: the IP CRs are terminating (no controller removes their finalizer), so they
    # are held, not deleted twice; the NB rows are gone. Nothing is left to do.
    code, out, err = run(repair(leaky_rw, tmp_path, "--yes", "-o", "json"), capsys)
    assert code == 4
    assert "nothing to apply" in err


def test_apply_killed_half_way_then_rerun_finds_already_gone(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    code, _, _ = run(repair(leaky_rw, tmp_path, "--plan-out", str(plan)), capsys)
    assert code == 4
    # A crash, simulated honestly: the process SIGKILLs itself right after the journal has
    # recorded the second outcome (between two actions, the way a node dies).
    crash = (
        "import os, signal, sys\n"
        "from eipfsck.repair import journal\n"
        "real = journal.Journal.record\n"
        "seen = []\n"
        "def record(self, event, **fields):\n"
        "    real(self, event, **fields)\n"
        "    if event == 'outcome':\n"
        "        seen.append(1)\n"
        "        if len(seen) == 2:\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "journal.Journal.record = record\n"
        "from eipfsck.cli import main\n"
        "main(sys.argv[1:])\n")
    args = repair(leaky_rw, tmp_path, "--plan", str(plan), "--yes")
    proc = subprocess.run([sys.executable, "-c", crash, *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == -9, proc.stderr
    done = [e["id"] for e in journal(tmp_path) if e["event"] == "outcome"]
    assert done == ["A01", "A02"]
    code, out, _ = run(repair(leaky_rw, tmp_path, "--plan", str(plan), "--yes", "-o", "json"),
                       capsys)
    results = {r["id"]: r["outcome"] for r in json.loads(out)["results"]}
    assert results["A01"] == "already-gone" and results["A02"] == "already-gone"
    assert {results[i] for i in ("A03", "A04", "A05", "A06")} == {"released"}
    assert code & 1


def test_subject_changed_between_plan_and_apply_is_skipped(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    run(repair(leaky_rw, tmp_path, "--plan-out", str(plan)), capsys)
    api = leaky_rw.api()
    try:
        _merge_patch(api, "/apis/kubeovn.io/v1/ips/stray-ip",
                     {"metadata": {"labels": {"touched": "yes"}}})
    finally:
        api.close()
    nat = next(r["_uuid"] for r in _nb_rows(leaky_rw, "NAT")
               if r["external_ip"] == "172.30.0.13")
    subprocess.run(["ovn-nbctl", f"--db={leaky_rw.nb_unix}", "set", "NAT", nat,
                    "logical_ip=10.10.0.99"], check=True, capture_output=True)
    _code, out, _ = run(repair(leaky_rw, tmp_path, "--plan", str(plan), "--yes", "-o", "json"),
                       capsys)
    got = outcomes(json.loads(out))
    assert got["IP stray-ip"] == "skipped-changed"
    assert got["NAT dnat_and_snat 172.30.0.13 -> 10.10.0.13"] == "skipped-changed"
    assert got["IP ghost.ns1"] == "released"
    assert nb_has(leaky_rw, "NAT", nat)  # never forced
    api = leaky_rw.api()
    try:
        assert "deletionTimestamp" not in api.get("/apis/kubeovn.io/v1/ips/stray-ip")["metadata"]
    finally:
        api.close()


def test_subject_changed_after_the_fresh_read_is_skipped_by_each_layer(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Changes inside the run itself, in the two windows the fresh read cannot see:
    stray-ip changes after the fresh read, before its action re-reads it (the action's own
    read catches it); ghost.ns1 changes after that read, just before the DELETE (the
    apiserver's uid + resourceVersion preconditions refuse it with 409)."""
    from eipfsck.repair import journal as journal_module
    from eipfsck.repair import kubeapply

    api = leaky_rw.api()

    def touch(name: str) -> None:
        _merge_patch(api, f"/apis/kubeovn.io/v1/ips/{name}",
                     {"metadata": {"labels": {"touched": "yes"}}})

    real_record = journal_module.Journal.record

    def record(self: Any, event: str, **fields: Any) -> None:
        real_record(self, event, **fields)
        target = (fields.get("action") or {}).get("target") or {}
        if event == "intent" and target.get("kind") == "IP" and target["name"] == "stray-ip":
            touch("stray-ip")

    real_delete = kubeapply.KubeWriter._delete_with_preconditions

    def delete(self: Any, action: Any, obj: dict[str, Any]) -> Any:
        if action.target.kind == "IP" and action.target.name == "ghost.ns1":
            touch("ghost.ns1")
        return real_delete(self, action, obj)

    monkeypatch.setattr(journal_module.Journal, "record", record)
    monkeypatch.setattr(kubeapply.KubeWriter, "_delete_with_preconditions", delete)
    try:
        _, out, _ = run(repair(leaky_rw, tmp_path, "--yes", "-o", "json"), capsys)
        results = {f'{r["target"]["kind"]} {r["target"]["name"]}': r
                   for r in json.loads(out)["results"]}
        stray, ghost = results["IP stray-ip"], results["IP ghost.ns1"]
        assert stray["outcome"] == "skipped-changed"
        assert "changed since the plan (resourceVersion" in stray["detail"]
        assert ghost["outcome"] == "skipped-changed"
        assert "the apiserver refused the delete" in ghost["detail"]
        for name in ("stray-ip", "ghost.ns1"):  # neither was deleted
            assert "deletionTimestamp" not in api.get(f"/apis/kubeovn.io/v1/ips/{name}")[
                "metadata"]
    finally:
        api.close()


def test_plan_for_another_cluster_or_stale_is_refused(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    run(repair(leaky_rw, tmp_path, "--plan-out", str(plan)), capsys)
    doc = json.loads(plan.read_text())
    revision = etcd_revision(leaky_rw)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**doc, "cluster": {**doc["cluster"], "uid": "x-y-z"}}))
    code, _, err = run(repair(leaky_rw, tmp_path, "--plan", str(other), "--yes"), capsys)
    assert code == 32 and "plan is for cluster x-y-z" in err
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**doc, "created": "2026-01-01T00:00:00+00:00"}))
    code, _, err = run(repair(leaky_rw, tmp_path, "--plan", str(stale), "--yes"), capsys)
    assert code == 32 and "older than --max-age" in err
    # Without a terminal and without --yes: refuse, change nothing.
    code, _, err = run(repair(leaky_rw, tmp_path, "--plan", str(plan)), capsys)
    assert code == 32 and "no terminal to confirm on" in err
    assert etcd_writes_since(leaky_rw, revision) == []
    assert [e["event"] for e in journal(tmp_path)] == ["refused"] * 3


# -- the controller's part, simulated ---------------------------------------------------------


class FakeController(threading.Thread):
    """Plays kube-ovn-controller's part against the real apiserver (a simulation)."""

    def __init__(self, env: LiveEnv, step: Callable[[Api], bool]) -> None:
        super().__init__(daemon=True)
        self.api = env.api()
        self.step = step
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.step(self.api):
                    return
                time.sleep(0.2)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.api.close()

    def finish(self) -> None:
        self.stop.set()
        self.join(10)
        if self.error is not None:
            raise self.error


def _merge_patch(api: Api, path: str, body: dict[str, Any], status: bool = False) -> Any:
    client = api.client
    ser = client.param_serialize(
        method="PATCH", resource_path=path + ("/status" if status else ""),
        header_params={"Content-Type": "application/merge-patch+json",
                       "Accept": "application/json"},
        body=body, auth_settings=["BearerToken"])
    resp = client.call_api(*ser, _request_timeout=30)
    data = json.loads(resp.read() or b"null")
    if resp.status >= 300:
        raise ApiError("PATCH", path, resp.status, data)
    return data


def _nb_rows(env: LiveEnv, table: str) -> list[dict[str, Any]]:
    proc = subprocess.run(["ovn-nbctl", f"--db={env.nb_unix}", "--format=json", "list", table],
                          capture_output=True, text=True, check=True)
    doc = json.loads(proc.stdout)
    rows = []
    for data in doc["data"]:
        row = dict(zip(doc["headings"], data, strict=True))
        row["_uuid"] = row["_uuid"][1]
        rows.append(row)
    return rows


def _drop_using(api: Api, subnet: str, gone: set[str]) -> None:
    """The new leader's status: the leaked addresses are no longer in use."""
    obj = api.get(f"/apis/kubeovn.io/v1/subnets/{subnet}")
    st = obj["status"]
    for fam in ("v4", "v6"):
        parts = [p for p in str(st.get(f"{fam}usingIPrange", "")).split(",") if p]
        kept = []
        for p in parts:
            lo, _, hi = p.partition("-")
            if p in gone:
                continue
            if hi and (lo in gone or hi in gone):
                kept.extend(x for x in (lo, hi) if x not in gone)
                continue
            kept.append(p)
        st[f"{fam}usingIPrange"] = ",".join(kept)
    _merge_patch(api, f"/apis/kubeovn.io/v1/subnets/{subnet}", {"status": st}, status=True)


def test_restart_with_a_simulated_controller(leaky_rw: LiveEnv, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def controller(api: Api) -> bool:
        pod = api.get(f"/api/v1/namespaces/kube-system/pods/{LEADER}")
        if not pod["metadata"].get("deletionTimestamp"):
            return False
        lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/" \
            "kube-ovn-controller"
        lease = api.get(lease_path)
        spec = lease["spec"]
        _merge_patch(api, lease_path, {"spec": {
            "holderIdentity": "kube-ovn-controller-new",
            "leaseTransitions": int(spec.get("leaseTransitions") or 0) + 1}})
        _drop_using(api, "external", {"172.30.0.21"})
        _drop_using(api, "vpc1-net1", {"10.10.0.13", "fd00:10:10::d"})
        return True

    sim = FakeController(leaky_rw, controller)
    sim.start()
    code, out, _err = run(repair(leaky_rw, tmp_path, "--yes", "-o", "json",
                                "--allow-controller-restart", "--ack-hazards",
                                "--wait-timeout", "30s"), capsys)
    sim.finish()
    doc = json.loads(out)
    restart = next(r for r in doc["results"] if r["action"] == "restart-controller")
    assert restart["outcome"] == "released", restart
    assert "kube-ovn-controller-new leads now" in restart["detail"]
    leaks = [f for f in doc["after"]["findings"] if f["check"] == "leaked-ip"]
    assert leaks == []
    assert code & 1


def test_restart_refused_without_ack_and_no_new_leader_fails(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(repair(leaky_rw, tmp_path, "--dry-run", "-o", "json",
                           "--allow-controller-restart"), capsys)
    plan = json.loads(out)
    assert "restart-controller" not in [a["action"] for a in plan["actions"]]
    # fd00:10:10::d could be vip-a's phantom without the controller log (issue 11 item 3).
    assert {h["gate"] for h in plan["held"] if h["finding"] == "leaked-ip"
            and h["ip"] != "fd00:10:10::d"} == {"hazards"}
    # With the ack but nobody taking the lease over: the action fails after the bound.
    _code, out, _ = run(repair(leaky_rw, tmp_path, "--yes", "-o", "json", "--max-actions", "1",
                              "--allow-controller-restart", "--ack-hazards",
                              "--wait-timeout", "3s"), capsys)
    doc = json.loads(out)
    assert [r["action"] for r in doc["results"]] == ["delete-nb-nat"]  # the restart is cut
    assert doc["plan"]["held"] and any(h["gate"] == "max-actions" for h in doc["plan"]["held"])


def test_resurrect_with_a_simulated_controller(leaky_rw: LiveEnv, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = "/apis/kubeovn.io/v1/vips/vip-b"

    def controller(api: Api) -> bool:
        try:
            vip = api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        m = vip["metadata"]
        if not m.get("finalizers"):
            spec = vip["spec"]
            _merge_patch(api, path, {"metadata": {"finalizers":
                                                  ["kubeovn.io/kube-ovn-controller"]}})
            # Vip has no status subresource (deploy/crds): status is part of the object.
            _merge_patch(api, path, {"status": {"v4ip": spec["v4ip"], "v6ip": spec["v6ip"]}})
            return False
        if m.get("deletionTimestamp"):
            _drop_using(api, "vpc1-net1", {"10.10.0.13", "fd00:10:10::d"})
            _merge_patch(api, path, {"metadata": {"finalizers": None}})
            return True
        return False

    # Planned with the controller log; applied from the plan file alone (the reviewed IPAM
    # key travels in the plan), with the plan's own options.
    plan = tmp_path / "plan.json"
    run(repair(leaky_rw, tmp_path, "--allow-resurrect", "--controller-log", str(LOG),
               "--plan-out", str(plan)), capsys)
    code, _, err = run(repair(leaky_rw, tmp_path, "--plan", str(plan), "--allow-resurrect"),
                       capsys)
    assert code == 16 and "a --plan carries the options it was made with" in err
    sim = FakeController(leaky_rw, controller)
    sim.start()
    _code, out, _ = run(repair(leaky_rw, tmp_path, "--plan", str(plan), "--yes", "-o", "json",
                               "--wait-timeout", "30s"), capsys)
    sim.finish()
    doc = json.loads(out)
    res = next(r for r in doc["results"] if r["action"] == "resurrect")
    assert res["outcome"] == "released", res
    after = [f["ip"] for f in doc["after"]["findings"] if f["check"] == "leaked-ip"]
    assert "10.10.0.13" not in after and "fd00:10:10::d" not in after
    api = leaky_rw.api()
    try:
        assert not api.exists(path)
    finally:
        api.close()


def test_resurrect_with_a_wrong_key_releases_nothing(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No controller answers: the re-created Vip never gets a status (as with a wrong key).
    code, out, _ = run(repair(leaky_rw, tmp_path, "--yes", "-o", "json", "--allow-resurrect",
                              "--controller-log", str(LOG), "--wait-timeout", "3s"), capsys)
    doc = json.loads(out)
    res = next(r for r in doc["results"] if r["action"] == "resurrect")
    assert res["outcome"] == "failed" and "nothing was released" in res["detail"]
    assert code & 8
    api = leaky_rw.api()
    try:
        assert not api.exists("/apis/kubeovn.io/v1/vips/vip-b")  # deleted again
    finally:
        api.close()


def _in_pty(args: list[str], answer: str, timeout: float = 120) -> tuple[int, str]:
    """Run `eipfsck ARGS` on a pseudo-terminal, answer the prompt, return (code, output)."""
    import pty
    import select

    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "eipfsck", *args], stdin=child_fd,
                            stdout=child_fd, stderr=child_fd, cwd=REPO_ROOT, close_fds=True,
                            env={**os.environ, "COLUMNS": "200"})
    os.close(child_fd)
    seen, answered = b"", False
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([main_fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:
                break  # the child closed the terminal
            if not chunk:
                break
            seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(main_fd, answer.encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(main_fd)
    assert answered, seen.decode(errors="replace")[-2000:]
    return code, seen.decode(errors="replace")


def test_terminal_prompt_declined_then_accepted(leaky_rw: LiveEnv, tmp_path: Path) -> None:
    revision = etcd_revision(leaky_rw)
    code, text = _in_pty(repair(leaky_rw, tmp_path), "n")
    assert code == 32 and "declined: nothing was changed" in text
    assert etcd_writes_since(leaky_rw, revision) == []
    code, text = _in_pty(repair(leaky_rw, tmp_path), "y")
    assert code == 1 | 4, text[-3000:]
    assert "A06 delete-nat-cr OvnFip fip-dangling: released" in " ".join(text.split())
    assert [e["event"] for e in journal(tmp_path)][:2] == ["declined", "start"]


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_between_actions_stops_cleanly(leaky_rw: LiveEnv, tmp_path: Path,
                                              sig: str) -> None:
    # A real SIGINT (Ctrl-C) or SIGTERM (a CronJob's deadline), sent by the process to itself
    # right after the first outcome is journaled (while the action loop runs): the loop must
    # finish nothing more and print its summary.
    interrupt = (
        "import os, signal, sys\n"
        "from eipfsck.repair import journal\n"
        "real = journal.Journal.record\n"
        "def record(self, event, **fields):\n"
        "    real(self, event, **fields)\n"
        "    if event == 'outcome' and fields.get('id') == 'A01':\n"
        f"        os.kill(os.getpid(), signal.{sig})\n"
        "journal.Journal.record = record\n"
        "from eipfsck.cli import main\n"
        "main(sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, "-c", interrupt,
                           *repair(leaky_rw, tmp_path, "--yes")],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode & 32 and proc.returncode & 1, proc.stderr
    assert "Stopped by Ctrl-C (or SIGTERM) between actions" in proc.stdout
    assert f"{sig}: stopping after the action in flight (A01 delete-nb-nat" in proc.stderr
    events = [(e["event"], e.get("id")) for e in journal(tmp_path)]
    assert events[-1][0] == "end"
    assert [i for e, i in events if e == "outcome"] == ["A01"]


def _run_killing_itself(env: LiveEnv, tmp: Path, when: str, how: str, *extra: str
                        ) -> subprocess.CompletedProcess[str]:
    """eipfsck repair in a subprocess that signals itself right after the journal record
    `when` (`how`: SIGKILL, or two SIGINTs: a second Ctrl-C)."""
    kill = ("        os.kill(os.getpid(), signal.SIGKILL)\n" if how == "SIGKILL" else
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n")
    script = (
        "import os, signal, sys\n"
        "from eipfsck.repair import journal\n"
        "real = journal.Journal.record\n"
        "def record(self, event, **fields):\n"
        "    real(self, event, **fields)\n"
        f"    if event == {when!r}:\n" + kill +
        "journal.Journal.record = record\n"
        "from eipfsck.cli import main\n"
        "main(sys.argv[1:])\n")
    return subprocess.run([sys.executable, "-c", script, *repair(env, tmp, *extra)],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)


def test_an_interrupted_resurrect_is_settled_before_anything_new(
        leaky_rw: LiveEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vip = "/apis/kubeovn.io/v1/vips/vip-b"
    resurrect = ("--yes", "--allow-resurrect", "--controller-log", str(LOG),
                 "--wait-timeout", "60s")
    api = leaky_rw.api()
    try:
        # 1. Killed while the re-created Vip waits for the controller: the Vip stays behind,
        #    holding the leaked address, and the journal has an intent without an outcome.
        proc = _run_killing_itself(leaky_rw, tmp_path, "created", "SIGKILL", *resurrect)
        assert proc.returncode == -9, proc.stderr
        created = api.get(vip)["metadata"]
        assert created["labels"]["app.kubernetes.io/managed-by"] == "eipfsck"
        # 2. A dry run only says so.
        _, _, err = run(repair(leaky_rw, tmp_path, "--dry-run"), capsys)
        assert "resurrect Vip vip-b (run" in err and "was interrupted" in err
        assert api.get(vip)["metadata"]["uid"] == created["uid"]
        # 3. A run that acts deletes it normally before planning, says so, and journals it;
        #    then a second Ctrl-C during its own resurrect deletes that Vip before stopping.
        proc = _run_killing_itself(leaky_rw, tmp_path, "created", "SIGINT-twice", *resurrect)
        text = " ".join(proc.stderr.split())
        assert f"deleted the re-created Vip vip-b (uid {created['uid']}) normally" in text, text
        assert proc.returncode == 32, proc.stderr
        assert "SIGINT: stopping after the action in flight" in text
        assert "aborted A01 resurrect Vip vip-b; the next repair run settles it" in text
        assert not api.exists(vip)
        entries = journal(tmp_path)
        recovered = [e for e in entries if e["event"] == "recovered"]
        assert [r["outcome"] for r in recovered] == ["undone"]
        last_run = entries[-1]["run"]
        assert [e["event"] for e in entries if e["run"] == last_run][-4:] == [
            "intent", "created", "undone", "aborted"]
        # 4. The next run settles that one too (nothing left to undo) before planning.
        _, _, err = run(repair(leaky_rw, tmp_path, "--yes"), capsys)
        assert "A01 resurrect Vip vip-b" in err and "it re-creates is not there" in err
        assert [e["event"] for e in journal(tmp_path)].count("recovered") == 2
        assert not api.exists(vip)
    finally:
        api.close()
