"""NB checks: C06, C07, C08 (NAT and LB) and C10, from the NB mapping in kubeovn."""

from __future__ import annotations

from collections.abc import Iterator

from eipfsck.checks.catalogue import IP_AVAILABLE
from eipfsck.checks.finding import Finding
from eipfsck.kubeovn.northbound import NbFinding
from eipfsck.model import Model


def _available_subnets(model: Model, nf: NbFinding) -> dict[str, list[str]]:
    found = {str(a): model.available_in(a) for a in nf.addresses}
    return {a: subnets for a, subnets in found.items() if subnets}


def nb_findings(model: Model) -> Iterator[Finding]:
    if model.nb is None:
        return
    for nf in model.nb.findings:
        available = _available_subnets(model, nf)
        severity = "error" if nf.check == "nb-address-drift" or available else "warning"
        first = nf.addresses[0] if nf.addresses else None
        subnet = next((v[0] for v in available.values()), None)
        if subnet is None:
            if nf.container in model.subnets:
                subnet = nf.container
            elif first is not None:
                subnet = next((s.name for s in model.containing(first)), None)
        message = f"{nf.row.kind} {nf.row.name} in {nf.container or '?'}: {nf.reason}"
        if available:
            message += "; its IP is marked available, so the next allocation duplicates it"
        evidence = {"row": nf.row.as_json(), "in": nf.container, "columns": nf.columns,
                    "addresses": [str(a) for a in nf.addresses], "reason": nf.reason,
                    "addresses_marked_available": available}
        if nf.owner is not None:
            evidence["owner"] = nf.owner.as_json()
            evidence["owner_addresses"] = [str(a) for a in nf.expected]
        subjects = (nf.row,) + ((nf.owner,) if nf.owner else ())
        yield Finding(nf.check, severity, message, subnet, first.family if first else None,
                      first, subjects, evidence,
                      severity_reason=IP_AVAILABLE if available
                      and nf.check != "nb-address-drift" else "")
