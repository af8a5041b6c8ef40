"""The seeder puts a snapshot into genuine servers, and what the servers then hold is the snapshot.

For both examples: every resource listed back through the apiserver (admin kubeconfig) and slimmed
with `eipfsck.snapshot.slim_object` equals what `load_snapshot(example).k8s` holds, except the
metadata the server sets; kinds absent from the snapshot are absent (404) from the API; every NB
table dumped with `ovn-nbctl --format=json list` equals the snapshot's table modulo row UUIDs.
On a fresh environment: what seeding fills in, terminating objects, quoted and float counts, the
NB_Global update path, refused input, and the project CRDs themselves.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from live.seed import (
    CRD_DIR,
    FIELD_MANAGER,
    HOLD_FINALIZER,
    TEST_ONLY_CRD_DIR,
    Api,
    ApiError,
    SeedError,
    resource_for,
    seed_snapshot,
)

from eipfsck.snapshot import (
    K8S_RESOURCES,
    NB_TABLES,
    decode_cell,
    decode_nb_table,
    load_snapshot,
    slim_object,
)

# Fields kube-apiserver v1.37 fills in by defaulting when a snapshot omits them (kubectl output
# carries them already; hand-written snapshots do not). List indices are written [].
SERVER_DEFAULTS: dict[str, frozenset[str]] = {
    "statefulsets.apps": frozenset({
        "spec.revisionHistoryLimit", "spec.persistentVolumeClaimRetentionPolicy",
        "spec.template.spec.restartPolicy", "spec.template.spec.terminationGracePeriodSeconds",
        "spec.template.spec.dnsPolicy", "spec.template.spec.securityContext",
        "spec.template.spec.schedulerName", "spec.template.spec.containers[].resources",
        "spec.template.spec.containers[].terminationMessagePath",
        "spec.template.spec.containers[].terminationMessagePolicy",
        "spec.template.spec.containers[].imagePullPolicy",
    }),
    "services": frozenset({"spec.internalTrafficPolicy"}),
}
SERVER_SET_METADATA = ("uid", "resourceVersion", "creationTimestamp")


@pytest.fixture(params=["leaky", "healthy"])
def example_env(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_env")


@pytest.fixture
def api(example_env: Any) -> Any:
    client = example_env.api()
    yield client
    client.close()


# ---------------------------------------------------------------------------
# Comparing objects


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _same(a: Any, b: Any) -> bool:
    # Counts: a float64 such as 1.8446744073709552e+19 comes back from the apiserver as the JSON
    # integer 18446744073709552000; both are the same float64.
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _zero(x: Any) -> bool:
    # Go's omitempty drops these from built-in objects (pod spec.hostNetwork false, ...).
    return x is None or x is False or x == 0 or x in ("", [], {})


def _compare(want: Any, have: Any, path: str, strict: bool,
             problems: list[str], extras: list[str]) -> None:
    if isinstance(want, dict) and isinstance(have, dict):
        for k, v in want.items():
            p = f"{path}.{k}" if path else k
            if k in have:
                _compare(v, have[k], p, strict, problems, extras)
            elif strict or not _zero(v):
                problems.append(f"{p}: missing from the server's object (snapshot: {v!r:.80})")
        for k in have.keys() - want.keys():
            p = f"{path}.{k}" if path else k
            (problems if strict else extras).append(p if strict else re.sub(r"\[\d+\]", "[]", p))
            if strict:
                problems[-1] += f": not in the snapshot (server: {have[k]!r:.80})"
    elif isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for i, (a, b) in enumerate(zip(want, have, strict=True)):
            _compare(a, b, f"{path}[{i}]", strict, problems, extras)
    elif not _same(want, have):
        problems.append(f"{path}: snapshot {want!r:.80} != server {have!r:.80}")


def _normal(obj: dict[str, Any], hold_ok: bool) -> dict[str, Any]:
    """Without server-set metadata; deletion timestamps reduced to 'terminating'."""
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    meta.pop("deletionGracePeriodSeconds", None)
    meta["terminating"] = meta.pop("deletionTimestamp", None) is not None
    if hold_ok and HOLD_FINALIZER in (meta.get("finalizers") or []):
        meta["finalizers"] = [f for f in meta["finalizers"] if f != HOLD_FINALIZER]
        if not meta["finalizers"]:
            del meta["finalizers"]
    return obj


def _key(obj: dict[str, Any]) -> tuple[str | None, str]:
    return obj["metadata"].get("namespace"), obj["metadata"]["name"]


def _label(key: tuple[str | None, str]) -> str:
    return f"{key[0]}/{key[1]}" if key[0] else key[1]


def _written_by_seeder(raw: dict[str, Any]) -> bool:
    return any(m.get("manager") == FIELD_MANAGER
               for m in raw["metadata"].get("managedFields") or [])


# ---------------------------------------------------------------------------
# The examples


def test_k8s_objects_equal_the_snapshot(example_env: Any, api: Api) -> None:
    snap = load_snapshot(example_env.snapshot)
    seeded = example_env.seeded
    problems: list[str] = []
    for stem in K8S_RESOURCES:
        if stem not in snap.k8s:
            continue
        res = resource_for(stem)
        strict = res.crd is not None     # no defaulting, no omitempty: exactly the snapshot
        live_raw = {_key(o): o for o in api.get(res.collection_path())["items"]}
        want = {_key(o): o for o in snap.k8s[stem]}
        for key, obj in want.items():
            where = f"{stem} {_label(key)}"
            if key not in live_raw:
                problems.append(f"{where}: not on the server")
                continue
            slim, fld, msg = slim_object(stem, live_raw[key])
            assert slim is not None, f"{where}: server object not readable: {fld}: {msg}"
            hold_ok = f"{stem} {_label(key)}" in seeded.hold_finalizers
            found: list[str] = []
            extras: list[str] = []
            _compare(_normal(obj, False), _normal(slim, hold_ok), "", strict, found, extras)
            unexpected = sorted(set(extras) - SERVER_DEFAULTS.get(stem, frozenset()))
            found += [f"{p}: not in the snapshot and not a known server default"
                      for p in unexpected]
            problems += [f"{where}: {p}" for p in found]
        for key in live_raw.keys() - want.keys():
            # Objects the apiserver makes for itself (namespace kube-public, its lease, ...).
            if stem == "namespaces" and key[1] in seeded.namespaces_added:
                continue
            if _written_by_seeder(live_raw[key]):
                problems.append(f"{stem} {_label(key)}: written by the seeder, not in the "
                                "snapshot")
    assert not problems, "\n".join(problems)


def test_kinds_absent_from_the_snapshot_are_absent(example_env: Any, api: Api) -> None:
    snap = load_snapshot(example_env.snapshot)
    absent = [s for s in K8S_RESOURCES if s not in snap.k8s]
    # Both examples lack router-lb-rules and switch-lb-rules: the check has something to check.
    assert {"router-lb-rules.kubeovn.io", "switch-lb-rules.kubeovn.io"} <= set(absent)
    for stem in absent:
        res = resource_for(stem)
        assert res.crd is not None, f"{stem}: a built-in kind cannot be absent from an apiserver"
        for path in (res.collection_path(),
                     f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{stem}"):
            with pytest.raises(ApiError) as err:
                api.get(path)
            assert err.value.status == 404, f"{stem}: GET {path}: {err.value}"


def test_seed_result_reports_what_was_written(example_env: Any) -> None:
    root: Path = example_env.snapshot
    seeded = example_env.seeded
    files = {p.name[:-len(".json")]: p for p in (root / "k8s").glob("*.json")}
    assert seeded.k8s == {s: len(json.loads(p.read_text())["items"]) for s, p in files.items()}
    tables = {p.name[:-len(".json")]: p for p in (root / "nb").glob("*.json")}
    assert seeded.nb == {t: len(json.loads(p.read_text())["data"]) for t, p in tables.items()}
    assert sorted(seeded.crds) == sorted(
        s for s in files if resource_for(s).crd is not None)
    # The examples are complete kubectl output: nothing had to be filled in, and the only objects
    # that existed before are the apiserver's own.
    assert seeded.filled == []
    assert seeded.hold_finalizers == [] and seeded.terminating == []
    assert seeded.namespaces_added == []
    assert sorted(seeded.adopted) == [
        "namespaces default", "namespaces kube-system", "services default/kubernetes"]
    assert seeded.nb_global == "inserted"
    assert seeded.nb_dropped_refs == [] and seeded.nb_skipped_columns == []


def _nbctl_list(remote: str, table: str) -> Any:
    nbctl = shutil.which("ovn-nbctl")
    assert nbctl, "ovn-nbctl not installed (scripts/test-env up installs it)"
    out = subprocess.run([nbctl, f"--db={remote}", "--format=json", "list", table],
                         capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def _canonical(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """Rows with every reference replaced by what it points at (a row's name, else its
    content), sets sorted: equal for two databases that differ only in row UUIDs."""
    rows = {r["_uuid"]: (t, r) for t, rs in tables.items() for r in rs}

    def label(uuid: str, seen: frozenset[str]) -> str:
        table, row = rows[uuid]
        if isinstance(row.get("name"), str) and row["name"]:
            return f"{table}:{row['name']}"
        if uuid in seen:
            return f"{table}:(cycle)"
        return f"{table}:{json.dumps(content(row, seen | {uuid}), sort_keys=True)}"

    def value(v: Any, seen: frozenset[str]) -> Any:
        if isinstance(v, str) and v in rows:
            return "->" + label(v, seen)
        if isinstance(v, list):
            return sorted((value(x, seen) for x in v), key=json.dumps)
        if isinstance(v, dict):
            return {k: value(x, seen) for k, x in v.items()}
        return v

    def content(row: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
        return {k: value(v, seen) for k, v in row.items() if k != "_uuid"}

    return {t: sorted((content(r, frozenset()) for r in rs), key=json.dumps)
            for t, rs in tables.items()}


def _all_columns(doc: dict[str, Any], columns: list[str]) -> list[dict[str, Any]]:
    idx = [doc["headings"].index(c) for c in columns]
    return [{c: decode_cell(row[i]) for c, i in zip(columns, idx, strict=True)}
            for row in doc["data"]]


def test_nb_tables_equal_the_snapshot(example_env: Any) -> None:
    snap = load_snapshot(example_env.snapshot)
    assert snap.nb is not None
    remote = example_env.nb_unix
    live_docs = {t: _nbctl_list(remote, t) for t in NB_TABLES}
    # The columns eipfsck reads, decoded as eipfsck decodes them.
    live = {t: decode_nb_table(t, doc, f"{remote} {t}") for t, doc in live_docs.items()}
    assert _canonical(live) == _canonical(snap.nb)
    # And every column of every row, as the snapshot files give them.
    want, have = {}, {}
    for t in NB_TABLES:
        doc = json.loads((example_env.snapshot / "nb" / f"{t}.json").read_text())
        want[t] = _all_columns(doc, doc["headings"])
        have[t] = _all_columns(live_docs[t], doc["headings"])
    assert _canonical(have) == _canonical(want)


# ---------------------------------------------------------------------------
# A hand-written snapshot on a fresh environment


def _write_snapshot(root: Path, k8s: dict[str, list[dict[str, Any]]],
                    nb: dict[str, tuple[list[str], list[list[Any]]]] | None = None) -> Path:
    (root / "k8s").mkdir(parents=True)
    for stem, items in k8s.items():
        (root / "k8s" / f"{stem}.json").write_text(json.dumps({"kind": "List", "items": items}))
    if nb is not None:
        (root / "nb").mkdir()
        for table, (headings, data) in nb.items():
            (root / "nb" / f"{table}.json").write_text(
                json.dumps({"headings": headings, "data": data}))
    return root


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta = {"name": name, "uid": "11111111-2222-3333-4444-555555555555",
            "resourceVersion": "4711", "creationTimestamp": "2025-01-01T00:00:00Z", **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


GONE = {"deletionTimestamp": "2025-01-02T00:00:00Z", "deletionGracePeriodSeconds": 0}
LS_UUID, LSP_UUID = "0b0e6f2e-0000-4000-8000-000000000001", "0b0e6f2e-0000-4000-8000-000000000002"
ACL_UUID = "0b0e6f2e-0000-4000-8000-00000000000a"


def _small_snapshot(root: Path) -> Path:
    return _write_snapshot(root, {
        "namespaces": [
            {"metadata": _meta("keep")},
            {"metadata": _meta("dying", **GONE), "spec": {"finalizers": ["kubernetes"]}},
        ],
        "configmaps": [{"metadata": _meta("in-dying", "dying"), "data": {"k": "v"}}],
        "subnets.kubeovn.io": [{
            "metadata": _meta("s1", finalizers=["kubeovn.io/kube-ovn-controller"]),
            "spec": {"cidrBlock": "fd00:20::/64", "protocol": "IPv6", "provider": "ovn"},
            "status": {"v4availableIPs": 0, "v6availableIPs": 1.8446744073709552e+19,
                       "v6usingIPs": "12", "availableIPs": "251", "v6usingIPrange": ""},
        }],
        "vips.kubeovn.io": [{
            "metadata": _meta("vip-gone", **GONE),
            "spec": {"subnet": "s1"}, "status": {"v6ip": "fd00:20::5", "mac": "00:00:00:0a:0b:0c"},
        }],
        "ovn-eips.kubeovn.io": [{
            "metadata": _meta("eip-gone", finalizers=["kube-ovn-controller"], **GONE),
            "spec": {"externalSubnet": "s1", "type": "nat"},
            "status": {"v6Ip": "fd00:20::6", "ready": True},
        }],
        "pods": [{
            "metadata": _meta("bare", "elsewhere", deletionTimestamp="2025-01-02T00:00:00Z",
                              deletionGracePeriodSeconds=30),
            "spec": {"nodeName": "node1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIP": "10.16.0.5",
                       "podIPs": [{"ip": "10.16.0.5"}]},
        }],
        "statefulsets.apps": [{"metadata": _meta("bare-sts", "keep"), "spec": {"replicas": 1}}],
        "services": [{"metadata": _meta("noports", "keep"),
                      "spec": {"clusterIP": "10.96.5.5", "clusterIPs": ["10.96.5.5"]}}],
    }, nb={
        "NB_Global": (["_uuid", "external_ids", "nb_cfg"],
                      [[["uuid", "0b0e6f2e-0000-4000-8000-0000000000ff"],
                        ["map", [["kube-ovn-version", "v1.16.2"]]], 7]]),
        "Logical_Switch": (["_uuid", "name", "ports", "acls", "external_ids"],
                           [[["uuid", LS_UUID], "ls1", ["uuid", LSP_UUID],
                             ["set", [["uuid", ACL_UUID]]], ["map", [["vendor", "kube-ovn"]]]]]),
        "Logical_Switch_Port": (["_uuid", "name", "addresses", "external_ids"],
                                [[["uuid", LSP_UUID], "p1.ns1", "00:00:00:0a:0b:0d 10.16.0.5",
                                  ["map", [["ls", "ls1"], ["pod", "ns1/p1"]]]]]),
    })


def test_seed_fills_what_the_server_requires_and_makes_objects_terminating(
        fresh_env: Any, tmp_path: Path) -> None:
    # An NB_Global row made by ovn-nbctl before seeding: seeding updates it.
    subprocess.run(["ovn-nbctl", f"--db={fresh_env.nb_unix}", "init"], check=True, timeout=30)
    snapshot = _small_snapshot(tmp_path / "snap")
    result = seed_snapshot(snapshot, fresh_env.kubeconfig, fresh_env.nb_ssl,
                           nb_ssl_files=fresh_env.nb_ssl_files)

    assert sorted(result.crds) == ["ovn-eips.kubeovn.io", "subnets.kubeovn.io", "vips.kubeovn.io"]
    assert result.namespaces_added == ["elsewhere"]
    filled = "\n".join(result.filled)
    assert "k8s/pods.json: elsewhere/bare: spec.containers missing" in filled
    assert "k8s/statefulsets.apps.json: keep/bare-sts: spec.selector missing" in filled
    assert "k8s/statefulsets.apps.json: keep/bare-sts: spec.template missing" in filled
    assert "k8s/services.json: keep/noports: spec.ports missing" in filled
    assert len(result.filled) == 4, filled
    assert sorted(result.hold_finalizers) == ["pods elsewhere/bare", "vips.kubeovn.io vip-gone"]
    assert sorted(result.terminating) == [
        "namespaces dying", "ovn-eips.kubeovn.io eip-gone", "pods elsewhere/bare",
        "vips.kubeovn.io vip-gone"]
    assert result.nb_global == "updated"
    assert result.nb == {"NB_Global": 1, "Logical_Switch": 1, "Logical_Switch_Port": 1}
    assert result.nb_dropped_refs == [
        f"nb/Logical_Switch.json: Logical_Switch 'ls1' ({LS_UUID}): acls -> ACL {ACL_UUID} "
        "(row not in the snapshot)"]

    api = fresh_env.api()
    try:
        subnet = api.get("/apis/kubeovn.io/v1/subnets/s1")
        status = subnet["status"]
        assert status["v4availableIPs"] == 0
        assert float(status["v6availableIPs"]) == 1.8446744073709552e+19
        assert status["v6usingIPs"] == "12" and status["availableIPs"] == "251"

        vip = api.get("/apis/kubeovn.io/v1/vips/vip-gone")
        assert vip["metadata"]["deletionTimestamp"]
        assert vip["metadata"]["finalizers"] == [HOLD_FINALIZER]
        assert vip["status"] == {"v6ip": "fd00:20::5", "mac": "00:00:00:0a:0b:0c"}
        with pytest.raises(ApiError) as err:   # Vip: no status subresource
            api.get("/apis/kubeovn.io/v1/vips/vip-gone/status")
        assert err.value.status == 404

        eip = api.get("/apis/kubeovn.io/v1/ovn-eips/eip-gone")
        assert eip["metadata"]["deletionTimestamp"]
        assert eip["metadata"]["finalizers"] == ["kube-ovn-controller"]
        assert eip["status"] == {"v6Ip": "fd00:20::6", "ready": True}

        pod = api.get("/api/v1/namespaces/elsewhere/pods/bare")
        assert pod["metadata"]["deletionTimestamp"]
        assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
        assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "10.16.0.5"

        sts = api.get("/apis/apps/v1/namespaces/keep/statefulsets/bare-sts")
        assert sts["spec"]["replicas"] == 1
        assert sts["spec"]["selector"] == {
            "matchLabels": {"eipfsck.test/workload": "bare-sts"}}

        svc = api.get("/api/v1/namespaces/keep/services/noports")
        assert svc["spec"]["clusterIP"] == "10.96.5.5"

        ns = api.get("/api/v1/namespaces/dying")
        assert ns["status"]["phase"] == "Terminating"
        assert api.get("/api/v1/namespaces/dying/configmaps/in-dying")["data"] == {"k": "v"}
    finally:
        api.close()

    nb_global = decode_nb_table("NB_Global", _nbctl_list(fresh_env.nb_unix, "NB_Global"), "")
    assert len(nb_global) == 1
    assert nb_global[0]["external_ids"] == {"kube-ovn-version": "v1.16.2"}
    ls = decode_nb_table("Logical_Switch", _nbctl_list(fresh_env.nb_unix, "Logical_Switch"), "")
    lsp = decode_nb_table("Logical_Switch_Port",
                          _nbctl_list(fresh_env.nb_unix, "Logical_Switch_Port"), "")
    assert [r["name"] for r in ls] == ["ls1"] and ls[0]["ports"] == lsp[0]["_uuid"]
    assert lsp[0]["addresses"] == "00:00:00:0a:0b:0d 10.16.0.5"


def test_seed_refuses_what_the_servers_cannot_hold(fresh_env: Any, tmp_path: Path) -> None:
    # A logical switch port that no switch lists: ovsdb-server would garbage-collect it. This is
    # found before anything is written.
    orphan = _write_snapshot(tmp_path / "orphan", {
        "namespaces": [{"metadata": _meta("never")}],
    }, nb={"Logical_Switch_Port": (["_uuid", "name"], [[["uuid", LSP_UUID], "lost"]])})
    with pytest.raises(SeedError, match=r"nb/Logical_Switch_Port.json: Logical_Switch_Port "
                                        r"'lost' .* would delete it"):
        seed_snapshot(orphan, fresh_env.kubeconfig, fresh_env.nb_unix)
    api = fresh_env.api()
    try:
        assert not api.exists("/api/v1/namespaces/never")

        # A cluster IP outside the test apiserver's --service-cluster-ip-range=10.96.0.0/16.
        outside = _write_snapshot(tmp_path / "outside", {"services": [{
            "metadata": _meta("far", "default"),
            "spec": {"clusterIP": "172.20.0.10", "ports": [{"port": 53}]},
        }]})
        with pytest.raises(SeedError, match=r"k8s/services.json: default/far: create failed: .*"
                                            r"172\.20\.0\.10"):
            seed_snapshot(outside, fresh_env.kubeconfig, None)
    finally:
        api.close()


# ---------------------------------------------------------------------------
# The project's CRDs


# Kube-OVN's own declarations (charts/kube-ovn-v2/crds/kube-ovn-crd.yaml):
# kind, scope, subresources.
KUBE_OVN = {
    "subnets": ("Subnet", "Cluster", {"status"}),
    "ips": ("IP", "Cluster", set()),
    "vips": ("Vip", "Cluster", set()),
    "ovn-eips": ("OvnEip", "Cluster", {"status"}),
    "ovn-fips": ("OvnFip", "Cluster", {"status"}),
    "ovn-snat-rules": ("OvnSnatRule", "Cluster", {"status"}),
    "ovn-dnat-rules": ("OvnDnatRule", "Cluster", {"status"}),
    "iptables-eips": ("IptablesEIP", "Cluster", {"status"}),
    "iptables-fip-rules": ("IptablesFIPRule", "Cluster", {"status"}),
    "iptables-snat-rules": ("IptablesSnatRule", "Cluster", {"status"}),
    "iptables-dnat-rules": ("IptablesDnatRule", "Cluster", {"status"}),
    "vpc-nat-gateways": ("VpcNatGateway", "Cluster", {"status"}),
    "vpc-egress-gateways": ("VpcEgressGateway", "Namespaced", {"status", "scale"}),
    "vpcs": ("Vpc", "Cluster", {"status"}),
    "ippools": ("IPPool", "Cluster", {"status"}),
    "router-lb-rules": ("RouterLBRule", "Cluster", {"status"}),
    "switch-lb-rules": ("SwitchLBRule", "Cluster", {"status"}),
}


def test_project_crds_install_and_declare_what_kube_ovn_declares(
        fresh_env: Any, install_crds: Any) -> None:
    stems = [s for s in K8S_RESOURCES if s.endswith(".kubeovn.io")]
    assert sorted(p.name for p in CRD_DIR.glob("*.yaml")) == sorted(f"{s}.yaml" for s in stems)
    assert {s[:-len(".kubeovn.io")] for s in stems} == set(KUBE_OVN)
    test_only = sorted(p.name[:-len(".yaml")] for p in TEST_ONLY_CRD_DIR.glob("*.yaml"))
    assert test_only == ["network-attachment-definitions.k8s.cni.cncf.io",
                         "virtualmachines.kubevirt.io"]
    assert sorted(install_crds(fresh_env, stems + test_only)) == sorted(stems + test_only)
    api = fresh_env.api()
    try:
        for plural, (kind, scope, subresources) in KUBE_OVN.items():
            crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                          f"{plural}.kubeovn.io")
            spec = crd["spec"]
            assert (spec["group"], spec["names"]["plural"], spec["names"]["kind"],
                    spec["names"]["listKind"], spec["scope"]) == (
                "kubeovn.io", plural, kind, f"{kind}List", scope), plural
            (version,) = spec["versions"]
            assert version["name"] == "v1"
            assert set(version.get("subresources") or {}) == subresources, plural
            schema = version["schema"]["openAPIV3Schema"]["properties"]
            assert schema["spec"]["x-kubernetes-preserve-unknown-fields"] is True
            if "status" in schema:
                assert schema["status"]["x-kubernetes-preserve-unknown-fields"] is True
        for stem, scope in (("virtualmachines.kubevirt.io", "Namespaced"),
                            ("network-attachment-definitions.k8s.cni.cncf.io", "Namespaced")):
            crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{stem}")
            assert crd["spec"]["scope"] == scope
    finally:
        api.close()
