"""The repair plan: which findings become actions, in which order, and why the rest do not.

Pure: a plan is derived from one observation (a Model and its findings) and a RepairPolicy.
Every rule of docs/repair.md ("Never in a plan", "Holds") that can be decided from one
observation is decided here; the rules that need a second, fresh read (confirmation after the
grace period, re-verification right before acting) are in repair/verify.py and the appliers.

A finding that gets no action is never dropped silently: it becomes a Held entry naming the
gate that stopped it, so the plan says as much about what it will not do as about what it will.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from eipfsck.addresses import Address, try_parse_ip
from eipfsck.checks.catalogue import BY_ID
from eipfsck.checks.finding import Finding
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.northbound import lrp_addresses, lsp_addresses
from eipfsck.kubeovn.owners import Claim
from eipfsck.kubeovn.refs import Ref
from eipfsck.model import Model
from eipfsck.repair.leader import leader_pod_problem
from eipfsck.snapshot import as_map

ActionKind = Literal["delete-nb-lb-vip", "delete-nb-nat", "delete-nb-lrp", "delete-nb-lsp",
                     "delete-ip-cr", "delete-nat-cr", "resurrect", "restart-controller"]
# Most dependent first (LB VIPs → NAT → LRP with its peer → LSP), then the Kubernetes leftovers,
# then the releases of what only the allocator still holds (docs/repair.md "Actions").
ACTION_ORDER: tuple[ActionKind, ...] = (
    "delete-nb-lb-vip", "delete-nb-nat", "delete-nb-lrp", "delete-nb-lsp", "delete-ip-cr",
    "delete-nat-cr", "resurrect", "restart-controller")
NB_ACTIONS = frozenset({"delete-nb-lb-vip", "delete-nb-nat", "delete-nb-lrp", "delete-nb-lsp"})
LEAK_ACTIONS = frozenset({"resurrect", "restart-controller"})

Gate = Literal[
    "incomplete-scan",   # a source failed or an owner kind is missing: nothing is provable
    "not-repairable",    # no safe automatic action exists; the remedy is for a human
    "protected",         # a shape that only looks orphaned, or a deliberate reservation
    "owner-referenced",  # an owner (or a request) holds an address the subject carries
    "in-flight",         # the subnet has allocations in progress
    "leak-ratio",        # implausibly many leaks in the subnet: the scan is suspect
    "needs-option",      # only with --allow-controller-restart / --allow-resurrect
    "nb-row-left",       # a leak whose IP an NB row still carries, and no action removes it
    "hazards",           # a restart with restore hazards, without --ack-hazards
    "no-leader",         # a restart, but no kube-ovn-controller leader is known
    "max-actions",       # beyond --max-actions
]
# Gates that need a human to decide (exit bit 32). The others clear by themselves (in-flight,
# a second observation) or are facts about the finding, not refusals.
REFUSING_GATES: frozenset[str] = frozenset({"incomplete-scan", "leak-ratio", "hazards",
                                            "max-actions"})
# Findings a human must resolve; repair prints their remedy and never acts on them.
HUMAN_ONLY = frozenset({"double-claim", "terminating-owner", "phantom-v6-restore",
                        "phantom-ip"})
RESURRECTABLE = ("OvnEip", "Vip")
# Any use of an address by an object blocks touching it: an owner, a request not yet
# allocated, or an address Kubernetes uses itself (a Service's load-balancer ingress).
_BLOCKING_ROLES = frozenset({"owner", "inflight", "external"})

# The columns a delete waits on: everything that identifies what the row does.
NB_WAIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "NAT": ("type", "external_ip", "logical_ip", "logical_port", "external_mac"),
    "Logical_Router_Port": ("name", "networks", "mac", "peer"),
    "Logical_Switch_Port": ("name", "type", "addresses", "options", "external_ids"),
}


@dataclass(frozen=True)
class RepairPolicy:
    max_actions: int = 20
    max_leak_ratio: float = 0.2
    grace: timedelta = timedelta(minutes=2)
    allow_controller_restart: bool = False
    ack_hazards: bool = False
    allow_resurrect: bool = False

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RepairPolicy:
        """The options a plan was made (and reviewed) with."""
        base = cls()
        return cls(
            max_actions=int(doc.get("max_actions", base.max_actions)),
            max_leak_ratio=float(doc.get("max_leak_ratio", base.max_leak_ratio)),
            grace=timedelta(seconds=float(doc.get("grace_seconds",
                                                  base.grace.total_seconds()))),
            allow_controller_restart=doc.get("allow_controller_restart") is True,
            ack_hazards=doc.get("ack_hazards") is True,
            allow_resurrect=doc.get("allow_resurrect") is True)

    def as_json(self) -> dict[str, Any]:
        return {"max_actions": self.max_actions, "max_leak_ratio": self.max_leak_ratio,
                "grace_seconds": self.grace.total_seconds(),
                "allow_controller_restart": self.allow_controller_restart,
                "ack_hazards": self.ack_hazards, "allow_resurrect": self.allow_resurrect}


@dataclass(frozen=True)
class Target:
    kind: str  # a Kubernetes kind, or an NB table
    name: str
    namespace: str | None = None
    uuid: str | None = None  # NB: the row's _uuid; Kubernetes: metadata.uid
    resource_version: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        for k, v in (("namespace", self.namespace), ("uuid", self.uuid),
                     ("resourceVersion", self.resource_version)):
            if v is not None:
                out[k] = v
        return out

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True)
class Action:
    id: str
    action: ActionKind
    finding: str
    subnet: str | None
    ip: str | None
    target: Target
    preconditions: dict[str, Any]
    reason: str
    addresses: tuple[str, ...] = ()  # every address the subject carries

    def key(self) -> tuple[str, ...]:
        """What the action is about, independent of versions: two observations planning the
        same key are planning the same thing."""
        t = self.target
        if self.action == "restart-controller":
            return (self.action,)
        if self.action in NB_ACTIONS:
            return (self.action, t.kind, t.uuid or "", str(self.preconditions.get("vip", "")))
        return (self.action, t.kind, t.namespace or "", t.name)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "action": self.action, "finding": self.finding}
        if self.subnet:
            out["subnet"] = self.subnet
        if self.ip:
            out["ip"] = self.ip
        out.update({"target": self.target.as_json(), "preconditions": self.preconditions,
                    "reason": self.reason, "addresses": list(self.addresses)})
        return out


@dataclass(frozen=True)
class Held:
    finding: str
    subnet: str | None
    ip: str | None
    subject: str
    gate: Gate
    reason: str
    remedy: str = ""

    def as_json(self) -> dict[str, Any]:
        out = {"finding": self.finding, "subnet": self.subnet, "ip": self.ip,
               "subject": self.subject, "gate": self.gate, "reason": self.reason}
        if self.remedy:
            out["remedy"] = self.remedy
        return out


@dataclass
class Plan:
    cluster: dict[str, Any]
    created: datetime  # when the observation the plan was built from was made
    tool_version: str
    source: str  # "live" or the snapshot it was built from
    policy: dict[str, Any]
    actions: list[Action]
    held: list[Held]
    hazards: list[dict[str, Any]] = field(default_factory=list)
    scan: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> list[Held]:
        return [h for h in self.held if h.gate in REFUSING_GATES]


# ---------------------------------------------------------------------------------------------


class _Planner:
    def __init__(self, model: Model, findings: list[Finding], policy: RepairPolicy) -> None:
        self.model, self.findings, self.policy = model, findings, policy
        self.inv = model.inventory
        self.snap = model.snapshot
        self.actions: list[Action] = []
        self.held: list[Held] = []
        self.claims_at: dict[Address, list[Claim]] = defaultdict(list)
        for c in self.inv.claims:
            self.claims_at[c.address].append(c)
        self.nb_rows: dict[str, dict[str, Any]] = {}
        for table in ("NAT", "Logical_Router_Port", "Logical_Switch_Port", "Load_Balancer"):
            for row in self.snap.nb_rows(table):
                self.nb_rows[str(row.get("_uuid", ""))] = row
        self.router_lsps: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.snap.nb_rows("Logical_Switch_Port"):
            if row.get("type") == "router":
                peer = as_map(row.get("options")).get("router-port")
                if isinstance(peer, str):
                    self.router_lsps[peer].append(row)
        self.meta_index: dict[str, dict[tuple[str | None, str], dict[str, Any]]] = {}
        self.in_flight: dict[str | None, list[str]] = defaultdict(list)
        for ref, subnet, why in self.inv.pending:
            self.in_flight[subnet if subnet in model.subnets else None].append(f"{ref}: {why}")

    # -- gates -------------------------------------------------------------------------------

    def hold(self, f: Finding, gate: Gate, reason: str, remedy: str = "") -> None:
        self.held.append(Held(f.check, f.subnet, str(f.ip) if f.ip else None,
                              ", ".join(map(str, f.subjects)), gate, reason, remedy))

    def blocking_claims(self, addresses: tuple[Address, ...], subject: Ref | None
                        ) -> list[Claim]:
        out = []
        for a in addresses:
            for c in self.claims_at.get(a, []):
                if c.role in _BLOCKING_ROLES and c.ref != subject:
                    out.append(c)
        return out

    def owner_gate(self, f: Finding, addresses: tuple[Address, ...], subject: Ref | None
                   ) -> bool:
        """Rule 2: nothing a live owner (or a pending request) references is touched."""
        claims = self.blocking_claims(addresses, subject)
        if not claims:
            return False
        who = "; ".join(sorted({f"{c.ref} ({c.role}) holds {c.address}" for c in claims}))
        self.hold(f, "owner-referenced", f"not touched: {who}",
                  "Decide by hand whether the owner still needs it; eipfsck never removes "
                  "anything an owner references.")
        return True

    def existing_owner(self, kind: str, name: str, namespace: str | None = None) -> bool:
        if kind == "Pod":
            return namespace is not None and (namespace, name) in self.inv.pods
        if kind == "Vip":
            return name in self.inv.vips
        if kind == "OvnEip":
            return name in self.inv.ovn_eips
        if kind == "IptablesEIP":
            return name in self.inv.iptables_eips
        if kind == "Node":
            return name in self.inv.nodes
        return False

    # -- per finding -------------------------------------------------------------------------

    def add(self, f: Finding, kind: ActionKind, target: Target, preconditions: dict[str, Any],
            reason: str, addresses: tuple[Address, ...]) -> None:
        self.actions.append(Action(
            "", kind, f.check, f.subnet, str(f.ip) if f.ip else None, target, preconditions,
            reason, tuple(str(a) for a in addresses)))

    def nb_expect(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        return {"table": table, "uuid": str(row["_uuid"]),
                "columns": {c: row.get(c) for c in NB_WAIT_COLUMNS[table]}}

    def subject_row(self, f: Finding) -> dict[str, Any] | None:
        """The NB row an orphan-nb-* finding names, as the snapshot holds it; a finding
        whose row is not there is held (nothing to wait on)."""
        row = self.nb_rows.get(f.subjects[0].uuid or "")
        if row is None:
            self.hold(f, "not-repairable", "the NB row is not in the snapshot")
        return row

    def orphan_lb(self, f: Finding) -> None:
        subject = f.subjects[0]
        row = self.subject_row(f)
        if row is None:
            return
        vip = f.evidence.get("columns", {}).get("vip")
        if not isinstance(vip, str) or vip not in as_map(row.get("vips")):
            self.hold(f, "not-repairable", "the VIP is not on the load balancer row in the "
                      "snapshot")
            return
        addrs = (f.ip,) if f.ip else ()
        if self.owner_gate(f, addrs, None):
            return
        backends = as_map(row.get("vips"))[vip]
        lb = str(row.get("name", ""))
        self.add(f, "delete-nb-lb-vip", Target("Load_Balancer", lb, uuid=subject.uuid),
                 {"vip": vip, "rows": [{"table": "Load_Balancer", "uuid": subject.uuid,
                                        "vip": vip, "columns": {"vips": {vip: backends}}}]},
                 f"remove VIP {vip} from load balancer {lb}: no OvnDnatRule, Service or LB rule "
                 "accounts for it", addrs)

    def orphan_nat(self, f: Finding) -> None:
        subject = f.subjects[0]
        row = self.subject_row(f)
        if row is None:
            return
        addrs = tuple(a for a in (try_parse_ip(row.get("external_ip")),
                                  try_parse_ip(row.get("logical_ip"))) if a is not None)
        if self.owner_gate(f, addrs, None):
            return
        router = str(f.evidence.get("columns", {}).get("router", ""))
        self.add(f, "delete-nb-nat", Target("NAT", subject.name, uuid=subject.uuid),
                 {"router": router, "rows": [self.nb_expect("NAT", row)]},
                 f"delete NAT row {subject.name} on router {router}: no NAT rule CR or pod "
                 "annotation produces it", addrs)

    def orphan_lrp(self, f: Finding) -> None:
        subject = f.subjects[0]
        if subject.kind == "Logical_Switch_Port":
            # A router-type switch port whose router port is gone: it alone is left.
            self.orphan_lsp(f)
            return
        row = self.subject_row(f)
        if row is None:
            return
        name = str(row.get("name", ""))
        if self.is_default_gateway_lrp(name):
            self.hold(f, "protected", f"{name} is the default VPC's gateway port built from "
                      f"ConfigMap {n.EXTERNAL_GW_CONFIGMAP}; it has no OvnEip by design")
            return
        if name in self.inv.ovn_eips:
            self.hold(f, "owner-referenced", f"OvnEip {name} exists")
            return
        peers = self.router_lsps.get(name, [])
        addrs = lrp_addresses(row) + tuple(a for p in peers for a in lsp_addresses(p))
        if self.owner_gate(f, addrs, None):
            return
        rows = [self.nb_expect("Logical_Router_Port", row)]
        rows += [self.nb_expect("Logical_Switch_Port", p) for p in peers]
        also = f" and its router-type peer {', '.join(str(p.get('name')) for p in peers)}" \
            if peers else ""
        self.add(f, "delete-nb-lrp", Target("Logical_Router_Port", name, uuid=subject.uuid),
                 {"rows": rows},
                 f"delete router port {name}{also}: no lrp-type OvnEip or subnet owns it", addrs)

    def is_default_gateway_lrp(self, name: str) -> bool:
        s = self.model.settings
        return name in (f"{s.cluster_router}-{s.external_gateway_switch}",
                        f"{s.cluster_router}-{n.LEGACY_EXTERNAL_SWITCH}") \
            and (self.inv.configmaps.get((s.gateway_config_namespace, n.EXTERNAL_GW_CONFIGMAP))
                 is not None
                 or not self.snap.has("configmaps"))

    def orphan_lsp(self, f: Finding) -> None:
        subject = f.subjects[0]
        row = self.subject_row(f)
        if row is None:
            return
        name = str(row.get("name", ""))
        ext = as_map(row.get("external_ids"))
        pod_key = ext.get("pod")
        # Defence in depth over the mapper: a live pod's port is re-plumbed by the controller
        # if it vanishes (inspectPod), so it is never deleted, whatever the finding says.
        live = name in self.inv.live_ports
        if isinstance(pod_key, str) and "/" in pod_key:
            ns, pod = pod_key.split("/", 1)
            live = live or self.existing_owner("Pod", pod, ns)
        for kind in ("Vip", "OvnEip"):
            live = live or self.existing_owner(kind, name)
        if name.startswith("node-"):
            live = live or self.existing_owner("Node", name[len("node-"):])
        router_port = as_map(row.get("options")).get("router-port")
        if row.get("type") == "router" and isinstance(router_port, str):
            # An lrp-type OvnEip re-created while its router-type port stayed gets no router
            # port; the port is the live EIP's (Kube-OVN pkg/controller/ovn_eip.go
            # handleDelOvnEip deletes the router port named after the EIP), a human re-plumbs it.
            live = live or self.existing_owner("OvnEip", router_port)
        if live:
            self.hold(f, "owner-referenced", f"port {name} belongs to an object that exists")
            return
        addrs = lsp_addresses(row)
        if self.owner_gate(f, addrs, None):
            return
        absent = []
        if isinstance(pod_key, str) and "/" in pod_key:
            ns, pod = pod_key.split("/", 1)
            absent.append({"kind": "Pod", "namespace": ns, "name": pod})
        # The other owners a port may be named after: re-checked right before the delete too.
        absent += [{"kind": kind, "name": name} for kind in ("Vip", "OvnEip")]
        if name.startswith("node-"):
            absent.append({"kind": "Node", "name": name[len("node-"):]})
        self.add(f, "delete-nb-lsp", Target("Logical_Switch_Port", name, uuid=subject.uuid),
                 {"rows": [self.nb_expect("Logical_Switch_Port", row)], "absent": absent},
                 f"delete switch port {name}: {f.evidence.get('reason') or f.message}", addrs)

    def orphan_ip_cr(self, f: Finding) -> None:
        subject = f.subjects[0]
        info = self.inv.ip_crs.get(subject.name)
        if info is None or info.owner != "missing":
            self.hold(f, "not-repairable", "the IP CR's owner is not known to be gone")
            return
        if info.live_port or info.reserved:
            self.hold(f, "protected", str(f.evidence.get("not_deletable") or "protected"),
                      "Leave it: deleting it would free an address someone relies on.")
            return
        if info.deletion is not None:
            self.hold(f, "not-repairable", "already terminating: see terminating-owner")
            return
        if self.owner_gate(f, info.addresses, info.ref):
            return
        meta = self.metadata("IP", None, subject.name)
        if meta is None:
            self.hold(f, "not-repairable", "the object is not in the snapshot")
            return
        absent = [{"kind": "Pod", "namespace": info.namespace, "name": info.pod_name}] \
            if info.pod_name and info.namespace else []
        self.add(f, "delete-ip-cr", self.k8s_target("IP", None, subject.name, meta),
                 {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion"),
                  "absent": absent},
                 f"delete IP {subject.name} normally (the controller's finalizer releases it): "
                 f"{info.owner_detail}", info.addresses)

    def dangling_ref(self, f: Finding) -> None:
        rule = f.subjects[0]
        eip = f.evidence.get("eip") or {}
        if eip.get("exists", True):
            self.hold(f, "not-repairable", f"{eip.get('kind')} {eip.get('name')} exists but "
                      "holds another address; the rule is live",
                      BY_ID["dangling-eip-ref"].remedy)
            return
        addrs = tuple(a for a in (try_parse_ip(x) for x in f.evidence.get("rule_status_eip", []))
                      if a is not None)
        if self.owner_gate(f, addrs, rule):
            return
        meta = self.metadata(rule.kind, rule.namespace, rule.name)
        if meta is None or rule.kind not in n.RESOURCE_OF_KIND:
            self.hold(f, "not-repairable", "the object is not in the snapshot")
            return
        if meta.get("deletionTimestamp"):
            self.hold(f, "not-repairable", "already terminating: see terminating-owner")
            return
        self.add(f, "delete-nat-cr", self.k8s_target(rule.kind, rule.namespace, rule.name, meta),
                 {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion"),
                  "absent": [{"kind": eip.get("kind"), "name": eip.get("name")}]},
                 f"delete {rule} normally so the controller removes its NAT rows: "
                 f"{eip.get('kind')} {eip.get('name')} is gone", addrs)

    def metadata(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        resource = n.RESOURCE_OF_KIND.get(kind, "")
        index = self.meta_index.get(resource)
        if index is None:
            # Indexed once per kind: a cluster with thousands of orphan IP CRs must not scan
            # every IP CR once per orphan.
            index = self.meta_index[resource] = {
                (o["metadata"].get("namespace") or None, o["metadata"].get("name")):
                o["metadata"] for o in self.snap.items(resource)}
        m = index.get((namespace, name))
        return dict(m) if m is not None else None

    def metadata_object(self, resource: str, namespace: str, name: str
                        ) -> dict[str, Any] | None:
        return next((o for o in self.snap.items(resource)
                     if o["metadata"].get("namespace") == namespace
                     and o["metadata"].get("name") == name), None)

    @staticmethod
    def k8s_target(kind: str, namespace: str | None, name: str, meta: dict[str, Any]) -> Target:
        return Target(kind, name, namespace, meta.get("uid"), meta.get("resourceVersion"))

    # -- leaks -------------------------------------------------------------------------------

    def leaks(self, leaks: list[Finding], hazards: list[Finding]) -> None:
        """Leaked IPs: released by resurrect-and-delete or by a rebuild, both opt-in. Runs
        after the in-flight gate, so the NB actions it counts on are the ones that stay."""
        nb_cleaned = {r.get("uuid") for a in self.actions for r in a.preconditions.get("rows", [])}
        ready: list[Finding] = []
        for f in leaks:
            if f.ip is None:
                self.hold(f, "not-repairable", f"{f.evidence.get('count')} leaks listed by range: "
                          "that many usually means the scan is wrong; review by hand")
                continue
            if f.evidence.get("pairing_ambiguous"):
                # It may be the phantom of a live key, which a restart re-creates and a
                # resurrect would take from its owner (issue 11 items 2-3).
                self.hold(f, "owner-referenced", "it may be a live owner's phantom: "
                          + str(f.evidence["pairing_ambiguous"]))
                continue
            if f.subnet in self.in_flight:
                self.hold(f, "in-flight", f"subnet {f.subnet} has allocations in progress: a "
                          "fresh allocation looks exactly like a leak until its records are "
                          "written")
                continue
            left = [r for r in f.evidence.get("nb_rows", []) if r.get("uuid") not in nb_cleaned]
            if left:
                rows = ", ".join(f"{r['kind']} {r['name']}" for r in left)
                self.hold(f, "nb-row-left", f"NB rows still carry it and are not provably "
                          f"orphaned ({rows}); releasing it would let the next allocation "
                          "duplicate it")
                continue
            ready.append(f)
        if not ready:
            return
        if not (self.policy.allow_resurrect or self.policy.allow_controller_restart):
            for f in ready:
                self.hold(f, "needs-option", "releasing what only the allocator holds needs "
                          "--allow-controller-restart (rebuild) or --allow-resurrect",
                          BY_ID["leaked-ip"].remedy)
            return
        rest = self.resurrect(ready) if self.policy.allow_resurrect else ready
        if rest and self.policy.allow_controller_restart:
            self.restart(rest, hazards)
        elif rest:
            for f in rest:
                self.hold(f, "needs-option", "no IPAM key of an OvnEip or Vip is known for it "
                          "(give the controller log); a rebuild needs --allow-controller-restart")

    def resurrect(self, leaks: list[Finding]) -> list[Finding]:
        by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        rest = []
        for f in leaks:
            key = f.evidence.get("ipam_key")
            kind = self.former_kind(key, f.subnet, f.evidence.get("former_kind")) \
                if isinstance(key, str) and f.subnet \
                else None
            if kind is None:
                rest.append(f)
                continue
            by_key[(kind, str(key))].append(f)
        for (kind, key), fs in sorted(by_key.items()):
            subnet = fs[0].subnet
            if any(x.subnet != subnet for x in fs) or len({x.family for x in fs}) != len(fs):
                rest.extend(fs)
                continue
            addrs = tuple(x.ip for x in fs if x.ip)
            self.add(fs[0], "resurrect", Target(kind, key),
                     {"absent": [{"kind": kind, "name": key}], "subnet": subnet,
                      "addresses": [str(a) for a in addrs],
                      "ipam_key": key, "nb_rows": _nb_uuids(fs)},
                     f"re-create {kind} {key} with {', '.join(map(str, addrs))} in {subnet} and "
                     "delete it normally, so the controller's own delete path releases the "
                     "entry (key from the controller log)", addrs)
        return rest

    def former_kind(self, key: str, subnet: str, logged: Any = None) -> str | None:
        """The kind the leak's IPAM key most likely had. The log names a key, not a kind, so
        the evidence is indirect: a NAT rule naming the key, a virtual port of that name,
        the subnet's role. An IptablesEIP is never re-created (its path execs into a NAT
        gateway pod: Kube-OVN pkg/controller/vpc_nat_gw_eip.go handleDelIptablesEip); a wrong
        guess is caught at apply, where no status comes."""
        if "/" in key:
            return None
        if key in self.inv.vips or key in self.inv.ovn_eips or key in self.inv.iptables_eips:
            return None  # it exists, so it would own the IP: not a leak to resurrect
        if isinstance(logged, str) and logged:
            # The controller log's delete-handler line names the kind (issue 15 item 7).
            return logged if logged in RESURRECTABLE else None
        if key.startswith(("node-", "u2o-interconnection.", "mcast-querier.")):
            return None
        named_by = {r.eip_kind for r in self.inv.nat_rules if r.eip == key}
        if len(named_by) == 1:
            kind = named_by.pop()
            return kind if kind in RESURRECTABLE else None
        if any(row.get("name") == key and row.get("type") == "virtual"
               for row in self.snap.nb_rows("Logical_Switch_Port")):
            return "Vip"
        if subnet == n.DEFAULT_IPTABLES_EXTERNAL \
                or any(e.subnet == subnet for e in self.inv.iptables_eips.values()):
            return None
        if subnet in (self.model.settings.external_gateway_switch, n.LEGACY_EXTERNAL_SWITCH) \
                or any(e.subnet == subnet for e in self.inv.ovn_eips.values()):
            return "OvnEip"
        return "Vip"

    def restart(self, leaks: list[Finding], hazards: list[Finding]) -> None:
        ns = self.model.settings.namespace
        lease = n.controller_lease(self.snap.items("leases.coordination.k8s.io"), ns)
        holder = n.lease_holder(lease)
        pod_meta = self.metadata("Pod", ns, holder) if holder else None
        if lease is None or pod_meta is None:
            for f in leaks:
                self.hold(f, "no-leader", f"no kube-ovn-controller leader found (Lease "
                          f"{ns}/{n.CONTROLLER} holder {holder or 'unknown'} has no pod)")
            return
        deployment = self.metadata_object("deployments.apps", ns, n.CONTROLLER)
        not_leader = leader_pod_problem({"metadata": pod_meta}, holder, ns, deployment,
                                        selector_known=False)
        if not_leader is not None:
            for f in leaks:
                self.hold(f, "no-leader", f"the Lease holder is not a pod a restart may "
                          f"delete: {not_leader}")
            return
        if self.in_flight:
            # A rebuild acts on every subnet: an allocation half-way through its records
            # (IPAM → port → IP CR → annotation) would not be re-filed, and its port's address
            # would be handed out again.
            busy = [w for ws in self.in_flight.values() for w in ws]
            for f in leaks:
                self.hold(f, "in-flight", f"a rebuild waits while allocations are in progress "
                          f"anywhere ({len(busy)}: {'; '.join(busy[:3])})")
            return
        if hazards and not self.policy.ack_hazards:
            for f in leaks:
                self.hold(f, "hazards", f"a rebuild would act on {len(hazards)} restore "
                          "hazard(s) listed in the plan; review them and add --ack-hazards")
            return
        leaked = [{"subnet": f.subnet, "ip": str(f.ip)} for f in leaks]
        subnets = sorted({str(f.subnet) for f in leaks})
        self.add(leaks[0], "restart-controller", self.k8s_target("Pod", ns, str(holder),
                                                                 pod_meta),
                 {"uid": pod_meta.get("uid"), "resourceVersion": pod_meta.get("resourceVersion"),
                  # Not the Lease's resourceVersion: every renewal moves it.
                  "lease": {"namespace": ns, "name": n.CONTROLLER,
                            "holderIdentity": holder,
                            "leaseTransitions": (lease.get("spec") or {}).get(
                                "leaseTransitions")},
                  "leaks": leaked, "subnets": subnets, "nb_rows": _nb_uuids(leaks),
                  "hazards_acknowledged": bool(hazards)},
                 f"delete the kube-ovn-controller leader pod {holder} so a new leader rebuilds "
                 f"the allocator from the objects (releases {len(leaks)} leaked "
                 f"address{'es' if len(leaks) != 1 else ''} in {', '.join(subnets)})",
                 tuple(f.ip for f in leaks if f.ip))
        # The restart's subnet is the first leak's; every leak it releases is listed.
        last = self.actions[-1]
        self.actions[-1] = replace(last, subnet=None, ip=None)


def _nb_uuids(leaks: list[Finding]) -> list[str]:
    """The NB rows that carried these leaked IPs: the actions deleting them must have
    succeeded before the IPs are released (docs/repair.md "Actions")."""
    return sorted({str(r["uuid"]) for f in leaks for r in f.evidence.get("nb_rows", [])
                   if r.get("uuid")})


def _leak_ratios(model: Model, findings: list[Finding]) -> dict[str, tuple[int, int]]:
    leaked: dict[str, int] = defaultdict(int)
    for f in findings:
        if f.check == "leaked-ip" and f.subnet:
            leaked[f.subnet] += 1 if f.ip is not None else int(f.evidence.get("count", 0))
    out = {}
    for name, count in leaked.items():
        s = model.subnets.get(name)
        using = sum(fs.using.size() for fs in s.families.values() if fs.using is not None) \
            if s else 0
        out[name] = (count, using)
    return out


_HANDLERS = {
    "orphan-nb-lb": "orphan_lb", "orphan-nb-nat": "orphan_nat", "orphan-nb-lrp": "orphan_lrp",
    "orphan-nb-lsp": "orphan_lsp", "orphan-ip-cr": "orphan_ip_cr",
    "dangling-eip-ref": "dangling_ref",
}


def build_plan(model: Model, findings: list[Finding], policy: RepairPolicy, *,
               cluster: dict[str, Any], created: datetime, tool_version: str, source: str,
               inconclusive: list[str], scan: dict[str, Any] | None = None) -> Plan:
    p = _Planner(model, findings, policy)
    ordered = sorted(findings, key=lambda f: f.sort_key())
    hazards = [f for f in ordered if f.check == "restore-hazard"]
    if inconclusive:
        p.held.append(Held("scan", None, None, "the scan", "incomplete-scan",
                           "; ".join(inconclusive),
                           "Make the scan complete (rights, sources, CRDs), then plan again."))
        for f in ordered:
            if BY_ID[f.check].repairable:
                p.hold(f, "incomplete-scan", "the scan is incomplete ("
                       + "; ".join(inconclusive) + "): an owner may be unseen, so nothing is "
                       "provably orphaned")
            else:
                _hold_for_a_human(p, f)
        return _finish(p, policy, cluster, created, tool_version, source, hazards, scan)
    ratios = _leak_ratios(model, findings)
    refused_subnets = {s for s, (leaked, using) in ratios.items()
                       if using and leaked / using > policy.max_leak_ratio}
    leaks: list[Finding] = []
    for f in ordered:
        if f.subnet in refused_subnets and BY_ID[f.check].repairable:
            leaked, using = ratios[f.subnet]
            p.hold(f, "leak-ratio", f"subnet {f.subnet} is refused: {leaked} of its {using} "
                   f"in-use addresses look leaked (over {policy.max_leak_ratio:.0%}), which "
                   "usually means the scan is wrong, not the cluster (--max-leak-ratio)")
            continue
        if f.check in HUMAN_ONLY or not BY_ID[f.check].repairable:
            _hold_for_a_human(p, f)
            continue
        if f.check == "leaked-ip":
            leaks.append(f)
            continue
        getattr(p, _HANDLERS[f.check])(f)
    _gate_in_flight(p)
    p.leaks(leaks, hazards)
    return _finish(p, policy, cluster, created, tool_version, source, hazards, scan)


def _hold_for_a_human(p: _Planner, f: Finding) -> None:
    """A finding repair never acts on is still in the plan, held with its remedy: the plan
    accounts for every warning and error the scan reported (info findings are facts)."""
    if f.severity == "info":
        return
    why = "a human decides: " if f.check in HUMAN_ONLY else "no automatic repair exists: "
    p.hold(f, "not-repairable", why + BY_ID[f.check].title, BY_ID[f.check].remedy)


def _subject(a: Action) -> str:
    """What a held action was about: its target, and the VIP for one of a load balancer's."""
    vip = a.preconditions.get("vip")
    return f"{a.target} {vip}" if isinstance(vip, str) else str(a.target)


def _gate_in_flight(p: _Planner) -> None:
    """Subnets with allocations in progress are not acted on (docs/repair.md, `in-flight`)."""
    busy = {s for s in p.in_flight if s is not None}
    keep = []
    for a in p.actions:
        if a.subnet in busy:
            why = "; ".join(p.in_flight[a.subnet][:3])
            p.held.append(Held(a.finding, a.subnet, a.ip, _subject(a), "in-flight",
                               f"subnet {a.subnet} has allocations in progress ({why}); run "
                               "again when they have settled"))
            continue
        keep.append(a)
    p.actions = keep


def _with_dependencies(a: Action, actions: list[Action]) -> Action:
    if "nb_rows" not in a.preconditions:
        return a
    rows = set(a.preconditions["nb_rows"])
    after = [b.id for b in actions
             if b.action in NB_ACTIONS and rows & {r["uuid"] for r in b.preconditions["rows"]}]
    return replace(a, preconditions={**a.preconditions, "after": after})


def _finish(p: _Planner, policy: RepairPolicy, cluster: dict[str, Any], created: datetime,
            tool_version: str, source: str, hazards: list[Finding],
            scan: dict[str, Any] | None) -> Plan:
    rank = {k: i for i, k in enumerate(ACTION_ORDER)}
    actions = sorted(p.actions, key=lambda a: (rank[a.action], a.subnet or "", a.ip or "",
                                               a.target.kind, a.target.name))
    kept: list[Action] = []
    for a in actions:
        if len(kept) >= policy.max_actions:
            p.held.append(Held(a.finding, a.subnet, a.ip, _subject(a), "max-actions",
                               f"beyond --max-actions {policy.max_actions}: {a.reason}"))
            continue
        kept.append(a)
    kept = [replace(a, id=f"A{i:02d}") for i, a in enumerate(kept, 1)]
    kept = [_with_dependencies(a, kept) for a in kept]
    return Plan(cluster, created, tool_version, source, policy.as_json(), kept, p.held,
                [{"subject": ", ".join(map(str, f.subjects)), "ip": str(f.ip) if f.ip else None,
                  "message": f.message} for f in hazards], scan or {})
