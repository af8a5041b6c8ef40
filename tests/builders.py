"""Hand-written snapshots for unit tests.

A test describes a small cluster in Python; `Cluster.write()` lays it out in the
snapshot directory format (kubectl-style Lists, ovn-nbctl-style NB tables), and the
test scans it through the real loader. Subnet status strings are computed here with
plain `ipaddress` enumeration over tiny subnets, independently of eipfsck's own
interval code, so the tests do not grade the code with itself.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eipfsck.model import Model, build_model
from eipfsck.snapshot import load_snapshot

RESOURCE_KIND = {
    "subnets.kubeovn.io": ("kubeovn.io/v1", "Subnet"),
    "ips.kubeovn.io": ("kubeovn.io/v1", "IP"),
    "vips.kubeovn.io": ("kubeovn.io/v1", "Vip"),
    "ovn-eips.kubeovn.io": ("kubeovn.io/v1", "OvnEip"),
    "ovn-fips.kubeovn.io": ("kubeovn.io/v1", "OvnFip"),
    "ovn-snat-rules.kubeovn.io": ("kubeovn.io/v1", "OvnSnatRule"),
    "ovn-dnat-rules.kubeovn.io": ("kubeovn.io/v1", "OvnDnatRule"),
    "iptables-eips.kubeovn.io": ("kubeovn.io/v1", "IptablesEIP"),
    "iptables-fip-rules.kubeovn.io": ("kubeovn.io/v1", "IptablesFIPRule"),
    "vpc-nat-gateways.kubeovn.io": ("kubeovn.io/v1", "VpcNatGateway"),
    "vpcs.kubeovn.io": ("kubeovn.io/v1", "Vpc"),
    "virtualmachines.kubevirt.io": ("kubevirt.io/v1", "VirtualMachine"),
    "statefulsets.apps": ("apps/v1", "StatefulSet"),
    "network-attachment-definitions.k8s.cni.cncf.io": ("k8s.cni.cncf.io/v1",
                                                       "NetworkAttachmentDefinition"),
    "pods": ("v1", "Pod"),
    "nodes": ("v1", "Node"),
    "services": ("v1", "Service"),
    "namespaces": ("v1", "Namespace"),
    "configmaps": ("v1", "ConfigMap"),
}
# The owner kinds a scan needs; tests get empty lists for them unless they add objects.
DEFAULT_RESOURCES = ("subnets.kubeovn.io", "ips.kubeovn.io", "vips.kubeovn.io",
                     "ovn-eips.kubeovn.io", "iptables-eips.kubeovn.io", "pods", "nodes",
                     "statefulsets.apps", "ovn-fips.kubeovn.io", "ovn-snat-rules.kubeovn.io",
                     "ovn-dnat-rules.kubeovn.io", "services", "vpcs.kubeovn.io",
                     "configmaps")

NB_HEADINGS = {
    "Logical_Switch": ["_uuid", "external_ids", "name", "other_config", "ports"],
    "Logical_Switch_Port": ["_uuid", "addresses", "dynamic_addresses", "external_ids", "name",
                            "options", "type"],
    "Logical_Router": ["_uuid", "external_ids", "load_balancer", "name", "nat", "ports"],
    "Logical_Router_Port": ["_uuid", "external_ids", "mac", "name", "networks", "peer"],
    "NAT": ["_uuid", "external_ids", "external_ip", "external_mac", "logical_ip",
            "logical_port", "options", "type"],
    "Load_Balancer": ["_uuid", "external_ids", "name", "protocol", "vips"],
    "NB_Global": ["_uuid", "external_ids"],
}
REF_COLUMNS = {"ports", "nat", "load_balancer"}


def meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS,
                                                             f"{namespace}/{name}"))}
    if namespace:
        m["namespace"] = namespace
    m.update({k: v for k, v in extra.items() if v is not None})
    return m


def k8s(name: str, namespace: str | None = None, *, labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None, spec: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None, finalizers: list[str] | None = None,
        owners: list[tuple[str, str]] | None = None, **extra: Any) -> dict[str, Any]:
    m = meta(name, namespace, labels=labels, annotations=annotations, finalizers=finalizers,
             **extra)
    if owners:
        m["ownerReferences"] = [{"apiVersion": "v1", "kind": k, "name": n, "uid": "x",
                                 "controller": True} for k, n in owners]
    obj: dict[str, Any] = {"metadata": m}
    if spec is not None:
        obj["spec"] = spec
    if status is not None:
        obj["status"] = status
    return obj


def range_string(addrs: set[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> str:
    """Kube-OVN's range string, by plain enumeration (fine for test-sized subnets)."""
    out: list[str] = []
    run: list[Any] = []
    for a in sorted(addrs):
        if run and int(a) == int(run[-1]) + 1:
            run.append(a)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [a]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def subnet_status(cidrs: str, exclude: list[str], using: list[str],
                  count: int | None = None) -> dict[str, Any]:
    """A consistent status: using as given (minus excluded), available = the rest."""
    status: dict[str, Any] = {}
    fams = {}
    for cidr in cidrs.split(","):
        net = ipaddress.ip_network(cidr)
        fams[net.version] = net
    for v, prefix in ((4, "v4"), (6, "v6")):
        net = fams.get(v)
        if net is None:
            status.update({f"{prefix}usingIPrange": "", f"{prefix}availableIPrange": "",
                           f"{prefix}usingIPs": 0, f"{prefix}availableIPs": 0})
            continue
        n = net.num_addresses
        base = net.network_address
        hosts = ([] if n == 1 else [base, base + 1] if n == 2
                 else [base + i for i in range(1, n - 1)])
        excl: set[Any] = set()
        for e in exclude:
            lo, _, hi = e.partition("..")
            a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)
            if a.version == v:
                excl |= {h for h in hosts if a <= h <= b}
        used = {ipaddress.ip_address(u) for u in using if ipaddress.ip_address(u).version == v}
        used -= excl
        avail = set(hosts) - excl - used
        n_used = len(used) if count is None else count
        status.update({
            f"{prefix}usingIPrange": range_string(used),
            f"{prefix}availableIPrange": range_string(avail),
            f"{prefix}usingIPs": n_used,
            f"{prefix}availableIPs": max(net.num_addresses - 2 - len(excl) - n_used, 0),
        })
    return status


@dataclass
class Cluster:
    version: str = "v1.16.2"
    captured_at: str = "2026-11-29T00:00:00Z"
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    nb: dict[str, list[dict[str, Any]]] | None = None
    omit: set[str] = field(default_factory=set)

    def add(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects.setdefault(resource, []).append(obj)
        return obj

    def subnet(self, name: str, cidr: str, *, gateway: str | None = None,
               exclude: list[str] | None = None, using: list[str] = (),  # type: ignore[assignment]
               count: int | None = None, status: dict[str, Any] | None = None,
               **spec: Any) -> dict[str, Any]:
        gws = gateway or ",".join(str(next(ipaddress.ip_network(c).hosts()))
                                  for c in cidr.split(","))
        excl = exclude if exclude is not None else gws.split(",")
        st = status if status is not None else subnet_status(cidr, excl, list(using), count)
        return self.add("subnets.kubeovn.io", k8s(name, spec={
            "cidrBlock": cidr, "gateway": gws, "excludeIps": excl, "provider": "ovn",
            "vpc": "ovn-cluster", **spec}, status=st))

    def pod(self, name: str, ns: str, ips: str, subnet: str, *, allocated: bool = True,
            phase: str = "Running", mac: str = "00:00:00:00:00:01",
            owners: list[tuple[str, str]] | None = None, restart: str = "Always",
            extra_annotations: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        ann = {"ovn.kubernetes.io/ip_address": ips, "ovn.kubernetes.io/logical_switch": subnet,
               "ovn.kubernetes.io/mac_address": mac}
        if allocated:
            ann["ovn.kubernetes.io/allocated"] = "true"
        ann.update(extra_annotations or {})
        return self.add("pods", k8s(name, ns, annotations=ann, owners=owners,
                                    spec={"restartPolicy": restart, "nodeName": "node1"},
                                    status={"phase": phase}, **extra))

    def ip_cr(self, name: str, subnet: str, ips: str, *, pod: str = "", ns: str = "",
              pod_type: str = "", labels: dict[str, str] | None = None,
              owners: list[tuple[str, str]] | None = None, node: str = "node1",
              **extra: Any) -> dict[str, Any]:
        v4 = ",".join(i for i in ips.split(",") if ":" not in i)
        v6 = ",".join(i for i in ips.split(",") if ":" in i)
        lab = {"ovn.kubernetes.io/subnet": subnet, subnet: "",
               "ovn.kubernetes.io/ip_reserved": "false"}
        lab.update(labels or {})
        return self.add("ips.kubeovn.io", k8s(name, labels=lab, owners=owners,
                                              finalizers=["kubeovn.io/kube-ovn-controller"],
                                              spec={"podName": pod, "namespace": ns,
                                                    "nodeName": node,
                                                    "subnet": subnet, "ipAddress": ips,
                                                    "v4IpAddress": v4, "v6IpAddress": v6,
                                                    "podType": pod_type}, **extra))

    def node_ip_cr(self, node: str, subnet: str, ips: str, *, owner_ref: bool = True
                   ) -> dict[str, Any]:
        """A node's join-subnet IP CR as createOrUpdateIPCR writes it: named node-<node>,
        podName = nodeName = <node>, no namespace (v1.14.30+: an ownerReference to the Node)."""
        return self.ip_cr(f"node-{node}", subnet, ips, pod=node, node=node,
                          owners=[("Node", node)] if owner_ref else None)

    def ovn_eip(self, name: str, ip: str, *, subnet: str = "external", typ: str = "nat",
                labels: dict[str, str] | None = None, status: dict[str, Any] | None = None,
                spec_subnet: str | None = None, **extra: Any) -> dict[str, Any]:
        lab = {"ovn.kubernetes.io/subnet": subnet, "ovn.kubernetes.io/eip_v4_ip": ip}
        lab.update(labels or {})
        st = status if status is not None else {"v4Ip": ip, "ready": True, "type": typ}
        return self.add("ovn-eips.kubeovn.io", k8s(
            name, labels=lab, finalizers=["kubeovn.io/kube-ovn-controller"],
            spec={"externalSubnet": subnet if spec_subnet is None else spec_subnet,
                  "v4Ip": ip, "type": typ}, status=st, **extra))

    def vip(self, name: str, subnet: str, v4: str = "", v6: str = "", *,
            reserved: str = "", namespace: str = "", typ: str = "",
            status: dict[str, Any] | None = None, mac: str = "") -> dict[str, Any]:
        st = status if status is not None else {"v4ip": v4, "v6ip": v6, "mac": mac}
        return self.add("vips.kubeovn.io", k8s(
            name, labels={"ovn.kubernetes.io/subnet": subnet,
                          "ovn.kubernetes.io/ip_reserved": reserved},
            finalizers=["kubeovn.io/kube-ovn-controller"],
            spec={"subnet": subnet, "namespace": namespace, "type": typ}, status=st))

    def nb_row(self, table: str, **cols: Any) -> dict[str, Any]:
        if self.nb is None:
            self.nb = {}
        cols.setdefault("_uuid", str(uuid.uuid4()))
        self.nb.setdefault(table, []).append(cols)
        return cols

    def switch(self, name: str, *ports: dict[str, Any]) -> None:
        self.nb_row("Logical_Switch", name=name, ports=[p["_uuid"] for p in ports],
                    external_ids={"vendor": "kube-ovn"})

    def lsp(self, name: str, ls: str, addresses: list[str], typ: str = "",
            external_ids: dict[str, str] | None = None,
            options: dict[str, str] | None = None) -> dict[str, Any]:
        ext = {"ls": ls, "vendor": "kube-ovn", **(external_ids or {})}
        return self.nb_row("Logical_Switch_Port", name=name, addresses=addresses, type=typ,
                           external_ids=ext, options=options or {})

    def router(self, name: str, ports: list[dict[str, Any]] = (),  # type: ignore[assignment]
               nat: list[dict[str, Any]] = (),  # type: ignore[assignment]
               lbs: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        self.nb_row("Logical_Router", name=name, ports=[p["_uuid"] for p in ports],
                    nat=[x["_uuid"] for x in nat], load_balancer=[x["_uuid"] for x in lbs],
                    external_ids={"vendor": "kube-ovn"})

    def lrp(self, name: str, lr: str, networks: list[str], mac: str = "00:00:00:00:00:aa"
            ) -> dict[str, Any]:
        return self.nb_row("Logical_Router_Port", name=name, networks=networks, mac=mac,
                           external_ids={"lr": lr, "vendor": "kube-ovn"})

    def nat(self, typ: str, external_ip: str, logical_ip: str, **cols: Any) -> dict[str, Any]:
        return self.nb_row("NAT", type=typ, external_ip=external_ip, logical_ip=logical_ip,
                           **cols)

    # -- output -----------------------------------------------------------

    def write(self, root: Path) -> Path:
        (root / "k8s").mkdir(parents=True, exist_ok=True)
        (root / "meta.json").write_text(json.dumps({
            "schema": "eipfsck/snapshot/v1", "captured_at": self.captured_at,
            "kube_ovn_version": self.version}))
        resources = set(DEFAULT_RESOURCES) | set(self.objects)
        for res in sorted(resources - self.omit):
            api, kind = RESOURCE_KIND.get(res, ("v1", "Object"))
            items = [{"apiVersion": api, "kind": kind, **o} for o in self.objects.get(res, [])]
            (root / "k8s" / f"{res}.json").write_text(json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": items,
                 "metadata": {"resourceVersion": "1"}}))
        if self.nb is not None:
            (root / "nb").mkdir(exist_ok=True)
            for table, headings in NB_HEADINGS.items():
                rows = self.nb.get(table, [])
                data = [[_cell(h, r.get(h)) for h in headings] for r in rows]
                (root / "nb" / f"{table}.json").write_text(
                    json.dumps({"headings": headings, "data": data}))
        return root

    def model(self, root: Path) -> Model:
        return build_model(load_snapshot(self.write(root)))


def _cell(column: str, value: Any) -> Any:
    if column == "_uuid":
        return ["uuid", value]
    if value is None:
        return ["set", []]
    if isinstance(value, dict):
        return ["map", [[k, v] for k, v in value.items()]]
    if isinstance(value, list):
        items = [["uuid", v] if column in REF_COLUMNS else v for v in value]
        # ovn-nbctl prints a one-element set as the bare atom.
        return items[0] if len(items) == 1 else ["set", items]
    return value


def controller_leader(c: Cluster, pod: str, namespace: str = "kube-system",
                      **extra: Any) -> None:
    """Kube-OVN's controller as a restart may act on it: the Deployment, its pod `pod` (owned
    by the Deployment's ReplicaSet) and the Lease that pod holds."""
    labels = {"app": "kube-ovn-controller", "pod-template-hash": "5d4f8"}
    c.add("deployments.apps", k8s("kube-ovn-controller", namespace, spec={
        "selector": {"matchLabels": {"app": "kube-ovn-controller"}},
        "template": {"metadata": {"labels": {"app": "kube-ovn-controller"}}, "spec": {}}}))
    c.add("leases.coordination.k8s.io", k8s("kube-ovn-controller", namespace,
                                            spec={"holderIdentity": pod}))
    c.add("pods", k8s(pod, namespace, labels=labels,
                      owners=[("ReplicaSet", "kube-ovn-controller-5d4f8")],
                      spec={"nodeName": "n1"}, status={"phase": "Running"}, **extra))
