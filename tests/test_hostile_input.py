"""Hostile input: whatever a snapshot holds, a scan ends in a report or one clear line.

The property test edits the example cluster's snapshot (k8s files, NB files with their OVSDB
cell shapes and headings, meta.json) at random places with random JSON, runs the real CLI and
asserts: no internal error, an exit code made of documented bits, and either a report that
parses in the chosen format or exactly one "eipfsck: error:" line (plus a hint).

It runs with a few examples in the normal suite. A deeper run (the fuzz command, see
CONTRIBUTING.md):

    EIPFSCK_FUZZ_EXAMPLES=3000 .venv/bin/python -m pytest tests/test_hostile_input.py -k property
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile import assert_outcome, item, load_example, run_scan, write_docs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eipfsck import exitcodes

EXAMPLES = int(os.environ.get("EIPFSCK_FUZZ_EXAMPLES", "25"))
FORMATS = ("json", "table", "yaml", "sarif", "junit")
BASE = load_example()


# -- the property -------------------------------------------------------------------

TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\x1b[2J", "a\x00b", "\u202eevil", "\ud800", "10.16.0.5", "fd00::5",
     "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "ovn-cluster", "external", "true"])
NUMBER = st.integers(-2**64, 2**64) | st.sampled_from([10**400, -(10**300), 0, 1]) \
    | st.floats(allow_nan=False, allow_infinity=False)
ATOM = st.none() | st.booleans() | NUMBER | TEXT
JSON = st.recursive(ATOM, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
# OVSDB cells as ovn-nbctl prints them, and near misses.
OVS_ATOM = TEXT | NUMBER | st.booleans() | st.tuples(st.just("uuid"), TEXT).map(list)
CELL = OVS_ATOM | st.tuples(st.just("set"), st.lists(OVS_ATOM | JSON, max_size=3)).map(list) \
    | st.tuples(st.just("map"), st.lists(st.lists(OVS_ATOM | JSON, min_size=2, max_size=2)
                                         | JSON, max_size=3)).map(list) | JSON


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            out += _paths(v, (*prefix, i))
    return out


PATHS = {rel: [p for p in _paths(doc) if p] for rel, doc in BASE.items()}


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[str, tuple[Any, ...], str, Any]]:
    """(file, path, how, value): how is set, delete or add (a new key beside the path)."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        rel = draw(st.sampled_from(sorted(PATHS)))
        if not PATHS[rel]:
            continue
        path = draw(st.sampled_from(PATHS[rel]))
        nb_cell = rel.startswith("nb/") and len(path) == 3 and path[0] == "data"
        value = draw(CELL if nb_cell else JSON)
        how = draw(st.sampled_from(["set", "set", "delete", "add"]))
        out.append((rel, path, how, value))
    return out


def apply(docs: dict[str, Any], changes: list[tuple[str, tuple[Any, ...], str, Any]]) -> None:
    for rel, path, how, value in changes:
        parent: Any = docs[rel]
        try:
            for p in path[:-1]:
                parent = parent[p]
            if how == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif how == "add" and isinstance(parent, dict):
                parent[f"x{len(parent)}"] = value
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit changed the shape under this path


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(edits(), st.sampled_from(FORMATS))
def test_property_any_snapshot_gives_a_report_or_one_error_line(
        changes: list[tuple[str, tuple[Any, ...], str, Any]], fmt: str) -> None:
    docs = json.loads(json.dumps(BASE))
    apply(docs, changes)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "snap"
        write_docs(docs, root)
        assert_outcome(*run_scan(root, fmt), fmt=fmt)


# -- each case of the issue, by name --------------------------------------------------


def _container(d: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = item(d, "deployments.apps")["spec"]["template"]["spec"]["containers"][0]
    return c


def _set(obj: dict[str, Any], key: str, value: Any) -> None:
    obj[key] = value


K8S_CASES = {
    "subnet spec.namespaces scalar": (
        lambda d: _set(item(d, "subnets.kubeovn.io")["spec"], "namespaces", 7),
        "spec.namespaces"),
    "IP spec.attachSubnets scalar": (
        lambda d: _set(item(d, "ips.kubeovn.io")["spec"], "attachSubnets", 7),
        "spec.attachSubnets"),
    "Service spec.externalIPs scalar": (
        lambda d: _set(item(d, "services")["spec"], "externalIPs", 7), "spec.externalIPs"),
    "Service status.loadBalancer string": (
        lambda d: _set(item(d, "services").setdefault("status", {}), "loadBalancer", "x"),
        "status.loadBalancer"),
    "Service status.loadBalancer.ingress scalar": (
        lambda d: _set(item(d, "services").setdefault("status", {}), "loadBalancer",
                       {"ingress": 5}), "status.loadBalancer.ingress"),
    "VpcNatGateway spec.externalSubnets scalar": (
        lambda d: _set(item(d, "vpc-nat-gateways.kubeovn.io")["spec"], "externalSubnets", 7),
        "spec.externalSubnets"),
    "egress gateway spec.internalIPs scalar": (
        lambda d: _set(item(d, "vpc-egress-gateways.kubeovn.io")["spec"], "internalIPs", 7),
        "spec.internalIPs"),
    "container command scalar": (
        lambda d: _set(_container(d), "command", 7), "containers[0].command"),
    "container args map": (
        lambda d: _set(_container(d), "args", {"a": 1}), "containers[0].args"),
    "ownerReference name list": (
        lambda d: _set(item(d, "pods")["metadata"], "ownerReferences",
                       [{"kind": "StatefulSet", "name": ["a"], "apiVersion": "apps/v1"}]),
        "metadata.ownerReferences[0].name"),
    "ownerReference name map": (
        lambda d: _set(item(d, "ips.kubeovn.io")["metadata"], "ownerReferences",
                       [{"kind": "Pod", "name": {"a": 1}, "apiVersion": "v1"}]),
        "metadata.ownerReferences[0].name"),
    "deletion timestamp at the end of the calendar": (
        lambda d: item(d, "pods")["metadata"].update(
            deletionTimestamp="9999-12-31T23:59:59Z", deletionGracePeriodSeconds=30),
        "metadata.deletionTimestamp"),
    "deletion timestamp at the start of the calendar": (
        lambda d: _set(item(d, "ovn-eips.kubeovn.io")["metadata"], "deletionTimestamp",
                       "0001-01-01T00:00:00-23:59"), "metadata.deletionTimestamp"),
    "deletion grace period beyond any time": (
        lambda d: item(d, "pods")["metadata"].update(
            deletionTimestamp="2025-05-20T09:00:00Z", deletionGracePeriodSeconds=10**30),
        "metadata.deletionGracePeriodSeconds"),
    "JSON nested 900 levels inside an object": (
        lambda d: _set(item(d, "vpcs.kubeovn.io")["spec"], "x", json.loads("[" * 900
                                                                           + "]" * 900)),
        "(object)"),
}


@pytest.mark.parametrize("case", sorted(K8S_CASES))
def test_k8s_field_of_the_wrong_shape_is_a_malformed_object(case: str, tmp_path: Path
                                                            ) -> None:
    edit, fld = K8S_CASES[case]
    docs = load_example()
    edit(docs)
    code, out, err = run_scan(write_docs(docs, tmp_path / "s"))
    report = assert_outcome(code, out, err)
    assert report is not None
    found = [f for f in report["findings"] if f["check"] == "malformed-object"]
    assert any(f["evidence"]["field"].endswith(fld) for f in found), found
    assert code & exitcodes.INCONCLUSIVE, "a skipped object makes the result inconclusive"


@pytest.mark.parametrize("value", [10**400, str(10**400), -(10**200)])
def test_a_count_beyond_any_subnet_is_status_range_invalid(value: Any, tmp_path: Path) -> None:
    docs = load_example()
    item(docs, "subnets.kubeovn.io")["status"]["v4usingIPs"] = value
    report = assert_outcome(*run_scan(write_docs(docs, tmp_path / "s")))
    assert report is not None
    assert any(f["check"] == "status-range-invalid" and "out of range" in f["message"]
               for f in report["findings"]), report["findings"]


@pytest.mark.parametrize(("key", "value"), [
    ("settings", "x"), ("settings.cluster_router", {}), ("settings.external_gateway_switch",
                                                         [1]),
    ("settings.keep_vm_ip", "yes"), ("kube_ovn_version", ["v1"]), ("captured_at", {"a": 1}),
    ("captured_at", "0001-01-01T00:00:00Z"), ("cluster.uid", ["x"]), ("cluster", 5),
])
def test_meta_json_field_of_the_wrong_type_is_ignored_and_reported(
        key: str, value: Any, tmp_path: Path) -> None:
    docs = load_example()
    parent = docs["meta.json"]
    *head, last = key.split(".")
    for k in head:
        parent = parent[k]
    parent[last] = value
    code, out, err = run_scan(write_docs(docs, tmp_path / "s"))
    report = assert_outcome(code, out, err)
    assert report is not None
    assert code & exitcodes.INCONCLUSIVE
    assert any(f["check"] == "malformed-object" and f["evidence"]["field"] == key
               for f in report["findings"]), report["findings"]


def _nb(docs: dict[str, Any], table: str, column: str, value: Any) -> None:
    doc = docs[f"nb/{table}.json"]
    doc["data"][0][doc["headings"].index(column)] = value


NB_CASES = {
    "map key that is a set": (lambda d: _nb(d, "Logical_Switch_Port", "external_ids",
                                            ["map", [[["set", []], "v"]]]), "external_ids"),
    "map key that is a map": (lambda d: _nb(d, "Logical_Switch", "external_ids",
                                            ["map", [[["map", []], "v"]]]), "external_ids"),
    "ports that is a map": (lambda d: _nb(d, "Logical_Router", "ports", ["map", [["a", "b"]]]),
                            "ports"),
    "nat that is a number": (lambda d: _nb(d, "Logical_Router", "nat", 7), "nat"),
    "load_balancer set of sets": (lambda d: _nb(d, "Logical_Router", "load_balancer",
                                                ["set", [["set", []]]]), "load_balancer"),
    "headings entry that is a list": (
        lambda d: d["nb/NB_Global.json"]["headings"].__setitem__(1, ["x"]), "headings[1]"),
}


@pytest.mark.parametrize("case", sorted(NB_CASES))
def test_nb_cell_of_the_wrong_shape_is_one_error_line(case: str, tmp_path: Path) -> None:
    # ovn-nbctl and the OVSDB IDL enforce the schema: such a file was made by hand, and the
    # table cannot be read in part without guessing (a skipped router hides its NAT rows).
    edit, fld = NB_CASES[case]
    docs = load_example()
    edit(docs)
    code, out, err = run_scan(write_docs(docs, tmp_path / "s"))
    assert assert_outcome(code, out, err) is None
    assert code == exitcodes.INCONCLUSIVE
    assert "nb/" in err and fld in err, err


@pytest.mark.parametrize(("raw", "says"), [
    (b'{"items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested too deeply"),
    # In a field the model keeps (a Vpc's spec): never converted, refused.
    (b'{"items": [{"metadata": {"name": "v"}, "spec": {"n": 1' + b"0" * 5000 + b'}}]}',
     "integer of 5001 digits"),
])
def test_json_beyond_what_python_reads_is_one_error_line(raw: bytes, says: str,
                                                         tmp_path: Path) -> None:
    root = write_docs(load_example(), tmp_path / "s", {"k8s/vpcs.kubeovn.io.json": raw})
    code, out, err = run_scan(root)
    assert assert_outcome(code, out, err) is None
    assert code == exitcodes.INCONCLUSIVE and says in err and "vpcs.kubeovn.io.json" in err


def test_a_long_number_in_a_field_never_read_is_skipped_unconverted(tmp_path: Path) -> None:
    # The typed decoder skips what the model never reads without converting it, so a
    # 5000-digit number there costs nothing (the reason Python refuses such numbers) and is
    # not a reason to refuse the file; the same number where the model reads is (above).
    raw = (b'{"kind": "VpcList", "n": 1' + b"0" * 5000 + b', "items": [{"metadata": '
           b'{"name": "v", "x": 1' + b"0" * 5000 + b'}}]}')
    root = write_docs(load_example(), tmp_path / "s", {"k8s/vpcs.kubeovn.io.json": raw})
    code, out, err = run_scan(root)
    report = assert_outcome(code, out, err)
    assert report is not None and not code & exitcodes.INCONCLUSIVE, err
    assert report["summary"]["exit_code"] == code


# -- archives -------------------------------------------------------------------------


def _archive(tmp_path: Path, extra: list[tuple[tarfile.TarInfo, Any]] = (),  # type: ignore[assignment]
             name: str = "s.tar.gz") -> Path:
    """The example snapshot as snap/... in a .tar.gz, then `extra` entries after it."""
    path = tmp_path / name
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(write_docs(load_example(), tmp_path / "snapdir"), arcname="snap")
        for info, data in extra:
            tar.addfile(info, data)
    return path


class _Zeros(io.RawIOBase):
    """n zero bytes, read in chunks: a large member without a large buffer in the test."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readinto(self, b: Any) -> int:
        k = min(len(b), self.left)
        b[:k] = bytes(k)
        self.left -= k
        return k

    def readable(self) -> bool:
        return True


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


@pytest.mark.parametrize("cut", [10, 100, 300, 1000])
def test_archive_cut_anywhere_is_truncated_or_corrupt(cut: int, tmp_path: Path) -> None:
    whole = _archive(tmp_path)
    part = tmp_path / "cut.tar.gz"
    part.write_bytes(whole.read_bytes()[:cut])
    code, out, err = run_scan(part)
    assert assert_outcome(code, out, err) is None
    assert code == exitcodes.INCONCLUSIVE
    assert f"{part}: truncated or corrupt archive" in err, err


def test_duplicate_archive_member_is_refused(tmp_path: Path) -> None:
    data = json.dumps({"kind": "List", "items": []}).encode()
    archive = _archive(tmp_path, [(_member("snap/k8s/pods.json", len(data)), io.BytesIO(data))])
    code, out, err = run_scan(archive)
    assert assert_outcome(code, out, err) is None
    assert "entry 'snap/k8s/pods.json' appears twice" in err and code == exitcodes.INCONCLUSIVE


def test_member_larger_than_the_cap_is_refused_before_it_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import eipfsck.snapshot
    archive = _archive(tmp_path)
    largest = max(p.stat().st_size for p in (tmp_path / "snapdir").rglob("*.json"))
    monkeypatch.setattr(eipfsck.snapshot, "MAX_MEMBER_BYTES", largest)
    assert eipfsck.snapshot.load_snapshot(archive).items("pods")  # at the cap: read
    monkeypatch.setattr(eipfsck.snapshot, "MAX_MEMBER_BYTES", largest - 1)
    code, out, err = run_scan(archive)
    assert assert_outcome(code, out, err) is None
    assert f"more than {(largest - 1) / (1 << 30):g} GiB; refusing" in err, err


MEMORY_PROBE = """
import resource, sys
from eipfsck.snapshot import load_snapshot
snap = load_snapshot(sys.argv[1])
assert snap.items("pods")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(path: Path) -> int:
    p = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True,
                       text=True, check=True)
    return int(p.stdout)


def test_memory_follows_the_members_read_not_the_archive(tmp_path: Path) -> None:
    """An unused 512 MiB member (a few hundred KiB compressed) is skipped unread: peak memory
    stays near that of the same archive without it (the members read are ~200 KiB)."""
    big = 512 << 20
    plain = _archive(tmp_path, name="plain.tar.gz")
    padded = _archive(tmp_path, [(_member("snap/unused.bin", big), _Zeros(big))],
                      name="padded.tar.gz")
    base, peak = _peak_kib(plain), _peak_kib(padded)
    assert peak < base + 32 * 1024, (base, peak)  # KiB: far below the 512 MiB member


# -- a missing NB table ---------------------------------------------------------------


def test_missing_nb_table_file_is_failed_not_absent(tmp_path: Path) -> None:
    docs = load_example()
    del docs["nb/Logical_Switch.json"]
    code, out, err = run_scan(write_docs(docs, tmp_path / "s"))
    report = assert_outcome(code, out, err)
    assert report is not None
    src = next(s for s in report["sources"] if s["name"] == "Logical_Switch")
    assert src["state"] == "failed" and code & exitcodes.INCONCLUSIVE
    assert "Logical_Switch" not in report["absent"]


def test_snapshot_writer_writes_every_nb_table_the_reader_expects(tmp_path: Path) -> None:
    from eipfsck.snapshot import NB_TABLES, load_snapshot
    from eipfsck.snapshot_writer import snapshot_files
    snap = load_snapshot(write_docs(load_example(), tmp_path / "s"))
    written = snapshot_files(snap)
    assert {f"nb/{t}.json" for t in NB_TABLES} <= set(written)


# -- names that are terminal commands ---------------------------------------------------

EVIL = "evil\x1b[2J\x00\u202e\ud800\x07\x9b\nx"
ESCAPED = "evil\\x1b[2J\\x00\\u202e\\ud800\\x07\\x9b\\nx"
RAW_UNSAFE = set(EVIL) - set("evilx[2J")


def _evil_snapshot(root: Path) -> Path:
    """A pod whose name is EVIL and whose owner reference is malformed (a finding names it),
    and a subnet named EVIL (the subnet table and the metrics name it)."""
    docs = load_example()
    pod = item(docs, "pods")
    pod["metadata"]["name"] = EVIL
    pod["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": ["x"]}]
    subnet = json.loads(json.dumps(item(docs, "subnets.kubeovn.io")))
    subnet["metadata"]["name"] = EVIL
    docs["k8s/subnets.kubeovn.io.json"]["items"].append(subnet)
    return write_docs(docs, root)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) \
        else []
    return [s for v in items for s in _strings(v)]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if k not in ("EIPFSCK_DEBUG", "FORCE_COLOR")}
    return subprocess.run([sys.executable, "-m", "eipfsck", *args], capture_output=True,
                          env={**base, "COLUMNS": "200", **(env or {})}, check=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_names_are_escaped_in_every_format(fmt: str, tmp_path: Path) -> None:
    root = _evil_snapshot(tmp_path / "s")
    p = _cli("scan", "--snapshot", str(root), "-o", fmt)
    assert p.returncode in (4, 12) and b"internal error" not in p.stderr, p.stderr
    out = p.stdout.decode("utf-8")  # strict: a lone surrogate would not decode
    assert not (set(out) & RAW_UNSAFE) - {"\n"}, sorted(set(out) & RAW_UNSAFE)
    if fmt == "json":
        report = json.loads(out)
        assert any(EVIL in f["message"] for f in report["findings"])  # lossless
    elif fmt == "yaml":
        assert any(EVIL in f["message"] for f in yaml.safe_load(out)["findings"])
    elif fmt == "sarif":
        assert EVIL in _strings(json.loads(out))
    elif fmt == "junit":
        assert ESCAPED in "".join(ET.fromstring(p.stdout).itertext())
    else:
        assert ESCAPED in out and "\n" not in ESCAPED


def test_hostile_names_are_escaped_in_the_metrics_file(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    root = _evil_snapshot(tmp_path / "s")
    prom = tmp_path / "m.prom"
    p = _cli("scan", "--snapshot", str(root), "-q", "--metrics-file", str(prom))
    assert b"internal error" not in p.stderr and prom.exists(), p.stderr
    text = prom.read_bytes().decode("utf-8")
    assert not set(text) & RAW_UNSAFE - {"\n"}
    labels = {s.labels.get("subnet") for fam in text_string_to_metric_families(text)
              for s in fam.samples}
    assert ESCAPED in labels


def test_hostile_names_are_escaped_on_a_terminal(tmp_path: Path) -> None:
    import pty
    root = _evil_snapshot(tmp_path / "s")
    base = {k: v for k, v in os.environ.items() if k not in ("EIPFSCK_DEBUG", "NO_COLOR")}
    pid, fd = pty.fork()
    if pid == 0:  # the child: eipfsck on a terminal, colours and all
        os.execve(sys.executable, [sys.executable, "-m", "eipfsck", "scan", "--snapshot",
                                   str(root)], {**base, "TERM": "xterm-256color",
                                                "COLUMNS": "200"})
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) in (4, 12), out
    assert "\x1b[" in out, "rich colours on a terminal: this is a terminal"
    assert ESCAPED.replace("\\n", "") in out.replace("\\n", "").replace("\r\n", "")
    for raw in ("\x1b[2J", "\x00", "\u202e", "\x07", "\x9b"):
        assert raw not in out, repr(raw)


def test_lone_surrogate_in_an_error_message_is_escaped(tmp_path: Path) -> None:
    # A path that is not UTF-8 reaches Python as a lone surrogate (\udcff here).
    root = os.fsencode(tmp_path) + b"/snap\xff\x1b[2J"
    p = subprocess.run([sys.executable, "-m", "eipfsck", "scan", "--snapshot", root],
                       capture_output=True, check=False)
    assert p.returncode == exitcodes.USAGE and b"internal error" not in p.stderr, p.stderr
    assert b"\x1b[2J" not in p.stderr and b"snap\\udcff\\x1b[2J" in p.stderr, p.stderr


# -- the controller log ---------------------------------------------------------------

ALLOCATE = ("I1129 10:00:00.000000 1 ipam.go:60] allocate v4 10.16.0.9, mac 00:00:00:00:00:09 "
            "for ns1/pod9 from subnet ovn-default\n")

LOG_PROBE = """
import resource, sys
from eipfsck.controller_log import read_controller_log
found = read_controller_log(sys.argv[1])
assert [a.line_no for a in found.values()] == [int(sys.argv[2])], found
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _log_peak_kib(path: Path, line_no: int) -> int:
    p = subprocess.run([sys.executable, "-c", LOG_PROBE, str(path), str(line_no)],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    return int(p.stdout)


def test_controller_log_is_read_line_by_line(tmp_path: Path) -> None:
    """128 MiB of log around one allocation (and a 3 MiB line without a newline): peak
    memory stays near that of a log of a few lines, and line numbers stay right."""
    small = tmp_path / "small.log"
    small.write_text("I1129 start\n" + ALLOCATE)
    big = tmp_path / "big.log"
    filler = ("I1129 10:00:00.000000 1 pod.go:1] handle add pod ns1/x " + "y" * 60 + "\n")
    block = filler * ((1 << 20) // len(filler))
    with big.open("w") as fh:
        for _ in range(64):
            fh.write(block)
        fh.write("x" * (3 << 20) + "\n")  # one overlong line, skipped in pieces
        fh.write(ALLOCATE)
        for _ in range(64):
            fh.write(block)
    line_no = 64 * block.count("\n") + 2
    base, peak = _log_peak_kib(small, 2), _log_peak_kib(big, line_no)
    assert peak < base + 24 * 1024, (base, peak)  # KiB; reading it whole takes 128 MiB+
