"""Kube-OVN's names: labels, annotations, finalizers, defaults and naming rules.

Sources are cited as in kube-ovn-model.md (pkg/util/const.go, pkg/ovs/util.go).
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
LEGACY_EXTERNAL_SWITCH = "ovn-external"
INTERCONNECT_SWITCH = "ts"

POD_TYPE_STS = "StatefulSet"
POD_TYPE_VM = "VirtualMachine"


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


@dataclass(frozen=True)
class Settings:
    """kube-ovn-controller flags that change what the model must expect."""

    external_gateway_switch: str = "external"
    cluster_router: str = "ovn-cluster"
    node_switch: str = "join"
    keep_vm_ip: bool = True
    namespace: str = "kube-system"
