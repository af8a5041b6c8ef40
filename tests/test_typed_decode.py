"""The typed decoder's contract: the reference path's result exactly, or None.

`typed_decode` is the fast path of loading; json.loads + slim_object (and decode_nb_table)
is the reference. Whenever the fast path answers, its answer must be the reference's, value
for value and type for type (True is not 1); when the reference path would skip or report
anything, the fast path must not answer at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_hostile_input import BASE, apply, edits

from eipfsck.errors import InputError
from eipfsck.snapshot import (
    NAMESPACED,
    NB_COLUMNS,
    check_column,
    decode_nb_table,
    slim_list,
)
from eipfsck.typed_decode import decode_list, decode_nb, utf8

EXAMPLES = int(os.environ.get("EIPFSCK_FUZZ_EXAMPLES", "60"))
ROOT = Path(__file__).resolve().parent.parent


def canon(value: Any) -> Any:
    """A form where equal means the same JSON: types are kept (True != 1 != 1.0)."""
    if isinstance(value, dict):
        return ("map", sorted(((canon(k), canon(v)) for k, v in value.items()), key=repr))
    if isinstance(value, list):
        return ("list", [canon(v) for v in value])
    return (type(value).__name__, value)


def reference_list(resource: str, data: bytes) -> tuple[list[Any], Any] | None:
    """The reference path's (items, rv) when it reads the document without a problem."""
    try:
        doc = json.loads(data)
        items, rv, bad = slim_list(resource, doc, "test")
    except (InputError, ValueError, RecursionError):
        return None
    return None if bad else (items, rv)


def assert_agree_list(resource: str, data: bytes) -> bool:
    fast = decode_list(resource, data, resource in NAMESPACED)
    if fast is None:
        return False
    ref = reference_list(resource, data)
    assert ref is not None, f"{resource}: the fast path read what the reference refuses"
    assert canon(fast[0]) == canon(ref[0]) and fast[1] == ref[1], resource
    return True


def assert_agree_nb(table: str, data: bytes) -> bool:
    fast = decode_nb(table, data, NB_COLUMNS.get(table), check_column)
    if fast is None:
        return False
    try:
        ref = decode_nb_table(table, json.loads(data), "test")
    except (InputError, ValueError, RecursionError):
        pytest.fail(f"{table}: the fast path read what the reference refuses")
    assert canon(fast) == canon(ref), table
    return True


def test_every_example_file_takes_the_fast_path_and_agrees() -> None:
    # Not vacuous: the shipped examples and the property's base are read by the fast path.
    for rel, doc in BASE.items():
        data = json.dumps(doc).encode()
        if rel.startswith("k8s/"):
            assert assert_agree_list(rel[4:-5], data), rel
        elif rel.startswith("nb/"):
            assert assert_agree_nb(rel[3:-5], data), rel


def test_a_generated_cluster_takes_the_fast_path_in_both_layouts(tmp_path: Path) -> None:
    for layout in ([], ["--compact"]):
        out = tmp_path / ("c" if layout else "i")
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_snapshot.py"), str(out),
                        "--pods", "300", "--subnets", "12", "--eips", "20", "--leaks", "2",
                        "-q", *layout], check=True)
        for path in sorted(out.rglob("*.json")):
            if path.parent.name == "k8s":
                assert assert_agree_list(path.stem, path.read_bytes()), path
            elif path.parent.name == "nb":
                assert assert_agree_nb(path.stem, path.read_bytes()), path


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(edits())
def test_property_fast_path_answers_only_with_the_reference_answer(
        changes: list[tuple[str, tuple[Any, ...], str, Any]]) -> None:
    docs = json.loads(json.dumps(BASE))
    apply(docs, changes)
    for rel, _, _, _ in changes:
        try:
            data = json.dumps(docs[rel]).encode()
        except ValueError:
            continue  # not JSON that a file could hold (e.g. a lone surrogate in a key)
        if rel.startswith("k8s/"):
            assert_agree_list(rel[4:-5], data)
        elif rel.startswith("nb/"):
            assert_agree_nb(rel[3:-5], data)


POD = {"metadata": {"name": "p", "namespace": "n", "uid": "u",
                    "creationTimestamp": "2025-01-01T00:00:00Z"},
       "spec": {"nodeName": "w1", "containers": [{"name": "app", "image": "x"}]},
       "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}]}}


def _pods(*items: Any) -> bytes:
    return json.dumps({"kind": "PodList", "items": list(items)}).encode()


@pytest.mark.parametrize(("why", "edit"), [
    ("a label value that is a number", lambda p: p["metadata"].update(labels={"a": 1})),
    ("a null namespace", lambda p: p["metadata"].update(namespace=None)),
    ("an empty name", lambda p: p["metadata"].update(name="")),
    ("a year out of range",
     lambda p: p["metadata"].update(creationTimestamp="0001-01-01T00:00:00Z")),
    ("a grace period that is true",
     lambda p: p["metadata"].update(deletionGracePeriodSeconds=True)),
    ("an owner reference whose controller is a string", lambda p: p["metadata"].update(
        ownerReferences=[{"kind": "ReplicaSet", "name": "r", "uid": "x", "controller": "yes"}])),
    ("a spec that is a list", lambda p: p.update(spec=[])),
    ("a podIPs entry that is a string", lambda p: p["status"].update(podIPs=["10.0.0.5"])),
    ("a NaN in a field never read", lambda p: p["spec"].update(priority=float("nan"))),
])
def test_what_the_reference_reports_the_fast_path_leaves_to_it(why: str, edit: Any) -> None:
    pod = json.loads(json.dumps(POD))
    assert decode_list("pods", _pods(pod), True) is not None  # the control: it answers
    edit(pod)
    assert decode_list("pods", _pods(pod), True) is None, why


def test_invalid_utf8_anywhere_leaves_the_file_to_the_reference_path() -> None:
    data = _pods(POD).replace(b'"image": "x"', b'"image": "\xff"')
    assert not utf8(data) and decode_list("pods", data, True) is None
    assert utf8("é".encode()) and not utf8(b"\xc0\xaf")


def test_an_nb_row_longer_than_its_headings_is_left_to_the_reference_path() -> None:
    doc = {"headings": ["_uuid", "external_ids"],
           "data": [[["uuid", "a"], ["map", [["k", "v"]]]]]}
    assert decode_nb("NB_Global", json.dumps(doc).encode(), NB_COLUMNS["NB_Global"],
                     check_column) == [{"_uuid": "a", "external_ids": {"k": "v"}}]
    doc["data"][0].append("extra")
    assert decode_nb("NB_Global", json.dumps(doc).encode(), NB_COLUMNS["NB_Global"],
                     check_column) is None


@pytest.mark.parametrize("depth", [1, 2, 62, 63, 64, 65, 200])
def test_nesting_at_the_limit_is_decided_as_the_reference_decides(depth: int) -> None:
    # An object may nest 64 levels (shapes.MAX_DEPTH): itself, then its spec's levels.
    nested: Any = []
    for _ in range(depth - 1):
        nested = [nested]
    ip = {"metadata": {"name": "ip1"}, "spec": {"subnet": "s", "deep": nested}}
    data = json.dumps({"kind": "IPList", "items": [ip]}).encode()
    reference_reads = reference_list("ips.kubeovn.io", data) is not None
    assert reference_reads == (depth <= 62)  # the spec map adds one level, the object one
    assert (decode_list("ips.kubeovn.io", data, False) is not None) == reference_reads
    if reference_reads:
        assert assert_agree_list("ips.kubeovn.io", data)
