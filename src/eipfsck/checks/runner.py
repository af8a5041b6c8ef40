"""Run every check, then apply the operator's selection in one place.

Checks never print and never filter: they return every finding they see, and this
module decides what is shown, what was skipped and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from eipfsck.checks import allocator, northbound, owners
from eipfsck.checks.catalogue import BY_ID, CATALOGUE
from eipfsck.checks.finding import Finding
from eipfsck.model import Model

Producer = Callable[[Model], Iterable[Finding]]

# Which function produces which ids; some produce several because one analysis
# decides between them (a phantom IPv6 is not also a leak).
PRODUCERS: tuple[tuple[tuple[str, ...], Producer], ...] = (
    (("leaked-ip", "phantom-v6-restore", "phantom-ip"), allocator.leaks),
    (("owner-ip-available",), allocator.owner_ip_available),
    (("status-range-invalid",), allocator.status_ranges),
    (("status-count-mismatch",), allocator.status_counts),
    (("double-claim",), owners.double_claims),
    (("orphan-ip-cr",), owners.orphan_ip_crs),
    (("dangling-eip-ref",), owners.dangling_refs),
    (("terminating-owner",), owners.terminating),
    (("owner-ip-out-of-cidr",), owners.out_of_cidr),
    (("owner-ip-excluded",), owners.excluded),
    (("restore-hazard",), owners.restore_hazards),
    (("subnet-ref-invalid",), owners.subnet_refs),
    (("lsp-eip-not-node",), owners.lsp_eips),
    (("orphan-nb-lsp", "orphan-nb-lrp", "orphan-nb-nat", "orphan-nb-lb", "nb-address-drift"),
     northbound.nb_findings),
    (("malformed-object",), lambda m: malformed(m)),
)

# Checks that would call owned addresses leaked, or owned objects orphaned, if an owner
# kind was not read, or read only in part (a skipped malformed pod).
NEEDS_ALL_OWNERS = frozenset({"leaked-ip", "phantom-v6-restore", "phantom-ip",
                              "status-count-mismatch",
                              "orphan-ip-cr", "orphan-nb-lsp"})


@dataclass
class CheckRun:
    findings: list[Finding]
    all_findings: list[Finding]
    skipped: dict[str, str] = field(default_factory=dict)
    deselected: list[str] = field(default_factory=list)
    suppressed: int = 0


def malformed(model: Model) -> Iterable[Finding]:
    for p in model.snapshot.problems:
        yield Finding("malformed-object", "warning",
                      f"{p.source}: {p.obj}: {p.field}: {p.message}; the object was skipped",
                      evidence={"file": p.source, "object": p.obj, "field": p.field,
                                "error": p.message})
    for ref, fld, msg in model.inventory.unreadable:
        yield Finding("malformed-object", "warning",
                      f"{ref}: {fld}: {msg}; its addresses were ignored",
                      subjects=(ref,), evidence={"object": str(ref), "field": fld, "error": msg})


def skip_reasons(model: Model) -> dict[str, str]:
    reasons: dict[str, str] = {}
    missing = model.missing_owner_kinds()
    partial = model.partial_owner_kinds()
    for spec in CATALOGUE:
        if not spec.implemented:
            reasons[spec.id] = "not implemented yet: it needs exec into the NAT gateway pods"
        elif spec.needs == "nb" and model.nb is None:
            reasons[spec.id] = "the OVN northbound database was not read"
        elif spec.id in NEEDS_ALL_OWNERS and missing:
            reasons[spec.id] = ("owner kinds were not captured (" + ", ".join(missing)
                                + "): every IP they own would look leaked")
        elif spec.id in NEEDS_ALL_OWNERS and partial:
            reasons[spec.id] = ("owner kinds were read only in part (" + ", ".join(partial)
                                + "; see malformed-object): a skipped owner would look gone")
    return reasons


def run_checks(model: Model, only: list[str] | None = None, skip: list[str] | None = None,
               subnets: list[str] | None = None) -> CheckRun:
    skipped = skip_reasons(model)
    produced: list[Finding] = []
    for ids, producer in PRODUCERS:
        if all(i in skipped for i in ids):
            continue
        produced.extend(f for f in producer(model) if f.check not in skipped)
    produced.sort(key=Finding.sort_key)
    selected = set(only) if only else set(BY_ID)
    selected -= set(skip or [])
    shown = [f for f in produced if f.check in selected
             and (not subnets or f.subnet in subnets)]
    return CheckRun(
        findings=shown, all_findings=produced, skipped=skipped,
        deselected=sorted(set(BY_ID) - selected), suppressed=len(produced) - len(shown),
    )
