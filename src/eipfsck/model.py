"""The IPAM model: derived once from a Snapshot, read by every check.

Per subnet and family it holds the universe, the excluded set and the status
sets (kubeovn.subnet), and an index of who claims each address there. Claims
that name a subnet count for that subnet; claims that name none (or one that does
not exist) count for every subnet whose CIDR contains the address, because a
leak must never be reported where some object still names the IP.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from eipfsck.addresses import Address, Family
from eipfsck.controller_log import Allocation
from eipfsck.intervals import IntervalSet
from eipfsck.kubeovn.names import (
    CONTROLLER,
    VERSION_LABEL,
    Settings,
    Version,
    controller_containers,
    controller_lease,
    image_version,
    lease_holder,
    parse_version,
    settings_from_args,
)
from eipfsck.kubeovn.northbound import NbRef, NbView, map_northbound, nb_version
from eipfsck.kubeovn.owners import (
    PROTECTING_ROLES,
    Claim,
    Inventory,
    build_inventory,
    pending_allocation_claims,
)
from eipfsck.kubeovn.restore import OneFamilyOwner, one_family_owners
from eipfsck.kubeovn.subnet import SubnetInfo, SubnetLocator, read_subnet
from eipfsck.snapshot import Snapshot

OWNER_KINDS = ("pods", "nodes", "ips.kubeovn.io", "vips.kubeovn.io", "ovn-eips.kubeovn.io",
               "iptables-eips.kubeovn.io")


@dataclass(frozen=True)
class Policy:
    """Scan thresholds an operator may tune."""

    stuck_after: timedelta = timedelta(minutes=10)  # terminating-owner
    max_listed: int = 256  # per subnet and family, before leaks are summarised by range


@dataclass
class SpaceClaims:
    by_address: dict[int, list[Claim]] = field(default_factory=dict)
    owned: IntervalSet = field(default_factory=IntervalSet)  # role "owner"
    claimed: IntervalSet = field(default_factory=IntervalSet)  # a role that protects it


@dataclass
class Model:
    snapshot: Snapshot
    settings: Settings
    version: Version | None
    version_source: str
    subnets: dict[str, SubnetInfo]
    inventory: Inventory
    nb: NbView | None
    spaces: dict[tuple[str, Family], SpaceClaims]
    nb_by_address: dict[Address, list[NbRef]]
    locator: SubnetLocator
    allocations: dict[tuple[str, Address], Allocation] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    # Live keys InitIPAM gives a phantom of the other family, per (subnet, phantom family).
    one_family: dict[tuple[str, Family], list[OneFamilyOwner]] = field(default_factory=dict)

    def claims_at(self, subnet: str, address: Address) -> list[Claim]:
        space = self.spaces.get((subnet, address.family))
        return space.by_address.get(address.value, []) if space else []

    def space(self, subnet: str, family: Family) -> SpaceClaims:
        return self.spaces.get((subnet, family)) or SpaceClaims()

    def nb_at(self, address: Address) -> list[NbRef]:
        return self.nb_by_address.get(address, [])

    def containing(self, address: Address) -> list[SubnetInfo]:
        return self.locator.containing(address.family, address.value)

    def available_in(self, address: Address) -> list[str]:
        """Subnets whose status marks this address available (the next one to take it)."""
        out = []
        for s in self.containing(address):
            fs = s.families.get(address.family)
            if fs is not None and fs.available is not None and address.value in fs.available:
                out.append(s.name)
        return out

    def nb_rows_json(self, address: Address) -> list[dict[str, Any]]:
        """The NB rows carrying an address, as finding evidence."""
        return [{**r.row.as_json(), "in": r.container} for r in self.nb_at(address)]

    def missing_owner_kinds(self) -> list[str]:
        return [k for k in OWNER_KINDS if not self.snapshot.has(k)]

    def partial_owner_kinds(self) -> list[str]:
        """Owner kinds with a skipped object or an unreadable address field."""
        states = {s.name: s.state for s in self.snapshot.sources}
        kinds = {k for k in OWNER_KINDS if states.get(k) in ("partial", "failed")}
        resource_of = {"Pod": "pods", "Node": "nodes", "IP": "ips.kubeovn.io",
                       "Vip": "vips.kubeovn.io", "OvnEip": "ovn-eips.kubeovn.io",
                       "IptablesEIP": "iptables-eips.kubeovn.io"}
        kinds |= {resource_of[r.kind] for r, _, _ in self.inventory.unreadable
                  if r.kind in resource_of}
        return [k for k in OWNER_KINDS if k in kinds]


def detect_version(snap: Snapshot, nb: NbView | None, namespace: str = "kube-system"
                   ) -> tuple[Version | None, str]:
    """The controller's version and where it was read: NB_Global (v1.15+), meta.json, the
    Deployment's image tag, the leader pod's image tag (a Deployment that pins a digest or
    `latest` says nothing), then a version label or annotation on either."""
    if nb is not None and nb.version:
        return parse_version(nb.version), "NB_Global external_ids:kube-ovn-version"
    meta_version = parse_version(snap.meta.get("kube_ovn_version"))
    if meta_version is not None:
        return meta_version, "meta.json kube_ovn_version"
    deployment = _controller_deployment(snap)
    for container in controller_containers(deployment) if deployment else []:
        v = image_version(container.get("image"))
        if v is not None:
            return v, "kube-ovn-controller Deployment image tag"
    holder = lease_holder(controller_lease(snap.items("leases.coordination.k8s.io"), namespace))
    leader = next((p for p in snap.items("pods") if p["metadata"]["name"] == holder
                   and p["metadata"].get("namespace") == namespace), None) if holder else None
    for container in controller_containers({"spec": {"template": leader}}) if leader else []:
        v = image_version(container.get("image"))
        if v is not None:
            return v, f"leader pod {namespace}/{holder} image tag"
    for what, obj in (("Deployment", deployment), ("leader pod", leader)):
        meta = (obj or {}).get("metadata") or {}
        for kind in ("labels", "annotations"):
            v = parse_version((meta.get(kind) or {}).get(VERSION_LABEL))
            if v is not None:
                return v, f"kube-ovn-controller {what} {kind[:-1]} {VERSION_LABEL}"
    return None, "unknown"


def _controller_deployment(snap: Snapshot) -> dict[str, Any] | None:
    return next((dep for dep in snap.items("deployments.apps")
                 if dep["metadata"]["name"] == CONTROLLER), None)


def _controller_containers(snap: Snapshot) -> list[dict[str, Any]]:
    deployment = _controller_deployment(snap)
    return controller_containers(deployment) if deployment else []


def settings_from(snap: Snapshot, overrides: dict[str, Any] | None = None) -> Settings:
    """Operator overrides, then meta.json's settings, then the controller's own flags."""
    values: dict[str, Any] = {}
    for container in _controller_containers(snap):
        values.update(settings_from_args(list(container.get("command") or [])
                                         + list(container.get("args") or [])))
    recorded = snap.meta.get("settings")
    if isinstance(recorded, dict):
        values.update({k: v for k, v in recorded.items() if k in Settings.__dataclass_fields__})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Settings(**values)


def _index_claims(claims: list[Claim], subnets: dict[str, SubnetInfo],
                  locator: SubnetLocator) -> dict[tuple[str, Family], SpaceClaims]:
    def containing(a: Address) -> list[str]:
        return [s.name for s in locator.containing(a.family, a.value)]

    placed: dict[tuple[str, Family], dict[int, list[Claim]]] = defaultdict(dict)
    for c in claims:
        a = c.address
        target = subnets.get(c.subnet) if c.subnet else None
        names = [c.subnet] if target is not None and a.family in target.families else []
        if target is None or not target.contains(a.family, a.value):
            # Unknown or wrong subnet: protect the address wherever it lies, in the VPC the
            # object implies when it implies one (custom VPCs reuse CIDRs).
            names += [s for s in containing(a) if s not in names
                      and (c.vpc is None or subnets[s].vpc == c.vpc)]
        for name in names:
            placed[(name, a.family)].setdefault(a.value, []).append(c)
    out: dict[tuple[str, Family], SpaceClaims] = {}
    for key, by_addr in placed.items():
        owned = [v for v, cs in by_addr.items() if any(c.role == "owner" for c in cs)]
        claimed = [v for v, cs in by_addr.items() if any(c.role in PROTECTING_ROLES
                                                         for c in cs)]
        out[key] = SpaceClaims(by_addr, IntervalSet.of_points(owned),
                               IntervalSet.of_points(claimed))
    return out


def build_model(snap: Snapshot, settings: Settings | None = None,
                allocations: dict[tuple[str, Address], Allocation] | None = None,
                policy: Policy | None = None) -> Model:
    settings = settings or settings_from(snap)
    subnets: dict[str, SubnetInfo] = {}
    for obj in snap.items("subnets.kubeovn.io"):
        info = read_subnet(obj, settings.cluster_router)
        subnets[info.name] = info
    locator = SubnetLocator(subnets.values())
    inventory = build_inventory(snap, subnets, settings)
    if allocations:
        inventory.claims.extend(pending_allocation_claims(inventory, allocations))
    # The version decides how NB rows are read (Load_Balancer rows carry no vendor before
    # v1.15), and NB_Global is where v1.15+ records it: read that first.
    nb_global = NbView(version=nb_version(snap)) if snap.nb is not None else None
    version, source = detect_version(snap, nb_global, settings.namespace)
    nb = map_northbound(snap, inventory, subnets, locator, version) \
        if snap.nb is not None else None
    nb_by_address: dict[Address, list[NbRef]] = defaultdict(list)
    for ref in nb.refs if nb else []:
        nb_by_address[ref.address].append(ref)
    return Model(
        snapshot=snap, settings=settings, version=version, version_source=source,
        subnets=subnets, inventory=inventory, nb=nb,
        spaces=_index_claims(inventory.claims, subnets, locator),
        nb_by_address=dict(nb_by_address), locator=locator,
        allocations=allocations or {}, policy=policy or Policy(),
        one_family=one_family_owners(inventory, subnets),
    )
