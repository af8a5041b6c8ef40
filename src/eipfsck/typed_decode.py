"""Typed decoding of Kubernetes Lists: bytes straight to slim objects, in C.

A snapshot's or a cluster's lists are mostly bytes the model never reads (a pod's spec is
kilobytes; the model reads five of its fields). `json.loads` builds every one of those
objects and `snapshot.slim_object` then walks them in Python to keep the few it needs and
check their shapes: that was most of a scan's time. msgspec decodes into TypedDicts that
declare only the fields the model reads, skipping the rest without building it, and checks
their JSON types as it goes.

The contract, which tests/test_typed_decode.py checks on generated and hostile documents:
`decode_list` returns exactly what the reference path (`json.loads`, then `slim_object` on
every item) returns, or None. It returns None whenever it cannot vouch for that — any
malformed, unusual or hostile document, any object the reference path would reject or
report — and the caller then runs the reference path, which says precisely what is wrong.
So the fast path may be stricter than the reference path, never looser.
"""

from __future__ import annotations

import codecs
from typing import Annotated, Any, NamedTuple, TypedDict

import msgspec

from eipfsck.shapes import MAX_DEPTH, MAX_SECONDS, SHAPES, _bad, _values, bad_time


class _Meta(TypedDict, total=False):
    # Exactly the metadata keys slim_object keeps; anything else is skipped unread.
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    labels: dict[str, str]
    annotations: dict[str, str]
    finalizers: list[str]
    # Every key of a reference is kept (as the reference path does); their types are checked
    # after decoding (_refs_ok).
    ownerReferences: list[dict[str, str | bool]]
    deletionTimestamp: str
    deletionGracePeriodSeconds: Annotated[int, msgspec.Meta(ge=0, le=MAX_SECONDS)]
    creationTimestamp: str


class _Nothing(TypedDict, total=False):
    """A map whose content is not kept (a node's spec): must be a map, is skipped."""


class _Container(TypedDict, total=False):
    name: str
    image: str


class _PodSpec(TypedDict, total=False):
    hostNetwork: bool
    restartPolicy: str
    nodeName: str
    containers: list[_Container]


class _PodStatus(TypedDict, total=False):
    phase: str
    reason: str
    podIP: str
    podIPs: list[dict[str, str]]


class _Pod(TypedDict, total=False):
    metadata: _Meta
    spec: _PodSpec
    status: _PodStatus


class _Node(TypedDict, total=False):
    metadata: _Meta
    spec: _Nothing
    status: _Nothing


class _DeployContainer(TypedDict, total=False):
    name: str
    image: str
    command: list[str]
    args: list[str]


class _TemplateSpec(TypedDict, total=False):
    containers: list[_DeployContainer]


class _Template(TypedDict, total=False):
    spec: _TemplateSpec


class _DeploySpec(TypedDict, total=False):
    template: _Template


class _Deployment(TypedDict, total=False):
    metadata: _Meta
    spec: _DeploySpec
    status: _Nothing


class _ConfigMap(TypedDict, total=False):
    metadata: _Meta
    data: dict[str, str]
    spec: _Nothing
    status: _Nothing


class _Object(TypedDict, total=False):
    # Custom resources and the rest: spec and status are kept whole.
    metadata: _Meta
    spec: dict[str, Any]
    status: dict[str, Any]


# "continue" is a keyword: the functional form. A live page's token for the next page.
_ListMeta = TypedDict("_ListMeta", {"resourceVersion": str, "continue": str}, total=False)


class Decoded(NamedTuple):
    items: list[dict[str, Any]]
    resource_version: str | None
    continue_token: str | None


def _list_type(item: type) -> type:
    # One TypedDict per item type; `kind` is checked after decoding.
    return TypedDict(f"List_{item.__name__}", {  # type: ignore[operator]
        "kind": str, "items": list[item],  # type: ignore[valid-type]
        "metadata": _ListMeta}, total=False)


_ITEM_TYPES: dict[str, type] = {
    "pods": _Pod, "nodes": _Node, "deployments.apps": _Deployment, "configmaps": _ConfigMap,
}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {}


# The resource-specific rules, split once.
_RULES = {resource: [(path.split("."), shape) for path, shape in rules.items()]
          for resource, rules in SHAPES.items()}


def _decoder(resource: str) -> msgspec.json.Decoder[Any]:
    dec = _DECODERS.get(resource)
    if dec is None:
        dec = _DECODERS[resource] = msgspec.json.Decoder(
            _list_type(_ITEM_TYPES.get(resource, _Object)))
    return dec


_FAILURES = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError,
             TypeError, MemoryError)


def decode_list(resource: str, data: bytes, namespaced: bool) -> Decoded | None:
    """(slim items, list resourceVersion) exactly as the reference path gives them for a
    document it reads without a single problem, or None: then run the reference path."""
    if not utf8(data):
        return None
    try:
        doc = _decoder(resource).decode(data)
    except _FAILURES:
        return None
    items = doc.get("items")
    kind = doc.get("kind")
    if items is None or (kind is not None and not kind.endswith("List")):
        return None
    shape = _SHAPERS.get(resource, _shape_object)
    # Only the rules of SHAPES that reach into kept spec/status/data need a check after
    # decoding; the metadata rules and those of the resources in _ITEM_TYPES are the types.
    rules = None if resource in _ITEM_TYPES else _RULES.get(resource)
    times = _TimeCheck()
    for obj in items:
        meta = obj.get("metadata")
        if meta is None or not meta.get("name") or (namespaced and "namespace" not in meta):
            return None
        if not times.ok(meta) or not _refs_ok(meta.get("ownerReferences")):
            return None
        if not shape(obj, rules):
            return None
    meta = doc.get("metadata", {})
    return Decoded(items, meta.get("resourceVersion") or None, meta.get("continue") or None)


def utf8(data: bytes, chunk: int = 1 << 20) -> bool:
    """Whether `data` is UTF-8 throughout. msgspec checks only the strings it decodes; the
    reference path refuses a file with a bad byte anywhere, as a sign of corruption."""
    if data.isascii():  # the usual case, and a fast one
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), chunk):  # a bounded piece of text at a time
            decoder.decode(view[start:start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


class _TimeCheck:
    """RFC 3339 times within range, each distinct string parsed once (objects created by one
    rollout share their timestamps)."""

    def __init__(self) -> None:
        self.good: set[str] = set()

    def ok(self, meta: dict[str, Any]) -> bool:
        for key in ("creationTimestamp", "deletionTimestamp"):
            value = meta.get(key)
            if value is not None and value not in self.good:
                if bad_time(value) is not None:
                    return False
                self.good.add(value)
        return True


_REF_STRS = ("kind", "name", "uid", "apiVersion")


def _refs_ok(refs: list[dict[str, Any]] | None) -> bool:
    if not refs:
        return True
    for ref in refs:
        for key in _REF_STRS:
            if key in ref and type(ref[key]) is not str:
                return False
        if "controller" in ref and type(ref["controller"]) is not bool:
            return False
    return True


def _shape_pod(obj: dict[str, Any], rules: Any) -> bool:
    spec = obj.get("spec")
    if spec is None:
        obj["spec"] = {}
    else:
        containers = spec.pop("containers", None)
        if containers:
            # The leader's image tag names the controller's version (model.detect_version):
            # only the controller's own container is kept, as the reference path does.
            kept = [c for c in containers if c.get("name") == "kube-ovn-controller"]
            if kept:
                spec["containers"] = kept
    if obj.get("status") is None:
        obj["status"] = {}
    return True


def _shape_node(obj: dict[str, Any], rules: Any) -> bool:
    obj["spec"] = {}
    obj["status"] = {}
    return True


def _shape_deployment(obj: dict[str, Any], rules: Any) -> bool:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    obj["spec"] = {"template": {"spec": {"containers": containers}}}
    obj["status"] = {}
    return True


def _shape_configmap(obj: dict[str, Any], rules: Any) -> bool:
    obj.pop("spec", None)
    obj.pop("status", None)
    if obj.get("data") is None:
        obj["data"] = {}
    return True


def _shape_object(obj: dict[str, Any], rules: list[tuple[list[str], str]] | None) -> bool:
    for key in ("spec", "status"):
        value = obj.get(key)
        if value is None:
            obj[key] = {}
        # The whole object may nest MAX_DEPTH levels: itself, then its spec's levels.
        elif value and not _within(value, MAX_DEPTH - 1):
            return False
    if rules:
        for parts, shape in rules:
            for _, value in _values(obj, parts, ""):
                if _bad(value, shape) is not None:
                    return False
    return True


def _within(value: Any, levels: int) -> bool:
    """Whether lists and maps nest at most `levels` deep in `value` (itself one of them);
    shapes.nesting_depth's rule, answered without building anything."""
    if levels <= 0:
        return False
    for child in (value.values() if type(value) is dict else value):
        kind = type(child)
        if (kind is dict or kind is list) and not _within(child, levels - 1):
            return False
    return True


_SHAPERS = {"pods": _shape_pod, "nodes": _shape_node, "deployments.apps": _shape_deployment,
            "configmaps": _shape_configmap}


# ---------------------------------------------------------------------------
# Northbound tables, as `ovn-nbctl --format=json list TABLE` prints them (RFC 7047 cells)


class _Uuid(msgspec.Struct, array_like=True, tag="uuid", gc=False):
    value: str


class _NamedUuid(msgspec.Struct, array_like=True, tag="named-uuid", gc=False):
    value: str


_Atom = str | int | float | bool | _Uuid | _NamedUuid


class _Set(msgspec.Struct, array_like=True, tag="set", gc=False):
    items: list[_Atom]


class _Map(msgspec.Struct, array_like=True, tag="map", gc=False):
    pairs: list[tuple[_Atom, _Atom]]


_Cell = _Atom | _Set | _Map
_UUIDS = (_Uuid, _NamedUuid)


class _Headings(TypedDict):
    headings: list[str]


_HEADINGS = msgspec.json.Decoder(_Headings)
_MORE = "eipfsck_more_cells"  # a field past the last heading: set only by a row too long


def _atom(value: Any) -> Any:
    return value.value if type(value) in _UUIDS else value


def _cell(value: Any) -> Any:
    kind = type(value)
    if kind is _Set:
        return [_atom(a) for a in value.items]
    if kind is _Map:
        return {_atom(k): _atom(v) for k, v in value.pairs}
    return _atom(value)


def decode_nb(table: str, data: bytes, keep: frozenset[str] | None,
              check: Any) -> list[dict[str, Any]] | None:
    """The rows `snapshot.decode_nb_table` makes of this document, or None (then run it).

    Each row is decoded by a struct built for this document's headings: the kept columns as
    OVSDB cells, the others skipped unread (msgspec.Raw), as the reference path ignores them.
    `check` is the reference path's per-column shape check."""
    if not utf8(data):
        return None
    try:
        headings = _HEADINGS.decode(data)["headings"]
        if len(set(headings)) != len(headings) or _MORE in headings:
            return None
        fields = [(h, _Cell if keep is None or h in keep else msgspec.Raw) for h in headings]
        row_type = msgspec.defstruct("Row", [*fields, (_MORE, Any, msgspec.UNSET)],
                                     array_like=True, gc=False)
        doc_type = msgspec.defstruct("Rows", [("data", list[row_type])])  # type: ignore[valid-type]
        rows = msgspec.json.Decoder(doc_type).decode(data).data
    except (*_FAILURES, KeyError):
        return None
    kept = [h for h in headings if keep is None or h in keep]
    out: list[dict[str, Any]] = []
    try:
        for row in rows:
            if getattr(row, _MORE) is not msgspec.UNSET:
                return None
            decoded = {h: _cell(getattr(row, h)) for h in kept}
            for h, value in decoded.items():
                check(table, h, value)
            out.append(decoded)
    except (ValueError, TypeError):
        return None
    return out
