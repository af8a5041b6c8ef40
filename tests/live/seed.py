"""Load a snapshot directory into the live servers that `scripts/test-env up` starts.

`seed_snapshot(dir, kubeconfig, nb_remote)` makes a genuine kube-apiserver and OVN NB
ovsdb-server hold what the snapshot says, so that live collection can be tested against it:

* Kubernetes: the CRDs of deploy/crds/ (and deploy/crds/test-only/) are installed only for the
  kinds whose file exists in the snapshot's k8s/ directory (a missing file means "absent" and
  stays absent). Namespaces come first, then every object of every k8s/*.json file, without
  the fields the server sets (uid, resourceVersion, ...). Statuses go through the status
  subresource where the kind has one; Kube-OVN's IP and Vip have none, so theirs is part of the
  object. Objects the snapshot shows terminating keep (or get) a finalizer and are then deleted,
  so they are terminating for real. What the apiserver insists on but a hand-written snapshot
  may lack (pod containers, workload selector and template, service ports) is filled in and
  reported in `SeedResult.filled`; nothing the snapshot states is changed (except a pod's
  status.qosClass, which the server computes from the containers, also reported there).
* NB: every nb/*.json table (`ovn-nbctl --format=json list` output) is inserted in one OVSDB
  transaction; references between rows become named UUIDs, so they survive with new UUIDs.

Only the official `kubernetes` client (`ApiClient`) and the `ovs` JSON-RPC library are used.
Errors raise `SeedError` naming the file and the object.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ovs.jsonrpc
import ovs.stream
import yaml
from kubernetes.config import new_client_from_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT / "deploy" / "crds"
TEST_ONLY_CRD_DIR = CRD_DIR / "test-only"

FIELD_MANAGER = "eipfsck-seed"
HOLD_FINALIZER = "eipfsck.test/hold"
PLACEHOLDER_IMAGE = "registry.invalid/eipfsck-seed-placeholder:0"
# Metadata the server owns: never sent.
SERVER_SET_METADATA = (
    "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "managedFields", "generation", "selfLink",
)
NB_DATABASE = "OVN_Northbound"
# Columns OVSDB itself maintains.
NB_READ_ONLY_COLUMNS = frozenset({"_uuid", "_version"})
TIMEOUT = 30.0


class SeedError(Exception):
    """Seeding failed; the message names the file and the object."""


@dataclass
class SeedResult:
    k8s: dict[str, int] = field(default_factory=dict)
    """Objects written per resource file stem (created, or adopted when the server had made one)."""
    nb: dict[str, int] = field(default_factory=dict)
    """Rows written per NB table (NB_Global: inserted or updated)."""
    crds: list[str] = field(default_factory=list)
    """CRDs installed, by name."""
    namespaces_added: list[str] = field(default_factory=list)
    """Namespaces created only because objects live in them (not in namespaces.json)."""
    adopted: list[str] = field(default_factory=list)
    """Objects the apiserver had made itself (default/kubernetes, ...) overwritten with the
    snapshot's version."""
    filled: list[str] = field(default_factory=list)
    """Everything seeding added or changed because the servers required it."""
    terminating: list[str] = field(default_factory=list)
    """Objects deleted after creation so that they are terminating, as in the snapshot."""
    hold_finalizers: list[str] = field(default_factory=list)
    """Terminating objects without a finalizer of their own that got HOLD_FINALIZER."""
    nb_global: str = "absent"
    """'inserted', 'updated' (the server had an NB_Global row) or 'absent' (no NB_Global.json)."""
    nb_dropped_refs: list[str] = field(default_factory=list)
    """References to rows the snapshot does not contain, which OVSDB cannot hold."""
    nb_skipped_columns: list[str] = field(default_factory=list)
    """Columns not written: unknown to the server's schema, or ephemeral."""


# ---------------------------------------------------------------------------
# Resources


@dataclass(frozen=True)
class Resource:
    stem: str                   # snapshot file stem: <plural>[.<group>]
    group: str                  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    status_subresource: bool
    crd: dict[str, Any] | None = None   # the CustomResourceDefinition, for custom kinds

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"


BUILTIN: dict[str, Resource] = {
    r.stem: r for r in (
        Resource("namespaces", "", "v1", "namespaces", "Namespace", False, True),
        Resource("nodes", "", "v1", "nodes", "Node", False, True),
        Resource("pods", "", "v1", "pods", "Pod", True, True),
        Resource("services", "", "v1", "services", "Service", True, True),
        Resource("configmaps", "", "v1", "configmaps", "ConfigMap", True, False),
        Resource("leases.coordination.k8s.io", "coordination.k8s.io", "v1", "leases", "Lease",
                 True, False),
        Resource("statefulsets.apps", "apps", "v1", "statefulsets", "StatefulSet", True, True),
        Resource("deployments.apps", "apps", "v1", "deployments", "Deployment", True, True),
    )
}
# Creation order: what others live in or refer to first. Unlisted stems follow, sorted.
ORDER = ("namespaces", "nodes", "configmaps", "network-attachment-definitions.k8s.cni.cncf.io",
         "subnets.kubeovn.io", "vpcs.kubeovn.io")


def crd_file(stem: str) -> Path | None:
    for d in (CRD_DIR, TEST_ONLY_CRD_DIR):
        p = d / f"{stem}.yaml"
        if p.is_file():
            return p
    return None


def resource_for(stem: str) -> Resource:
    """The API resource of a snapshot file stem: core kinds built in, custom ones from their CRD."""
    if stem in BUILTIN:
        return BUILTIN[stem]
    path = crd_file(stem)
    if path is None:
        raise SeedError(f"k8s/{stem}.json: no such built-in resource and no CRD "
                        f"{stem}.yaml in {CRD_DIR} or {TEST_ONLY_CRD_DIR}")
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]
    version = next(v for v in spec["versions"] if v.get("storage"))
    return Resource(
        stem=stem, group=spec["group"], version=version["name"],
        plural=spec["names"]["plural"], kind=spec["names"]["kind"],
        namespaced=spec["scope"] == "Namespaced",
        status_subresource="status" in (version.get("subresources") or {}),
        crd=crd,
    )


# ---------------------------------------------------------------------------
# Kubernetes API


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        msg = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: HTTP {status}: {msg}")

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


class Api:
    """A thin JSON client over kubernetes.client.ApiClient (no typed models, no kubectl)."""

    def __init__(self, kubeconfig: str) -> None:
        self.client = new_client_from_config(config_file=kubeconfig, persist_config=False)

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, body: Any = None,
                query: Iterable[tuple[str, Any]] = ()) -> Any:
        query = list(query)
        if method in ("POST", "PUT", "PATCH"):
            query.append(("fieldManager", FIELD_MANAGER))
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        serialized = self.client.param_serialize(
            method=method, resource_path=path, query_params=query or None,
            header_params=headers, body=body, auth_settings=["BearerToken"],
        )
        response = self.client.call_api(*serialized, _request_timeout=TIMEOUT)
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        if not 200 <= response.status < 300:
            raise ApiError(method, path, response.status, data)
        return data

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def install_crds(api: Api, stems: Iterable[str]) -> list[str]:
    """Create the CRDs of these resource stems (deploy/crds, test-only too) and wait until each
    is Established and served. Built-in stems are ignored. Returns the CRD names installed."""
    crds = [r.crd for r in (resource_for(s) for s in stems) if r.crd is not None]
    base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    names = []
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            api.request("POST", base, crd)
        except ApiError as exc:
            if exc.status != 409:
                raise SeedError(f"{crd_file(name)}: installing CRD {name} failed: {exc}") from None
        names.append(name)
    deadline = time.monotonic() + TIMEOUT
    for crd in crds:
        name = crd["metadata"]["name"]
        while True:
            conds = (api.get(f"{base}/{name}").get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
                break
            if time.monotonic() > deadline:
                raise SeedError(f"{crd_file(name)}: CRD {name} not Established within "
                                f"{TIMEOUT:.0f}s (conditions: {conds})")
            time.sleep(0.05)
    # Established can precede the moment the new REST endpoint answers; wait for it too.
    for crd in crds:
        spec = crd["spec"]
        version = next(v for v in spec["versions"] if v.get("storage"))["name"]
        path = f"/apis/{spec['group']}/{version}/{spec['names']['plural']}"
        while not api.exists(path):
            if time.monotonic() > deadline:
                raise SeedError(f"CRD {crd['metadata']['name']}: {path} still 404 after "
                                f"{TIMEOUT:.0f}s")
            time.sleep(0.05)
    return names


# ---------------------------------------------------------------------------
# Planning the Kubernetes objects


@dataclass
class _Object:
    resource: Resource
    source: str                      # "k8s/pods.json"
    label: str                       # "kube-system/vpc-nat-gw-gw1-0"
    name: str
    namespace: str | None
    body: dict[str, Any]             # what is created (no server-set fields)
    status: dict[str, Any] | None    # written through the status subresource afterwards
    terminating: bool
    grace: int | None                # deletionGracePeriodSeconds of a terminating pod


def _load_list(path: Path) -> list[Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SeedError(f"{path}: cannot read JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise SeedError(f"{path}: not a Kubernetes List (no items array)")
    return doc["items"]


def _plan_object(res: Resource, source: str, index: int, obj: Any,
                 result: SeedResult) -> _Object:
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        raise SeedError(f"{source}: items[{index}]: not an object with metadata")
    body = copy.deepcopy(obj)
    meta = body["metadata"]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise SeedError(f"{source}: items[{index}]: metadata.name missing")
    namespace = meta.get("namespace") if res.namespaced else None
    if res.namespaced and (not isinstance(namespace, str) or not namespace):
        raise SeedError(f"{source}: {name}: namespaced {res.kind} without metadata.namespace")
    label = f"{namespace}/{name}" if namespace else name
    where = f"{source}: {label}"
    if not res.namespaced:
        meta.pop("namespace", None)
    terminating = meta.get("deletionTimestamp") is not None
    grace = meta.get("deletionGracePeriodSeconds") if res.stem == "pods" else None
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    body.setdefault("apiVersion", res.api_version)
    body.setdefault("kind", res.kind)
    if body["apiVersion"] != res.api_version or body["kind"] != res.kind:
        raise SeedError(f"{where}: is {body['apiVersion']} {body['kind']}, expected "
                        f"{res.api_version} {res.kind}")

    fill = FILLERS.get(res.stem)
    if fill is not None:
        result.filled.extend(f"{where}: {note}" for note in fill(body))

    # Namespaces stay terminating on their own: the server sets spec.finalizers ["kubernetes"]
    # and no namespace controller runs here to remove it.
    if terminating and res.stem != "namespaces" and not meta.get("finalizers"):
        meta["finalizers"] = [HOLD_FINALIZER]
        result.hold_finalizers.append(f"{res.stem} {label}")

    status = None
    if res.status_subresource and "status" in body:
        status = body.pop("status")
    return _Object(res, source, label, name, namespace, body, status, terminating, grace)


# What the apiserver requires but a (hand-written) snapshot may omit. Each filler returns notes.

def _placeholder_containers(names: list[str]) -> list[dict[str, Any]]:
    return [{"name": n, "image": PLACEHOLDER_IMAGE} for n in names or ["main"]]


def _fill_pod_spec(spec: dict[str, Any], path: str, status: dict[str, Any] | None
                   ) -> list[str]:
    notes = []
    containers = spec.get("containers")
    if not containers:
        names = [c.get("name") for c in ((status or {}).get("containerStatuses") or [])
                 if isinstance(c, dict) and c.get("name")]
        spec["containers"] = _placeholder_containers(names)
        notes.append(f"{path}.containers missing: added {len(spec['containers'])} placeholder "
                     f"container(s) {[c['name'] for c in spec['containers']]}")
    else:
        for i, c in enumerate(containers):
            if isinstance(c, dict) and not c.get("image"):
                c["image"] = PLACEHOLDER_IMAGE
                notes.append(f"{path}.containers[{i}].image missing: placeholder image")
            if isinstance(c, dict) and not c.get("name"):
                c["name"] = f"c{i}"
                notes.append(f"{path}.containers[{i}].name missing: named c{i}")
    return notes


def _fill_pod(obj: dict[str, Any]) -> list[str]:
    return _fill_pod_spec(obj.setdefault("spec", {}), "spec", obj.get("status"))


def _fill_workload(obj: dict[str, Any]) -> list[str]:
    notes = []
    spec = obj.setdefault("spec", {})
    template = spec.get("template")
    tlabels = ((template or {}).get("metadata") or {}).get("labels") or {}
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        labels = dict(tlabels) or {"eipfsck.test/workload": obj["metadata"]["name"]}
        spec["selector"] = {"matchLabels": labels}
        notes.append(f"spec.selector missing: matchLabels {labels}")
    match = spec["selector"].get("matchLabels") or {}
    if not template:
        spec["template"] = {"metadata": {"labels": dict(match)},
                            "spec": {"containers": _placeholder_containers([])}}
        notes.append("spec.template missing: placeholder pod template")
    else:
        tmeta = template.setdefault("metadata", {})
        labels = tmeta.setdefault("labels", {})
        missing = {k: v for k, v in match.items() if k not in labels}
        if missing:
            labels.update(missing)
            notes.append(f"spec.template.metadata.labels lacked the selector's {missing}: added")
        notes.extend(_fill_pod_spec(template.setdefault("spec", {}), "spec.template.spec", None))
    return notes


def _fill_service(obj: dict[str, Any]) -> list[str]:
    spec = obj.setdefault("spec", {})
    kind = spec.get("type") or "ClusterIP"
    if kind != "ExternalName" and spec.get("clusterIP") != "None" and not spec.get("ports"):
        spec["ports"] = [{"name": "placeholder", "port": 80, "protocol": "TCP"}]
        return ["spec.ports missing: added placeholder port 80/TCP"]
    return []


FILLERS = {
    "pods": _fill_pod,
    "statefulsets.apps": _fill_workload,
    "deployments.apps": _fill_workload,
    "services": _fill_service,
}


def _plan_k8s(snapshot_dir: Path, result: SeedResult
              ) -> tuple[list[Resource], list[_Object], list[str]]:
    k8s_dir = snapshot_dir / "k8s"
    if not k8s_dir.is_dir():
        raise SeedError(f"{k8s_dir}: no k8s/ directory")
    stems = sorted(p.name[:-len(".json")] for p in k8s_dir.glob("*.json"))
    rank = {s: i for i, s in enumerate(ORDER)}
    stems.sort(key=lambda s: (rank.get(s, len(ORDER)), s))
    resources = [resource_for(s) for s in stems]
    objects: list[_Object] = []
    for res in resources:
        source = f"k8s/{res.stem}.json"
        for i, obj in enumerate(_load_list(k8s_dir / f"{res.stem}.json")):
            objects.append(_plan_object(res, source, i, obj, result))
    seen: set[tuple[str, str | None, str]] = set()
    for o in objects:
        key = (o.resource.stem, o.namespace, o.name)
        if key in seen:
            raise SeedError(f"{o.source}: {o.label}: appears twice")
        seen.add(key)
    listed = {o.name for o in objects if o.resource.stem == "namespaces"}
    implied = sorted({o.namespace for o in objects if o.namespace} - listed)
    return resources, objects, implied


# ---------------------------------------------------------------------------
# Writing the Kubernetes objects


def _create(api: Api, o: _Object, result: SeedResult) -> dict[str, Any]:
    path = o.resource.collection_path(o.namespace)
    opath = o.resource.object_path(o.name, o.namespace)
    try:
        return api.request("POST", path, o.body)
    except ApiError as exc:
        # An object the apiserver made itself (namespace default, service default/kubernetes)
        # fails with 409, or with 422 when a field clashes first (the service's cluster IP).
        if exc.status not in (409, 422) or not api.exists(opath):
            raise SeedError(f"{o.source}: {o.label}: create failed: {exc}") from None
    # Make it the snapshot's version.
    live = api.get(opath)
    body = copy.deepcopy(o.body)
    body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    try:
        out = api.request("PUT", opath, body)
    except ApiError as exc:
        raise SeedError(f"{o.source}: {o.label}: already exists and replacing it failed: "
                        f"{exc}") from None
    result.adopted.append(f"{o.resource.stem} {o.label}")
    return out


def _write_status(api: Api, o: _Object, live: dict[str, Any], result: SeedResult) -> None:
    if o.status is None or live.get("status") == o.status:
        return
    status = copy.deepcopy(o.status)
    if o.resource.stem == "pods":
        # qosClass is computed from the containers' resources and cannot be changed.
        want, have = status.get("qosClass"), (live.get("status") or {}).get("qosClass")
        if want is not None and want != have:
            status["qosClass"] = have
            result.filled.append(f"{o.source}: {o.label}: status.qosClass {want!r} is computed "
                                 f"by the server from the containers: kept {have!r}")
    body = copy.deepcopy(live)
    body["status"] = status
    path = o.resource.object_path(o.name, o.namespace) + "/status"
    try:
        api.request("PUT", path, body)
    except ApiError as exc:
        raise SeedError(f"{o.source}: {o.label}: writing the status failed: {exc}") from None


def _make_terminating(api: Api, o: _Object, result: SeedResult) -> None:
    path = o.resource.object_path(o.name, o.namespace)
    options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if o.grace is not None:
        options["gracePeriodSeconds"] = o.grace
    try:
        api.request("DELETE", path, options)
        live = api.get(path)
    except ApiError as exc:
        raise SeedError(f"{o.source}: {o.label}: making it terminating failed: {exc}") from None
    if not live["metadata"].get("deletionTimestamp"):
        raise SeedError(f"{o.source}: {o.label}: deleted but not terminating")
    result.terminating.append(f"{o.resource.stem} {o.label}")


def _seed_k8s(api: Api, result: SeedResult,
              plan: tuple[list[Resource], list[_Object], list[str]]) -> None:
    resources, objects, implied = plan
    try:
        result.crds = install_crds(api, [r.stem for r in resources])
    except ApiError as exc:
        raise SeedError(f"installing CRDs: {exc}") from None
    ns = BUILTIN["namespaces"]
    for name in implied:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            api.request("POST", ns.collection_path(), body)
        except ApiError as exc:
            if exc.status == 409:     # one the apiserver made itself (default, kube-system)
                continue
            raise SeedError(f"namespace {name} (used by objects in the snapshot, not in "
                            f"k8s/namespaces.json): create failed: {exc}") from None
        result.namespaces_added.append(name)
    for r in resources:
        result.k8s[r.stem] = 0
    for o in objects:
        try:
            live = _create(api, o, result)
            _write_status(api, o, live, result)
        except ApiError as exc:
            raise SeedError(f"{o.source}: {o.label}: {exc}") from None
        result.k8s[o.resource.stem] += 1


# ---------------------------------------------------------------------------
# NB


@dataclass(frozen=True)
class _Column:
    kind: str                 # atomic type of the key (or the value, see ref_in)
    ref_table: str | None     # referenced table, if this column holds references
    strong: bool
    min: int
    ephemeral: bool


def _column(spec: dict[str, Any]) -> _Column:
    t = spec["type"]
    if isinstance(t, str):
        return _Column(t, None, False, 1, bool(spec.get("ephemeral")))
    ref_table, strong = None, False
    for part in ("key", "value"):
        base = t.get(part)
        if isinstance(base, dict) and base.get("refTable"):
            ref_table = base["refTable"]
            strong = base.get("refType", "strong") == "strong"
    key = t["key"] if isinstance(t["key"], str) else t["key"]["type"]
    return _Column(key, ref_table, strong, int(t.get("min", 1)), bool(spec.get("ephemeral")))


class _Nb:
    """One JSON-RPC connection to an OVSDB server."""

    def __init__(self, remote: str, ssl_files: tuple[str, str, str] | None) -> None:
        # The ovs library keeps TLS files process-wide (read when a stream opens): set them for
        # this connection only and put back what was there.
        attrs = ("_SSL_private_key_file", "_SSL_certificate_file", "_SSL_ca_cert_file")
        saved = [getattr(ovs.stream.Stream, a, None) for a in attrs]
        if remote.startswith("ssl:"):
            if ssl_files is None:
                raise SeedError(f"NB {remote}: an ssl: remote needs (key, cert, ca) files")
            for a, value in zip(attrs, ssl_files, strict=True):
                setattr(ovs.stream.Stream, a, value)
        try:
            error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote),
                                                         int(TIMEOUT * 1000))
        finally:
            for a, value in zip(attrs, saved, strict=True):
                setattr(ovs.stream.Stream, a, value)
        if error:
            raise SeedError(f"NB {remote}: cannot connect ({error})")
        self.remote = remote
        self.conn = ovs.jsonrpc.Connection(stream)

    def close(self) -> None:
        self.conn.close()

    def call(self, method: str, params: list[Any]) -> Any:
        error, reply = self.conn.transact_block(ovs.jsonrpc.Message.create_request(method, params))
        if error:
            raise SeedError(f"NB {self.remote}: {method} failed (errno {error})")
        if reply.error is not None:
            raise SeedError(f"NB {self.remote}: {method} failed: {reply.error}")
        return reply.result

    def transact(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = self.call("transact", [NB_DATABASE, *ops])
        errors = []
        for i, r in enumerate(results):
            if isinstance(r, dict) and r.get("error"):
                what = json.dumps(ops[i])[:300] if i < len(ops) else "(commit)"
                errors.append(f"{r['error']}: {r.get('details', '')} [op {i}: {what}]")
        if errors:
            raise SeedError(f"NB {self.remote}: transaction failed: " + "; ".join(errors))
        return results


@dataclass
class _NbPlan:
    tables: dict[str, list[dict[str, Any]]]    # table -> rows to insert (wire format)
    names: dict[str, list[str]]                # table -> uuid-name per row
    nb_global: dict[str, Any] | None
    counts: dict[str, int]


_DROP = object()


def _read_nb_table(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SeedError(f"{path}: cannot read JSON ({exc})") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("headings"), list)
            and isinstance(doc.get("data"), list)):
        raise SeedError(f"{path}: not ovn-nbctl --format=json output (headings/data)")
    rows = []
    for i, row in enumerate(doc["data"]):
        if not isinstance(row, list) or len(row) != len(doc["headings"]):
            raise SeedError(f"{path}: row {i}: expected {len(doc['headings'])} cells")
        rows.append(dict(zip(doc["headings"], row, strict=True)))
    return rows


def _is_uuid_cell(cell: Any) -> bool:
    return (isinstance(cell, list) and len(cell) == 2 and cell[0] == "uuid"
            and isinstance(cell[1], str))


def _row_label(table: str, row: dict[str, Any], index: int) -> str:
    name = row.get("name")
    what = f"{name!r}" if isinstance(name, str) and name else f"row {index}"
    uuid = row.get("_uuid")
    return f"{table} {what}" + (f" ({uuid[1]})" if _is_uuid_cell(uuid) else "")


def _plan_nb(snapshot_dir: Path, schema: dict[str, Any], result: SeedResult) -> _NbPlan:
    nb_dir = snapshot_dir / "nb"
    raw: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(nb_dir.glob("*.json")):
        table = path.name[:-len(".json")]
        if table not in schema["tables"]:
            raise SeedError(f"nb/{path.name}: table {table} is not in the server's "
                            f"{schema['name']} schema {schema.get('version')}")
        raw[table] = _read_nb_table(path)
    if len(raw.get("NB_Global", [])) > 1:
        raise SeedError(f"nb/NB_Global.json: {len(raw['NB_Global'])} rows; NB has at most one")

    names: dict[str, str] = {}       # snapshot uuid -> uuid-name
    for table, rows in raw.items():
        for i, row in enumerate(rows):
            if _is_uuid_cell(row.get("_uuid")):
                names[row["_uuid"][1]] = f"{table.lower()}_{i}"

    referenced: set[str] = set()     # uuids held by strong references
    out: dict[str, list[dict[str, Any]]] = {}
    row_names: dict[str, list[str]] = {}
    for table, rows in raw.items():
        columns = {c: _column(s) for c, s in schema["tables"][table]["columns"].items()}
        out[table], row_names[table] = [], []
        for i, row in enumerate(rows):
            label = _row_label(table, row, i)
            wire: dict[str, Any] = {}
            for col, cell in row.items():
                if col in NB_READ_ONLY_COLUMNS:
                    continue
                spec = columns.get(col)
                if spec is None or spec.ephemeral:
                    why = "ephemeral" if spec else "not in the server's schema"
                    note = f"nb/{table}.json: column {col} ({why})"
                    if note not in result.nb_skipped_columns:
                        result.nb_skipped_columns.append(note)
                    continue
                if spec.ref_table is None:
                    wire[col] = cell
                    continue
                dropped: list[str] = []
                converted = _convert(cell, names, spec.strong, referenced, dropped)
                result.nb_dropped_refs.extend(
                    f"nb/{table}.json: {label}: {col} -> {spec.ref_table} {u} "
                    "(row not in the snapshot)" for u in dropped)
                if converted is _DROP:
                    if spec.min > 0:
                        raise SeedError(f"nb/{table}.json: {label}: column {col} must reference "
                                        f"a {spec.ref_table} row that the snapshot lacks")
                    converted = ["set", []]
                wire[col] = converted
            out[table].append(wire)
            row_names[table].append(names.get(row["_uuid"][1], "")
                                    if _is_uuid_cell(row.get("_uuid")) else "")

    # Rows of non-root tables that nothing references would be garbage-collected at commit.
    for table, rows in raw.items():
        if schema["tables"][table].get("isRoot", False):
            continue
        for i, row in enumerate(rows):
            uuid = row["_uuid"][1] if _is_uuid_cell(row.get("_uuid")) else None
            if uuid not in referenced:
                raise SeedError(
                    f"nb/{table}.json: {_row_label(table, row, i)} is referenced by no row of the "
                    f"snapshot; {table} is not a root table, so ovsdb-server would delete it")

    globals_ = out.pop("NB_Global", [])
    row_names.pop("NB_Global", None)
    # An empty NB_Global.json leaves whatever NB_Global row the server has alone.
    counts = {t: len(rows) for t, rows in raw.items() if t != "NB_Global" or rows}
    return _NbPlan(out, row_names, globals_[0] if globals_ else None, counts)


def _convert(cell: Any, names: dict[str, str], strong: bool, referenced: set[str],
             dropped: list[str]) -> Any:
    """A cell of a reference column, its uuid atoms turned into named-uuids (rows of the
    snapshot) or dropped (rows it lacks: _DROP for a bare atom, left out of sets and maps)."""

    def ref(atom: Any) -> Any:
        if not _is_uuid_cell(atom):
            return atom
        if atom[1] in names:
            if strong:
                referenced.add(atom[1])
            return ["named-uuid", names[atom[1]]]
        dropped.append(atom[1])
        return _DROP

    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set":
        items = [ref(a) for a in cell[1]]
        return ["set", [a for a in items if a is not _DROP]]
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "map":
        pairs = [[ref(k), ref(v)] for k, v in cell[1]]
        return ["map", [p for p in pairs if _DROP not in p]]
    return ref(cell)


def _seed_nb(nb: _Nb, plan: _NbPlan, result: SeedResult) -> None:
    ops: list[dict[str, Any]] = [{"op": "comment", "comment": "eipfsck test seed"}]
    for table in plan.tables:
        ops.append({"op": "wait", "timeout": 0, "table": table, "where": [],
                    "columns": ["_uuid"], "until": "==", "rows": []})
    if plan.nb_global is not None:
        existing = nb.transact([{"op": "select", "table": "NB_Global", "where": [],
                                 "columns": ["_uuid"]}])[0]["rows"]
        if len(existing) > 1:
            raise SeedError(f"NB {nb.remote}: {len(existing)} NB_Global rows already")
        ops.append({"op": "wait", "timeout": 0, "table": "NB_Global", "where": [],
                    "columns": ["_uuid"], "until": "==", "rows": existing})
        if existing:
            ops.append({"op": "update", "table": "NB_Global",
                        "where": [["_uuid", "==", existing[0]["_uuid"]]], "row": plan.nb_global})
            result.nb_global = "updated"
        else:
            ops.append({"op": "insert", "table": "NB_Global", "row": plan.nb_global,
                        "uuid-name": "nb_global_0"})
            result.nb_global = "inserted"
    for table, rows in plan.tables.items():
        for row, name in zip(rows, plan.names[table], strict=True):
            op = {"op": "insert", "table": table, "row": row}
            if name:
                op["uuid-name"] = name
            ops.append(op)
    nb.transact(ops)
    # Check what the server holds now (garbage collection of unreferenced rows, for one).
    for table, want in plan.counts.items():
        rows = nb.transact([{"op": "select", "table": table, "where": [],
                             "columns": ["_uuid"]}])[0]["rows"]
        if len(rows) != want:
            raise SeedError(f"NB {nb.remote}: {table} holds {len(rows)} rows after seeding, "
                            f"the snapshot has {want}")
        result.nb[table] = want


# ---------------------------------------------------------------------------


def seed_snapshot(snapshot_dir: Path, kubeconfig: str, nb_remote: str | None, *,
                  nb_ssl_files: tuple[str, str, str] | None = None) -> SeedResult:
    """Load `snapshot_dir` into the apiserver of `kubeconfig` and the NB at `nb_remote`.

    `nb_remote` is an OVSDB remote (unix:, tcp:, or ssl: with `nb_ssl_files` = key, cert, CA);
    None skips nb/. The target is expected to be a fresh test environment: NB tables that are
    written must be empty (NB_Global may hold its single row, which is then updated).
    Everything is read and checked before the first write.
    """
    snapshot_dir = Path(snapshot_dir)
    result = SeedResult()
    k8s_plan = _plan_k8s(snapshot_dir, result)
    nb = nb_plan = None
    if nb_remote is not None and (snapshot_dir / "nb").is_dir():
        nb = _Nb(nb_remote, nb_ssl_files)
    try:
        if nb is not None:
            schema = nb.call("get_schema", [NB_DATABASE])
            nb_plan = _plan_nb(snapshot_dir, schema, result)
        api = Api(kubeconfig)
        try:
            _seed_k8s(api, result, k8s_plan)
            if nb is not None and nb_plan is not None:
                _seed_nb(nb, nb_plan, result)
            # Terminating last, namespaces after their content (nothing can be created in a
            # terminating namespace).
            _, objects, _ = k8s_plan
            dying = [o for o in objects if o.terminating]
            dying.sort(key=lambda o: o.resource.stem == "namespaces")
            for o in dying:
                _make_terminating(api, o, result)
        finally:
            api.close()
    finally:
        if nb is not None:
            nb.close()
    return result

