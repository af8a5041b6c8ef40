"""Kubernetes objects as `kubectl get <kind> -o json` prints them, built from the plan."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

from .ipspace import Family, format_ranges, intersect, ip_str, merge_points, size, subtract
from .plan import Cluster, Eip, Fip, Node, Pod, Snat, Subnet, Vpc, Workload

Obj = dict[str, Any]
FINALIZER = "kubeovn.io/kube-ovn-controller"
KUBEOVN_V1 = "kubeovn.io/v1"


class ResourceVersions:
    """A cluster-wide increasing resourceVersion, as etcd's revision is."""

    def __init__(self, start: int = 100_000) -> None:
        self.value = start

    def next(self) -> str:
        self.value += 7
        return str(self.value)


def fake_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def derived_uid(base: str, name: str) -> str:
    """A stable uid for an object the plan does not track (namespaces, node IP CRs)."""
    return str(uuid.uuid5(uuid.UUID(base), name))


def ready_condition(ts: str, reason: str = "ReconcileSuccess") -> Obj:
    return {"lastTransitionTime": ts, "lastUpdateTime": ts, "message": "", "observedGeneration": 1,
            "reason": reason, "status": "True", "type": "Ready"}


def crd_meta(rv: ResourceVersions, name: str, uid: str, created: str,
             labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
             finalizers: bool = True) -> Obj:
    meta: Obj = {"creationTimestamp": created, "generation": 1, "name": name,
                 "resourceVersion": rv.next(), "uid": uid}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if finalizers:
        meta["finalizers"] = [FINALIZER]
    return meta


# ---------------------------------------------------------------- Subnet


def family_status(fam: Family | None, using_count: int, prefix: str) -> Obj:
    """Ranges from the allocator's view, counts from objects (docs/kube-ovn.md §2)."""
    if fam is None:
        return {f"{prefix}availableIPrange": "", f"{prefix}availableIPs": 0,
                f"{prefix}usingIPrange": "", f"{prefix}usingIPs": 0}
    universe = [fam.universe]
    using = subtract(merge_points(fam.using), fam.excluded)
    available = subtract(subtract(universe, fam.excluded), using)
    # |ExpandExcludeIPs(exclude, cidr)|: excluded addresses clipped to the universe
    excluded_count = size(intersect(fam.excluded, universe))
    avail_count = max(0, fam.address_count - excluded_count - using_count)
    return {f"{prefix}availableIPrange": format_ranges(available, fam.version),
            f"{prefix}availableIPs": avail_count,
            f"{prefix}usingIPrange": format_ranges(using, fam.version),
            f"{prefix}usingIPs": using_count}


def subnet_status(s: Subnet) -> Obj:
    using = s.ip_crs + s.eips
    status: Obj = {
        "conditions": [
            {"lastTransitionTime": s.created, "lastUpdateTime": s.created, "message": "",
             "observedGeneration": 1, "reason": "ValidatedSubnet", "status": "True",
             "type": "Validated"},
            {"lastTransitionTime": s.created, "lastUpdateTime": s.created, "message": "",
             "observedGeneration": 1, "reason": "ResetLogicalSwitchAclSuccess",
             "status": "True", "type": "Ready"},
        ],
        "activateGateway": "", "dhcpV4OptionsUUID": "", "dhcpV6OptionsUUID": "",
        "mcastQuerierIP": "", "mcastQuerierMAC": "", "natOutgoingPolicyRules": [],
        "u2oInterconnectionIP": "", "u2oInterconnectionMAC": "", "u2oInterconnectionVPC": "",
    }
    status.update(family_status(s.v4, using, "v4"))
    status.update(family_status(s.v6, using, "v6"))
    return status


def subnet_obj(s: Subnet, rv: ResourceVersions) -> Obj:
    spec: Obj = {
        "cidrBlock": s.cidr_block, "default": s.default, "enableDHCP": False,
        "enableIPv6RA": False, "enableLb": True, "excludeIps": s.exclude_ips,
        "gateway": s.gateway, "gatewayNode": "", "gatewayType": "distributed",
        "natOutgoing": s.role == "workload" and s.vpc == "ovn-cluster", "private": False,
        "protocol": s.protocol, "provider": "ovn", "vpc": s.vpc,
    }
    if s.namespaces:
        spec["namespaces"] = s.namespaces
    if s.role == "external":
        spec["vlan"] = f"vlan{s.vlan_tag}"
    if s.role == "join":
        spec["gatewayType"] = ""
    return {"apiVersion": KUBEOVN_V1, "kind": "Subnet",
            "metadata": crd_meta(rv, s.name, s.uid, s.created),
            "spec": spec, "status": subnet_status(s)}


# ---------------------------------------------------------------- Pods and IP CRs


def split_ips(v4: int | None, v6: int | None) -> tuple[str, str, str]:
    a = ip_str(v4, 4) if v4 is not None else ""
    b = ip_str(v6, 6) if v6 is not None else ""
    return a, b, ",".join(x for x in (a, b) if x)


def ip_cr(rv: ResourceVersions, name: str, uid: str, created: str, subnet: Subnet,
          pod_name: str, namespace: str, node: str, v4: int | None, v6: int | None, mac: str,
          pod_type: str = "", container_id: str = "",
          owner_refs: list[Obj] | None = None) -> Obj:
    a, b, both = split_ips(v4, v6)
    labels = {"ovn.kubernetes.io/ip_reserved": "false", "ovn.kubernetes.io/node-name": node,
              "ovn.kubernetes.io/subnet": subnet.name, subnet.name: ""}
    meta = crd_meta(rv, name, uid, created, labels=labels)
    if owner_refs:
        meta["ownerReferences"] = owner_refs
    return {"apiVersion": KUBEOVN_V1, "kind": "IP", "metadata": meta,
            "spec": {"attachIps": [], "attachMacs": [], "attachSubnets": [],
                     "containerID": container_id, "ipAddress": both, "macAddress": mac,
                     "namespace": namespace, "nodeName": node, "podName": pod_name,
                     "podType": pod_type, "subnet": subnet.name, "v4IpAddress": a,
                     "v6IpAddress": b}}


def pod_ip_cr(p: Pod, rv: ResourceVersions) -> Obj:
    pod_type = "StatefulSet" if p.owner.kind == "StatefulSet" else ""
    return ip_cr(rv, p.port_name, p.ip_uid, p.created, p.subnet, p.name, p.namespace,
                 p.node.name, p.v4, p.v6, p.mac, pod_type, fake_digest(p.uid))


def node_ip_cr(n: Node, c: Cluster, rv: ResourceVersions) -> Obj:
    ref = [{"apiVersion": "v1", "kind": "Node", "name": n.name, "uid": n.uid}]
    return ip_cr(rv, f"node-{n.name}", derived_uid(n.uid, "ip"), n.created,
                 c.subnet("join"), n.name, "", n.name, n.join_ip, None, n.join_mac,
                 owner_refs=ref)


def container(app: str, namespace: str) -> Obj:
    """A typical application container; its shape is what makes pods.json realistic in size."""
    image = f"registry.example.com/{namespace}/{app}:1.{len(app)}.{len(namespace) % 7}"
    env = [
        {"name": "APP_NAME", "value": app},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "HTTP_PORT", "value": "8080"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                        "fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                      "fieldPath": "status.podIP"}}},
    ]
    probe = {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 8080,
                                                "scheme": "HTTP"},
             "initialDelaySeconds": 5, "periodSeconds": 10, "successThreshold": 1,
             "timeoutSeconds": 1}
    return {"env": env, "image": image, "imagePullPolicy": "IfNotPresent", "name": app,
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "readinessProbe": probe, "livenessProbe": dict(probe),
            "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                          "requests": {"cpu": "100m", "memory": "128Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                              "name": "kube-api-access", "readOnly": True}]}


def token_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}],
                       "name": "kube-root-ca.crt"}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1",
                                                 "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}}]}}


TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
     "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
     "tolerationSeconds": 300},
]


def pod_annotations(p: Pod) -> dict[str, str]:
    _, _, both = split_ips(p.v4, p.v6)
    s = p.subnet
    return {"ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/cidr": s.cidr_block,
            "ovn.kubernetes.io/gateway": s.gateway, "ovn.kubernetes.io/ip_address": both,
            "ovn.kubernetes.io/logical_router": s.vpc,
            "ovn.kubernetes.io/logical_switch": s.name,
            "ovn.kubernetes.io/mac_address": p.mac,
            "ovn.kubernetes.io/pod_nic_type": "veth-pair", "ovn.kubernetes.io/routed": "true"}


def owner_ref(w: Workload) -> Obj:
    return {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
            "kind": w.kind, "name": w.name, "uid": w.uid}


def pod_labels(p: Pod) -> dict[str, str]:
    w = p.owner
    if w.kind == "StatefulSet":
        return {"app": w.app, "apps.kubernetes.io/pod-index": str(p.ordinal),
                "controller-revision-hash": f"{w.name}-{w.revision}",
                "statefulset.kubernetes.io/pod-name": p.name}
    if w.kind == "DaemonSet":
        return {"app": w.app, "controller-revision-hash": w.revision[:9],
                "pod-template-generation": "1"}
    return {"app": w.app, "pod-template-hash": w.revision}


def pod_status(p: Pod, pod_ips: list[str], app: str) -> Obj:
    conds = [{"lastProbeTime": None, "lastTransitionTime": p.created, "status": "True",
              "type": t} for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                                   "ContainersReady", "PodScheduled")]
    image = f"registry.example.com/{p.namespace}/{app}"
    return {"conditions": conds,
            "containerStatuses": [{
                "containerID": f"containerd://{fake_digest(p.uid + 'c')}",
                "image": image, "imageID": f"{image}@sha256:{fake_digest(image)}",
                "lastState": {}, "name": app, "ready": True, "restartCount": 0,
                "started": True, "state": {"running": {"startedAt": p.created}}}],
            "hostIP": p.node.internal_ip, "hostIPs": [{"ip": p.node.internal_ip}],
            "phase": "Running", "podIP": pod_ips[0], "podIPs": [{"ip": ip} for ip in pod_ips],
            "qosClass": "Burstable", "startTime": p.created}


def pod_obj(p: Pod, rv: ResourceVersions) -> Obj:
    app = p.owner.app
    meta: Obj = {"creationTimestamp": p.created, "labels": pod_labels(p), "name": p.name,
                 "namespace": p.namespace, "ownerReferences": [owner_ref(p.owner)],
                 "resourceVersion": rv.next(), "uid": p.uid}
    spec: Obj = {"containers": [container(app, p.namespace)], "dnsPolicy": "ClusterFirst",
                 "enableServiceLinks": True, "nodeName": p.node.name,
                 "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
                 "restartPolicy": "Always", "schedulerName": "default-scheduler",
                 "securityContext": {}, "serviceAccount": "default",
                 "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
                 "tolerations": TOLERATIONS, "volumes": [token_volume("kube-api-access")]}
    if p.host_network:
        # hostNetwork pods get no Kube-OVN annotations, IP CR or LSP: not owners of anything
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
        spec["priorityClassName"] = "system-node-critical"
        spec["priority"] = 2000001000
        pod_ips = [p.node.internal_ip]
    else:
        meta["annotations"] = pod_annotations(p)
        meta["generateName"] = f"{p.owner.name}-"
        if p.owner.kind == "StatefulSet":
            spec["hostname"] = p.name
            spec["subdomain"] = p.owner.name
        pod_ips = [x for x in split_ips(p.v4, p.v6)[:2] if x]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": pod_status(p, pod_ips, app)}


def statefulset_obj(w: Workload, rv: ResourceVersions) -> Obj:
    revision = f"{w.name}-{w.revision}"
    template = {"metadata": {"creationTimestamp": None, "labels": {"app": w.app}},
                # The token mount is added to pods by admission, never to the template.
                "spec": {"containers": [{k: v for k, v in container(w.app, w.namespace).items()
                                        if k != "volumeMounts"}],
                         "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                         "schedulerName": "default-scheduler", "securityContext": {},
                         "terminationGracePeriodSeconds": 30}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"creationTimestamp": w.created, "generation": 1,
                         "labels": {"app": w.app}, "name": w.name, "namespace": w.namespace,
                         "resourceVersion": rv.next(), "uid": w.uid},
            "spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                                                              "whenScaled": "Retain"},
                     "podManagementPolicy": "OrderedReady", "replicas": w.replicas,
                     "revisionHistoryLimit": 10,
                     "selector": {"matchLabels": {"app": w.app}}, "serviceName": w.name,
                     "template": template,
                     "updateStrategy": {"rollingUpdate": {"partition": 0},
                                        "type": "RollingUpdate"}},
            "status": {"availableReplicas": w.replicas, "collisionCount": 0,
                       "currentReplicas": w.replicas, "currentRevision": revision,
                       "observedGeneration": 1, "readyReplicas": w.replicas,
                       "replicas": w.replicas, "updateRevision": revision,
                       "updatedReplicas": w.replicas}}


# ---------------------------------------------------------------- Nodes, namespaces, VPCs


def node_obj(n: Node, c: Cluster, rv: ResourceVersions) -> Obj:
    join = c.subnet("join")
    assert join.v4 is not None
    ann = {"node.alpha.kubernetes.io/ttl": "0",
           "ovn.kubernetes.io/allocated": "true",
           "ovn.kubernetes.io/chassis": n.chassis,
           "ovn.kubernetes.io/cidr": join.cidr_block,
           "ovn.kubernetes.io/gateway": join.gateway,
           "ovn.kubernetes.io/ip_address": ip_str(n.join_ip, 4),
           "ovn.kubernetes.io/logical_switch": "join",
           "ovn.kubernetes.io/mac_address": n.join_mac,
           "ovn.kubernetes.io/port_name": f"node-{n.name}",
           "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "kube-ovn/role": "master" if n.name.endswith("-001") else "worker",
              "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n.name,
              "kubernetes.io/os": "linux", "ovn.kubernetes.io/ovs_dp_type": "kernel"}
    conds = [{"lastHeartbeatTime": "2026-09-01T11:58:00Z", "lastTransitionTime": n.created,
              "message": msg, "reason": reason, "status": status, "type": type_}
             for type_, status, reason, msg in (
                 ("MemoryPressure", "False", "KubeletHasSufficientMemory",
                  "kubelet has sufficient memory available"),
                 ("DiskPressure", "False", "KubeletHasNoDiskPressure",
                  "kubelet has no disk pressure"),
                 ("PIDPressure", "False", "KubeletHasSufficientPID",
                  "kubelet has sufficient PID available"),
                 ("Ready", "True", "KubeletReady", "kubelet is posting ready status"))]
    images = [{"names": [f"docker.io/kubeovn/kube-ovn@sha256:{fake_digest('ko')}",
                         "docker.io/kubeovn/kube-ovn:v1.16.2"], "sizeBytes": 178_000_000},
              {"names": [f"registry.k8s.io/pause@sha256:{fake_digest('pause')}",
                         "registry.k8s.io/pause:3.10"], "sizeBytes": 320_368}]
    resources = {"cpu": "32", "ephemeral-storage": "490048472Ki", "hugepages-1Gi": "0",
                 "hugepages-2Mi": "0", "memory": "131811456Ki", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"annotations": ann, "creationTimestamp": n.created, "labels": labels,
                         "name": n.name, "resourceVersion": rv.next(), "uid": n.uid},
            "spec": {},
            "status": {"addresses": [{"address": n.internal_ip, "type": "InternalIP"},
                                     {"address": n.name, "type": "Hostname"}],
                       "allocatable": resources, "capacity": resources, "conditions": conds,
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "images": images,
                       "nodeInfo": {"architecture": "amd64", "bootID": n.chassis,
                                    "containerRuntimeVersion": "containerd://1.7.22",
                                    "kernelVersion": "6.8.0-45-generic",
                                    "kubeProxyVersion": "", "kubeletVersion": "v1.32.3",
                                    "machineID": n.uid.replace("-", ""),
                                    "operatingSystem": "linux",
                                    "osImage": "Ubuntu 24.04.1 LTS",
                                    "systemUUID": n.uid}}}


def namespace_obj(name: str, uid: str, created: str, subnet: Subnet | None,
                  rv: ResourceVersions) -> Obj:
    meta: Obj = {"creationTimestamp": created,
                 "labels": {"kubernetes.io/metadata.name": name}, "name": name,
                 "resourceVersion": rv.next(), "uid": uid}
    if subnet is not None:
        meta["annotations"] = {"ovn.kubernetes.io/cidr": subnet.cidr_block,
                               "ovn.kubernetes.io/exclude_ips": ",".join(subnet.exclude_ips),
                               "ovn.kubernetes.io/logical_switch": subnet.name}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def vpc_obj(v: Vpc, rv: ResourceVersions) -> Obj:
    default = v.name == "ovn-cluster"
    ext = v.external
    spec: Obj = {"enableExternal": bool(ext and ext.name == "external"),
                 "namespaces": sorted(ns for s in v.subnets for ns in s.namespaces)}
    if ext is not None and ext.name != "external":
        spec["extraExternalSubnets"] = [ext.name]
    lbs = v.lb_names
    status: Obj = {"conditions": [ready_condition(v.created)], "default": default,
                   "defaultLogicalSwitch": "ovn-default" if default else "",
                   "enableBfd": False, "enableExternal": spec["enableExternal"],
                   "extraExternalSubnets": spec.get("extraExternalSubnets", []),
                   "router": v.name, "standby": True,
                   "subnets": sorted(s.name for s in v.subnets),
                   "tcpLoadBalancer": lbs[0], "udpLoadBalancer": lbs[1],
                   "sctpLoadBalancer": lbs[2], "tcpSessionLoadBalancer": lbs[3],
                   "udpSessionLoadBalancer": lbs[4], "sctpSessionLoadBalancer": lbs[5]}
    return {"apiVersion": KUBEOVN_V1, "kind": "Vpc",
            "metadata": crd_meta(rv, v.name, v.uid, v.created), "spec": spec, "status": status}


# ---------------------------------------------------------------- EIPs and NAT rule CRs


def ovn_eip_obj(e: Eip, rv: ResourceVersions) -> Obj:
    v4 = ip_str(e.v4, 4)
    labels = {"ovn.kubernetes.io/eip_v4_ip": v4, "ovn.kubernetes.io/ovn_eip_type": e.type,
              "ovn.kubernetes.io/subnet": e.subnet.name}
    annotations = None
    if e.rule and e.vpc is not None:
        # set once a NAT rule binds the EIP (ovn_eip.go natLabelAndAnnoOvnEip)
        labels["ovn.kubernetes.io/vpc"] = e.vpc.name
        annotations = {"ovn.kubernetes.io/vpc_nat": e.rule}
    return {"apiVersion": KUBEOVN_V1, "kind": "OvnEip",
            "metadata": crd_meta(rv, e.name, e.uid, e.created, labels, annotations),
            "spec": {"externalSubnet": e.subnet.name, "macAddress": e.mac, "type": e.type,
                     "v4Ip": v4, "v6Ip": ""},
            "status": {"conditions": [ready_condition(e.created)], "macAddress": e.mac,
                       "nat": e.nat, "ready": True, "type": e.type, "v4Ip": v4, "v6Ip": ""}}


def ovn_fip_obj(f: Fip, rv: ResourceVersions) -> Obj:
    eip_v4 = ip_str(f.eip.v4, 4)
    pod_v4 = ip_str(f.pod.v4, 4) if f.pod.v4 is not None else ""
    return {"apiVersion": KUBEOVN_V1, "kind": "OvnFip",
            "metadata": crd_meta(rv, f.name, f.uid, f.created,
                                 {"ovn.kubernetes.io/eip_v4_ip": eip_v4}),
            "spec": {"ipName": f.pod.port_name, "ipType": "ip", "ovnEip": f.eip.name,
                     "type": "", "v4Ip": "", "v6Ip": "", "vpc": ""},
            "status": {"conditions": [ready_condition(f.created)], "macAddress": f.pod.mac,
                       "ready": True, "v4Eip": eip_v4, "v4Ip": pod_v4, "v6Eip": "", "v6Ip": "",
                       "vpc": f.vpc.name}}


def ovn_snat_obj(r: Snat, rv: ResourceVersions) -> Obj:
    eip_v4 = ip_str(r.eip.v4, 4)
    cidr = r.subnet.v4.cidr if r.subnet.v4 is not None else ""
    return {"apiVersion": KUBEOVN_V1, "kind": "OvnSnatRule",
            "metadata": crd_meta(rv, r.name, r.uid, r.created,
                                 {"ovn.kubernetes.io/eip_v4_ip": eip_v4}),
            "spec": {"ipName": "", "ovnEip": r.eip.name, "v4IpCidr": "", "v6IpCidr": "",
                     "vpc": "", "vpcSubnet": r.subnet.name},
            "status": {"conditions": [ready_condition(r.created)], "ready": True,
                       "v4Eip": eip_v4, "v4IpCidr": cidr, "v6Eip": "", "v6IpCidr": "",
                       "vpc": r.vpc.name}}


# ---------------------------------------------------------------- per-file item streams


def namespaces(c: Cluster, rv: ResourceVersions) -> Iterator[Obj]:
    by_ns = {ns: s for s in c.subnets for ns in s.namespaces}
    yield namespace_obj("kube-system", c.kube_system_uid, "2026-02-01T08:00:00Z", None, rv)
    for name in ("default", "kube-public", "kube-node-lease"):
        yield namespace_obj(name, derived_uid(c.kube_system_uid, name),
                            "2026-02-01T08:00:00Z", by_ns.get(name), rv)
    for s in c.subnets:
        for ns in s.namespaces:
            if ns != "default":
                yield namespace_obj(ns, derived_uid(s.uid, ns), s.created, s, rv)


def all_pods(c: Cluster, rv: ResourceVersions) -> Iterator[Obj]:
    for p in c.host_pods:
        yield pod_obj(p, rv)
    for p in c.pods:
        yield pod_obj(p, rv)


def all_ips(c: Cluster, rv: ResourceVersions) -> Iterator[Obj]:
    for n in c.nodes:
        yield node_ip_cr(n, c, rv)
    for p in c.pods:
        yield pod_ip_cr(p, rv)


def all_subnets(c: Cluster, rv: ResourceVersions) -> Iterator[Obj]:
    for s in c.subnets:
        yield subnet_obj(s, rv)

