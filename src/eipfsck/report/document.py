"""The Report: one value that every format renders (schema eipfsck/report/v1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eipfsck import __version__
from eipfsck.addresses import Address
from eipfsck.checks.catalogue import BY_ID, CATALOGUE, SEVERITY_RANK
from eipfsck.checks.finding import Finding
from eipfsck.checks.runner import CheckRun
from eipfsck.kubeovn.names import controller_lease, lease_holder
from eipfsck.model import Model

SCHEMA = "eipfsck/report/v1"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Address):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def finding_json(f: Finding) -> dict[str, Any]:
    spec = BY_ID[f.check]
    return {
        "check": f.check, "severity": f.severity,
        # why the severity is not the check's default (`eipfsck explain ID`), else null
        "severity_reason": f.severity_reason or None,
        "subnet": f.subnet, "family": f.family,
        "ip": str(f.ip) if f.ip else None,
        "subjects": [s.as_json() for s in f.subjects],
        "message": f.message,
        "evidence": _json_safe(f.evidence),
        "explanation": spec.explanation, "remedy": spec.remedy, "repairable": spec.repairable,
    }


def controller_leader(model: Model) -> str | None:
    return lease_holder(controller_lease(model.snapshot.items("leases.coordination.k8s.io")))


def inconclusive_reasons(model: Model) -> list[str]:
    reasons = []
    for src in model.snapshot.sources:
        if src.state in ("partial", "failed"):
            reasons.append(f"{src.name}: {src.state}" + (f" ({src.detail})" if src.detail else ""))
    missing = model.missing_owner_kinds()
    if missing:
        reasons.append("owner kinds not captured: " + ", ".join(missing))
    if model.inventory.unreadable:
        reasons.append(f"{len(model.inventory.unreadable)} owner address field(s) unreadable")
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        if s.families and not s.has_ranges:
            reasons.append(f"subnet {s.name}: status has no range fields (controller before "
                           "v1.12, or status not written yet): leaks cannot be checked there")
    return reasons


def subnet_summaries(model: Model, run: CheckRun, only: list[str] | None) -> list[dict[str, Any]]:
    leaked: dict[tuple[str, str], int] = {}
    for f in run.all_findings:
        if f.check == "leaked-ip" and f.subnet and f.family:
            n = 1 if f.ip is not None else int(f.evidence.get("count", 0))
            leaked[(f.subnet, f.family)] = leaked.get((f.subnet, f.family), 0) + n
    out = []
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        if only and s.name not in only:
            continue
        fams = []
        for fam, fs in sorted(s.families.items()):
            space = model.space(s.name, fam)
            fams.append({
                "family": fam, "cidr": str(fs.cidr), "size": fs.universe.size(),
                "excluded": fs.excluded.size(),
                "using": fs.using.size() if fs.using is not None else None,
                "available": fs.available.size() if fs.available is not None else None,
                "owned": (space.owned & fs.universe).size(),
                "leaked": leaked.get((s.name, fam), 0) if fs.using is not None else None,
                "status_using_count": fs.using_count.text if fs.using_count else None,
                "status_available_count": (fs.available_count.text
                                           if fs.available_count else None),
            })
        out.append({"name": s.name, "provider": s.provider, "vpc": s.vpc,
                    "protocol": s.protocol, "families": fams,
                    "in_flight": sum(1 for _, sub, _ in model.inventory.pending
                                     if sub == s.name)})
    return out


def build_report(model: Model, run: CheckRun, fail_on: str, exit_code: int,
                 subnets: list[str] | None = None, scanned_at: datetime | None = None
                 ) -> dict[str, Any]:
    snap = model.snapshot
    by_severity = {sev: 0 for sev in SEVERITY_RANK}
    by_check: dict[str, int] = {}
    for f in run.findings:
        by_severity[f.severity] += 1
        by_check[f.check] = by_check.get(f.check, 0) + 1
    return {
        "schema": SCHEMA,
        "tool": {"name": "eipfsck", "version": __version__},
        "scanned_at": (scanned_at or datetime.now(UTC)).isoformat(),
        "captured_at": snap.captured_at.isoformat(),
        "captured_at_source": snap.captured_at_source,
        "input": snap.origin,
        "cluster": {
            "uid": snap.cluster_uid(),
            "kube_ovn_version": str(model.version) if model.version else None,
            "version_source": model.version_source,
            "controller_leader": controller_leader(model),
        },
        "sources": [
            {"name": s.name, "origin": s.origin, "state": s.state, "count": s.count,
             "resource_version": s.resource_version, "detail": s.detail}
            for s in snap.sources
        ],
        "absent": [s.name for s in snap.sources if s.state == "absent"],
        "inconclusive": inconclusive_reasons(model),
        "checks": {
            "run": [c.id for c in CATALOGUE if c.id not in run.skipped
                    and c.id not in run.deselected],
            "skipped": [{"check": k, "reason": v} for k, v in sorted(run.skipped.items())],
            "deselected": run.deselected,
        },
        "summary": {
            "findings": len(run.findings), "by_severity": by_severity, "by_check": by_check,
            "suppressed": run.suppressed, "fail_on": fail_on, "exit_code": exit_code,
        },
        "subnets": subnet_summaries(model, run, subnets),
        "findings": [finding_json(f) for f in run.findings],
    }
