"""The scan, top to bottom: load → model → checks → report → exit code.

Nothing here knows about typer or terminals; the CLI calls scan() and renders.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from eipfsck import exitcodes
from eipfsck.addresses import Address
from eipfsck.checks.catalogue import SEVERITY_RANK
from eipfsck.checks.runner import CheckRun, run_checks
from eipfsck.collect.progress import Progress
from eipfsck.controller_log import Allocation, read_controller_log
from eipfsck.errors import UsageError
from eipfsck.model import Model, Policy, build_model, settings_from
from eipfsck.report.document import build_report, inconclusive_reasons
from eipfsck.snapshot import load_snapshot

if TYPE_CHECKING:
    from eipfsck.collect.live import LiveOptions

FAIL_ON = ("info", "warning", "error", "never")


@dataclass(frozen=True)
class ScanOptions:
    snapshot: str | None
    live: LiveOptions | None = None  # read the cluster when no snapshot is given
    controller_log: str | None = None  # a file; for live scans LiveOptions.controller_log
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    fail_on: str = "warning"
    settings: dict[str, Any] = field(default_factory=dict)
    stuck_after: timedelta = Policy.stuck_after
    # IPAM keys known from elsewhere (a reviewed repair plan); a controller log adds to them.
    allocations: dict[tuple[str, Address], Allocation] = field(default_factory=dict)


@dataclass
class ScanResult:
    model: Model
    run: CheckRun
    report: dict[str, Any]
    exit_code: int
    notes: list[str] = field(default_factory=list)  # collection notes for stderr


def exit_code_for(run: CheckRun, inconclusive: list[str], fail_on: str) -> int:
    code = exitcodes.CLEAN
    if fail_on != "never":
        floor = SEVERITY_RANK[fail_on]
        if any(SEVERITY_RANK[f.severity] >= floor for f in run.findings):
            code |= exitcodes.FINDINGS
    if inconclusive:
        code |= exitcodes.INCONCLUSIVE
    return code


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Loading builds millions of small acyclic objects; the cyclic collector would walk
    them again and again (parsing pods.json took 2.7x longer with it, docs/performance.md).
    Reference counting still frees everything; the collector runs once at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan(opts: ScanOptions, progress: Progress | None = None) -> ScanResult:
    with _no_cyclic_gc():
        return _scan(opts, progress)


def _scan(opts: ScanOptions, progress: Progress | None) -> ScanResult:
    if opts.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    notes: list[str] = []
    allocations = read_controller_log(opts.controller_log) if opts.controller_log else None
    if opts.snapshot is not None:
        snap = load_snapshot(opts.snapshot)
    elif opts.live is not None:
        # Imported here: the Kubernetes client and the OVS IDL cost a snapshot scan ~0.5 s.
        from eipfsck.collect.live import collect_live

        live = collect_live(opts.live, progress)
        snap, notes = live.snapshot, live.notes
        if live.allocations is not None:
            allocations = live.allocations
    else:
        raise UsageError("nothing to scan: give --snapshot DIR or a cluster to read")
    if opts.allocations:
        allocations = {**opts.allocations, **(allocations or {})}
    model = build_model(snap, settings_from(snap, opts.settings), allocations,
                        Policy(stuck_after=opts.stuck_after))
    unknown = [s for s in opts.subnets if s not in model.subnets]
    if unknown:
        raise UsageError(f"no subnet named {', '.join(unknown)} in the snapshot")
    run = run_checks(model, opts.only, opts.skip, opts.subnets)
    inconclusive = inconclusive_reasons(model)
    code = exit_code_for(run, inconclusive, opts.fail_on)
    report = build_report(model, run, opts.fail_on, code, opts.subnets or None)
    return ScanResult(model, run, report, code, notes)
