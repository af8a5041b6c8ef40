"""The Kubernetes permissions eipfsck uses, derived from what it actually requests.

`eipfsck doctor` asks the API server about each of them (SelfSubjectAccessReview), so an
operator learns every missing rule at once instead of one failed scan at a time. The scan
list is derived from API_RESOURCES, the same table the collector reads with, so the two
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from eipfsck.collect.kube import API_RESOURCES
from eipfsck.collect.live import NB_SERVICE
from eipfsck.kubeovn import names as n


@dataclass(frozen=True)
class Need:
    verb: str
    group: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    why: str = ""  # empty: the scan itself; otherwise the option that needs it

    def __str__(self) -> str:
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        if self.group:
            what += f".{self.group}"
        where = f" {self.name}" if self.name else ""
        scope = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.verb} {what}{where}{scope}"


def scan_needs(namespace: str) -> list[Need]:
    out = []
    for resource, api in API_RESOURCES.items():
        if api.named:
            ns = None if resource == "namespaces" else namespace
            out += [Need("get", api.group, api.plural, ns, name) for name in api.named]
        else:
            out.append(Need("list", api.group, api.plural))
    out.append(Need("get", "", "services", namespace, NB_SERVICE,
                    why="finding the NB without --ovn-nb"))
    out.append(Need("get", "", "pods", namespace, subresource="log",
                    why="--controller-log auto"))
    # Exec over a WebSocket is authorized as `get`, and from Kubernetes 1.35 also as `create`.
    out += [Need(verb, "", "pods", namespace, subresource="exec", why="--ovn-nb kubectl-exec")
            for verb in ("get", "create")]
    return out


def repair_needs(namespace: str) -> list[Need]:
    """What `eipfsck repair` issues beyond the scan (docs/repair.md, README)."""
    def res(kind: str) -> tuple[str, str]:
        plural, _, group = n.RESOURCE_OF_KIND[kind].partition(".")
        return group, plural

    out = []
    for kind in ("IP", *(k for _, k, _, _ in n.NAT_RULE_KINDS)):
        group, plural = res(kind)
        out += [Need("get", group, plural), Need("delete", group, plural)]
    for kind in ("Pod", "OvnEip", "IptablesEIP"):
        group, plural = res(kind)
        out.append(Need("get", group, plural))
    out.append(Need("create", "", "events", "default"))
    for kind in ("Vip", "OvnEip"):
        group, plural = res(kind)
        out += [Need(v, group, plural, why="--allow-resurrect")
                for v in ("create", "get", "delete")]
    group, plural = res("Subnet")
    out.append(Need("get", group, plural, why="--allow-controller-restart"))
    out.append(Need("get", "coordination.k8s.io", "leases", namespace, n.CONTROLLER,
                    why="--allow-controller-restart"))
    out.append(Need("delete", "", "pods", namespace, why="--allow-controller-restart"))
    return out
