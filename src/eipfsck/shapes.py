"""The shapes of the fields the model reads: checked once, where an object is read.

Every byte of a snapshot or a cluster is data a hostile tenant may have written. The model
reads fields trusting their JSON type (a list it iterates, a map it looks into, a name it
uses as a key); an object whose field has another type is rejected here, as the loader
rejects a missing name: skipped, reported (malformed-object) and its kind marked partial,
so the result is inconclusive instead of a crash or a silent guess.

Only containers, keys and numbers are checked: a string field of the wrong type is already
read as "" by the model (and reported where it matters). A new field read by the model
that it iterates or uses as a key belongs in SHAPES; the hostile-input property test
(tests/test_hostile_input.py) finds one that is missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Timestamps the scan compares and adds grace periods to stay far from datetime's ends.
YEARS = (1000, 9000)
# deletionGracePeriodSeconds: an int64 in Kubernetes; beyond ~68 years it means nothing
# and would overflow the time arithmetic.
MAX_SECONDS = 2**31 - 1
# Nesting that the writer and the report renderers may recurse into safely.
MAX_DEPTH = 64

# Path (dot-separated; "[]" descends into every element of a list) -> expected shape.
#   list: a JSON array (null or absent allowed)        map: a JSON object
#   strs: an array of strings                          str: a string
#   bool: true/false        int: an integer within MAX_SECONDS        time: RFC 3339 time
_EVERY: dict[str, str] = {
    "metadata.uid": "str",
    "metadata.resourceVersion": "str",
    "metadata.finalizers": "strs",
    "metadata.ownerReferences[]": "map",
    "metadata.ownerReferences[].kind": "str",
    "metadata.ownerReferences[].name": "str",
    "metadata.ownerReferences[].uid": "str",
    "metadata.ownerReferences[].apiVersion": "str",
    "metadata.ownerReferences[].controller": "bool",
    "metadata.deletionTimestamp": "time",
    "metadata.creationTimestamp": "time",
    "metadata.deletionGracePeriodSeconds": "int",
}
SHAPES: dict[str, dict[str, str]] = {
    "subnets.kubeovn.io": {"spec.namespaces": "strs"},
    "ips.kubeovn.io": {"spec.attachSubnets": "strs"},
    "services": {"spec.externalIPs": "strs", "status.loadBalancer": "map",
                 "status.loadBalancer.ingress": "list", "status.loadBalancer.ingress[]": "map",
                 "status.loadBalancer.ingress[].ip": "str"},
    "vpc-nat-gateways.kubeovn.io": {"spec.externalSubnets": "strs"},
    "vpc-egress-gateways.kubeovn.io": {
        "spec.internalIPs": "strs", "spec.externalIPs": "strs",
        "status.internalIPs": "strs", "status.externalIPs": "strs"},
    "deployments.apps": {"spec.template.spec.containers[].command": "strs",
                         "spec.template.spec.containers[].args": "strs",
                         "spec.template.spec.containers[].name": "str"},
    "pods": {"status.podIPs": "list", "status.podIPs[]": "map", "status.podIPs[].ip": "str"},
    "configmaps": {"data": "map"},
}


def _bad(value: Any, shape: str) -> str | None:
    """Why `value` (present and not null) does not have `shape`, or None."""
    if shape == "list":
        return None if isinstance(value, list) else "not a list"
    if shape == "map":
        return None if isinstance(value, dict) else "not a map"
    if shape == "strs":
        if not isinstance(value, list):
            return "not a list"
        return None if all(isinstance(v, str) for v in value) else "not a list of strings"
    if shape == "str":
        return None if isinstance(value, str) else "not a string"
    if shape == "bool":
        return None if isinstance(value, bool) else "not true or false"
    if shape == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "not an integer"
        return None if 0 <= value <= MAX_SECONDS else f"out of range (0..{MAX_SECONDS})"
    if shape == "time":
        return bad_time(value)
    raise AssertionError(f"unknown shape {shape}")


def bad_time(value: Any) -> str | None:
    if not isinstance(value, str):
        return "not a time string"
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "not an RFC 3339 time"
    if not YEARS[0] <= t.year <= YEARS[1]:
        return f"outside the years {YEARS[0]}..{YEARS[1]}"
    return None


def _values(obj: Any, parts: list[str], where: str) -> list[tuple[str, Any]]:
    """(field path as printed, value) for every value at `parts` that is present."""
    if not parts:
        return [(where, obj)]
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(obj, dict) or obj.get(key) is None:
        return []
    value = obj[key]
    path = f"{where}.{key}" if where else key
    if not each:
        return _values(value, rest, path)
    if not isinstance(value, list):
        return []  # the list itself has its own rule
    out: list[tuple[str, Any]] = []
    for i, element in enumerate(value):
        out.extend(_values(element, rest, f"{path}[{i}]"))
    return out


def shape_problem(resource: str, obj: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) for the first field of `obj` the model could not read, or None."""
    for rules in (_EVERY, SHAPES.get(resource, {})):
        for path, shape in rules.items():
            for where, value in _values(obj, path.split("."), ""):
                why = _bad(value, shape)
                if why is not None:
                    return where, f"{why} ({_preview(value)})"
    depth = nesting_depth(obj)
    if depth > MAX_DEPTH:
        return "(object)", f"nested {depth} levels deep (more than {MAX_DEPTH})"
    return None


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and maps nest in `value`, counted without recursion up to limit+1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth) for c in children if isinstance(c, (dict, list)))
    return deepest


def _preview(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
