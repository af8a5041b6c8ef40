"""The Snapshot: what was read, from where, and how completely.

A Snapshot is plain data. The loader here reads the directory format of design.md
(or a .tar.gz of it); the live collectors produce the same type, so nothing after
this point knows where the data came from.

Objects are slimmed as they are read: only the fields the model uses survive, so
memory stays bounded by what the checks need rather than by the size of pod specs.
"""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from eipfsck.errors import InputError, UsageError

SourceState = Literal["complete", "absent", "partial", "failed", "skipped"]

# Every Kubernetes resource the model reads, by snapshot file stem.
K8S_RESOURCES: tuple[str, ...] = (
    "subnets.kubeovn.io",
    "ips.kubeovn.io",
    "vips.kubeovn.io",
    "ovn-eips.kubeovn.io",
    "ovn-fips.kubeovn.io",
    "ovn-snat-rules.kubeovn.io",
    "ovn-dnat-rules.kubeovn.io",
    "iptables-eips.kubeovn.io",
    "iptables-fip-rules.kubeovn.io",
    "iptables-snat-rules.kubeovn.io",
    "iptables-dnat-rules.kubeovn.io",
    "vpc-nat-gateways.kubeovn.io",
    "vpc-egress-gateways.kubeovn.io",
    "vpcs.kubeovn.io",
    "ippools.kubeovn.io",
    "router-lb-rules.kubeovn.io",
    "switch-lb-rules.kubeovn.io",
    "virtualmachines.kubevirt.io",
    "statefulsets.apps",
    "network-attachment-definitions.k8s.cni.cncf.io",
    "pods",
    "nodes",
    "services",
    "namespaces",
    "configmaps",
    "leases.coordination.k8s.io",
    "deployments.apps",
)
REQUIRED_RESOURCE = "subnets.kubeovn.io"
NAMESPACED: frozenset[str] = frozenset({
    "vpc-egress-gateways.kubeovn.io", "virtualmachines.kubevirt.io", "statefulsets.apps",
    "network-attachment-definitions.k8s.cni.cncf.io", "pods", "services", "configmaps",
    "leases.coordination.k8s.io", "deployments.apps",
})

NB_TABLES: tuple[str, ...] = (
    "Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port",
    "NAT", "Load_Balancer", "NB_Global",
)
# Columns kept per table; the rest of a row is dropped on load.
NB_COLUMNS: dict[str, frozenset[str]] = {
    "Logical_Switch": frozenset({"_uuid", "name", "ports", "external_ids", "other_config"}),
    "Logical_Switch_Port": frozenset({
        "_uuid", "name", "type", "addresses", "dynamic_addresses", "options", "external_ids",
    }),
    "Logical_Router": frozenset({"_uuid", "name", "ports", "nat", "load_balancer", "external_ids"}),
    "Logical_Router_Port": frozenset({"_uuid", "name", "networks", "mac", "peer", "external_ids"}),
    "NAT": frozenset({
        "_uuid", "type", "external_ip", "logical_ip", "logical_port", "external_mac",
        "external_ids", "options",
    }),
    "Load_Balancer": frozenset({"_uuid", "name", "vips", "protocol", "external_ids"}),
    "NB_Global": frozenset({"_uuid", "external_ids"}),
}

MAX_TAR_BYTES = 4 << 30
MAX_TAR_MEMBERS = 10_000


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one resource or table was read."""

    name: str
    origin: Literal["k8s", "nb", "log"]
    state: SourceState
    count: int = 0
    resource_version: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class InputProblem:
    """An object that could not be used; it was skipped and the source marked partial."""

    source: str
    obj: str
    field: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    origin: str
    captured_at: datetime
    captured_at_source: str  # "snapshot meta.json", "live collection" or "scan time"
    meta: dict[str, Any]
    k8s: dict[str, list[dict[str, Any]]]
    nb: dict[str, list[dict[str, Any]]] | None
    sources: tuple[SourceStatus, ...]
    problems: tuple[InputProblem, ...] = field(default=())
    # Raw objects that failed slimming (each has a problem above): a written snapshot keeps
    # them, so nothing read is lost and a later scan reports the same problems.
    rejected: dict[str, list[Any]] = field(default_factory=dict)

    def items(self, resource: str) -> list[dict[str, Any]]:
        return self.k8s.get(resource, [])

    def has(self, resource: str) -> bool:
        return resource in self.k8s

    def nb_rows(self, table: str) -> list[dict[str, Any]]:
        return (self.nb or {}).get(table, [])

    def cluster_uid(self) -> str | None:
        """The cluster's identity: the kube-system namespace's UID, else meta.json's."""
        for ns in self.items("namespaces"):
            if ns["metadata"]["name"] == "kube-system":
                return ns["metadata"].get("uid")
        cluster = self.meta.get("cluster")
        return cluster.get("uid") if isinstance(cluster, dict) else None


# ---------------------------------------------------------------------------
# Object slimming and validation (shared with the live collectors)


def slim_object(resource: str, obj: Any) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """Keep what the model reads. Returns (object, None, None) or (None, field, message)."""
    if not isinstance(obj, dict):
        return None, "(item)", f"expected an object, got {type(obj).__name__}"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None, "metadata", "missing or not a map"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None, "metadata.name", "missing or empty"
    if resource in NAMESPACED and not isinstance(meta.get("namespace"), str):
        return None, "metadata.namespace", "missing on a namespaced object"
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return None, f"metadata.{key}", f"not a map ({type(value).__name__})"
        for k, v in value.items():
            if not isinstance(v, str):
                return None, f"metadata.{key}[{k}]", f"value is not a string ({v!r})"
    for key in ("finalizers", "ownerReferences"):
        value = meta.get(key)
        if value is not None and not isinstance(value, list):
            return None, f"metadata.{key}", "not a list"
    for key in ("spec", "status"):
        value = obj.get(key)
        if value is not None and not isinstance(value, dict):
            return None, key, "not a map"
    slim_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "labels", "annotations",
                  "finalizers", "ownerReferences", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "creationTimestamp")
        if k in meta
    }
    out: dict[str, Any] = {"metadata": slim_meta}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if resource == "pods":
        out["spec"] = {k: spec[k] for k in ("hostNetwork", "restartPolicy", "nodeName")
                       if k in spec}
        # The leader's image tag names the controller's version when its Deployment does not
        # (model.detect_version); only the controller's own container is kept.
        containers = spec.get("containers")
        kept = [{k: c[k] for k in ("name", "image") if k in c} for c in containers
                if isinstance(c, dict) and c.get("name") == "kube-ovn-controller"] \
            if isinstance(containers, list) else []
        if kept:
            out["spec"]["containers"] = kept
        out["status"] = {k: status[k] for k in ("phase", "reason", "podIP", "podIPs")
                         if k in status}
    elif resource == "nodes":
        out["spec"] = {}
        out["status"] = {}
    elif resource == "deployments.apps":
        # The controller's image tag (version) and flags (settings), in the original shape so
        # that slimming a slimmed object changes nothing (snapshots are written slimmed).
        template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
        pod_spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
        containers = pod_spec.get("containers")
        kept = [{k: c[k] for k in ("name", "image", "command", "args") if k in c}
                for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []
        out["spec"] = {"template": {"spec": {"containers": kept}}}
        out["status"] = {}
    elif resource == "configmaps":
        data = obj.get("data")
        out["data"] = data if isinstance(data, dict) else {}
    else:
        out["spec"] = spec
        out["status"] = status
    return out, None, None


def object_label(resource: str, obj: Any, index: int) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
        ns = meta.get("namespace")
        return f"{ns}/{meta['name']}" if isinstance(ns, str) and ns else meta["name"]
    return f"items[{index}]"


# ---------------------------------------------------------------------------
# NB cells (RFC 7047 as printed by ovn-nbctl --format=json)


def decode_cell(cell: Any) -> Any:
    if isinstance(cell, list):
        if len(cell) == 2 and cell[0] in ("uuid", "named-uuid") and isinstance(cell[1], str):
            return cell[1]
        if len(cell) == 2 and cell[0] == "set" and isinstance(cell[1], list):
            return [decode_cell(a) for a in cell[1]]
        if len(cell) == 2 and cell[0] == "map" and isinstance(cell[1], list):
            out: dict[Any, Any] = {}
            for pair in cell[1]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ValueError(f"map entry is not a [key, value] pair: {pair!r}")
                out[decode_cell(pair[0])] = decode_cell(pair[1])
            return out
        raise ValueError(f"unknown cell {cell!r}")
    if isinstance(cell, (str, int, float, bool)):
        return cell
    raise ValueError(f"unknown cell {cell!r}")


def as_list(value: Any) -> list[Any]:
    """A set column: ovn-nbctl prints a one-element set as the bare atom."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_map(value: Any) -> dict[str, Any]:
    # An empty map may come back as an empty set once decoded.
    return value if isinstance(value, dict) else {}


def decode_nb_table(table: str, doc: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("headings"), list) \
            or not isinstance(doc.get("data"), list):
        raise InputError(
            f"{source}: NB table {table} is not ovn-nbctl JSON "
            '(expected {"headings": [...], "data": [[...], ...]})',
            hint=f"capture it with: ovn-nbctl --format=json list {table}",
        )
    headings = doc["headings"]
    keep = NB_COLUMNS.get(table)
    idx = [(i, h) for i, h in enumerate(headings) if keep is None or h in keep]
    rows: list[dict[str, Any]] = []
    for r, row in enumerate(doc["data"]):
        if not isinstance(row, list) or len(row) != len(headings):
            raise InputError(f"{source}: NB table {table}, row {r}: expected "
                             f"{len(headings)} cells, got {row!r:.80}")
        decoded: dict[str, Any] = {}
        for i, h in idx:
            try:
                decoded[h] = decode_cell(row[i])
            except ValueError as exc:
                raise InputError(
                    f"{source}: NB table {table}, row {r}, column {h}: malformed cell ({exc})"
                ) from None
        rows.append(decoded)
    return rows


# Kept columns whose atoms are UUID references (refTable in ovn-nb.ovsschema): ovn-nbctl prints
# them as ["uuid", u], which decoding flattens to u, so encoding must know them to undo it.
# Hard-coded because the schema file is not on an operator's machine; a live test checks this
# list against the installed schema.
NB_REFERENCE_COLUMNS: dict[str, frozenset[str]] = {
    "Logical_Switch": frozenset({"ports"}),
    "Logical_Router": frozenset({"ports", "nat", "load_balancer"}),
}


def _encode_atom(value: Any, reference: bool, where: str) -> Any:
    if reference:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a UUID string, got {value!r:.80}")
        return ["uuid", value]
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"{where}: expected a string, number or boolean, got {value!r:.80}")


def encode_nb_table(table: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The inverse of decode_nb_table: ovn-nbctl's `--format=json list` document for `rows`.

    Headings are `_uuid` then the kept columns in name order (ovn-nbctl's own order, minus
    the columns eipfsck drops). A list becomes ["set", ...] in the order given, a dict
    ["map", ...], anything else the bare atom: a one-element set that decoding flattened stays
    flat, as ovn-nbctl prints it. Raises ValueError for a row that decoding could not have
    produced (a missing or unknown column, a value of no OVSDB shape), since writing it would
    silently lose data.
    """
    if table not in NB_COLUMNS:
        raise ValueError(f"NB table {table} is not one eipfsck keeps")
    columns = sorted(NB_COLUMNS[table] - {"_uuid"})
    references = NB_REFERENCE_COLUMNS.get(table, frozenset())
    data: list[list[Any]] = []
    for r, row in enumerate(rows):
        extra = set(row) - NB_COLUMNS[table]
        missing = NB_COLUMNS[table] - set(row)
        if extra or missing:
            raise ValueError(
                f"NB table {table}, row {r}: "
                + ", ".join(filter(None, (
                    extra and f"unknown column(s) {', '.join(sorted(extra))}",
                    missing and f"missing column(s) {', '.join(sorted(missing))}")))
            )
        cells: list[Any] = [_encode_atom(row["_uuid"], True, f"{table} row {r} _uuid")]
        for column in columns:
            value = row[column]
            where = f"{table} {row['_uuid']} {column}"
            ref = column in references
            if isinstance(value, dict):
                cells.append(["map", [[_encode_atom(k, False, where), _encode_atom(v, False, where)]
                                      for k, v in value.items()]])
            elif isinstance(value, list):
                cells.append(["set", [_encode_atom(a, ref, where) for a in value]])
            else:
                cells.append(_encode_atom(value, ref, where))
        data.append(cells)
    return {"headings": ["_uuid", *columns], "data": data}


# ---------------------------------------------------------------------------
# Reading a snapshot directory or archive


class _Files:
    """Relative path -> bytes, over a directory or a safely read .tar.gz."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tar: dict[str, bytes] | None = None
        if root.is_file():
            self._tar = _read_tar(root)

    def exists(self, rel: str) -> bool:
        if self._tar is not None:
            return rel in self._tar
        return (self.root / rel).is_file()

    def has_dir(self, rel: str) -> bool:
        if self._tar is not None:
            return any(k.startswith(rel + "/") for k in self._tar)
        return (self.root / rel).is_dir()

    def read(self, rel: str) -> bytes:
        if self._tar is not None:
            return self._tar[rel]
        try:
            return (self.root / rel).read_bytes()
        except OSError as exc:
            raise InputError(f"{self.root / rel}: cannot read ({exc.strerror})") from None

    def display(self, rel: str) -> str:
        return f"{self.root}:{rel}" if self._tar is not None else str(self.root / rel)


def _read_tar(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{path}: not a readable tar archive ({exc})") from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InputError(f"{path}: truncated or corrupt archive ({exc})") from None
        if len(members) > MAX_TAR_MEMBERS:
            raise InputError(f"{path}: more than {MAX_TAR_MEMBERS} entries; refusing")
        for m in members:
            name = PurePosixPath(m.name)
            if name.is_absolute() or ".." in name.parts:
                raise InputError(f"{path}: unsafe entry {m.name!r} (absolute or '..'); refusing")
            if m.issym() or m.islnk() or m.isdev() or m.isfifo():
                raise InputError(f"{path}: entry {m.name!r} is a link or device; refusing")
            if not m.isfile():
                continue
            total += m.size
            if total > MAX_TAR_BYTES:
                raise InputError(f"{path}: archive unpacks to more than "
                                 f"{MAX_TAR_BYTES >> 30} GiB; refusing")
            fh = tar.extractfile(m)
            if fh is None:
                continue
            try:
                files[str(name)] = fh.read()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise InputError(f"{path}: entry {m.name!r} is truncated ({exc})") from None
    # Archives usually wrap the snapshot in one top-level directory: strip it.
    tops = {k.split("/", 1)[0] for k in files}
    if len(tops) == 1 and not any(k in ("meta.json",) for k in files):
        (top,) = tops
        if any(k.startswith(top + "/k8s/") for k in files):
            files = {k[len(top) + 1:]: v for k, v in files.items() if "/" in k}
    return files


def _parse_json(files: _Files, rel: str) -> Any:
    data = files.read(rel)
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise InputError(f"{files.display(rel)}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        # Strict JSON ends a string early only at the end of the data: a cut file.
        cut = exc.pos >= len(data.rstrip()) or exc.msg.startswith("Unterminated string")
        what = "truncated" if cut else "invalid"
        raise InputError(
            f"{files.display(rel)}: {what} JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg})"
        ) from None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def load_snapshot(path: str | os.PathLike[str], now: datetime | None = None) -> Snapshot:
    root = Path(path)
    if not root.exists():
        raise UsageError(f"{root}: no such snapshot directory or archive")
    if root.is_file() and not tarfile.is_tarfile(root):
        raise UsageError(f"{root}: expected a snapshot directory or a .tar.gz of one")
    files = _Files(root)
    if not files.exists(f"k8s/{REQUIRED_RESOURCE}.json"):
        raise InputError(
            f"{files.display(f'k8s/{REQUIRED_RESOURCE}.json')}: missing; a snapshot needs at "
            "least the subnets",
            hint="capture it with: kubectl get subnets.kubeovn.io -o json",
        )

    meta: dict[str, Any] = {}
    if files.exists("meta.json"):
        doc = _parse_json(files, "meta.json")
        if not isinstance(doc, dict):
            raise InputError(f"{files.display('meta.json')}: expected a JSON object")
        meta = doc
    captured = parse_time(meta.get("captured_at"))
    captured_known = captured is not None
    if captured is None:
        captured = now or datetime.now(UTC)

    k8s: dict[str, list[dict[str, Any]]] = {}
    sources: list[SourceStatus] = []
    problems: list[InputProblem] = []
    recorded = _recorded_sources(meta)
    for resource in K8S_RESOURCES:
        rel = f"k8s/{resource}.json"
        was = recorded.get(resource, {})
        if not files.exists(rel):
            # eipfsck snapshot records why a kind has no file (absent, failed); a hand-made
            # snapshot simply did not capture it.
            state = was.get("state") if was.get("state") in ("absent", "failed") else "absent"
            sources.append(SourceStatus(resource, "k8s", state,
                                        detail=was.get("detail") or "file not in snapshot"))
            continue
        items, rv, bad = _load_list(files, rel, resource)
        k8s[resource] = items
        problems.extend(bad)
        state = "partial" if bad else "complete"
        if was.get("state") in ("partial", "failed"):
            state = was["state"]
        detail = was.get("detail") or (f"{len(bad)} object(s) skipped" if bad else None)
        sources.append(SourceStatus(resource, "k8s", state, len(items),
                                    rv or was.get("resource_version"), detail))

    nb: dict[str, list[dict[str, Any]]] | None = None
    if files.has_dir("nb"):
        nb = {}
        for table in NB_TABLES:
            rel = f"nb/{table}.json"
            if not files.exists(rel):
                sources.append(SourceStatus(table, "nb", "absent", detail="file not in snapshot"))
                continue
            nb[table] = decode_nb_table(table, _parse_json(files, rel), files.display(rel))
            sources.append(SourceStatus(table, "nb", "complete", len(nb[table]),
                                        detail=recorded.get(table, {}).get("detail")))
    else:
        for table in NB_TABLES:
            was = recorded.get(table, {})
            state = "failed" if was.get("state") == "failed" else "skipped"
            sources.append(SourceStatus(table, "nb", state, detail=was.get(
                "detail") or "no nb/ directory in snapshot"))

    return Snapshot(
        origin=str(root), captured_at=captured,
        captured_at_source="snapshot meta.json" if captured_known else "scan time", meta=meta,
        k8s=k8s, nb=nb, sources=tuple(sources), problems=tuple(problems),
    )


def _recorded_sources(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """meta.json "sources": name -> {state, detail, resource_version}, as strings only."""
    raw = meta.get("sources")
    if not isinstance(raw, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        if isinstance(entry, dict):
            out[name] = {k: entry[k] for k in ("state", "detail", "resource_version")
                         if isinstance(entry.get(k), str)}
    return out


def _load_list(files: _Files, rel: str, resource: str
               ) -> tuple[list[dict[str, Any]], str | None, list[InputProblem]]:
    doc = _parse_json(files, rel)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise InputError(
            f"{files.display(rel)}: not a Kubernetes List (expected an object with an "
            '"items" array)',
            hint=f"capture it with: kubectl get {resource} -A -o json",
        )
    kind = doc.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind.endswith("List")):
        raise InputError(f"{files.display(rel)}: kind is {kind!r}, expected a List")
    rv = None
    if isinstance(doc.get("metadata"), dict):
        rv = doc["metadata"].get("resourceVersion") or None
    items: list[dict[str, Any]] = []
    bad: list[InputProblem] = []
    for i, obj in enumerate(doc["items"]):
        slim, fld, msg = slim_object(resource, obj)
        if slim is None:
            bad.append(InputProblem(files.display(rel), object_label(resource, obj, i),
                                    fld or "", msg or ""))
        else:
            items.append(slim)
    return items, rv, bad
