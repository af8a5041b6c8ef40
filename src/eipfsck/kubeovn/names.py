"""Kube-OVN's names: labels, annotations, finalizers, defaults and naming rules.

Sources: Kube-OVN's pkg/util/const.go (labels, annotations, finalizers, names) and
pkg/ovs/util.go (port names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FINALIZERS = ("kubeovn.io/kube-ovn-controller", "kube-ovn-controller")

LABEL_SUBNET = "ovn.kubernetes.io/subnet"
LABEL_IP_RESERVED = "ovn.kubernetes.io/ip_reserved"
LABEL_EIP_TYPE = "ovn.kubernetes.io/ovn_eip_type"
LABEL_EIP_V4 = "ovn.kubernetes.io/eip_v4_ip"
LABEL_EIP_V6 = "ovn.kubernetes.io/eip_v6_ip"
LABEL_VPC_NAT_GW = "ovn.kubernetes.io/vpc-nat-gw-name"

ANNOTATION_VIP = "ovn.kubernetes.io/vip"
ANNOTATION_EIP = "ovn.kubernetes.io/eip"
ANNOTATION_SNAT = "ovn.kubernetes.io/snat"
ANNOTATION_NETWORKS = "k8s.v1.cni.cncf.io/networks"
ANNOTATION_SUFFIX = ".kubernetes.io/"

DEFAULT_PROVIDER = "ovn"
DEFAULT_IPTABLES_EXTERNAL = "ovn-vpc-external-network"
EXTERNAL_GW_CONFIGMAP = "ovn-external-gw-config"
# The ConfigMaps of Kube-OVN's namespace the model reads (the rest are never collected).
KUBE_OVN_CONFIGMAPS = (EXTERNAL_GW_CONFIGMAP, "ovn-vpc-nat-config", "ovn-vpc-nat-gw-config")
# Deployment and leader-election Lease of the controller, both in Kube-OVN's namespace.
CONTROLLER = "kube-ovn-controller"
# The recommended version label; the kube-ovn-v2 chart sets it to the app version
# (charts/kube-ovn-v2/templates/_helpers.tpl).
VERSION_LABEL = "app.kubernetes.io/version"
LEGACY_EXTERNAL_SWITCH = "ovn-external"
INTERCONNECT_SWITCH = "ts"

# NAT rule CRs: (resource, kind, the EIP kind they use, the spec field naming it).
NAT_RULE_KINDS: tuple[tuple[str, str, str, str], ...] = (
    ("ovn-fips.kubeovn.io", "OvnFip", "OvnEip", "ovnEip"),
    ("ovn-snat-rules.kubeovn.io", "OvnSnatRule", "OvnEip", "ovnEip"),
    ("ovn-dnat-rules.kubeovn.io", "OvnDnatRule", "OvnEip", "ovnEip"),
    ("router-lb-rules.kubeovn.io", "RouterLBRule", "OvnEip", "ovnEip"),
    ("iptables-fip-rules.kubeovn.io", "IptablesFIPRule", "IptablesEIP", "eip"),
    ("iptables-snat-rules.kubeovn.io", "IptablesSnatRule", "IptablesEIP", "eip"),
    ("iptables-dnat-rules.kubeovn.io", "IptablesDnatRule", "IptablesEIP", "eip"),
)

# The resource (snapshot file name, API plural.group) of each kind repair reads or writes.
RESOURCE_OF_KIND: dict[str, str] = {
    "Pod": "pods", "Node": "nodes", "Lease": "leases.coordination.k8s.io",
    "StatefulSet": "statefulsets.apps", "Subnet": "subnets.kubeovn.io", "IP": "ips.kubeovn.io",
    "Vip": "vips.kubeovn.io", "OvnEip": "ovn-eips.kubeovn.io",
    "IptablesEIP": "iptables-eips.kubeovn.io",
    **{kind: resource for resource, kind, _, _ in NAT_RULE_KINDS},
}

POD_TYPE_STS = "StatefulSet"
POD_TYPE_VM = "VirtualMachine"

# util.NodeLspPrefix: a node's port and IPAM key are "node-<node>" (util.NodeLspName). The
# prefix names a node's *port*; it never decides whether an IP CR is a node's (pods,
# StatefulSets and VMs are often called node-…): see is_node_ip_cr.
NODE_PORT_PREFIX = "node-"
# The IP CRs a subnet owns: U2O interconnection and multicast querier (createOrUpdateIPCR).
SUBNET_IP_PREFIXES = ("u2o-interconnection.", "mcast-querier.")


def node_port(node: str) -> str:
    """util.NodeLspName: a node's port name and IPAM key."""
    return NODE_PORT_PREFIX + node


def is_node_ip_cr(namespace: str, pod_name: str, node_name: str) -> bool:
    """checkIPOwnerExists (pkg/controller/gc.go, v1.14 to master): an IP CR is a node's when
    spec.namespace is empty and spec.nodeName equals spec.podName (createOrUpdateIPCR writes
    podName = nodeName = the node's name, namespace = "" for the join-subnet IP)."""
    return namespace == "" and node_name == pod_name


def ip_cr_key(namespace: str, pod_name: str, name: str) -> str:
    """The IPAM key an IP CR's address is filed under: "<ns>/<pod>" for a pod, StatefulSet
    or VM IP; the CR's podName for U2O/multicast IPs (createOrUpdateIPCR: key = podName);
    util.NodeLspName(podName) otherwise (InitIPAM in pkg/controller/init.go, for an IP CR
    with no namespace)."""
    if namespace:
        return f"{namespace}/{pod_name}"
    if pod_name.startswith(SUBNET_IP_PREFIXES):
        return pod_name
    return node_port(pod_name) if pod_name else name


def annotation(provider: str, key: str) -> str:
    return f"{provider}{ANNOTATION_SUFFIX}{key}"


def port_name(name: str, namespace: str, provider: str) -> str:
    """PodNameToPortName: the LSP name and the IP CR name of a pod or VM NIC."""
    if provider == DEFAULT_PROVIDER:
        return f"{name}.{namespace}"
    return f"{name}.{namespace}.{provider}"


def sts_name_of_pod(pod_name: str) -> str | None:
    """The StatefulSet a pod name belongs to (name minus its last -N), as gcIP does."""
    m = re.fullmatch(r"(.+)-(\d+)", pod_name)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    text: str

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    def __str__(self) -> str:
        return self.text


def parse_version(text: Any) -> Version | None:
    if not isinstance(text, str):
        return None
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), text)


def controller_lease(leases: list[dict[str, Any]], namespace: str | None = None
                     ) -> dict[str, Any] | None:
    """The controller's leader-election Lease (in `namespace`, when given)."""
    return next((lease for lease in leases if lease["metadata"]["name"] == CONTROLLER
                 and (namespace is None or lease["metadata"].get("namespace") == namespace)),
                None)


def lease_holder(lease: dict[str, Any] | None) -> str | None:
    holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
    return holder if isinstance(holder, str) else None


def controller_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The kube-ovn-controller container(s) of its Deployment (all containers when none is
    named so: older charts left the name out)."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    return [c for c in containers if c.get("name", CONTROLLER) == CONTROLLER] or containers


def image_version(image: Any) -> Version | None:
    """The version in an image's tag (docker.io/kubeovn/kube-ovn:v1.14.10 → v1.14.10)."""
    if not isinstance(image, str) or ":" not in image:
        return None
    return parse_version(image.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Settings:
    """kube-ovn-controller flags that change what the model must expect."""

    external_gateway_switch: str = "external"
    cluster_router: str = "ovn-cluster"
    node_switch: str = "join"
    keep_vm_ip: bool = True
    namespace: str = "kube-system"
    # --external-gateway-config-ns: where ovn-external-gw-config lives (pkg/controller/
    # config.go, default kube-system); empty means Kube-OVN's namespace.
    external_gateway_config_ns: str = ""

    @property
    def gateway_config_namespace(self) -> str:
        return self.external_gateway_config_ns or self.namespace


# kube-ovn-controller flag -> Settings field (cmd/controller, pkg/controller/config.go).
_CONTROLLER_FLAGS = {
    "--external-gateway-switch": "external_gateway_switch",
    "--cluster-router": "cluster_router",
    "--node-switch": "node_switch",
    "--keep-vm-ip": "keep_vm_ip",
    "--external-gateway-config-ns": "external_gateway_config_ns",
}


def settings_from_args(args: list[Any]) -> dict[str, Any]:
    """The Settings a controller's command line sets (Go flag syntax: --f=v or --f v)."""
    out: dict[str, Any] = {}
    words = [a for a in args if isinstance(a, str)]
    for i, word in enumerate(words):
        flag, eq, value = word.partition("=")
        if flag.startswith("-") and not flag.startswith("--"):
            flag = "-" + flag
        key = _CONTROLLER_FLAGS.get(flag)
        if key is None:
            continue
        if not eq:
            if key == "keep_vm_ip":
                value = "true"  # a bare boolean flag means true in Go's flag package
            elif i + 1 < len(words):
                value = words[i + 1]
            else:
                continue
        if key == "keep_vm_ip":
            if value.lower() in ("true", "1", "t"):
                out[key] = True
            elif value.lower() in ("false", "0", "f"):
                out[key] = False
        elif value:
            out[key] = value
    return out
