"""The snapshot loader: directory and archive, unsafe archives, and every way input goes bad.

Bad input must end as one clear message and the documented exit code (README "Exit
codes"): 8 for input that cannot be read, 16 for a usage error. A bad object inside a
readable file is skipped and reported (malformed-object), and the scan goes on.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from builders import Cluster, k8s

import eipfsck.snapshot
from eipfsck.errors import InputError, UsageError
from eipfsck.snapshot import load_snapshot

# -- helpers ------------------------------------------------------------------------


def run(*args: str, columns: int = 400) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process. A wide COLUMNS keeps messages with long tmp
    paths on one line here; test_error_message_is_one_line covers the 80-column case."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("EIPFSCK_DEBUG", "FORCE_COLOR", "NO_COLOR", "TERM")}
    env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "eipfsck", *args], capture_output=True,
                          text=True, env=env, check=False)


def scan(snapshot: Path | str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("scan", "--snapshot", str(snapshot), *extra)


def scan_json(snapshot: Path | str, *extra: str) -> tuple[int, dict[str, Any]]:
    p = scan(snapshot, "-o", "json", *extra)
    assert "Traceback" not in p.stderr
    return p.returncode, json.loads(p.stdout)


def error_of(p: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in p.stderr, p.stderr
    assert p.stdout == "", "nothing may reach stdout when the input is unreadable"
    assert p.stderr.startswith("eipfsck: error: "), p.stderr
    return p.stderr


def sample(root: Path) -> Path:
    """A small cluster with a leak and an owner inside excludeIps: several findings."""
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", exclude=["10.0.0.1", "10.0.0.12..10.0.0.14"],
             using=["10.0.0.2", "10.0.0.3", "10.0.0.4"], count=2)
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.pod("b", "ns1", "10.0.0.3", "net1")
    c.ip_cr("b.ns1", "net1", "10.0.0.3", pod="b", ns="ns1")
    c.pod("x", "ns1", "10.0.0.12", "net1")
    c.subnet("v6", "fd00:10::/120", using=["fd00:10::5", "fd00:10::6"], count=1)
    c.vip("vip6", "v6", v6="fd00:10::5")
    return c.write(root)


def make_tar(src: Path, dest: Path, top: str | None) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src, arcname=top if top is not None else ".")
    return dest


def tar_with(dest: Path, snapshot: Path, *extra: tarfile.TarInfo) -> Path:
    """A good snapshot archive plus hand-made extra members."""
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(snapshot, arcname="snap")
        for info in extra:
            data = b"{}" if info.isfile() else None
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


# -- directory and archive give the same scan -----------------------------------------


def test_directory_and_archives_give_the_same_findings(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    code, direct = scan_json(snap)
    assert code == 4
    checks = {f["check"] for f in direct["findings"]}
    assert {"leaked-ip", "owner-ip-excluded"} <= checks
    for top in ("snapshot-2026", None):
        archive = make_tar(snap, tmp_path / f"snap-{top}.tar.gz", top)
        code2, via_tar = scan_json(archive)
        assert code2 == code
        assert via_tar["findings"] == direct["findings"]
        assert via_tar["subnets"] == direct["subnets"]
        assert via_tar["absent"] == direct["absent"]
        assert via_tar["captured_at"] == direct["captured_at"]


def test_archive_without_top_folder_and_without_dot_prefix(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    archive = tmp_path / "flat.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(snap.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(snap)), recursive=False)
    _, direct = scan_json(snap)
    _, flat = scan_json(archive)
    assert flat["findings"] == direct["findings"]


def test_load_snapshot_reads_the_same_objects_from_an_archive(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    a = load_snapshot(snap)
    b = load_snapshot(make_tar(snap, tmp_path / "s.tar.gz", "top"))
    assert a.k8s == b.k8s
    assert a.nb == b.nb is None
    assert [(s.name, s.state, s.count) for s in a.sources] == [
        (s.name, s.state, s.count) for s in b.sources]
    assert a.captured_at_source == "snapshot meta.json" and a.captured_at == b.captured_at


# -- unsafe archives ------------------------------------------------------------------------


@pytest.mark.parametrize(("info", "said"), [
    (member("/etc/evil.json"), "unsafe entry '/etc/evil.json' (absolute or '..')"),
    (member("snap/../../evil.json"), "unsafe entry 'snap/../../evil.json' (absolute or '..')"),
    (member("snap/k8s/nodes.json", tarfile.SYMTYPE, "/etc/passwd"),
     "entry 'snap/k8s/nodes.json' is a link"),
    (member("snap/k8s/evil.json", tarfile.LNKTYPE, "snap/meta.json"),
     "entry 'snap/k8s/evil.json' is a link"),
], ids=["absolute", "dotdot", "symlink", "hardlink"])
def test_unsafe_archive_is_refused_naming_the_entry(tmp_path: Path, info: tarfile.TarInfo,
                                                    said: str) -> None:
    snap = sample(tmp_path / "snap")
    archive = tar_with(tmp_path / "evil.tar.gz", snap, info)
    p = scan(archive)
    assert p.returncode == 8
    err = error_of(p)
    assert f"{archive}: {said}" in err
    assert err.rstrip().endswith("refusing")
    with pytest.raises(InputError, match="refusing"):
        load_snapshot(archive)


def test_size_cap_refuses_an_archive_that_unpacks_too_large(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = sample(tmp_path / "snap")
    archive = make_tar(snap, tmp_path / "s.tar.gz", "snap")
    total = sum(p.stat().st_size for p in snap.rglob("*") if p.is_file())
    monkeypatch.setattr(eipfsck.snapshot, "MAX_TAR_BYTES", total)
    assert load_snapshot(archive).items("pods")  # exactly at the cap: fine
    monkeypatch.setattr(eipfsck.snapshot, "MAX_TAR_BYTES", total - 1)
    with pytest.raises(InputError, match="refusing") as exc:
        load_snapshot(archive)
    assert str(archive) in exc.value.message


def test_member_cap_refuses_an_archive_with_too_many_entries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = sample(tmp_path / "snap")
    archive = make_tar(snap, tmp_path / "s.tar.gz", "snap")
    monkeypatch.setattr(eipfsck.snapshot, "MAX_TAR_MEMBERS", 3)
    with pytest.raises(InputError, match="more than 3 entries"):
        load_snapshot(archive)


def test_truncated_archive_is_an_input_error(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    archive = make_tar(snap, tmp_path / "s.tar.gz", "snap")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    p = scan(cut)
    assert p.returncode == 8
    err = error_of(p)
    assert f"{cut}: truncated or corrupt archive" in err


# -- missing and unreadable input -----------------------------------------------------------


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    p = scan(tmp_path / "nope")
    assert p.returncode == 16
    assert str(tmp_path / "nope") in error_of(p)
    with pytest.raises(UsageError):
        load_snapshot(tmp_path / "nope")


def test_a_plain_file_is_not_a_snapshot(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    p = scan(f)
    assert p.returncode == 16
    assert str(f) in error_of(p)


def test_missing_subnets_file(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    (snap / "k8s" / "subnets.kubeovn.io.json").unlink()
    p = scan(snap)
    assert p.returncode == 8
    err = error_of(p)
    assert f"{snap / 'k8s' / 'subnets.kubeovn.io.json'}: missing;" in err


@pytest.mark.parametrize("cut", [
    lambda t: t.index('"items": [') + len('"items": ['),  # between tokens
    lambda t: t.index(",\n", t.index('"metadata"')) + 1,  # after a comma
    lambda t: t.index("logical_switch") + 4,  # inside a string: "ovn.kubernetes.io/logi
    lambda t: t.index("Running") - 1,  # before a string value
    lambda t: len(t) // 2,
], ids=["after-bracket", "after-comma", "in-string", "before-string", "half"])
def test_truncated_json_names_the_file_and_the_line(tmp_path: Path, cut: Any) -> None:
    snap = sample(tmp_path / "snap")
    pods = snap / "k8s" / "pods.json"
    text = json.dumps(json.loads(pods.read_text()), indent=2)
    pods.write_text(text[: cut(text)])
    p = scan(snap)
    assert p.returncode == 8
    err = error_of(p)
    assert re.search(rf"{re.escape(str(pods))}: truncated JSON at line \d+, column \d+", err), err


def test_invalid_json_is_not_called_truncated(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    vips = snap / "k8s" / "vips.kubeovn.io.json"
    vips.write_text('{"kind": "List", "items": [}\n')
    p = scan(snap)
    assert p.returncode == 8
    err = error_of(p)
    assert f"{vips}: invalid JSON at line 1" in err


@pytest.mark.parametrize("doc", [[], {"kind": "Pod"}, {"kind": "Pod", "items": []},
                                 {"kind": "List", "items": {}}, "items"])
def test_a_k8s_file_that_is_not_a_list(tmp_path: Path, doc: Any) -> None:
    snap = sample(tmp_path / "snap")
    target = snap / "k8s" / "vips.kubeovn.io.json"
    target.write_text(json.dumps(doc))
    p = scan(snap)
    assert p.returncode == 8
    assert str(target) in error_of(p)


def test_a_kind_specific_list_is_accepted(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    target = snap / "k8s" / "vips.kubeovn.io.json"
    doc = json.loads(target.read_text())
    doc["kind"] = "VipList"
    target.write_text(json.dumps(doc))
    assert load_snapshot(snap).items("vips.kubeovn.io")


def test_meta_json_that_is_not_an_object(tmp_path: Path) -> None:
    snap = sample(tmp_path / "snap")
    (snap / "meta.json").write_text("[1, 2]")
    p = scan(snap)
    assert p.returncode == 8
    assert str(snap / "meta.json") in error_of(p)


# -- malformed objects: skipped, reported, the rest still checked --------------------------


def malformed_cluster(root: Path) -> Path:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2", "10.0.0.3"], count=1)
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    c.ip_cr("stray", "net1", "10.9.9.9", pod="a", ns="ns1")  # out of the CIDR
    # no metadata.name
    c.add("pods", {"metadata": {"namespace": "ns1", "annotations": {}}, "spec": {}})
    # annotations as a list
    bad = c.add("nodes", k8s("node1"))
    bad["metadata"]["annotations"] = ["ovn.kubernetes.io/ip_address=10.0.0.9"]
    return c.write(root)


def test_malformed_objects_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    snap = malformed_cluster(tmp_path / "snap")
    code, report = scan_json(snap)
    assert code & 8, "a partial source makes the result inconclusive"
    assert code & 4, "the other findings in the same snapshot are still reported"
    malformed = [f for f in report["findings"] if f["check"] == "malformed-object"]
    by_file = {Path(f["evidence"]["file"]).name: f for f in malformed}
    assert set(by_file) == {"pods.json", "nodes.json"}
    pod = by_file["pods.json"]
    assert pod["evidence"]["file"] == str(snap / "k8s" / "pods.json")
    assert pod["evidence"]["object"] == "items[1]"
    assert pod["evidence"]["field"] == "metadata.name"
    node = by_file["nodes.json"]
    assert node["evidence"]["object"] == "node1"
    assert node["evidence"]["field"] == "metadata.annotations"
    for f in malformed:
        assert f["evidence"]["file"] in f["message"] and f["evidence"]["field"] in f["message"]
    state = {s["name"]: s["state"] for s in report["sources"]}
    assert state["pods"] == "partial" and state["nodes"] == "partial"
    assert state["ips.kubeovn.io"] == "complete"
    assert any(r.startswith("pods: partial") for r in report["inconclusive"])
    # the well-formed objects were still read and checked ...
    assert [f["ip"] for f in report["findings"] if f["check"] == "owner-ip-out-of-cidr"] == [
        "10.9.9.9"]
    # ... but a skipped pod could be an owner: no leak is claimed on partial owner lists.
    skipped = {s["check"]: s["reason"] for s in report["checks"]["skipped"]}
    assert "read only in part" in skipped["leaked-ip"]
    assert not [f for f in report["findings"] if f["check"] == "leaked-ip"]
    sources = {s["name"]: s for s in report["sources"]}
    assert sources["pods"]["count"] == 1


def test_malformed_object_in_process(tmp_path: Path) -> None:
    snap = load_snapshot(malformed_cluster(tmp_path / "snap"))
    assert sorted((p.obj, p.field) for p in snap.problems) == [
        ("items[1]", "metadata.name"), ("node1", "metadata.annotations")]
    assert [o["metadata"]["name"] for o in snap.items("pods")] == ["a"]
    assert snap.items("nodes") == []


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda o: o.pop("metadata"), "metadata"),
    (lambda o: o["metadata"].update(name=""), "metadata.name"),
    (lambda o: o["metadata"].pop("namespace"), "metadata.namespace"),
    (lambda o: o["metadata"].update(labels={"app": 5}), "metadata.labels[app]"),
    (lambda o: o["metadata"].update(finalizers="x"), "metadata.finalizers"),
    (lambda o: o.update(status=[]), "status"),
])
def test_each_kind_of_malformed_pod_names_its_field(tmp_path: Path, mutate: Any,
                                                    field: str) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    pod = c.pod("a", "ns1", "10.0.0.2", "net1")
    mutate(pod)
    snap = load_snapshot(c.write(tmp_path / "snap"))
    assert [p.field for p in snap.problems] == [field]
    (pods,) = [s for s in snap.sources if s.name == "pods"]
    assert pods.state == "partial"


# -- NB tables ------------------------------------------------------------------------------


def nb_cluster(root: Path) -> Path:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    port = c.lsp("a.ns1", "net1", ["00:00:00:00:00:01 10.0.0.2"],
                 external_ids={"pod": "ns1/a"})
    c.switch("net1", port)
    return c.write(root)


def test_nb_tables_are_read(tmp_path: Path) -> None:
    snap = load_snapshot(nb_cluster(tmp_path / "snap"))
    assert snap.nb is not None
    (lsp,) = snap.nb_rows("Logical_Switch_Port")
    assert lsp["name"] == "a.ns1"
    assert lsp["addresses"] == "00:00:00:00:00:01 10.0.0.2"  # a one-element set, bare
    assert lsp["external_ids"]["pod"] == "ns1/a"
    states = {s.name: s.state for s in snap.sources if s.origin == "nb"}
    assert set(states.values()) == {"complete"}


def test_malformed_nb_cell_names_the_table(tmp_path: Path) -> None:
    snap = nb_cluster(tmp_path / "snap")
    path = snap / "nb" / "Logical_Switch_Port.json"
    doc = json.loads(path.read_text())
    doc["data"][0][doc["headings"].index("addresses")] = ["bogus", 1]
    path.write_text(json.dumps(doc))
    p = scan(snap)
    assert p.returncode == 8
    err = error_of(p)
    assert "NB table Logical_Switch_Port, row 0, column addresses: malformed cell" in err


def test_nb_file_that_is_not_nbctl_json(tmp_path: Path) -> None:
    snap = nb_cluster(tmp_path / "snap")
    (snap / "nb" / "NAT.json").write_text(json.dumps({"rows": []}))
    p = scan(snap)
    assert p.returncode == 8
    assert "NB table NAT is not ovn-nbctl JSON" in error_of(p)


def test_nb_row_with_the_wrong_number_of_cells(tmp_path: Path) -> None:
    snap = nb_cluster(tmp_path / "snap")
    path = snap / "nb" / "Logical_Switch.json"
    doc = json.loads(path.read_text())
    doc["data"][0] = doc["data"][0][:-1]
    path.write_text(json.dumps(doc))
    p = scan(snap)
    assert p.returncode == 8
    assert "NB table Logical_Switch, row 0: expected 5 cells" in error_of(p)


def test_no_nb_directory_skips_nb_checks_without_bit_8(tmp_path: Path) -> None:
    c = Cluster()
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    snap = c.write(tmp_path / "snap")
    assert not (snap / "nb").exists()
    code, report = scan_json(snap)
    assert code == 0
    skipped = {s["check"]: s["reason"] for s in report["checks"]["skipped"]}
    for cid in ("orphan-nb-lsp", "orphan-nb-lrp", "orphan-nb-nat", "orphan-nb-lb",
                "nb-address-drift"):
        assert "northbound" in skipped[cid]
        assert cid not in report["checks"]["run"]
    nb_states = {s["state"] for s in report["sources"] if s["origin"] == "nb"}
    assert nb_states == {"skipped"}
    assert report["inconclusive"] == []


def test_with_nb_directory_nb_checks_run(tmp_path: Path) -> None:
    code, report = scan_json(nb_cluster(tmp_path / "snap"))
    assert "orphan-nb-lsp" in report["checks"]["run"]
    assert "orphan-nb-lsp" not in {s["check"] for s in report["checks"]["skipped"]}
    assert code == 0, report["findings"]


# -- absent kinds ----------------------------------------------------------------------------


def test_absent_optional_kind_is_listed(tmp_path: Path) -> None:
    c = Cluster(omit={"statefulsets.apps"})
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.pod("a", "ns1", "10.0.0.2", "net1")
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    code, report = scan_json(c.write(tmp_path / "snap"))
    assert "statefulsets.apps" in report["absent"]
    assert "pods" not in report["absent"]
    (src,) = [s for s in report["sources"] if s["name"] == "statefulsets.apps"]
    assert src["state"] == "absent"
    assert code == 0


def test_absent_owner_kind_skips_the_leak_check_and_sets_bit_8(tmp_path: Path) -> None:
    c = Cluster(omit={"pods"})
    c.subnet("net1", "10.0.0.0/28", using=["10.0.0.2"])
    c.ip_cr("a.ns1", "net1", "10.0.0.2", pod="a", ns="ns1")
    code, report = scan_json(c.write(tmp_path / "snap"))
    assert "pods" in report["absent"]
    skipped = {s["check"]: s["reason"] for s in report["checks"]["skipped"]}
    assert "leaked-ip" in skipped
    assert "pods" in skipped["leaked-ip"]
    assert "leaked-ip" not in report["checks"]["run"]
    assert not [f for f in report["findings"] if f["check"] == "leaked-ip"]
    assert code & 8
    assert any("pods" in r for r in report["inconclusive"])


# -- messages ---------------------------------------------------------------------------------


def test_error_message_is_one_line_even_for_long_paths(tmp_path: Path) -> None:
    """cli.py: 'one line on stderr'; an operator greps CI logs for the path it names."""
    snap = sample(tmp_path / ("a-long-directory-name-" * 3) / "snap")
    subnets = snap / "k8s" / "subnets.kubeovn.io.json"
    subnets.unlink()
    p = run("scan", "--snapshot", str(snap), columns=80)
    assert p.returncode == 8
    first = p.stderr.splitlines()[0]
    assert first.startswith("eipfsck: error: ")
    assert str(subnets) in first, p.stderr
