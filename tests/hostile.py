"""A hostile snapshot for tests: the leaky example cluster, copied and then edited.

Every kind the model reads has at least one object here (an egress gateway is added), so a
mutation of any field the model reads reaches the code that reads it.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from eipfsck import exitcodes
from eipfsck.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "leaky-cluster"

EGRESS_GATEWAY = {
    "apiVersion": "kubeovn.io/v1", "kind": "VpcEgressGateway",
    "metadata": {"name": "egw1", "namespace": "default", "uid": "egw-uid"},
    "spec": {"vpc": "ovn-cluster", "internalIPs": ["10.16.0.250"],
             "externalIPs": ["172.18.0.250"], "externalSubnet": "external"},
    "status": {"internalIPs": ["10.16.0.250"], "externalIPs": ["172.18.0.250"]},
}


def load_example() -> dict[str, Any]:
    """Relative path -> parsed JSON document, for every file of the example snapshot."""
    docs = {str(p.relative_to(EXAMPLE)): json.loads(p.read_text())
            for p in sorted(EXAMPLE.rglob("*.json"))}
    docs["k8s/vpc-egress-gateways.kubeovn.io.json"]["items"].append(
        json.loads(json.dumps(EGRESS_GATEWAY)))
    return docs


def write_docs(docs: dict[str, Any], root: Path,
               raw: dict[str, bytes] | None = None) -> Path:
    """Lay the documents out as a snapshot; `raw` files replace documents byte for byte."""
    if root.exists():
        shutil.rmtree(root)
    for rel, doc in docs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(json.dumps(doc))
    for rel, data in (raw or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def item(docs: dict[str, Any], resource: str, index: int = 0) -> dict[str, Any]:
    obj: dict[str, Any] = docs[f"k8s/{resource}.json"]["items"][index]
    return obj


Edit = Callable[[dict[str, Any]], None]
DOCUMENTED = sum(code for code, _ in exitcodes.TABLE)


def run_scan(root: Path, fmt: str = "json", *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["scan", "--snapshot", str(root), "-o", fmt, *extra])
        except SystemExit as exc:
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()


def assert_outcome(code: int, out: str, err: str, fmt: str = "json",
                   exported: bool = False) -> dict[str, Any] | None:
    """The contract for any input: a report, or one error line; never an internal error.
    `exported`: a --report/--metrics-file/--pushgateway that failed adds bit 8 to the exit
    code, not to the report's own (the scan's) exit code."""
    assert "internal error" not in err and "Traceback" not in err, err
    assert code & ~DOCUMENTED == 0 and not code & exitcodes.REPAIRED, code
    if not out:
        lines = err.splitlines()
        assert code & (exitcodes.INCONCLUSIVE | exitcodes.USAGE), (code, err)
        assert [ln for ln in lines if ln.startswith("eipfsck: error: ")] == lines[:1], err
        assert all(ln.startswith("eipfsck: ") for ln in lines), err
        return None
    if fmt == "json":
        report: dict[str, Any] = json.loads(out)
        assert report["summary"]["exit_code"] | (exitcodes.INCONCLUSIVE if exported else 0) \
            == code
        return report
    if fmt == "yaml":
        assert yaml.safe_load(out)["summary"]["exit_code"] == code
    elif fmt == "sarif":
        json.loads(out)
    elif fmt == "junit":
        ET.fromstring(out.encode("utf-8"))
    else:
        assert f"exit {code}" in out
    return None
