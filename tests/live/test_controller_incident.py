"""The seed incident, end to end, with the genuine Kube-OVN controller making every piece of state.

An OvnEip in an external subnet; the operator strips its finalizer and deletes it; the
controller's allocator keeps the address in use (its delete path never ran). eipfsck must report
exactly that leak, `repair --allow-controller-restart --ack-hazards` must delete the real
controller's pod, the supervisor (the Deployment) starts a new one, its InitIPAM rebuilds the
allocator from the objects, and the rescan is clean. See tests/live/kubeovn_cluster.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from live.conftest import EnvFactory
from live.kubeovn_cluster import KUBE_OVN, NS, Cluster, Disagreements, brief, problems, started

pytestmark = pytest.mark.usefixtures("ovn_tools")


@pytest.fixture
def cluster(live_env_factory: EnvFactory, tmp_path: Path) -> Iterator[Cluster]:
    with started(live_env_factory, "kube-ovn-incident", tmp_path) as c:
        yield c


def test_seed_incident_found_exactly_and_repaired_by_a_real_restart(
        cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = cluster
    d = Disagreements()
    c.subnet("external", "172.20.10.0/24", "172.20.10.1")
    # Five EIPs stay: repair refuses a subnet where over 20% of the in-use addresses look
    # leaked (--max-leak-ratio), which a subnet of two EIPs with one lost would be.
    kept_ips = {c.ovn_eip(f"eip-kept-{i}", "external")["status"]["v4Ip"] for i in range(5)}
    lost_ip = c.ovn_eip("eip-lost", "external")["status"]["v4Ip"]
    c.wait("Subnet external counts every OvnEip's address",
           lambda: kept_ips | {lost_ip} <= c.using("external"))

    # A clean cluster first (the negative control of what follows).
    code, before, _ = c.scan(capsys)
    d.expect("scan before the incident: warnings and errors", brief(problems(before)), [])
    d.expect("scan before the incident: exit code", code, 0)

    # The incident: finalizer stripped, object deleted; the controller's delete path never runs.
    path = f"{KUBE_OVN}/ovn-eips/eip-lost"
    c.strip_finalizers(path)
    c.delete(path)
    c.wait_gone(path)
    # The controller's own report still counts the address: that is the leak, by its account.
    assert lost_ip in c.using("external")

    code, report, _ = c.scan(capsys)
    found = problems(report)
    leak = [f for f in found if f["check"] == "leaked-ip"]
    # The leak itself is not negotiable: without it nothing below means anything.
    assert [(f["subnet"], f["ip"], f["severity"]) for f in leak] == \
        [("external", lost_ip, "error")], brief(found)
    d.expect("scan after the incident: every other warning and error",
             brief(f for f in found if f["check"] != "leaked-ip"), [])
    d.expect("scan after the incident: exit code", code, 4)

    leader = c.controller_pod()
    old_pod = leader["metadata"]["name"]
    journal = tmp_path / "journal.jsonl"
    code, out, err = c.repair(capsys, journal, "-o", "json", "--allow-controller-restart",
                              "--ack-hazards", "--wait-timeout", "3m")
    assert out.startswith("{"), (code, err)
    doc = json.loads(out)
    restart = [r for r in doc["results"] if r["action"] == "restart-controller"]
    assert [r["outcome"] for r in restart] == ["released"], (restart, err)
    d.expect("repair exit code", code, 1)

    # The supervisor behaved as the Deployment: the old pod is gone, a new one leads.
    assert c.get_or_none(f"/api/v1/namespaces/{NS}/pods/{old_pod}") is None
    new_pod = c.wait_new_leader(old_pod, ["external"])
    assert new_pod.startswith("kube-ovn-controller-")
    # The new leader rebuilt its allocator from the objects: the address is free again, the kept
    # EIP's is not.
    c.wait("the new leader's status of Subnet external no longer counts the leaked address",
           lambda: lost_ip not in c.using("external"))
    assert kept_ips <= c.using("external")

    code, after, _ = c.scan(capsys)
    assert [f for f in after["findings"] if f["check"] == "leaked-ip"] == []
    d.expect("rescan after the restart: warnings and errors", brief(problems(after)), [])
    d.expect("rescan after the restart: exit code", code, 0)

    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    intents = [e for e in entries if e["event"] == "intent"
               and e["action"]["action"] == "restart-controller"]
    assert len(intents) == 1
    assert old_pod in json.dumps(intents[0]["action"])
    outcomes = [e for e in entries if e["event"] == "outcome" and e["id"] == intents[0]["id"]]
    assert [o["outcome"] for o in outcomes] == ["released"]
    d.check()
