"""A Finding: one inconsistency, with the evidence that makes it believable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eipfsck.addresses import Address, Family
from eipfsck.checks.catalogue import Severity
from eipfsck.kubeovn.owners import Claim
from eipfsck.kubeovn.refs import Ref


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str
    subnet: str | None = None
    family: Family | None = None
    ip: Address | None = None
    subjects: tuple[Ref, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    severity_reason: str = ""  # why severity is not the catalogue's default (severity_when)

    def sort_key(self) -> tuple[Any, ...]:
        return (self.subnet or "", self.family or "", self.ip.value if self.ip else -1,
                self.check, tuple(sorted(str(s) for s in self.subjects)), self.message)


def claim_json(c: Claim) -> dict[str, Any]:
    out: dict[str, Any] = {**c.ref.as_json(), "role": c.role, "field": c.field}
    if c.key:
        out["ipam_key"] = c.key
    if c.note:
        out["note"] = c.note
    return out
