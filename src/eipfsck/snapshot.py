"""The Snapshot: what was read, from where, and how completely.

A Snapshot is plain data. The loader here reads the directory format of docs/snapshot-format.md
(or a .tar.gz of it); the live collectors produce the same type, so nothing after
this point knows where the data came from.

Objects are slimmed as they are read: only the fields the model uses survive, so
memory stays bounded by what the checks need rather than by the size of pod specs.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import lzma
import os
import tarfile
import zlib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal

from eipfsck.errors import InputError, UsageError
from eipfsck.kubeovn.names import Settings
from eipfsck.shapes import bad_time, shape_problem
from eipfsck.typed_decode import decode_list, decode_nb

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

# meta.json settings: the type of each controller setting, from its default value.
SETTING_TYPES: dict[str, type] = {
    f.name: type(f.default) for f in fields(Settings)}

# What the members a scan reads may unpack to, one by one and together (a decompression
# bomb is refused by its header, before it is read); members the format does not name are
# skipped unread, whatever their size.
MAX_TAR_BYTES = 4 << 30
MAX_MEMBER_BYTES = 4 << 30
MAX_TAR_MEMBERS = 10_000


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one resource or table was read."""

    name: str
    origin: Literal["k8s", "nb", "log", "meta"]
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
        # spec.selector is dropped: only apply checks it, on a fresh GET (repair/leader.py).
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
    bad = shape_problem(resource, out)
    if bad is not None:
        return None, *bad
    return out, None, None


def object_label(resource: str, obj: Any, index: int) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
        ns = meta.get("namespace")
        return f"{ns}/{meta['name']}" if isinstance(ns, str) and ns else meta["name"]
    return f"items[{index}]"


# ---------------------------------------------------------------------------
# NB cells (RFC 7047 as printed by ovn-nbctl --format=json)


def decode_atom(cell: Any) -> Any:
    """One OVSDB atom: a string, number, boolean or ["uuid", u]. Sets and maps nest no
    further (RFC 7047 5.1): anything else raises ValueError."""
    if isinstance(cell, list):
        if len(cell) == 2 and cell[0] in ("uuid", "named-uuid") and isinstance(cell[1], str):
            return cell[1]
        raise ValueError(f"not an atom: {_short(cell)}")
    if isinstance(cell, (str, int, float, bool)):
        return cell
    raise ValueError(f"unknown cell {_short(cell)}")


def decode_cell(cell: Any) -> Any:
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set" \
            and isinstance(cell[1], list):
        return [decode_atom(a) for a in cell[1]]
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "map" \
            and isinstance(cell[1], list):
        out: dict[Any, Any] = {}
        for pair in cell[1]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError(f"map entry is not a [key, value] pair: {_short(pair)}")
            out[decode_atom(pair[0])] = decode_atom(pair[1])
        return out
    return decode_atom(cell)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


# Kept columns that are maps in ovn-nb.ovsschema; the rest hold atoms or sets of atoms.
NB_MAP_COLUMNS = frozenset({"external_ids", "options", "other_config", "vips"})


def check_column(table: str, column: str, value: Any) -> None:
    """Raise ValueError when a decoded cell has a shape its column cannot have: the model
    uses references and map keys as keys, and iterates sets."""
    if column == "_uuid" or column in NB_REFERENCE_COLUMNS.get(table, ()):
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items) or (column == "_uuid"
                                                        and not isinstance(value, str)):
            raise ValueError(f"expected UUID reference(s), got {_short(value)}")
    elif column in NB_MAP_COLUMNS:
        if not isinstance(value, dict) and value != []:
            raise ValueError(f"expected a map, got {_short(value)}")
    elif isinstance(value, dict):
        raise ValueError(f"expected an atom or a set, got a map {_short(value)}")


def as_list(value: Any) -> list[Any]:
    """A set column: ovn-nbctl prints a one-element set as the bare atom."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_map(value: Any) -> dict[str, Any]:
    # An empty map may come back as an empty set once decoded.
    return value if isinstance(value, dict) else {}


def _row_uuid(headings: list[str], row: list[Any]) -> str:
    """ "; the row's _uuid is U" when readable: it names the row for ovn-nbctl."""
    cell = row[headings.index("_uuid")] if "_uuid" in headings else None
    ok = isinstance(cell, list) and len(cell) == 2 and cell[0] == "uuid" \
        and isinstance(cell[1], str)
    return f"; the row's _uuid is {_short(cell[1])}" if ok else ""  # type: ignore[index]


def decode_nb_table(table: str, doc: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("headings"), list) \
            or not isinstance(doc.get("data"), list):
        raise InputError(
            f"{source}: NB table {table} is not ovn-nbctl JSON "
            '(expected {"headings": [...], "data": [[...], ...]})',
            hint=f"capture it with: ovn-nbctl --format=json list {table}",
        )
    headings = doc["headings"]
    for i, h in enumerate(headings):
        if not isinstance(h, str):
            raise InputError(f"{source}: NB table {table}, headings[{i}]: not a column name "
                             f"({_short(h)})")
    if len(set(headings)) != len(headings):
        raise InputError(f"{source}: NB table {table}: a column is named twice in headings")
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
                check_column(table, h, decoded[h])
            except ValueError as exc:
                raise InputError(
                    f"{source}: NB table {table}, row {r}, column {h}: malformed cell ({exc})"
                    + _row_uuid(headings, row)
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
            try:
                check_column(table, column, value)  # a shape decoding refuses
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        data.append(cells)
    return {"headings": ["_uuid", *columns], "data": data}


# ---------------------------------------------------------------------------
# Reading a snapshot directory or archive


def snapshot_names() -> frozenset[str]:
    """Every file the snapshot format names (docs/snapshot-format.md): nothing else is read."""
    return frozenset({"meta.json", *(f"k8s/{r}.json" for r in K8S_RESOURCES),
                      *(f"nb/{t}.json" for t in NB_TABLES)})


class _Files:
    """Relative path -> bytes, over a directory or a safely streamed .tar.gz."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tar: dict[str, bytes] | None = None
        self._tar_dirs: frozenset[str] = frozenset()
        if root.is_file():
            self._tar, self._tar_dirs = _read_tar(root)

    def exists(self, rel: str) -> bool:
        if self._tar is not None:
            return rel in self._tar
        return (self.root / rel).is_file()

    def size(self, rel: str) -> int:
        """Bytes of a file (0 when absent or unreadable: reading it says why)."""
        if self._tar is not None:
            return len(self._tar.get(rel, b""))
        try:
            return (self.root / rel).stat().st_size
        except OSError:
            return 0

    def has_dir(self, rel: str) -> bool:
        if self._tar is not None:
            return rel in self._tar_dirs
        return (self.root / rel).is_dir()

    def read(self, rel: str) -> bytes:
        if self._tar is not None:
            # Each member is parsed once: let its bytes go as soon as they are.
            return self._tar.pop(rel)
        try:
            return (self.root / rel).read_bytes()  # its size is on disk, chosen by the user
        except OSError as exc:
            raise InputError(f"{self.root / rel}: cannot read ({exc.strerror})") from None

    def display(self, rel: str) -> str:
        return f"{self.root}:{rel}" if self._tar is not None else str(self.root / rel)


def _gib(n: int) -> str:
    return f"{n / (1 << 30):g} GiB"


# Archive read errors: a cut or corrupt stream shows up as any of these, at any point.
_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError)


def _read_tar(path: Path) -> tuple[dict[str, bytes], frozenset[str]]:
    """One pass over the archive as a stream: every entry is checked (unsafe names, links,
    devices and duplicates are refused), only the files the snapshot format names are read
    (each at most MAX_MEMBER_BYTES, together at most MAX_TAR_BYTES), the rest is skipped
    unread. Returns the files and the directories that hold them."""
    wanted = snapshot_names()
    files: dict[str, bytes] = {}
    regular: set[str] = set()
    total = count = 0
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    with raw, _decompressed(raw) as stream:
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closing `stream` ends it
            for m in tar:
                count += 1
                if count > MAX_TAR_MEMBERS:
                    raise InputError(f"{path}: more than {MAX_TAR_MEMBERS} entries; refusing")
                name = _safe_name(path, m)
                if not m.isfile():
                    continue
                if name in regular:
                    raise InputError(f"{path}: entry {m.name!r} appears twice (which one is "
                                     "the snapshot?); refusing")
                regular.add(name)
                if name not in wanted and name.split("/", 1)[-1] not in wanted:
                    continue  # not part of the snapshot format: never read
                if m.size > MAX_MEMBER_BYTES:
                    raise InputError(f"{path}: entry {m.name!r} unpacks to {m.size} bytes, "
                                     f"more than {_gib(MAX_MEMBER_BYTES)}; refusing")
                total += m.size
                if total > MAX_TAR_BYTES:
                    raise InputError(f"{path}: archive unpacks to more than "
                                     f"{_gib(MAX_TAR_BYTES)}; refusing")
                fh = tar.extractfile(m)
                data = fh.read() if fh is not None else b""
                if len(data) != m.size:
                    raise EOFError(f"entry {m.name!r} is cut short")
                files[name] = data
            # tarfile takes a cut header for the end: only the compressed stream's own end
            # (its length and checksum) tells a whole archive from a cut one.
            while stream.read(1 << 20):
                pass
        except InputError:
            raise
        except _TAR_ERRORS as exc:
            raise InputError(f"{path}: truncated or corrupt archive ({_why(exc)})") from None
    if not regular:
        raise InputError(f"{path}: truncated or corrupt archive (no files in it)")
    # Archives usually wrap the snapshot in one top-level directory: strip it.
    tops = {k.split("/", 1)[0] for k in regular}
    if len(tops) == 1 and "meta.json" not in regular:
        (top,) = tops
        if any(k.startswith(top + "/k8s/") for k in regular):
            regular = {k[len(top) + 1:] for k in regular if "/" in k}
            files = {k[len(top) + 1:]: v for k, v in files.items() if "/" in k}
    files = {k: v for k, v in files.items() if k in wanted}
    dirs = frozenset(k.rsplit("/", 1)[0] for k in regular if "/" in k)
    return files, dirs


def _decompressed(raw: BinaryIO) -> contextlib.AbstractContextManager[BinaryIO]:
    """The archive's tar stream, decompressed on the fly (read once, front to back)."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    return contextlib.nullcontext(raw)


def _safe_name(path: Path, m: tarfile.TarInfo) -> str:
    name = PurePosixPath(m.name)
    if name.is_absolute() or ".." in name.parts:
        raise InputError(f"{path}: unsafe entry {m.name!r} (absolute or '..'); refusing")
    if m.issym() or m.islnk() or m.isdev() or m.isfifo():
        raise InputError(f"{path}: entry {m.name!r} is a link or device; refusing")
    return str(name)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# Python refuses to convert longer digit strings (CVE-2020-10735); no field eipfsck reads
# holds a number of even 40 digits.
MAX_INT_DIGITS = 4300


class _LongNumber(Exception):
    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _LongNumber(digits)
    return int(text)


def _parse_json(files: _Files, rel: str, data: bytes | None = None) -> Any:
    if data is None:
        data = files.read(rel)
    try:
        return json.loads(data, parse_int=_parse_int)
    except UnicodeDecodeError:
        raise InputError(f"{files.display(rel)}: not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"{files.display(rel)}: JSON nested too deeply to read "
                         "(Kubernetes and ovn-nbctl never write such a document)") from None
    except _LongNumber as exc:
        raise InputError(f"{files.display(rel)}: an integer of {exc.digits} digits "
                         f"(more than {MAX_INT_DIGITS}): not a value Kubernetes or OVSDB "
                         "holds") from None
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


# Compressed streams tarfile reads ("r|*"): gzip, bzip2, xz.
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _check_readable(root: Path) -> None:
    """A directory we may list, or a file that is an archive (possibly cut short)."""
    try:
        if root.is_dir():
            os.listdir(root)
            return
        if not root.is_file():  # a FIFO or device would block or never end
            raise UsageError(f"{root}: not a directory or a regular file")
        with root.open("rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise InputError(f"{root}: cannot read ({exc.strerror})") from None
    if head.startswith(_COMPRESSED):
        return  # a cut or corrupt one is said by the reader, as "truncated or corrupt"
    try:
        is_tar = tarfile.is_tarfile(root)
    except (OSError, EOFError):
        is_tar = False
    if not is_tar:
        raise UsageError(f"{root}: expected a snapshot directory or a .tar.gz of one")


def load_snapshot(path: str | os.PathLike[str], now: datetime | None = None) -> Snapshot:
    root = Path(path)
    if not root.exists():
        raise UsageError(f"{root}: no such snapshot directory or archive")
    _check_readable(root)
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
    problems: list[InputProblem] = []
    for fld, msg in meta_problems(meta):
        problems.append(InputProblem(files.display("meta.json"), "meta.json", fld, msg))
    captured = parse_time(meta.get("captured_at"))
    captured_known = captured is not None
    if captured is None:
        captured = now or datetime.now(UTC)

    k8s: dict[str, list[dict[str, Any]]] = {}
    sources: list[SourceStatus] = []
    if problems:
        sources.append(SourceStatus("meta.json", "meta", "partial",
                                    detail=f"{len(problems)} field(s) ignored"))
    recorded = _recorded_sources(meta)
    # The largest file is read first, while little else is held: its bytes and its objects
    # are then the peak, rather than adding to everything read before it. Results are
    # listed in the format's order whatever the reading order.
    loaded = {resource: _load_list(files, f"k8s/{resource}.json", resource)
              for resource in sorted(K8S_RESOURCES, key=lambda r: -files.size(f"k8s/{r}.json"))
              if files.exists(f"k8s/{resource}.json")}
    for resource in K8S_RESOURCES:
        rel = f"k8s/{resource}.json"
        was = recorded.get(resource, {})
        if resource not in loaded:
            # eipfsck snapshot records why a kind has no file (absent, failed); a hand-made
            # snapshot simply did not capture it.
            state = was.get("state") if was.get("state") in ("absent", "failed") else "absent"
            sources.append(SourceStatus(resource, "k8s", state,
                                        detail=was.get("detail") or "file not in snapshot"))
            continue
        items, rv, bad = loaded.pop(resource)
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
                # Every NB table exists in every NB database (an empty one is written as an
                # empty table): a file missing beside the others was not read, so the NB
                # checks cannot tell "no row" from "not captured".
                sources.append(SourceStatus(table, "nb", "failed", detail=recorded.get(
                    table, {}).get("detail") or "file missing from nb/"))
                continue
            data = files.read(rel)
            rows = decode_nb(table, data, NB_COLUMNS.get(table), check_column)
            nb[table] = rows if rows is not None else decode_nb_table(
                table, _parse_json(files, rel, data), files.display(rel))
            del data
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


def meta_problems(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Fields of meta.json the scan would read with the wrong type: each is removed from
    `meta` (the scan goes on without it) and returned as (field, message)."""
    bad: list[tuple[str, str]] = []

    def drop(container: dict[str, Any], key: str, where: str, why: str) -> None:
        bad.append((where, f"{why} ({container[key]!r:.60}); ignored"))
        del container[key]

    for key in ("captured_at", "kube_ovn_version", "schema"):
        if key in meta and not isinstance(meta[key], str):
            drop(meta, key, key, "not a string")
    if isinstance(meta.get("captured_at"), str) and bad_time(meta["captured_at"]):
        drop(meta, "captured_at", "captured_at", bad_time(meta["captured_at"]) or "")
    for key in ("cluster", "settings", "sources"):
        if key in meta and not isinstance(meta[key], dict):
            drop(meta, key, key, "not a map")
    cluster = meta.get("cluster")
    if isinstance(cluster, dict) and "uid" in cluster and not isinstance(cluster["uid"], str):
        drop(cluster, "uid", "cluster.uid", "not a string")
    settings = meta.get("settings")
    if isinstance(settings, dict):
        meta["settings"] = settings = dict(settings)  # never edit the caller's nested map
        for key, expected in SETTING_TYPES.items():
            if key in settings and type(settings[key]) is not expected:
                drop(settings, key, f"settings.{key}", f"not a {expected.__name__}")
    return bad


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
    data = files.read(rel)
    fast = decode_list(resource, data, resource in NAMESPACED)
    if fast is not None:
        return fast.items, fast.resource_version, []
    # The reference path: every object parsed, then slimmed and checked in Python; it says
    # exactly what is wrong with a document the typed decoder would not vouch for.
    doc = _parse_json(files, rel, data)
    del data
    return slim_list(resource, doc, files.display(rel))


def slim_list(resource: str, doc: Any, source: str
              ) -> tuple[list[dict[str, Any]], str | None, list[InputProblem]]:
    """A parsed List's slim items, its resourceVersion and the objects it had to skip."""
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise InputError(
            f"{source}: not a Kubernetes List (expected an object with an "
            '"items" array)',
            hint=f"capture it with: kubectl get {resource} -A -o json",
        )
    kind = doc.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind.endswith("List")):
        raise InputError(f"{source}: kind is {kind!r}, expected a List")
    rv = None
    if isinstance(doc.get("metadata"), dict):
        rv = doc["metadata"].get("resourceVersion") or None
    items: list[dict[str, Any]] = []
    bad: list[InputProblem] = []
    for i, obj in enumerate(doc["items"]):
        slim, fld, msg = slim_object(resource, obj)
        if slim is None:
            bad.append(InputProblem(source, object_label(resource, obj, i), fld or "", msg or ""))
        else:
            items.append(slim)
    return items, rv, bad
