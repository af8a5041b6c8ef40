"""A hostile snapshot for tests: the leaky example cluster, copied and then edited.

Every kind the model reads has at least one object here (an egress gateway is added), so a
mutation of any field the model reads reaches the code that reads it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
