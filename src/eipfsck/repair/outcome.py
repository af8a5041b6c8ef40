"""What happened to one action: the four outcomes the journal and the summary speak in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["released", "already-gone", "skipped-changed", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("released", "already-gone", "skipped-changed", "failed")


@dataclass(frozen=True)
class ActionResult:
    outcome: Outcome
    detail: str
    # The subject as read right before acting, for the journal: what was there when we acted.
    before: dict[str, Any] | None = None
