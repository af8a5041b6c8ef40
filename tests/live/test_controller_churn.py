"""Churn: pods come and go under the genuine Kube-OVN controller while eipfsck scans.

A fresh allocation looks exactly like a leak for a moment (the allocator files the address before
any record of it is written), so a single scan during churn may see one. What must hold: no
finding survives two observations a grace period apart, and a real `repair` run during the churn
(two reads a grace apart) changes nothing. Bounded: a few dozen pods over about a minute, on a
machine of 2 shared cores. See tests/live/kubeovn_cluster.py.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live.conftest import EnvFactory
from live.kubeovn_cluster import Cluster, brief, problems, started

pytestmark = pytest.mark.usefixtures("ovn_tools")

GRACE = 30.0        # the smallest grace repair accepts
CHURN = 75.0        # seconds of churn: longer than the grace, so two observations fit in it
LIVE_PODS = 8       # pods alive at any moment
MAX_PODS = 60       # created in all


@pytest.fixture
def cluster(live_env_factory: EnvFactory, tmp_path: Path) -> Iterator[Cluster]:
    with started(live_env_factory, "kube-ovn-churn", tmp_path) as c:
        yield c


class Churn(threading.Thread):
    """Creates pods and deletes the oldest (graceful delete, then the kubelet's confirmation)."""

    def __init__(self, env_cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.api = Cluster(env_cluster.env, env_cluster.tmp)  # a client of its own
        self.stop = threading.Event()
        self.created = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        alive: list[str] = []
        try:
            deadline = time.monotonic() + CHURN
            while not self.stop.is_set() and time.monotonic() < deadline \
                    and self.created < MAX_PODS:
                name = f"churn-{self.created}x"
                self.api.pod(name, "default", "worker-1", wait=False)
                self.created += 1
                alive.append(name)
                if len(alive) > LIVE_PODS:
                    self.api.delete_pod(alive.pop(0), "default")
                time.sleep(CHURN / MAX_PODS)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self.api.close()


def _lasting(key: tuple[Any, ...], seen: list[tuple[int, float]]) -> bool:
    """Whether a finding survived a grace. One about an address (what repair acts on) counts
    as seen twice a grace apart, whatever happened in between: repair's own rule. One about
    a whole subnet (status-count-mismatch: ip None) is the status racing the object lists,
    which continuous churn renews at every scan with other pods; it survived only if every
    scan over a grace reported it."""
    if key[2] is not None:
        times = [t for _, t in seen]
        return max(times) - min(times) >= GRACE
    run_start = seen[0]
    for prev, cur in itertools.pairwise(seen):
        if cur[0] != prev[0] + 1:
            run_start = cur
        if cur[1] - run_start[1] >= GRACE:
            return True
    return False


def test_churn_leaves_no_lasting_finding_and_repair_does_nothing(
        cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = cluster
    c.node("worker-1", "172.18.0.2")
    churn = Churn(c)
    churn.start()
    seen: dict[tuple[Any, ...], list[tuple[int, float]]] = {}
    reports: list[dict[str, Any]] = []
    try:
        # A real repair during the churn: its two reads are a grace apart, in the middle of it.
        code, out, err = c.repair(capsys, tmp_path / "journal.jsonl", "-o", "json")
        doc = json.loads(out) if out.strip().startswith("{") else {}
        assert not doc.get("results"), (code, doc.get("results"), err)
        assert code in (0, 4), err   # nothing repaired, nothing refused or inconclusive
        while churn.is_alive():
            t = time.monotonic()
            _, report, _ = c.scan(capsys)
            reports.append(report)
            for f in problems(report):
                k = (f["check"], f["subnet"], f["ip"],
                     tuple(sorted(s["name"] for s in f["subjects"])))
                seen.setdefault(k, []).append((len(reports), t))
            time.sleep(2)
    finally:
        churn.stop.set()
        churn.join(60)
    assert churn.error is None, churn.error
    assert churn.created >= 2 * LIVE_PODS
    lasting = {k: ts for k, ts in seen.items() if _lasting(k, ts)}
    assert lasting == {}, lasting
    # And once the churn is over and the controller caught up, the cluster is clean.
    c.wait("the controller catches up with the churn", lambda: not problems(c.scan(capsys)[1]))
    assert reports, "no scan ran during the churn"
    _, final, _ = c.scan(capsys)
    assert problems(final) == [], brief(problems(final))
