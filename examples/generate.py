#!/usr/bin/env python3
"""Generate the example snapshots under examples/ (run: python3 examples/generate.py).

Why this script exists: an eipfsck snapshot pairs `kubectl get -o json` output with
`ovn-nbctl --format=json list <Table>` output (docs/snapshot-format.md).
Hand-written northbound JSON would only be our guess at what ovn-nbctl prints, so the NB half
is produced by the real tools: the script starts a private ovsdb-server with the OVN NB
schema, creates the rows with ovn-nbctl, and dumps each table with ovn-nbctl itself.
The Kubernetes half is written from the Python data below, in kubectl's List format.

Two snapshots are written:

* leaky-cluster/   - a hand-built v1.16.2 cluster, the golden test: every
                     object, field and subnet status string is taken from that section.
* healthy-cluster/ - a consistent v1.15.4 cluster full of shapes that only look suspicious
                     (absent StatefulSet pod, stopped VM, finished Job, static IP inside
                     excludeIps, Vip taken over by a pod, IPAM-only attachment, default-VPC
                     gateway LRP). A correct auditor reports no warning or error on it.
                     Its Subnet statuses are derived here from the objects, with the rules of
                     docs/kube-ovn.md §2, never typed in.

Needs Python 3.11 (stdlib only) and the Debian packages ovn-central/ovn-common/
openvswitch-common (ovsdb-tool, ovsdb-server, ovn-nbctl). NB row UUIDs differ between runs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")

# Every resource file is written, with an empty list when the cluster has none: an empty
# list means "read, none exist", a missing file would mean "not captured".
K8S_FILES = [
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
    "ippools.kubeovn.io",
    "vpcs.kubeovn.io",
    "statefulsets.apps",
    "deployments.apps",
    "virtualmachines.kubevirt.io",
    "network-attachment-definitions.k8s.cni.cncf.io",
    "leases.coordination.k8s.io",
    "pods",
    "nodes",
    "namespaces",
    "services",
    "configmaps",
]
NB_TABLES = [
    "Logical_Switch",
    "Logical_Switch_Port",
    "Logical_Router",
    "Logical_Router_Port",
    "NAT",
    "Load_Balancer",
    "NB_Global",
]

KUBEOVN = "kubeovn.io/v1"
FINALIZER = "kubeovn.io/kube-ovn-controller"
OVN = "ovn.kubernetes.io/"  # prefix of Kube-OVN's labels and primary-network annotations
CONTROLLER_POD = "kube-ovn-controller-7d9c6b5f4-abcde"
NODE_IPS = {"node1": "192.168.0.11", "node2": "192.168.0.12"}
SETTINGS = {
    "external_gateway_switch": "external",
    "cluster_router": "ovn-cluster",
    "node_switch": "join",
    "keep_vm_ip": True,
    "gc_interval": 0,
}
UID_NAMESPACE = uuid.UUID("5d0f3c1e-6a43-4e8b-9a35-2f1b7c0e9d11")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# --------------------------------------------------------------------------------------------
# Address arithmetic: closed integer intervals, never an enumeration (a /64 costs what a /24
# costs).
# --------------------------------------------------------------------------------------------

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or adjacent closed intervals."""
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def subtract(intervals: list[Interval], minus: list[Interval]) -> list[Interval]:
    """Set difference of two merged interval lists."""
    out: list[Interval] = []
    for lo, hi in intervals:
        for mlo, mhi in minus:
            if mhi < lo or mlo > hi:
                continue
            if mlo > lo:
                out.append((lo, mlo - 1))
            lo = mhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return out


def clip(interval: Interval, universe: Interval) -> Interval | None:
    lo, hi = max(interval[0], universe[0]), min(interval[1], universe[1])
    return (lo, hi) if lo <= hi else None


def universe_of(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Interval:
    """[network+1, broadcast-1] (pkg/util/net.go); only /24, /120 and /64 are used here."""
    return int(network.network_address) + 1, int(network.broadcast_address) - 1


def exclude_entry(entry: str) -> tuple[int, Interval]:
    """An excludeIps entry, 'a' or 'a..b', as (ip version, interval)."""
    first, _, last = entry.partition("..")
    lo = ipaddress.ip_address(first)
    hi = ipaddress.ip_address(last) if last else lo
    return lo.version, (int(lo), int(hi))


def range_string(intervals: list[Interval], version: int) -> str:
    """Kube-OVN's range format: ascending, comma-joined, 'a-b' or a single address."""
    addr = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    parts = []
    for lo, hi in intervals:
        parts.append(str(addr(lo)) if lo == hi else f"{addr(lo)}-{addr(hi)}")
    return ",".join(parts)


def split_ips(value: str) -> list[str]:
    return [part for part in value.split(",") if part]


# --------------------------------------------------------------------------------------------
# Kubernetes objects
# --------------------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_hex(*parts: str, length: int = 64) -> str:
    """Deterministic container/image ids."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class Cluster:
    """Collects the objects of one snapshot, in creation order, with a moving clock."""

    def __init__(self, name: str, version: str, start: str) -> None:
        self.name = name
        self.version = version
        self.now = datetime.fromisoformat(start)
        self.files: dict[str, list[dict[str, Any]]] = {stem: [] for stem in K8S_FILES}
        self.created: list[dict[str, Any]] = []
        self.lease_acquired = ""  # when the current controller leader took the Lease

    def uid(self, kind: str, name: str, namespace: str = "") -> str:
        return str(uuid.uuid5(UID_NAMESPACE, f"{self.name}/{kind}/{namespace}/{name}"))

    def at(self, moment: str) -> None:
        """Move the clock forward to a point of the story (never backwards)."""
        target = datetime.fromisoformat(moment)
        assert target >= self.now, f"clock would go back to {moment}"
        self.now = target

    def tick(self) -> str:
        stamp = rfc3339(self.now)
        self.now += timedelta(minutes=3, seconds=17)
        return stamp

    def add(
        self,
        stem: str,
        api_version: str,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        finalizers: list[str] | None = None,
        owners: list[tuple[str, str, str]] | None = None,
        generation: bool = False,
        spec: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add one full object. owners: (apiVersion, kind, name), same namespace or Node."""
        meta: dict[str, Any] = {
            "name": name,
            "uid": self.uid(kind, name, namespace or ""),
            "creationTimestamp": self.tick(),
        }
        if namespace is not None:
            meta["namespace"] = namespace
        if generation:
            meta["generation"] = 1
        if labels:
            meta["labels"] = dict(labels)
        if annotations:
            meta["annotations"] = dict(annotations)
        if finalizers:
            meta["finalizers"] = list(finalizers)
        if owners:
            meta["ownerReferences"] = [
                {
                    "apiVersion": api,
                    "kind": owner_kind,
                    "name": owner,
                    "uid": self.uid(
                        owner_kind, owner, "" if owner_kind == "Node" else namespace or ""
                    ),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
                for api, owner_kind, owner in owners
            ]
        obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": meta}
        if spec is not None:
            obj["spec"] = spec
        if status is not None:
            obj["status"] = status
        if body:
            obj.update(body)
        self.files[stem].append(obj)
        self.created.append(obj)
        return obj

    def items(self, stem: str) -> list[dict[str, Any]]:
        return self.files[stem]

    def find(self, stem: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for obj in self.files[stem]:
            meta = obj["metadata"]
            if meta["name"] == name and meta.get("namespace") == namespace:
                return obj
        raise KeyError(f"{stem} {namespace}/{name}")

    def cluster_uid(self) -> str:
        return self.find("namespaces", "kube-system")["metadata"]["uid"]

    def meta_json(self, captured_at: str) -> dict[str, Any]:
        return {
            "schema": "eipfsck/snapshot/v1",
            "captured_at": captured_at,
            "cluster": {"uid": self.cluster_uid()},
            "tool": "examples/generate.py",
            "kube_ovn_version": self.version,
            "settings": dict(SETTINGS),
        }

    def assign_resource_versions(self) -> None:
        """Distinct, increasing resourceVersions in creation order (objects are made in order)."""
        for index, obj in enumerate(self.created):
            obj["metadata"]["resourceVersion"] = str(104_000 + index * 37)


# --- core kinds ---------------------------------------------------------------------------


def namespace(c: Cluster, name: str) -> None:
    c.add(
        "namespaces",
        "v1",
        "Namespace",
        name,
        labels={"kubernetes.io/metadata.name": name},
        spec={"finalizers": ["kubernetes"]},
        status={"phase": "Active"},
    )


def node(
    c: Cluster,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> None:
    address = NODE_IPS[name]
    c.add(
        "nodes",
        "v1",
        "Node",
        name,
        labels={
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            **(labels or {}),
        },
        annotations=annotations,
        spec={},
        status={
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": rfc3339(c.now),
                    "lastTransitionTime": rfc3339(c.now),
                }
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.1.0-28-amd64",
                "kubeProxyVersion": "v1.31.4",
                "kubeletVersion": "v1.31.4",
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
            },
        },
    )


def pod(
    c: Cluster,
    ns: str,
    name: str,
    *,
    node_name: str,
    ips: list[str],
    image: str,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
    phase: str = "Running",
    restart_policy: str = "Always",
    host_network: bool = False,
) -> None:
    """A scheduled pod with realistic spec and status."""
    started = rfc3339(c.now)
    container_id = "containerd://" + fake_hex(c.name, ns, name, "container")
    container = image.rsplit("/", 1)[-1].split(":")[0]  # nginx, postgres, vpc-nat-gateway, …
    running = phase == "Running"
    state = (
        {"running": {"startedAt": started}}
        if running
        else {
            "terminated": {
                "containerID": container_id,
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": started,
                "finishedAt": started,
            }
        }
    )
    ready = "True" if running else "False"
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
        {"type": "Initialized", "status": "True", "lastTransitionTime": started},
        {"type": "ContainersReady", "status": ready, "lastTransitionTime": started},
        {"type": "Ready", "status": ready, "lastTransitionTime": started},
    ]
    if not running:
        for condition in conditions[2:]:
            condition["reason"] = "PodCompleted"
    host_ip = NODE_IPS[node_name]
    c.add(
        "pods",
        "v1",
        "Pod",
        name,
        namespace=ns,
        labels=labels,
        annotations=annotations,
        owners=[owner] if owner else None,
        spec={
            "containers": [
                {
                    "name": container,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
            "enableServiceLinks": True,
            "hostNetwork": host_network,
            "nodeName": node_name,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "restartPolicy": restart_policy,
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
        },
        status={
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [
                {
                    "name": container,
                    "image": image,
                    "imageID": image.split(":")[0] + "@sha256:" + fake_hex(image),
                    "containerID": container_id,
                    "ready": running,
                    "restartCount": 0,
                    "started": running,
                    "state": state,
                }
            ],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ips[0],
            "podIPs": [{"ip": ip} for ip in ips],
            "qosClass": "BestEffort",
            "startTime": started,
        },
    )


def statefulset_pod_labels(sts: str, ordinal: int) -> dict[str, str]:
    return {
        "app": sts,
        "apps.kubernetes.io/pod-index": str(ordinal),
        "controller-revision-hash": f"{sts}-5b7d9c6f8d",
        "statefulset.kubernetes.io/pod-name": f"{sts}-{ordinal}",
    }


def statefulset(c: Cluster, ns: str, name: str, *, replicas: int, ready: int, image: str) -> None:
    c.add(
        "statefulsets.apps",
        "apps/v1",
        "StatefulSet",
        name,
        namespace=ns,
        generation=True,
        labels={"app": name},
        spec={
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
            "updateStrategy": {"type": "RollingUpdate"},
        },
        status={
            "observedGeneration": 1,
            "replicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentRevision": f"{name}-5b7d9c6f8d",
            "updateRevision": f"{name}-5b7d9c6f8d",
            "collisionCount": 0,
        },
    )


def kubernetes_service(c: Cluster) -> None:
    c.add(
        "services",
        "v1",
        "Service",
        "kubernetes",
        namespace="default",
        labels={"component": "apiserver", "provider": "kubernetes"},
        spec={
            "type": "ClusterIP",
            "clusterIP": "10.96.0.1",
            "clusterIPs": ["10.96.0.1"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            "sessionAffinity": "None",
        },
        status={"loadBalancer": {}},
    )


def configmap(c: Cluster, name: str, data: dict[str, str]) -> None:
    c.add("configmaps", "v1", "ConfigMap", name, namespace="kube-system", body={"data": data})


def kube_ovn_controller(c: Cluster, args: list[str]) -> None:
    """Deployment kube-system/kube-ovn-controller (its image tag gives the version)."""
    image = f"docker.io/kubeovn/kube-ovn:{c.version}"
    labels = {"app": "kube-ovn-controller", "component": "network", "type": "infra"}
    c.add(
        "deployments.apps",
        "apps/v1",
        "Deployment",
        "kube-ovn-controller",
        namespace="kube-system",
        generation=True,
        labels=labels,
        annotations={"deployment.kubernetes.io/revision": "1"},
        spec={
            "replicas": 1,
            "selector": {"matchLabels": {"app": "kube-ovn-controller"}},
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "serviceAccountName": "ovn",
                    "containers": [
                        {
                            "name": "kube-ovn-controller",
                            "image": image,
                            "command": ["/kube-ovn/start-controller.sh"],
                            "args": args,
                        }
                    ],
                },
            },
        },
        status={
            "observedGeneration": 1,
            "replicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "updatedReplicas": 1,
        },
    )


def controller_restart(c: Cluster, node_name: str) -> None:
    """The current leader pod (hostNetwork, no Kube-OVN annotations) and its Lease."""
    image = f"docker.io/kubeovn/kube-ovn:{c.version}"
    pod(
        c,
        "kube-system",
        CONTROLLER_POD,
        node_name=node_name,
        ips=[NODE_IPS[node_name]],
        image=image,
        labels={
            "app": "kube-ovn-controller",
            "component": "network",
            "pod-template-hash": "7d9c6b5f4",
            "type": "infra",
        },
        owner=("apps/v1", "ReplicaSet", "kube-ovn-controller-7d9c6b5f4"),
        host_network=True,
    )
    c.lease_acquired = rfc3339(c.now)


def leader_lease(c: Cluster, renewed: str) -> None:
    c.add(
        "leases.coordination.k8s.io",
        "coordination.k8s.io/v1",
        "Lease",
        "kube-ovn-controller",
        namespace="kube-system",
        spec={
            "holderIdentity": CONTROLLER_POD,
            "leaseDurationSeconds": 15,
            "acquireTime": c.lease_acquired.replace("Z", ".000000Z"),
            "renewTime": renewed.replace("Z", ".000000Z"),
            "leaseTransitions": 4,
        },
    )


# --- Kube-OVN kinds -----------------------------------------------------------------------


def kubeovn_cr(
    c: Cluster,
    stem: str,
    kind: str,
    name: str,
    *,
    spec: dict[str, Any],
    status: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owners: list[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """A cluster-scoped Kube-OVN CR that the controller manages (so it carries the finalizer)."""
    return c.add(
        stem,
        KUBEOVN,
        kind,
        name,
        labels=labels,
        annotations=annotations,
        finalizers=[FINALIZER],
        owners=owners,
        generation=True,
        spec=spec,
        status=status,
    )


def subnet(
    c: Cluster,
    name: str,
    *,
    cidr: str,
    gateway: str,
    exclude: list[str],
    protocol: str,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Subnet; status may be filled later (the healthy cluster derives it at the end)."""
    full_spec = {
        "cidrBlock": cidr,
        "gateway": gateway,
        "excludeIps": exclude,
        "protocol": protocol,
        "provider": spec.pop("provider", "ovn"),
        **spec,
    }
    return kubeovn_cr(c, "subnets.kubeovn.io", "Subnet", name, spec=full_spec, status=status)


def subnet_status(
    *,
    v4: tuple[str, str, int | float, int | float] = ("", "", 0, 0),
    v6: tuple[str, str, int | float, int | float] = ("", "", 0, 0),
    ipam_only: bool = False,
    since: str,
) -> dict[str, Any]:
    """The 8 IP fields (using range, available range, using count, available count per
    family) plus the string fields every status carries, and Validated/Ready conditions."""
    ready_reason = "SetNonOvnSubnetSuccess" if ipam_only else "ResetLogicalSwitchAclSuccess"
    return {
        "v4usingIPrange": v4[0],
        "v4availableIPrange": v4[1],
        "v4usingIPs": v4[2],
        "v4availableIPs": v4[3],
        "v6usingIPrange": v6[0],
        "v6availableIPrange": v6[1],
        "v6usingIPs": v6[2],
        "v6availableIPs": v6[3],
        "activateGateway": "",
        "dhcpV4OptionsUUID": "",
        "dhcpV6OptionsUUID": "",
        "u2oInterconnectionIP": "",
        "u2oInterconnectionMAC": "",
        "u2oInterconnectionVPC": "",
        "mcastQuerierIP": "",
        "mcastQuerierMAC": "",
        "conditions": [
            {
                "type": "Validated",
                "status": "True",
                "reason": "ValidateLogicalSwitchSuccess",
                "message": "",
                "lastUpdateTime": since,
                "lastTransitionTime": since,
            },
            {
                "type": "Ready",
                "status": "True",
                "reason": ready_reason,
                "message": "",
                "lastUpdateTime": since,
                "lastTransitionTime": since,
            },
        ],
    }


def vpc(
    c: Cluster,
    name: str,
    *,
    subnets: list[str],
    spec: dict[str, Any] | None = None,
    default: bool = False,
) -> None:
    status: dict[str, Any] = {
        "default": default,
        "defaultLogicalSwitch": "ovn-default" if default else "",
        "router": name,
        "standby": True,
        "subnets": subnets,
        "conditions": [{"type": "Ready", "status": "True", "reason": "", "message": ""}],
    }
    if (spec or {}).get("enableExternal"):
        status["enableExternal"] = True
    kubeovn_cr(c, "vpcs.kubeovn.io", "Vpc", name, spec=spec or {}, status=status)


def ip_cr(
    c: Cluster,
    name: str,
    *,
    subnet: str,
    pod_name: str,
    ns: str,
    ips: list[str],
    mac: str,
    node_name: str = "",
    pod_type: str = "",
    labels: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
    container_id: bool = True,
) -> None:
    """An IP CR: spec.ipAddress is authoritative, v4IpAddress/v6IpAddress mirror it; every IP
    CR carries ovn.kubernetes.io/subnet, the bare `<subnet>: ""` label (the one the status
    count selects on up to v1.16.2), node-name and ip_reserved=false."""
    v4 = [ip for ip in ips if ipaddress.ip_address(ip).version == 4]
    v6 = [ip for ip in ips if ipaddress.ip_address(ip).version == 6]
    c.add(
        "ips.kubeovn.io",
        KUBEOVN,
        "IP",
        name,
        labels={
            OVN + "subnet": subnet,
            subnet: "",
            OVN + "node-name": node_name,
            OVN + "ip_reserved": "false",
            **(labels or {}),
        },
        finalizers=[FINALIZER],
        owners=[owner] if owner else None,
        generation=True,
        spec={
            "podName": pod_name,
            "namespace": ns,
            "subnet": subnet,
            "attachSubnets": [],
            "nodeName": node_name,
            "ipAddress": ",".join(ips),
            "v4IpAddress": ",".join(v4),
            "v6IpAddress": ",".join(v6),
            "attachIps": [],
            "macAddress": mac,
            "attachMacs": [],
            "containerID": fake_hex(c.name, name, "sandbox") if container_id else "",
            "podType": pod_type,
        },
    )


def ovn_eip(
    c: Cluster,
    name: str,
    *,
    spec: dict[str, Any],
    status: dict[str, Any],
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> None:
    kubeovn_cr(
        c,
        "ovn-eips.kubeovn.io",
        "OvnEip",
        name,
        spec=spec,
        status=status,
        labels=labels,
        annotations=annotations,
    )


def vip(
    c: Cluster, name: str, *, spec: dict[str, Any], status: dict[str, Any], labels: dict[str, str]
) -> None:
    kubeovn_cr(c, "vips.kubeovn.io", "Vip", name, spec=spec, status=status, labels=labels)


def eip_labels(subnet: str, eip_type: str, v4: str, vpc_name: str | None = None) -> dict[str, str]:
    labels = {OVN + "subnet": subnet, OVN + "ovn_eip_type": eip_type, OVN + "eip_v4_ip": v4}
    if vpc_name:
        labels[OVN + "vpc"] = vpc_name
    return labels


def pod_annotations(
    *,
    ips: list[str],
    mac: str,
    cidr: str,
    gateway: str,
    logical_switch: str | None,
    provider: str = "ovn",
    **extra: str,
) -> dict[str, str]:
    """Annotations the controller writes for one network of a pod (allocated=true)."""
    p = f"{provider}.kubernetes.io/"
    out = {
        p + "allocated": "true",
        p + "ip_address": ",".join(ips),
        p + "mac_address": mac,
        p + "cidr": cidr,
        p + "gateway": gateway,
    }
    if logical_switch:  # IPAM-only providers have no logical switch
        out[p + "logical_switch"] = logical_switch
        out[p + "pod_nic_type"] = "veth-pair"
        out[p + "routed"] = "true"
    out.update({OVN + key: value for key, value in extra.items()})
    return out


# --------------------------------------------------------------------------------------------
# OVN northbound: a private ovsdb-server, rows created with ovn-nbctl, tables dumped with it.
# --------------------------------------------------------------------------------------------


def q(value: str) -> str:
    """Quote an OVSDB string atom for ovn-nbctl's generic commands."""
    return json.dumps(value)


def kv(column: str, mapping: dict[str, str]) -> list[str]:
    return [f"{column}:{q(key)}={q(value)}" for key, value in mapping.items()]


class Northbound:
    """A throwaway OVN NB database served by a child ovsdb-server."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="eipfsck-examples-nb-")
        self.dir = Path(self._tmp.name)
        self.db = f"unix:{self.dir / 'nb.sock'}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Northbound:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        d = self.dir
        subprocess.run(["ovsdb-tool", "create", str(d / "nb.db"), str(NB_SCHEMA)], check=True)
        self.proc = subprocess.Popen(
            [
                "ovsdb-server",
                str(d / "nb.db"),
                f"--remote=punix:{d / 'nb.sock'}",
                f"--unixctl={d / 'nb.ctl'}",
                "--no-chdir",
                "-vconsole:off",
                f"--log-file={d / 'nb.log'}",
            ],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (d / "nb.sock").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ovsdb-server did not start, see {d / 'nb.log'}")
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._tmp.cleanup()

    def nbctl(self, *args: str) -> str:
        result = subprocess.run(
            ["ovn-nbctl", f"--db={self.db}", *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"ovn-nbctl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def chain(self, *commands: list[str]) -> str:
        """Run several ovn-nbctl commands in one transaction ('--' separated)."""
        args: list[str] = []
        for command in commands:
            args += ["--", *command]
        return self.nbctl(*args)

    def dump(self, outdir: Path) -> None:
        outdir.mkdir(parents=True)
        for table in NB_TABLES:
            data = json.loads(self.nbctl("--format=json", "list", table))
            (outdir / f"{table}.json").write_text(
                json.dumps(data, indent=1, sort_keys=False) + "\n"
            )


def nb_global(nb: Northbound, version: str) -> None:
    nb.nbctl("init")
    nb.chain(["set", "NB_Global", ".", *kv("external_ids", {"kube-ovn-version": version})])


def switch(nb: Northbound, name: str) -> None:
    nb.chain(
        ["ls-add", name],
        ["set", "Logical_Switch", name, *kv("external_ids", {"vendor": "kube-ovn"})],
    )


def router(nb: Northbound, name: str) -> None:
    nb.chain(
        ["lr-add", name],
        ["set", "Logical_Router", name, *kv("external_ids", {"vendor": "kube-ovn"})],
    )


def lsp(
    nb: Northbound,
    ls: str,
    name: str,
    *,
    addresses: list[str] | None = None,
    port_type: str = "",
    options: dict[str, str] | None = None,
    port_security: list[str] | None = None,
    tag: int | None = None,
    pod_key: str | None = None,
) -> None:
    """A logical switch port as Kube-OVN creates it: external_ids ls=<switch>, vendor=kube-ovn,
    and pod=<ns>/<name> for pod/VM ports."""
    external_ids = {"ls": ls, "vendor": "kube-ovn"}
    if pod_key:
        external_ids["pod"] = pod_key
    commands = [["lsp-add", ls, name]]
    if port_type:
        commands.append(["lsp-set-type", name, port_type])
    if addresses:
        commands.append(["lsp-set-addresses", name, *addresses])
    if port_security:
        commands.append(["lsp-set-port-security", name, *port_security])
    if options:
        commands.append(["lsp-set-options", name, *(f"{k}={v}" for k, v in options.items())])
    columns = kv("external_ids", external_ids)
    if tag is not None:
        columns.append(f"tag={tag}")
    commands.append(["set", "Logical_Switch_Port", name, *columns])
    nb.chain(*commands)


def router_lsp(nb: Northbound, ls: str, lr: str, router_port: str | None = None) -> None:
    """The router-type peer `<ls>-<lr>` of LRP `<lr>-<ls>`."""
    lsp(
        nb,
        ls,
        f"{ls}-{lr}",
        port_type="router",
        addresses=["router"],
        options={"router-port": router_port or f"{lr}-{ls}"},
    )


def lrp(nb: Northbound, lr: str, name: str, mac: str, networks: list[str]) -> None:
    nb.chain(
        ["lrp-add", lr, name, mac, *networks],
        ["set", "Logical_Router_Port", name, *kv("external_ids", {"lr": lr, "vendor": "kube-ovn"})],
    )


def nat(
    nb: Northbound,
    lr: str,
    nat_type: str,
    external_ip: str,
    logical_ip: str,
    *,
    logical_port: str | None = None,
    external_mac: str | None = None,
    options: dict[str, str] | None = None,
) -> None:
    """A NAT row in LR.nat, with exactly the given columns and no external_ids.
    (`lr-nat-add` would also add options:stateless=false to every row.)"""
    columns = [f"type={nat_type}", f"external_ip={q(external_ip)}", f"logical_ip={q(logical_ip)}"]
    if logical_port:
        columns.append(f"logical_port={q(logical_port)}")
    if external_mac:
        columns.append(f"external_mac={q(external_mac)}")
    columns += kv("options", options or {})
    nb.chain(["--id=@nat", "create", "NAT", *columns], ["add", "Logical_Router", lr, "nat", "@nat"])


def load_balancer(nb: Northbound, lr: str, name: str, protocol: str, vips: dict[str, str]) -> None:
    first, *rest = vips.items()
    commands = [["lb-add", name, first[0], first[1], protocol]]
    commands += [["lb-add", name, vip_, backends, protocol] for vip_, backends in rest]
    commands.append(["set", "Load_Balancer", name, *kv("external_ids", {"vendor": "kube-ovn"})])
    commands.append(["lr-lb-add", lr, name])
    nb.chain(*commands)


# --------------------------------------------------------------------------------------------
# The leaky cluster, field by field. Comments give the
# story; the expected findings are the table at the end of §10.
# --------------------------------------------------------------------------------------------


def build_leaky(nb: Northbound) -> tuple[Cluster, str]:
    c = Cluster("leaky-cluster", "v1.16.2", "2025-02-03T09:00:00+00:00")
    ext, net1 = "external", "vpc1-net1"
    nat_gw_image = "docker.io/kubeovn/vpc-nat-gateway:v1.16.2"

    # --- the cluster and the controller ---------------------------------------------------
    for name in ("kube-system", "default"):
        namespace(c, name)
    node(c, "node1")
    node(c, "node2")  # plain nodes: no join subnet in §10, so no join annotations
    kubernetes_service(c)
    kube_ovn_controller(
        c,
        [
            "--cluster-router=ovn-cluster",
            "--node-switch=join",
            "--external-gateway-switch=external",
            "--keep-vm-ip=true",
            "--gc-interval=0",
        ],
    )
    namespace(c, "ns1")

    # --- before the last leader start ---------------------------------------------------------
    c.at("2025-02-03T10:00:00+00:00")
    subnet_since = rfc3339(c.now)
    subnet(
        c,
        ext,
        cidr="172.30.0.0/24",
        gateway="172.30.0.1",
        exclude=["172.30.0.1", "172.30.0.200..172.30.0.254"],
        protocol="IPv4",
        provider="ovn",
        vpc="ovn-cluster",
        vlan="vlan0",
        natOutgoing=False,
        status=subnet_status(
            since=subnet_since,
            v4=(
                "172.30.0.2-172.30.0.3,172.30.0.5,172.30.0.10-172.30.0.11,172.30.0.20-172.30.0.21",
                "172.30.0.4,172.30.0.6-172.30.0.9,172.30.0.12-172.30.0.19,172.30.0.22-172.30.0.199",
                9,  # 1 IP CR + 1 iptables eip + 7 ovn eips (eip-fip-a lost its subnet label)
                189,  # 254 - 56 excluded - 9
            ),
        ),
    )
    subnet(
        c,
        net1,
        cidr="10.10.0.0/24,fd00:10:10::/120",
        gateway="10.10.0.1,fd00:10:10::1",
        exclude=["10.10.0.1", "fd00:10:10::1"],
        protocol="Dual",
        provider="ovn",
        vpc="vpc1",
        namespaces=["ns1"],
        status=subnet_status(
            since=subnet_since,
            v4=(
                "10.10.0.10,10.10.0.13-10.10.0.14,10.10.0.50,10.10.0.254",
                "10.10.0.2-10.10.0.9,10.10.0.11-10.10.0.12,10.10.0.15-10.10.0.49,10.10.0.51-10.10.0.253",
                5,
                248,
            ),
            v6=(
                "fd00:10:10::2,fd00:10:10::a,fd00:10:10::d-fd00:10:10::e,fd00:10:10::64",
                "fd00:10:10::3-fd00:10:10::9,fd00:10:10::b-fd00:10:10::c,"
                "fd00:10:10::f-fd00:10:10::63,fd00:10:10::65-fd00:10:10::fe",
                5,
                248,
            ),
        ),
    )
    vpc(c, "vpc1", spec={"enableExternal": True}, subnets=[net1])  # LR vpc1
    vpc(c, "vpc2", spec={"enableExternal": True}, subnets=[])  # LR vpc2

    ovn_eip(
        c,
        "vpc1-external",
        labels=eip_labels(ext, "lrp", "172.30.0.2"),
        spec={
            "externalSubnet": ext,
            "type": "lrp",
            "v4Ip": "172.30.0.2",
            "macAddress": "00:00:00:aa:00:02",
        },
        status={
            "type": "lrp",
            "ready": True,
            "v4Ip": "172.30.0.2",
            "macAddress": "00:00:00:aa:00:02",
        },
    )
    ovn_eip(
        c,
        "node1",
        labels={OVN + "subnet": ext},
        spec={
            "externalSubnet": ext,
            "type": "lsp",
            "v4Ip": "172.30.0.5",
            "macAddress": "00:00:00:aa:00:05",
        },
        status={"type": "lsp", "ready": True, "v4Ip": "172.30.0.5"},
    )

    # NAT gateway gw1 (noDefaultEIP: no external attachment) and its StatefulSet pod
    kubeovn_cr(
        c,
        "vpc-nat-gateways.kubeovn.io",
        "VpcNatGateway",
        "gw1",
        spec={
            "vpc": "vpc1",
            "subnet": net1,
            "lanIp": "10.10.0.254",
            "externalSubnets": [ext],
            "noDefaultEIP": True,
        },
    )
    statefulset(c, "kube-system", "vpc-nat-gw-gw1", replicas=1, ready=1, image=nat_gw_image)
    pod(
        c,
        "kube-system",
        "vpc-nat-gw-gw1-0",
        node_name="node1",
        ips=["10.10.0.254", "fd00:10:10::64"],
        image=nat_gw_image,
        labels=statefulset_pod_labels("vpc-nat-gw-gw1", 0),
        owner=("apps/v1", "StatefulSet", "vpc-nat-gw-gw1"),
        annotations={
            OVN + "vpc_nat_gw": "gw1",
            OVN + "allocated": "true",
            OVN + "logical_switch": net1,
            OVN + "ip_address": "10.10.0.254,fd00:10:10::64",
            OVN + "mac_address": "00:00:00:bb:00:fe",
        },
    )
    ip_cr(
        c,
        "vpc-nat-gw-gw1-0.kube-system",
        subnet=net1,
        pod_name="vpc-nat-gw-gw1-0",
        ns="kube-system",
        ips=["10.10.0.254", "fd00:10:10::64"],
        mac="00:00:00:bb:00:fe",
        node_name="node1",
        pod_type="StatefulSet",
    )

    pod(
        c,
        "ns1",
        "app-1",
        node_name="node2",
        ips=["10.10.0.10", "fd00:10:10::a"],
        image="docker.io/library/nginx:1.27",
        labels={"app": "app-1"},
        annotations={
            OVN + "allocated": "true",
            OVN + "logical_switch": net1,
            OVN + "ip_address": "10.10.0.10,fd00:10:10::a",
            OVN + "mac_address": "00:00:00:bb:00:0a",
            OVN + "cidr": "10.10.0.0/24,fd00:10:10::/120",
            OVN + "logical_router": "vpc1",
        },
    )
    ip_cr(
        c,
        "app-1.ns1",
        subnet=net1,
        pod_name="app-1",
        ns="ns1",
        ips=["10.10.0.10", "fd00:10:10::a"],
        mac="00:00:00:bb:00:0a",
        node_name="node2",
    )

    # StatefulSet ns1/db (replicas 1); pod db-0 currently absent (rescheduling)
    statefulset(c, "ns1", "db", replicas=1, ready=0, image="docker.io/library/postgres:16")
    ip_cr(  # negative control: legit
        c,
        "db-0.ns1",
        subnet=net1,
        pod_name="db-0",
        ns="ns1",
        ips=["10.10.0.14", "fd00:10:10::e"],
        mac="00:00:00:bb:00:0e",
        node_name="node2",
        pod_type="StatefulSet",
    )
    ip_cr(  # its pod ns1/ghost was deleted while the controller was down
        c,
        "ghost.ns1",
        subnet=net1,
        pod_name="ghost",
        ns="ns1",
        ips=["10.10.0.12", "fd00:10:10::c"],
        mac="00:00:00:bb:00:0c",
        node_name="node1",
    )
    # Dual-stack Vip: every leader start re-files its v4 only and picks the lowest free v6
    # (fd00:10:10::2), so its real v6 ::32 shows as available.
    vip(
        c,
        "vip-a",
        labels={OVN + "subnet": net1, OVN + "ip_reserved": ""},
        spec={"namespace": "ns1", "subnet": net1},
        status={"v4ip": "10.10.0.50", "v6ip": "fd00:10:10::32", "mac": "00:00:00:cc:00:32"},
    )

    ovn_eip(  # spec.externalSubnet empty -> not restored at restart
        c,
        "eip-fip-a",
        labels={OVN + "subnet": "", OVN + "vpc": "vpc1", OVN + "eip_v4_ip": "172.30.0.10"},
        annotations={OVN + "vpc_nat": "fip-a"},
        spec={
            "externalSubnet": "",
            "v4Ip": "172.30.0.10",
            "type": "nat",
            "macAddress": "00:00:00:aa:00:0a",
        },
        status={"type": "nat", "nat": "fip", "ready": True, "v4Ip": "172.30.0.10"},
    )
    kubeovn_cr(
        c,
        "ovn-fips.kubeovn.io",
        "OvnFip",
        "fip-a",
        labels={OVN + "eip_v4_ip": "172.30.0.10"},
        spec={"ovnEip": "eip-fip-a", "ipType": "ip", "ipName": "app-1.ns1"},
        status={
            "ready": True,
            "vpc": "vpc1",
            "v4Eip": "172.30.0.10",
            "v4Ip": "10.10.0.10",
            "macAddress": "00:00:00:bb:00:0a",
        },
    )
    ovn_eip(
        c,
        "eip-snat",
        labels={OVN + "subnet": ext, OVN + "vpc": "vpc1", OVN + "eip_v4_ip": "172.30.0.11"},
        spec={"externalSubnet": ext, "v4Ip": "172.30.0.11", "type": "nat"},
        status={"nat": "snat", "ready": True, "v4Ip": "172.30.0.11"},
    )
    kubeovn_cr(
        c,
        "ovn-snat-rules.kubeovn.io",
        "OvnSnatRule",
        "snat-net1",
        spec={"ovnEip": "eip-snat", "vpcSubnet": net1},
        status={"ready": True, "vpc": "vpc1", "v4Eip": "172.30.0.11", "v4IpCidr": "10.10.0.0/24"},
    )
    kubeovn_cr(  # eip-gone: no such OvnEip
        c,
        "ovn-fips.kubeovn.io",
        "OvnFip",
        "fip-dangling",
        spec={"ovnEip": "eip-gone", "vpc": "vpc1", "v4Ip": "10.10.0.15"},
        status={"ready": True, "vpc": "vpc1", "v4Eip": "172.30.0.15", "v4Ip": "10.10.0.15"},
    )
    kubeovn_cr(
        c,
        "iptables-eips.kubeovn.io",
        "IptablesEIP",
        "ipt-eip-1",
        labels={
            OVN + "subnet": ext,
            OVN + "eip_v4_ip": "172.30.0.20",
            OVN + "vpc-nat-gw-name": "gw1",
        },
        spec={"externalSubnet": ext, "v4ip": "172.30.0.20", "natGwDp": "gw1"},
        status={"ready": True, "ip": "172.30.0.20"},
    )
    ovn_eip(  # empty externalSubnet: not restored at the restart below, so .30 is available
        c,
        "eip-avail",
        labels={OVN + "subnet": ext},
        spec={"externalSubnet": "", "v4Ip": "172.30.0.30", "type": "nat"},
        status={"ready": True, "v4Ip": "172.30.0.30"},
    )
    ovn_eip(  # static IP inside excludeIps
        c,
        "eip-excl",
        labels={OVN + "subnet": ext},
        spec={"externalSubnet": ext, "v4Ip": "172.30.0.201", "type": "nat"},
        status={"ready": True, "v4Ip": "172.30.0.201"},
    )
    ip_cr(  # outside the subnet's CIDR, and its pod is gone
        c,
        "stray-ip",
        subnet=ext,
        pod_name="gone-pod",
        ns="ns1",
        ips=["172.31.0.5"],
        mac="00:00:00:dd:00:05",
        labels={OVN + "subnet": ext, ext: "", OVN + "ip_reserved": "false"},
    )

    # --- the last leader start (lease acquired), then the incidents ---------------------------
    c.at("2025-05-12T06:00:00+00:00")
    controller_restart(c, "node1")
    c.at("2025-05-12T09:30:00+00:00")
    ovn_eip(  # re-created at random after a hand-stripped delete done while no controller
        # leader was running (correction 3); LRP kept old IP
        c,
        "vpc2-external",
        labels={OVN + "subnet": ext},
        spec={
            "externalSubnet": ext,
            "type": "lrp",
            "v4Ip": "172.30.0.3",
            "macAddress": "00:00:00:aa:00:03",
        },
        status={"ready": True, "v4Ip": "172.30.0.3", "macAddress": "00:00:00:aa:00:03"},
    )
    ovn_eip(  # static request after restart; got the same IP as eip-fip-a
        c,
        "eip-dup",
        labels={OVN + "subnet": ext},
        spec={"externalSubnet": ext, "v4Ip": "172.30.0.10", "type": "nat"},
        status={"ready": True, "v4Ip": "172.30.0.10", "macAddress": "00:00:00:aa:00:1a"},
    )
    # (ipt-eip-2, 172.30.0.21, was deleted by stripping its finalizer - no object remains)
    # (vip-b, 10.10.0.13 / fd00:10:10::d, static, deleted by stripping its finalizer on v1.16)
    # controller log evidence (optional input, not part of the snapshot):
    #   I.. ipam.go:70] allocate v4 172.30.0.21, v6 , mac 8e:..:21 for ipt-eip-2
    #       from subnet external
    #   I.. ipam.go:163] allocate v4 10.10.0.13, v6 fd00:10:10::d, mac 00:..:0d for vip-b
    #       from subnet vpc1-net1
    c.at("2025-05-20T09:29:57+00:00")
    leader_lease(c, rfc3339(c.now))
    captured_at = "2025-05-20T09:30:00Z"

    # --- OVN NB -------------------------------------------------------------------------------
    nb_global(nb, c.version)
    switch(nb, ext)
    lsp(
        nb,
        ext,
        "localnet.external",
        port_type="localnet",
        addresses=["unknown"],
        options={"network_name": "pn0"},
        tag=204,
    )
    router_lsp(nb, ext, "vpc1", router_port="vpc1-external")
    router_lsp(nb, ext, "vpc2", router_port="vpc2-external")
    lsp(nb, ext, "node1", addresses=["00:00:00:aa:00:05 172.30.0.5"])

    switch(nb, net1)
    router_lsp(nb, net1, "vpc1", router_port="vpc1-vpc1-net1")
    lsp(
        nb,
        net1,
        "app-1.ns1",
        addresses=["00:00:00:bb:00:0a 10.10.0.10 fd00:10:10::a"],
        pod_key="ns1/app-1",
    )
    lsp(
        nb,
        net1,
        "db-0.ns1",
        addresses=["00:00:00:bb:00:0e 10.10.0.14 fd00:10:10::e"],
        pod_key="ns1/db-0",
    )
    lsp(
        nb,
        net1,
        "vpc-nat-gw-gw1-0.kube-system",
        addresses=["00:00:00:bb:00:fe 10.10.0.254 fd00:10:10::64"],
        pod_key="kube-system/vpc-nat-gw-gw1-0",
    )
    lsp(
        nb,
        net1,
        "ghost.ns1",
        addresses=["00:00:00:bb:00:0c 10.10.0.12 fd00:10:10::c"],
        pod_key="ns1/ghost",
    )
    lsp(nb, net1, "vip-a", port_type="virtual", options={"virtual-ip": "10.10.0.50,fd00:10:10::32"})
    lsp(nb, net1, "vip-b", port_type="virtual", options={"virtual-ip": "10.10.0.13,fd00:10:10::d"})

    router(nb, "vpc1")
    lrp(nb, "vpc1", "vpc1-external", "00:00:00:aa:00:02", ["172.30.0.2/24"])
    lrp(nb, "vpc1", "vpc1-vpc1-net1", "00:00:00:aa:10:01", ["10.10.0.1/24", "fd00:10:10::1/120"])
    nat(
        nb,
        "vpc1",
        "dnat_and_snat",
        "172.30.0.10",
        "10.10.0.10",
        logical_port="app-1.ns1",
        external_mac="00:00:00:bb:00:0a",
        options={"stateless": "false"},
    )  # n1: fip-a
    nat(nb, "vpc1", "snat", "172.30.0.11", "10.10.0.0/24")  # n2: snat-net1
    nat(nb, "vpc1", "dnat_and_snat", "172.30.0.13", "10.10.0.13")  # n3: orphan (eip-old+fip-old)
    nat(nb, "vpc1", "dnat_and_snat", "172.30.0.15", "10.10.0.15")  # n4: fip-dangling
    router(nb, "vpc2")
    lrp(nb, "vpc2", "vpc2-external", "00:00:00:aa:00:0e", ["172.30.0.14/24"])  # old IP; EIP says .3
    return c, captured_at


# --------------------------------------------------------------------------------------------
# The healthy cluster (v1.15.4): consistent, statuses derived from the objects.
# --------------------------------------------------------------------------------------------


def network_pod(
    c: Cluster,
    nb: Northbound,
    ns: str,
    name: str,
    *,
    subnet_name: str,
    ips: list[str],
    mac: str,
    node_name: str,
    image: str,
    owner: tuple[str, str, str] | None = None,
    labels: dict[str, str] | None = None,
    pod_type: str = "",
    extra_annotations: dict[str, str] | None = None,
) -> None:
    """A running pod on an OVN subnet with its IP CR `<pod>.<ns>` and LSP `<pod>.<ns>`."""
    spec = c.find("subnets.kubeovn.io", subnet_name)["spec"]
    annotations = pod_annotations(
        ips=ips,
        mac=mac,
        cidr=spec["cidrBlock"],
        gateway=spec["gateway"],
        logical_switch=subnet_name,
    )
    annotations.update(extra_annotations or {})
    pod(
        c,
        ns,
        name,
        node_name=node_name,
        ips=ips,
        image=image,
        annotations=annotations,
        labels=labels,
        owner=owner,
    )
    ip_cr(
        c,
        f"{name}.{ns}",
        subnet=subnet_name,
        pod_name=name,
        ns=ns,
        ips=ips,
        mac=mac,
        node_name=node_name,
        pod_type=pod_type,
    )
    port(nb, subnet_name, f"{name}.{ns}", f"{ns}/{name}", mac, ips)


def port(nb: Northbound, ls: str, name: str, pod_key: str, mac: str, ips: list[str]) -> None:
    """A normal pod/VM port: addresses and port_security '<mac> <v4> [<v6>]'."""
    address = " ".join([mac, *ips])
    lsp(nb, ls, name, addresses=[address], port_security=[address], pod_key=pod_key)


def healthy_eip(
    c: Cluster,
    nb: Northbound,
    name: str,
    eip_type: str,
    v4: str,
    mac: str,
    *,
    vpc_name: str | None = None,
    nat_rule: tuple[str, str] | None = None,
) -> None:
    """An OvnEip in the external subnet; nat_rule = (status.nat token, rule name)."""
    status: dict[str, Any] = {"type": eip_type, "ready": True, "v4Ip": v4, "macAddress": mac}
    annotations = None
    if nat_rule:
        status["nat"] = nat_rule[0]
        annotations = {OVN + "vpc_nat": nat_rule[1]}
    ovn_eip(
        c,
        name,
        labels=eip_labels("external", eip_type, v4, vpc_name),
        annotations=annotations,
        spec={"externalSubnet": "external", "type": eip_type, "v4Ip": v4, "macAddress": mac},
        status=status,
    )


def build_healthy(nb: Northbound) -> tuple[Cluster, str]:
    c = Cluster("healthy-cluster", "v1.15.4", "2025-04-01T08:00:00+00:00")
    nginx, postgres = "docker.io/library/nginx:1.27", "docker.io/library/postgres:16"
    nat_gw_image = "docker.io/kubeovn/vpc-nat-gateway:v1.15.4"
    ext_provider = "ovn-vpc-external-network.kube-system"  # IPAM-only macvlan attachment

    # --- the cluster, the controller, the subnets --------------------------------------------
    for name in ("kube-system", "default", "ns1", "ns2"):
        namespace(c, name)
    kubernetes_service(c)
    kube_ovn_controller(
        c,
        [
            "--default-ls=ovn-default",
            "--default-cidr=10.16.0.0/24",
            "--default-gateway=10.16.0.1",
            "--default-exclude-ips=10.16.0.100..10.16.0.110",
            "--cluster-router=ovn-cluster",
            "--node-switch=join",
            "--node-switch-cidr=100.64.0.0/24",
            "--external-gateway-switch=external",
            "--keep-vm-ip=true",
            "--gc-interval=0",
        ],
    )
    configmap(c, "ovn-vpc-nat-config", {"image": nat_gw_image})
    configmap(c, "ovn-vpc-nat-gw-config", {"enable-vpc-nat-gw": "true"})
    configmap(
        c,
        "ovn-external-gw-config",
        {
            "enable-external-gw": "true",
            "external-gw-nodes": "node1",
            "type": "centralized",
            "nic-ip": "172.30.0.254/24",
            "nic-mac": "00:00:00:ee:00:fe",
        },
    )
    nb_global(nb, c.version)
    router(nb, "ovn-cluster")

    # Status counts below are derived at the end by derive_status(); each comment gives the
    # derivation (v1.15 formula, docs/kube-ovn.md §2).
    # ovn-default: IP CRs labelled `ovn-default: ""` = web-1, db-0, db-1, vm1, static-1, web-2
    # (6) - static-1 (10.16.0.105 inside the non-gateway entry 10.16.0.100..10.16.0.110) = 5;
    # vip-web is not counted (ip_reserved=web-2.ns1, not ""). using 5, available 254-12-5=237.
    subnet(
        c,
        "ovn-default",
        cidr="10.16.0.0/24",
        gateway="10.16.0.1",
        exclude=["10.16.0.1", "10.16.0.100..10.16.0.110"],
        protocol="IPv4",
        vpc="ovn-cluster",
        namespaces=["ns1"],
        default=True,
        natOutgoing=True,
        gatewayType="distributed",
    )
    # join: IP CRs node-node1, node-node2 = 2. using 2, available 254-1-2=251.
    subnet(
        c,
        "join",
        cidr="100.64.0.0/24",
        gateway="100.64.0.1",
        exclude=["100.64.0.1"],
        protocol="IPv4",
        vpc="ovn-cluster",
        natOutgoing=False,
    )
    # external: no IP CRs; OvnEips labelled subnet=external = vpc1-external, node1, eip-fip,
    # eip-snat, eip-dnat = 5 (the gateway LRP 172.30.0.254 is excluded and no IPAM owner).
    # using 5, available 254-56-5=193.
    subnet(
        c,
        "external",
        cidr="172.30.0.0/24",
        gateway="172.30.0.1",
        exclude=["172.30.0.1", "172.30.0.200..172.30.0.254"],
        protocol="IPv4",
        vpc="ovn-cluster",
        vlan="vlan0",
        natOutgoing=False,
    )
    # vpc1-net1 (Dual): IP CRs app-1.ns1, vpc-nat-gw-gw1-0.kube-system = 2 for both families.
    # v4 available 254-1-2=251; v6 (/120) available 254-1-2=251.
    subnet(
        c,
        "vpc1-net1",
        cidr="10.10.0.0/24,fd00:10:10::/120",
        gateway="10.10.0.1,fd00:10:10::1",
        exclude=["10.10.0.1", "fd00:10:10::1"],
        protocol="Dual",
        vpc="vpc1",
        namespaces=["ns1"],
    )
    # v6-net (IPv6): IP CR v6-app.ns2 = 1; v4 counts 0. v6 available 2^64-2-1-1, which a
    # float64 controller (before v1.16) writes as 1.8446744073709552e+19.
    subnet(
        c,
        "v6-net",
        cidr="fd00:20::/64",
        gateway="fd00:20::1",
        exclude=["fd00:20::1"],
        protocol="IPv6",
        vpc="ovn-cluster",
        namespaces=["ns2"],
    )
    # ovn-vpc-external-network (IPAM-only, no logical switch): IP CR
    # vpc-nat-gw-gw1-0.kube-system.ovn-vpc-external-network.kube-system (1) + IptablesEIP
    # ipt-eip-1 (1) = 2. using 2, available 254-1-2=251.
    subnet(
        c,
        "ovn-vpc-external-network",
        cidr="192.168.100.0/24",
        gateway="192.168.100.1",
        exclude=["192.168.100.1"],
        protocol="IPv4",
        provider=ext_provider,
    )
    vpc(c, "ovn-cluster", default=True, subnets=["external", "join", "ovn-default", "v6-net"])
    vpc(c, "vpc1", spec={"enableExternal": True}, subnets=["vpc1-net1"])
    router(nb, "vpc1")

    # Subnet gateway ports: LRP <vpc>-<subnet> and router LSP <subnet>-<vpc>
    for ls, lr, mac, networks in [
        ("ovn-default", "ovn-cluster", "00:00:00:A0:16:01", ["10.16.0.1/24"]),
        ("join", "ovn-cluster", "00:00:00:A0:64:01", ["100.64.0.1/24"]),
        ("vpc1-net1", "vpc1", "00:00:00:A0:10:01", ["10.10.0.1/24", "fd00:10:10::1/120"]),
        ("v6-net", "ovn-cluster", "00:00:00:A0:20:01", ["fd00:20::1/64"]),
    ]:
        switch(nb, ls)
        lrp(nb, lr, f"{lr}-{ls}", mac, networks)
        router_lsp(nb, ls, lr)
    switch(nb, "external")
    lsp(
        nb,
        "external",
        "localnet.external",
        port_type="localnet",
        addresses=["unknown"],
        options={"network_name": "pn0"},
        tag=204,
    )
    # (ovn-vpc-external-network is IPAM-only: no logical switch, no ports)

    # --- nodes: join allocations (annotations, IP CR node-<n>, bare LSP node-<n>) ------------
    for name, join_ip, mac, labels in [
        ("node1", "100.64.0.2", "00:00:00:51:0A:02", {OVN + "node-ext-gw": "true"}),
        ("node2", "100.64.0.3", "00:00:00:51:0A:03", {}),
    ]:
        node(
            c,
            name,
            labels=labels,
            annotations={
                OVN + "allocated": "true",
                OVN + "ip_address": join_ip,
                OVN + "mac_address": mac,
                OVN + "cidr": "100.64.0.0/24",
                OVN + "gateway": "100.64.0.1",
                OVN + "logical_switch": "join",
                OVN + "port_name": f"node-{name}",
            },
        )
        ip_cr(
            c,
            f"node-{name}",
            subnet="join",
            pod_name=name,
            ns="",
            ips=[join_ip],
            mac=mac,
            node_name=name,
            owner=("v1", "Node", name),
            container_id=False,
        )
        lsp(nb, "join", f"node-{name}", addresses=[f"{mac} {join_ip}"])

    # --- default-VPC external gateway from ovn-external-gw-config (no OvnEip, no IPAM entry) -
    lrp(nb, "ovn-cluster", "ovn-cluster-external", "00:00:00:ee:00:fe", ["172.30.0.254/24"])
    router_lsp(nb, "external", "ovn-cluster")

    # --- vpc1's external port: lrp-type OvnEip vpc1-external --------------------------------
    healthy_eip(c, nb, "vpc1-external", "lrp", "172.30.0.2", "00:00:00:E1:30:02")
    lrp(nb, "vpc1", "vpc1-external", "00:00:00:E1:30:02", ["172.30.0.2/24"])
    router_lsp(nb, "external", "vpc1")
    # lsp-type OvnEip named after node1 (a Node), bare LSP without a pod key
    healthy_eip(c, nb, "node1", "lsp", "172.30.0.5", "00:00:00:E1:30:05")
    lsp(nb, "external", "node1", addresses=["00:00:00:E1:30:05 172.30.0.5"])

    # --- namespace ns1 on ovn-default ---------------------------------------------------------
    network_pod(
        c,
        nb,
        "ns1",
        "web-1",
        subnet_name="ovn-default",
        ips=["10.16.0.10"],
        mac="00:00:00:3C:5E:0A",
        node_name="node1",
        image=nginx,
        labels={"app": "web"},
    )
    # StatefulSet db, replicas 2: db-0 runs, db-1 is absent (rescheduling) but keeps its IP CR
    # and LSP (the controller keeps them while the StatefulSet still wants ordinal 1).
    statefulset(c, "ns1", "db", replicas=2, ready=1, image=postgres)
    network_pod(
        c,
        nb,
        "ns1",
        "db-0",
        subnet_name="ovn-default",
        ips=["10.16.0.11"],
        mac="00:00:00:3C:5E:0B",
        node_name="node1",
        image=postgres,
        labels=statefulset_pod_labels("db", 0),
        owner=("apps/v1", "StatefulSet", "db"),
        pod_type="StatefulSet",
    )
    ip_cr(
        c,
        "db-1.ns1",
        subnet="ovn-default",
        pod_name="db-1",
        ns="ns1",
        ips=["10.16.0.12"],
        mac="00:00:00:3C:5E:0C",
        node_name="node2",
        pod_type="StatefulSet",
    )
    port(nb, "ovn-default", "db-1.ns1", "ns1/db-1", "00:00:00:3C:5E:0C", ["10.16.0.12"])

    # Stopped KubeVirt VM (runStrategy Halted, no VMI, no pod): with keep-vm-ip the IP CR
    # (podType VirtualMachine), the LSP and the allocation stay.
    c.add(
        "virtualmachines.kubevirt.io",
        "kubevirt.io/v1",
        "VirtualMachine",
        "vm1",
        namespace="ns1",
        generation=True,
        annotations={"kubevirt.io/latest-observed-api-version": "v1"},
        finalizers=["kubevirt.io/virtualMachineControllerFinalize"],
        spec={
            "runStrategy": "Halted",
            "template": {
                "metadata": {"labels": {"kubevirt.io/vm": "vm1"}},
                "spec": {
                    "domain": {
                        "devices": {
                            "disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}],
                            "interfaces": [{"name": "default", "bridge": {}}],
                        },
                        "resources": {"requests": {"memory": "1Gi"}},
                    },
                    "networks": [{"name": "default", "pod": {}}],
                    "volumes": [
                        {
                            "name": "rootdisk",
                            "containerDisk": {"image": "quay.io/containerdisks/debian:12"},
                        }
                    ],
                },
            },
        },
        status={
            "printableStatus": "Stopped",
            "ready": False,
            "conditions": [{"type": "Ready", "status": "False", "reason": "VMINotExists"}],
        },
    )
    ip_cr(
        c,
        "vm1.ns1",
        subnet="ovn-default",
        pod_name="vm1",
        ns="ns1",
        ips=["10.16.0.14"],
        mac="00:00:00:3C:5E:0E",
        node_name="node2",
        pod_type="VirtualMachine",
    )
    port(nb, "ovn-default", "vm1.ns1", "ns1/vm1", "00:00:00:3C:5E:0E", ["10.16.0.14"])

    # A pod with a user-chosen static IP inside excludeIps: held, invisible in both range
    # strings, not counted (its IP CR is subtracted).
    network_pod(
        c,
        nb,
        "ns1",
        "static-1",
        subnet_name="ovn-default",
        ips=["10.16.0.105"],
        mac="00:00:00:3C:5E:69",
        node_name="node2",
        image=nginx,
        labels={"app": "static"},
    )

    # A Vip taken over by a pod (annotation ovn.kubernetes.io/vip): the Vip is labelled
    # ip_reserved=<pod port>, there is no virtual LSP, and the pod holds the IP.
    vip(
        c,
        "vip-web",
        labels={OVN + "subnet": "ovn-default", OVN + "ip_reserved": "web-2.ns1"},
        spec={"namespace": "ns1", "subnet": "ovn-default"},
        status={"type": "", "v4ip": "10.16.0.20", "v6ip": "", "mac": "00:00:00:3C:5E:14"},
    )
    network_pod(
        c,
        nb,
        "ns1",
        "web-2",
        subnet_name="ovn-default",
        ips=["10.16.0.20"],
        mac="00:00:00:3C:5E:14",
        node_name="node2",
        image=nginx,
        labels={"app": "web"},
        extra_annotations={OVN + "vip": "vip-web"},
    )

    # --- vpc1: app-1, NAT gateway gw1 --------------------------------------------------------
    network_pod(
        c,
        nb,
        "ns1",
        "app-1",
        subnet_name="vpc1-net1",
        ips=["10.10.0.10", "fd00:10:10::a"],
        mac="00:00:00:7A:10:0A",
        node_name="node2",
        image=nginx,
        labels={"app": "app-1"},
        extra_annotations={OVN + "logical_router": "vpc1"},
    )

    c.add(
        "network-attachment-definitions.k8s.cni.cncf.io",
        "k8s.cni.cncf.io/v1",
        "NetworkAttachmentDefinition",
        "ovn-vpc-external-network",
        namespace="kube-system",
        generation=True,
        spec={
            "config": json.dumps(
                {
                    "cniVersion": "0.3.0",
                    "type": "macvlan",
                    "master": "eth1",
                    "mode": "bridge",
                    "ipam": {
                        "type": "kube-ovn",
                        "server_socket": "/run/openvswitch/kube-ovn-daemon.sock",
                        "provider": ext_provider,
                    },
                }
            )
        },
    )
    kubeovn_cr(
        c,
        "vpc-nat-gateways.kubeovn.io",
        "VpcNatGateway",
        "gw1",
        spec={
            "vpc": "vpc1",
            "subnet": "vpc1-net1",
            "lanIp": "10.10.0.254",
            "externalSubnets": ["ovn-vpc-external-network"],
            "noDefaultEIP": False,
        },
    )
    statefulset(c, "kube-system", "vpc-nat-gw-gw1", replicas=1, ready=1, image=nat_gw_image)
    gw_lan = ["10.10.0.254", "fd00:10:10::64"]
    gw_mac, gw_ext_mac = "00:00:00:7A:10:FE", "00:00:00:9B:64:02"
    gw_annotations = {
        OVN + "vpc_nat_gw": "gw1",
        **pod_annotations(
            ips=gw_lan,
            mac=gw_mac,
            cidr="10.10.0.0/24,fd00:10:10::/120",
            gateway="10.10.0.1,fd00:10:10::1",
            logical_switch="vpc1-net1",
        ),
        "k8s.v1.cni.cncf.io/networks": "kube-system/ovn-vpc-external-network",
        **pod_annotations(
            ips=["192.168.100.2"],
            mac=gw_ext_mac,
            cidr="192.168.100.0/24",
            gateway="192.168.100.1",
            logical_switch=None,
            provider=ext_provider,
        ),
    }
    pod(
        c,
        "kube-system",
        "vpc-nat-gw-gw1-0",
        node_name="node1",
        ips=gw_lan,
        image=nat_gw_image,
        annotations=gw_annotations,
        labels={**statefulset_pod_labels("vpc-nat-gw-gw1", 0), OVN + "vpc-nat-gw": "true"},
        owner=("apps/v1", "StatefulSet", "vpc-nat-gw-gw1"),
    )
    ip_cr(
        c,
        "vpc-nat-gw-gw1-0.kube-system",
        subnet="vpc1-net1",
        pod_name="vpc-nat-gw-gw1-0",
        ns="kube-system",
        ips=gw_lan,
        mac=gw_mac,
        node_name="node1",
        pod_type="StatefulSet",
    )
    ip_cr(
        c,
        f"vpc-nat-gw-gw1-0.kube-system.{ext_provider}",
        subnet="ovn-vpc-external-network",
        pod_name="vpc-nat-gw-gw1-0",
        ns="kube-system",
        ips=["192.168.100.2"],
        mac=gw_ext_mac,
        node_name="node1",
        pod_type="StatefulSet",
    )
    port(
        nb,
        "vpc1-net1",
        "vpc-nat-gw-gw1-0.kube-system",
        "kube-system/vpc-nat-gw-gw1-0",
        gw_mac,
        gw_lan,
    )
    # (no LSP for the IPAM-only attachment)

    ipt_labels = {OVN + "eip_v4_ip": "192.168.100.10", OVN + "vpc-nat-gw-name": "gw1"}
    kubeovn_cr(
        c,
        "iptables-eips.kubeovn.io",
        "IptablesEIP",
        "ipt-eip-1",
        labels={OVN + "subnet": "ovn-vpc-external-network", **ipt_labels},
        spec={
            "externalSubnet": "ovn-vpc-external-network",
            "v4ip": "192.168.100.10",
            "natGwDp": "gw1",
        },
        status={"ip": "192.168.100.10", "ready": True, "nat": "snat"},
    )
    kubeovn_cr(
        c,
        "iptables-snat-rules.kubeovn.io",
        "IptablesSnatRule",
        "snat-1",
        labels=ipt_labels,
        spec={"eip": "ipt-eip-1", "internalCIDR": "10.10.0.0/24"},
        status={
            "v4ip": "192.168.100.10",
            "natGwDp": "gw1",
            "internalCIDR": "10.10.0.0/24",
            "ready": True,
        },
    )

    # --- OVN NAT on vpc1: FIP, SNAT, DNAT (an LB named after the rule) -----------------------
    app_mac = "00:00:00:7A:10:0A"
    healthy_eip(
        c,
        nb,
        "eip-fip",
        "nat",
        "172.30.0.10",
        "00:00:00:E1:30:0A",
        vpc_name="vpc1",
        nat_rule=("fip", "fip-web"),
    )
    kubeovn_cr(
        c,
        "ovn-fips.kubeovn.io",
        "OvnFip",
        "fip-web",
        labels={OVN + "eip_v4_ip": "172.30.0.10"},
        spec={"ovnEip": "eip-fip", "ipType": "ip", "ipName": "app-1.ns1"},
        status={
            "ready": True,
            "vpc": "vpc1",
            "v4Eip": "172.30.0.10",
            "v4Ip": "10.10.0.10",
            "macAddress": app_mac,
        },
    )
    nat(
        nb,
        "vpc1",
        "dnat_and_snat",
        "172.30.0.10",
        "10.10.0.10",
        logical_port="app-1.ns1",
        external_mac=app_mac,
        options={"stateless": "false"},
    )

    healthy_eip(
        c,
        nb,
        "eip-snat",
        "nat",
        "172.30.0.11",
        "00:00:00:E1:30:0B",
        vpc_name="vpc1",
        nat_rule=("snat", "snat-net1"),
    )
    kubeovn_cr(
        c,
        "ovn-snat-rules.kubeovn.io",
        "OvnSnatRule",
        "snat-net1",
        labels={OVN + "eip_v4_ip": "172.30.0.11"},
        spec={"ovnEip": "eip-snat", "vpcSubnet": "vpc1-net1"},
        status={"ready": True, "vpc": "vpc1", "v4Eip": "172.30.0.11", "v4IpCidr": "10.10.0.0/24"},
    )
    nat(nb, "vpc1", "snat", "172.30.0.11", "10.10.0.0/24")

    healthy_eip(
        c,
        nb,
        "eip-dnat",
        "nat",
        "172.30.0.12",
        "00:00:00:E1:30:0C",
        vpc_name="vpc1",
        nat_rule=("dnat", "dnat-ssh"),
    )
    ports = {"internalPort": "22", "externalPort": "2222", "protocol": "tcp"}
    kubeovn_cr(
        c,
        "ovn-dnat-rules.kubeovn.io",
        "OvnDnatRule",
        "dnat-ssh",
        labels={OVN + "eip_v4_ip": "172.30.0.12"},
        spec={"ovnEip": "eip-dnat", "ipType": "ip", "ipName": "app-1.ns1", **ports},
        status={
            "ready": True,
            "vpc": "vpc1",
            "v4Eip": "172.30.0.12",
            "v4Ip": "10.10.0.10",
            **ports,
        },
    )
    load_balancer(nb, "vpc1", "dnat-ssh", "tcp", {"172.30.0.12:2222": "10.10.0.10:22"})

    # --- ns2 on v6-net -------------------------------------------------------------------------
    network_pod(
        c,
        nb,
        "ns2",
        "v6-app",
        subnet_name="v6-net",
        ips=["fd00:20::5"],
        mac="00:00:00:D2:20:05",
        node_name="node1",
        image=nginx,
        labels={"app": "v6-app"},
    )

    # --- the last leader start: InitIPAM rebuilt everything above (this is also what gave the
    # Vip's IP to pod web-2 in IPAM: pods are restored before Vips). -------------------------
    c.at("2025-06-02T07:00:00+00:00")
    controller_restart(c, "node1")

    # A finished Job pod, after the restart: the controller released its IP (no IP CR, no LSP,
    # 10.16.0.13 is available) but the pod keeps allocated=true annotations.
    c.at("2025-06-09T02:00:00+00:00")
    ovn_default = c.find("subnets.kubeovn.io", "ovn-default")["spec"]
    pod(
        c,
        "ns1",
        "report-28731-x7k2p",
        node_name="node2",
        ips=["10.16.0.13"],
        image="docker.io/library/busybox:1.37",
        phase="Succeeded",
        restart_policy="Never",
        labels={"batch.kubernetes.io/job-name": "report-28731", "job-name": "report-28731"},
        owner=("batch/v1", "Job", "report-28731"),
        annotations=pod_annotations(
            ips=["10.16.0.13"],
            mac="00:00:00:3C:5E:0D",
            cidr=ovn_default["cidrBlock"],
            gateway=ovn_default["gateway"],
            logical_switch="ovn-default",
        ),
    )

    c.at("2025-06-10T11:59:58+00:00")
    leader_lease(c, rfc3339(c.now))
    derive_status(c, since="2025-06-02T07:01:00Z")
    return c, "2025-06-10T12:00:00Z"


# --- status derivation for the healthy cluster ----------------------------------------------


def pod_alive(p: dict[str, Any]) -> bool:
    """isPodAlive (pod.go:166-191), for pods that are not being deleted."""
    phase, policy = p["status"]["phase"], p["spec"]["restartPolicy"]
    if phase == "Succeeded" and policy != "Always":
        return False
    return not (phase == "Failed" and (policy == "Never" or p["status"].get("reason") == "Evicted"))


def owned_by(obj: dict[str, Any], kind: str) -> bool:
    return any(ref["kind"] == kind for ref in obj["metadata"].get("ownerReferences", []))


def held_by_allocator(c: Cluster) -> dict[str, set[Address]]:
    """What the leader's IPAM holds per subnet after InitIPAM (docs/kube-ovn.md §1,
    pkg/controller/init.go InitIPAM)."""
    subnets = {s["metadata"]["name"]: s["spec"] for s in c.items("subnets.kubeovn.io")}
    by_provider = {
        spec["provider"]: name for name, spec in subnets.items() if spec["provider"] != "ovn"
    }
    held: dict[str, set[Address]] = defaultdict(set)

    def hold(subnet_name: str, value: str) -> None:
        held[subnet_name].update(ipaddress.ip_address(ip) for ip in split_ips(value))

    for ip in c.items("ips.kubeovn.io"):  # 3. sts / VM IP CRs
        if ip["spec"]["podType"] in ("StatefulSet", "VirtualMachine"):
            hold(ip["spec"]["subnet"], ip["spec"]["ipAddress"])
    for p in c.items("pods"):  # 4. alive or StatefulSet pods, per provider with allocated=true
        if p["spec"]["hostNetwork"] or not (pod_alive(p) or owned_by(p, "StatefulSet")):
            continue
        annotations = p["metadata"].get("annotations", {})
        for key, value in annotations.items():
            if key.endswith(".kubernetes.io/allocated") and value == "true":
                provider = key.removesuffix(".kubernetes.io/allocated")
                switch_ = annotations.get(f"{provider}.kubernetes.io/logical_switch")
                hold(
                    switch_ or by_provider[provider],
                    annotations[f"{provider}.kubernetes.io/ip_address"],
                )
    for v in c.items("vips.kubeovn.io"):  # 5. (vip-web's IP is already held through web-2)
        hold(v["spec"]["subnet"], ",".join([v["status"]["v4ip"], v["status"]["v6ip"]]))
    for eip in c.items("iptables-eips.kubeovn.io"):  # 6.
        hold(eip["spec"]["externalSubnet"] or "ovn-vpc-external-network", eip["status"]["ip"])
    for eip in c.items("ovn-eips.kubeovn.io"):  # 7.
        hold(eip["spec"]["externalSubnet"], eip["status"]["v4Ip"])
    for n in c.items("nodes"):  # 8.
        annotations = n["metadata"].get("annotations", {})
        if annotations.get(OVN + "allocated") == "true":
            hold(annotations[OVN + "logical_switch"], annotations[OVN + "ip_address"])
    return held


def counted(c: Cluster, name: str, spec: dict[str, Any]) -> int:
    """usingIPs, v1.15 formula: IP CRs labelled `<S>: ""` minus those whose IP lies in a
    non-gateway excludeIps entry, plus Vips {subnet=S, ip_reserved=""}, IptablesEIPs
    {subnet=S} and OvnEips {subnet=S}."""
    gateways = set(split_ips(spec["gateway"]))
    entries = [exclude_entry(e)[1] for e in spec["excludeIps"] if e not in gateways]

    def excluded(ip_spec: dict[str, Any]) -> bool:
        ips = [int(ipaddress.ip_address(ip)) for ip in split_ips(ip_spec["ipAddress"])]
        return any(lo <= ip <= hi for ip in ips for lo, hi in entries)

    def labelled(stem: str, **want: str) -> list[dict[str, Any]]:
        items = c.items(stem)
        return [
            o
            for o in items
            if all(o["metadata"].get("labels", {}).get(k) == v for k, v in want.items())
        ]

    ip_crs = labelled("ips.kubeovn.io", **{name: ""})
    vips = labelled("vips.kubeovn.io", **{OVN + "subnet": name, OVN + "ip_reserved": ""})
    ipt_eips = labelled("iptables-eips.kubeovn.io", **{OVN + "subnet": name})
    ovn_eips = labelled("ovn-eips.kubeovn.io", **{OVN + "subnet": name})
    n_excluded = sum(1 for ip in ip_crs if excluded(ip["spec"]))
    return len(ip_crs) - n_excluded + len(vips) + len(ipt_eips) + len(ovn_eips)


def float64_count(n: int) -> int | float:
    """Counts are float64 before v1.16; small ones print as integers, a /64 does not."""
    return float(n) if n > 2**53 else n


def derive_status(c: Cluster, since: str) -> None:
    held = held_by_allocator(c)
    for s in c.items("subnets.kubeovn.io"):
        name, spec = s["metadata"]["name"], s["spec"]
        using_count = counted(c, name, spec)
        families: dict[int, tuple[str, str, int | float, int | float]] = {}
        for cidr in split_ips(spec["cidrBlock"]):
            network = ipaddress.ip_network(cidr)
            universe = universe_of(network)
            entries = [
                iv for v, iv in map(exclude_entry, spec["excludeIps"]) if v == network.version
            ]
            clipped = [iv for iv in (clip(e, universe) for e in entries) if iv]
            excluded = merge(clipped)
            held_here = merge((int(ip), int(ip)) for ip in held[name] if ip in network)
            using = subtract(held_here, excluded)
            available = subtract(subtract([universe], excluded), using)
            # AddressCount (2^bits - 2) - excluded addresses (entries clipped, not de-duplicated)
            total = 2 ** (network.max_prefixlen - network.prefixlen) - 2
            available_count = max(0, total - sum(hi - lo + 1 for lo, hi in clipped) - using_count)
            families[network.version] = (
                range_string(using, network.version),
                range_string(available, network.version),
                float64_count(using_count),
                float64_count(available_count),
            )
        ipam_only = spec["provider"] != "ovn"
        s["status"] = subnet_status(
            v4=families.get(4, ("", "", 0, 0)),
            v6=families.get(6, ("", "", 0, 0)),
            ipam_only=ipam_only,
            since=since,
        )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_snapshot(c: Cluster, nb: Northbound, captured_at: str, dest: Path) -> None:
    """Write into a sibling temp dir, then swap it in, so a failed run leaves the old copy."""
    assert all(o["metadata"]["creationTimestamp"] <= captured_at for o in c.created)
    c.assign_resource_versions()
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "k8s").mkdir(parents=True)
    for stem, items in c.files.items():
        items = sorted(
            items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )
        document = {
            "apiVersion": "v1",
            "items": items,
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        }
        (tmp / "k8s" / f"{stem}.json").write_text(
            json.dumps(document, indent=4, sort_keys=True) + "\n"
        )
    nb.dump(tmp / "nb")
    (tmp / "meta.json").write_text(json.dumps(c.meta_json(captured_at), indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def print_statuses(c: Cluster) -> None:
    print(f"{c.name} ({c.version})")
    for s in c.items("subnets.kubeovn.io"):
        st = s["status"]
        for fam in ("v4", "v6"):
            if st[f"{fam}usingIPrange"] or st[f"{fam}availableIPrange"] or st[f"{fam}usingIPs"]:
                print(
                    f"  {s['metadata']['name']:<26} {fam} using={st[fam + 'usingIPs']} "
                    f"[{st[fam + 'usingIPrange']}] available={st[fam + 'availableIPs']} "
                    f"[{st[fam + 'availableIPrange']}]"
                )


def main() -> int:
    for tool in ("ovsdb-tool", "ovsdb-server", "ovn-nbctl"):
        if shutil.which(tool) is None:
            print(
                f"{tool} not found: apt-get install ovn-central ovn-common openvswitch-common",
                file=sys.stderr,
            )
            return 1
    for build, dirname in ((build_leaky, "leaky-cluster"), (build_healthy, "healthy-cluster")):
        with Northbound() as nb:
            cluster, captured_at = build(nb)
            write_snapshot(cluster, nb, captured_at, HERE / dirname)
        print_statuses(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
