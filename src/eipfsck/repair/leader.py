"""Which pod a controller restart may delete: the Lease holder, and only if it is the
kube-ovn-controller Deployment's own pod in Kube-OVN's namespace.

A Lease's holderIdentity is a string anyone with write access to the Lease can set; the pod
named by it is deleted only if it also carries the Deployment's shape. Kube-OVN's controller
takes the Lease with its pod name as identity (cmd/controller/controller.go: the election
lock's `Identity: config.PodName`), and a Deployment's pod is owned by the ReplicaSet
`<deployment>-<hash>` whose hash is the pod's `pod-template-hash` label (Kubernetes'
ReplicaSet naming).

Pure: used by the planner on a snapshot and by the applier on what it read just before.
"""

from __future__ import annotations

from typing import Any

from eipfsck.kubeovn import names as n


def leader_pod_problem(pod: dict[str, Any], holder: str | None, namespace: str,
                       deployment: dict[str, Any] | None, *, selector_known: bool = True
                       ) -> str | None:
    """Why `pod` is not the controller leader a restart may delete, or None.

    `selector_known=False` for a snapshot, which keeps only the Deployment's containers: the
    planner then checks ownership alone, and the applier, which reads the whole Deployment
    just before the delete, checks the selector too."""
    meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    name, ns = meta.get("name"), meta.get("namespace")
    where = f"{ns}/{name}"
    if not holder or name != holder:
        return f"pod {where} is not the Lease holder ({holder or 'none'})"
    if ns != namespace:
        return f"pod {where} is not in Kube-OVN's namespace {namespace}"
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    owners = [r for r in meta.get("ownerReferences") or []
              if isinstance(r, dict) and r.get("controller") is True]
    rs = [r for r in owners if r.get("kind") == "ReplicaSet"]
    template_hash = labels.get("pod-template-hash")
    if not rs or not template_hash or rs[0].get("name") != f"{n.CONTROLLER}-{template_hash}":
        return (f"pod {where} is not owned by a ReplicaSet of Deployment "
                f"{namespace}/{n.CONTROLLER}")
    if deployment is None:
        return f"Deployment {namespace}/{n.CONTROLLER} is not there"
    selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels")
    if not selector_known and selector is None:
        return None
    if not isinstance(selector, dict) or not selector \
            or any(labels.get(k) != v for k, v in selector.items()):
        return (f"pod {where}'s labels do not match Deployment {namespace}/{n.CONTROLLER}'s "
                "selector")
    return None
