"""Which repair options go together: the rules live here, the CLI only passes what it got."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from eipfsck.errors import UsageError
from eipfsck.repair.verify import GRACE_FLOOR


@dataclass(frozen=True)
class RepairRequest:
    """What the operator asked for, beyond how to read the cluster."""

    dry_run: bool = False
    plan_in: str | None = None
    plan_out: str | None = None
    plan_sha256: str | None = None
    snapshot: bool = False  # planning from a snapshot
    controller_log_auto: bool = False
    # Policy options given on the command line (not left at their defaults).
    policy_flags: tuple[str, ...] = ()
    grace: timedelta = timedelta(minutes=2)

    @property
    def review_only(self) -> bool:
        return self.dry_run or self.plan_out is not None


def check_request(r: RepairRequest) -> None:
    """One clear usage error (exit 16) for options that do not go together."""
    if r.snapshot and r.plan_in is not None:
        raise UsageError("--snapshot and --plan: a plan is applied to the live cluster only")
    if r.snapshot and not r.review_only:
        raise UsageError("a plan from a snapshot is never applied: add --dry-run or --plan-out")
    if r.plan_in is not None and r.plan_out is not None:
        raise UsageError("--plan and --plan-out: the plan exists already")
    if r.plan_sha256 is not None:
        if r.plan_in is None:
            raise UsageError("--plan-sha256 checks a --plan file: give --plan too")
        if not re.fullmatch(r"[0-9a-f]{64}", r.plan_sha256):
            raise UsageError(f"--plan-sha256 {r.plan_sha256!r}: expected 64 hexadecimal "
                             "digits, as shown at review")
    if r.controller_log_auto and r.snapshot:
        raise UsageError("--controller-log auto reads the live cluster; with --snapshot give "
                         "the log file")
    if r.plan_in is not None and r.policy_flags:
        # The options the plan was reviewed with apply; different ones here would silently
        # un-plan (or worse, re-plan) what was approved.
        raise UsageError(f"{', '.join(r.policy_flags)}: a --plan carries the options it was "
                         "made with; re-plan to change them")
    if r.grace < GRACE_FLOOR:
        raise UsageError(f"--grace {r.grace.total_seconds():g}s is below the floor of "
                         f"{GRACE_FLOOR.total_seconds():g} s: two reads closer than that "
                         "cannot tell a leak from an allocation being written")
