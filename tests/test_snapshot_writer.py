"""Writing snapshots: what is written loads back to the same Snapshot and the same findings,
files are private, nothing is overwritten, and sources that had no data say why."""

from __future__ import annotations

import dataclasses
import json
import stat
import tarfile
from pathlib import Path

import pytest

from eipfsck.errors import UsageError
from eipfsck.pipeline import ScanOptions, scan
from eipfsck.snapshot import K8S_RESOURCES, SourceStatus, load_snapshot, slim_object
from eipfsck.snapshot_writer import write_snapshot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _findings(path: str) -> list[tuple[object, ...]]:
    report = scan(ScanOptions(snapshot=path)).report
    return [(f["check"], f["subnet"], f["ip"], f["message"]) for f in report["findings"]]


@pytest.mark.parametrize("example", ["leaky-cluster", "healthy-cluster"])
@pytest.mark.parametrize("tar", [False, True])
def test_round_trip_same_snapshot_and_findings(tmp_path: Path, example: str, tar: bool) -> None:
    original = load_snapshot(EXAMPLES / example)
    path = write_snapshot(original, str(tmp_path / "snap"), tar=tar)
    again = load_snapshot(path)
    assert again.k8s == original.k8s
    assert again.nb == original.nb
    assert again.captured_at == original.captured_at
    assert [(s.name, s.state, s.count, s.resource_version) for s in again.sources] == \
        [(s.name, s.state, s.count, s.resource_version) for s in original.sources]
    assert _findings(str(path)) == _findings(str(EXAMPLES / example))
    assert _findings(str(path))  # the leaky one has findings, the healthy one only infos


def test_files_are_private(tmp_path: Path) -> None:
    path = write_snapshot(load_snapshot(EXAMPLES / "leaky-cluster"), str(tmp_path / "s"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for p in path.rglob("*"):
        want = 0o700 if p.is_dir() else 0o600
        assert stat.S_IMODE(p.stat().st_mode) == want, p
    tgz = write_snapshot(load_snapshot(EXAMPLES / "leaky-cluster"), str(tmp_path / "t"), tar=True)
    assert tgz.name == "t.tar.gz"
    assert stat.S_IMODE(tgz.stat().st_mode) == 0o600
    with tarfile.open(tgz) as tar:
        modes = {m.name: (m.isdir(), m.mode) for m in tar.getmembers()}
    assert modes["t/k8s/pods.json"] == (False, 0o600)
    assert modes["t/k8s"] == (True, 0o700)


def test_refuses_to_overwrite_but_fills_an_empty_directory(tmp_path: Path) -> None:
    snap = load_snapshot(EXAMPLES / "healthy-cluster")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("old evidence")
    with pytest.raises(UsageError, match="already exists"):
        write_snapshot(snap, str(tmp_path / "full"))
    assert (tmp_path / "full" / "keep.txt").read_text() == "old evidence"
    (tmp_path / "empty").mkdir()
    write_snapshot(snap, str(tmp_path / "empty"))
    assert (tmp_path / "empty" / "k8s" / "subnets.kubeovn.io.json").is_file()
    with pytest.raises(UsageError, match="does not exist"):
        write_snapshot(snap, str(tmp_path / "no" / "such"))
    assert list(tmp_path.glob(".*")) == []  # no temporary left behind


def test_failed_and_skipped_sources_survive_without_files(tmp_path: Path) -> None:
    """A failed kind has no file; meta.json keeps the reason, so the offline scan is exactly
    as inconclusive as the live one was (never 'absent', never clean)."""
    snap = load_snapshot(EXAMPLES / "leaky-cluster")
    k8s = dict(snap.k8s)
    del k8s["pods"]
    sources = tuple(
        SourceStatus("pods", "k8s", "failed", detail="forbidden to list (pods is forbidden)")
        if s.name == "pods" else
        SourceStatus(s.name, "nb", "skipped", detail="--no-nb: not read on purpose")
        if s.origin == "nb" else s
        for s in snap.sources)
    broken = dataclasses.replace(snap, k8s=k8s, nb=None, sources=sources)
    path = write_snapshot(broken, str(tmp_path / "s"))
    assert not (path / "k8s" / "pods.json").exists()
    assert not (path / "nb").exists()
    again = load_snapshot(path)
    by_name = {s.name: s for s in again.sources}
    assert (by_name["pods"].state, by_name["pods"].detail) == \
        ("failed", "forbidden to list (pods is forbidden)")
    assert by_name["NAT"].state == "skipped"
    result = scan(ScanOptions(snapshot=str(path)))
    assert result.exit_code & 8
    assert any("pods: failed" in r for r in result.report["inconclusive"])


def test_rejected_objects_are_written_back(tmp_path: Path) -> None:
    """An object that failed slimming is kept in the file: the next scan reports it again."""
    snap = load_snapshot(EXAMPLES / "healthy-cluster")
    bad = {"metadata": {"name": "broken", "annotations": {"ovn.kubernetes.io/ip_address": 7}}}
    path = write_snapshot(dataclasses.replace(snap, rejected={"vips.kubeovn.io": [bad]}),
                          str(tmp_path / "s"))
    doc = json.loads((path / "k8s" / "vips.kubeovn.io.json").read_text())
    assert bad in doc["items"]
    again = load_snapshot(path)
    assert [(p.obj, p.field) for p in again.problems] == \
        [("broken", "metadata.annotations[ovn.kubernetes.io/ip_address]")]


@pytest.mark.parametrize("resource", K8S_RESOURCES)
def test_slimming_is_idempotent(resource: str) -> None:
    """Snapshots are written slimmed, so slimming twice must change nothing."""
    for example in ("leaky-cluster", "healthy-cluster"):
        path = EXAMPLES / example / "k8s" / f"{resource}.json"
        if not path.exists():
            continue
        for obj in json.loads(path.read_text())["items"]:
            once, _, _ = slim_object(resource, obj)
            twice, _, _ = slim_object(resource, once)
            assert twice == once
