"""One repair run, top to bottom: plan → bind → confirm → wait → re-read → act → journal → rescan.

Nothing here knows about terminals: the CLI passes a RepairUI for the prompt, the countdown
and the progress lines.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from eipfsck import __version__, exitcodes
from eipfsck.addresses import Address, try_parse_ip
from eipfsck.collect.live import LiveOptions
from eipfsck.collect.ovnnb import NbTarget
from eipfsck.controller_log import Allocation
from eipfsck.errors import EipfsckError, RefusedError, UsageError
from eipfsck.pipeline import ScanOptions, ScanResult, scan
from eipfsck.repair.journal import Journal
from eipfsck.repair.kubeapply import KubeWriter, Waits
from eipfsck.repair.nbapply import NbRowDelete, NbWriter
from eipfsck.repair.outcome import OUTCOMES, ActionResult
from eipfsck.repair.plan import NB_ACTIONS, Action, Plan, RepairPolicy, build_plan
from eipfsck.repair.planfile import plan_to_json
from eipfsck.repair.verify import binding_refusal, confirmation_wait, reverify
from eipfsck.report.document import inconclusive_reasons


class RepairUI(Protocol):
    def show_plan(self, plan: Plan) -> None: ...
    def confirm(self, plan: Plan) -> bool | None: ...  # None: cannot ask (no TTY)
    def countdown(self, seconds: float, why: str) -> None: ...
    def action_done(self, action: Action, result: ActionResult) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class RepairOptions:
    scan: ScanOptions  # how to observe (live, or a snapshot for planning only)
    policy: RepairPolicy = field(default_factory=RepairPolicy)
    max_age: timedelta = timedelta(minutes=15)
    yes: bool = False
    journal: str | None = None
    waits: Waits = field(default_factory=Waits)


@dataclass
class RepairResult:
    plan: Plan
    results: list[tuple[Action, ActionResult]]
    before: ScanResult | None
    after: ScanResult | None
    exit_code: int
    interrupted: bool = False

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for _, r in self.results:
            out[r.outcome] += 1
        return out


def observe(opts: ScanOptions, ui: RepairUI | None = None) -> ScanResult:
    result = scan(opts)
    if ui is not None:
        for note in result.notes:
            ui.note(note)
    return result


def make_plan(result: ScanResult, policy: RepairPolicy) -> Plan:
    snap = result.model.snapshot
    cluster_meta = snap.meta.get("cluster") if isinstance(snap.meta.get("cluster"), dict) else {}
    nb_meta = snap.meta.get("northbound") if isinstance(snap.meta.get("northbound"), dict) \
        else {}
    return build_plan(
        result.model, result.run.findings, policy,
        cluster={"uid": snap.cluster_uid(), "server": cluster_meta.get("server"),
                 "nb": nb_meta.get("endpoint")},
        created=snap.captured_at, tool_version=__version__, source=snap.origin,
        inconclusive=inconclusive_reasons(result.model), scan=result.report)


def nb_write_target(live: LiveOptions, result: ScanResult) -> NbTarget | None:
    """Where NB deletes go: the remote the fresh read came from. kubectl-exec reads are
    ovn-nbctl output, which cannot carry an OVSDB wait, so they give no write target."""
    if live.nb_mode == "remote" and live.nb is not None:
        return live.nb
    nb_meta = result.model.snapshot.meta.get("northbound") or {}
    endpoint = nb_meta.get("endpoint") if isinstance(nb_meta, dict) else None
    if isinstance(endpoint, str) and endpoint.startswith(("tcp:", "ssl:", "unix:")):
        return NbTarget(endpoint, timeout=live.nb_timeout)
    return None


class _StopFlag:
    """Ctrl-C during apply: finish the action in flight, then stop (a second one aborts)."""

    def __init__(self) -> None:
        self.set = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True


@contextmanager
def _stop_between_actions() -> Iterator[_StopFlag]:
    flag = _StopFlag()
    try:
        previous = signal.signal(signal.SIGINT, flag.handler)
    except ValueError:  # not the main thread (tests): no signal handling
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def apply_plan(plan: Plan, opts: RepairOptions, ui: RepairUI,
               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RepairResult:
    live = opts.scan.live
    if live is None:
        raise UsageError("a plan is applied to a live cluster only; a plan from a snapshot is "
                         "for review (--dry-run or --plan-out)")
    if not plan.actions:
        ui.note("the plan has no action: nothing to apply")
        return RepairResult(plan, [], None, None, exitcodes.CLEAN)
    journal = Journal(opts.journal) if opts.journal else None  # fail before acting
    try:
        return _apply(plan, opts, live, ui, journal, now)
    finally:
        if journal is not None:
            journal.close()


def _apply(plan: Plan, opts: RepairOptions, live: LiveOptions, ui: RepairUI,
           journal: Journal | None, now: Callable[[], datetime]) -> RepairResult:
    def record(event: str, **fields: Any) -> None:
        if journal is not None:
            journal.record(event, **fields)

    kube = KubeWriter(live.kube, opts.waits)
    refusal = binding_refusal(plan, kube.cluster_uid(), now(), opts.max_age)
    if refusal is not None:
        record("refused", reason=refusal, plan_created=plan.created.isoformat())
        raise RefusedError(f"plan refused: {refusal}")
    ui.show_plan(plan)
    if not opts.yes:
        answer = ui.confirm(plan)
        if answer is None:
            record("refused", reason="no TTY to confirm on and no --yes")
            raise RefusedError("not applying: no terminal to confirm on",
                               hint="review with --dry-run, then rerun with --yes")
        if not answer:
            record("declined", plan_created=plan.created.isoformat())
            raise RefusedError("declined: nothing was changed")
    wait = confirmation_wait(plan, now(), opts.policy.grace)
    if wait > 0:
        ui.countdown(wait, "a leak is acted on only when a second read, "
                     f"{opts.policy.grace.total_seconds():g} s after the first, agrees")
    scan_opts = replace(opts.scan, allocations=_planned_keys(plan))
    fresh_scan = observe(scan_opts, ui)
    fresh = make_plan(fresh_scan, replace(opts.policy, max_actions=10**9))
    checked = reverify(plan, fresh, fresh_scan.model)
    nb_target = nb_write_target(live, fresh_scan)
    if any(a.action in NB_ACTIONS for a, r in checked if r is None) and nb_target is None:
        raise UsageError("the plan deletes NB rows, but the NB was not read over OVSDB "
                         "(kubectl-exec or --no-nb): deletes need a direct connection to "
                         "carry their wait precondition",
                         hint="give --ovn-nb tcp:HOST:6641 (or ssl:/unix:)")
    record("start", plan=plan_to_json(plan) | {"scan": None}, fresh_read=now().isoformat())
    results: list[tuple[Action, ActionResult]] = []
    interrupted = False
    with _stop_between_actions() as stop, _NbSession(nb_target) as nb:
        for action, early in checked:
            if stop.set:
                interrupted = True
                break
            record("intent", id=action.id, action=action.as_json())
            result = early or _unmet(action, results) or _run_one(action, kube, nb)
            record("outcome", id=action.id, outcome=result.outcome, detail=result.detail,
                   before=result.before)
            ui.action_done(action, result)
            results.append((action, result))
            if result.outcome in ("released", "failed"):
                why = kube.event(action, result, "default")
                if why is not None:
                    ui.note(f"event for {action.target} not written ({why})")
    after = _rescan(scan_opts, ui)
    if after is not None:
        verified = [(a, _verified(a, r, after)) for a, r in results]
        for (a, r), (_, v) in zip(results, verified, strict=True):
            if v is not r:
                record("verified", id=a.id, outcome=v.outcome, detail=v.detail)
        results = verified
    done = RepairResult(plan, results, fresh_scan, after, _exit_code(results, after, interrupted),
                        interrupted)
    record("end", outcomes=done.counts(), interrupted=interrupted, exit_code=done.exit_code)
    return done


def _rescan(opts: ScanOptions, ui: RepairUI) -> ScanResult | None:
    """The after-read. What was done is already done: a rescan that fails must not hide the
    summary of the actions, so it is a note and exit bit 8, not an error."""
    try:
        return observe(opts, None)
    except EipfsckError as exc:
        ui.note(f"rescan after repair failed: {exc.message}; run eipfsck scan to verify")
    except KeyboardInterrupt:
        ui.note("rescan after repair interrupted; run eipfsck scan to verify")
    return None


def _planned_keys(plan: Plan) -> dict[tuple[str, Address], Allocation]:
    """The IPAM keys the plan's resurrect actions were reviewed with, so that the fresh read
    plans the same actions even without the controller log at hand."""
    out = {}
    for a in plan.actions:
        if a.action != "resurrect":
            continue
        subnet, key = str(a.preconditions.get("subnet")), str(a.preconditions.get("ipam_key"))
        for text in a.preconditions.get("addresses") or []:
            addr = try_parse_ip(text)
            if addr is not None:
                out[(subnet, addr)] = Allocation(key, subnet, addr, 0, None, f"plan {a.id}",
                                                 kind=a.target.kind)
    return out


def _unmet(action: Action, done: list[tuple[Action, ActionResult]]) -> ActionResult | None:
    """A release waits for the NB rows that carried its addresses to be gone (§9 step 3)."""
    outcome = {a.id: r.outcome for a, r in done}
    for dep in action.preconditions.get("after") or []:
        if outcome.get(dep) not in ("released", "already-gone"):
            return ActionResult("skipped-changed", f"not run: {dep}, which removes an NB row "
                                f"carrying one of its addresses, ended "
                                f"{outcome.get(dep, 'not run')}; releasing now would let the "
                                "next allocation duplicate the address")
    return None


def _verified(action: Action, result: ActionResult, after: ScanResult) -> ActionResult:
    """A release is only a release if the rescan no longer finds the leak (§9 step 7)."""
    if result.outcome != "released" or action.action not in ("restart-controller", "resurrect"):
        return result
    leaked = {(f.subnet, str(f.ip)) for f in after.run.findings if f.check == "leaked-ip"}
    if action.action == "restart-controller":
        wanted = {(x["subnet"], x["ip"]) for x in action.preconditions.get("leaks") or []}
    else:
        subnet = action.preconditions.get("subnet")
        wanted = {(subnet, x) for x in action.preconditions.get("addresses") or []}
    still = sorted(ip for s, ip in wanted & leaked)
    if not still:
        return result
    return ActionResult("failed", f"{result.detail}; but the rescan still finds "
                        f"{', '.join(still)} leaked: not released", result.before)


def _exit_code(results: list[tuple[Action, ActionResult]], after: ScanResult | None,
               interrupted: bool) -> int:
    code = exitcodes.CLEAN
    if any(r.outcome == "released" for _, r in results):
        code |= exitcodes.REPAIRED
    if after is None:
        code |= exitcodes.INCONCLUSIVE
    else:
        code |= after.exit_code & (exitcodes.FINDINGS | exitcodes.INCONCLUSIVE)
    if any(r.outcome == "failed" for _, r in results):
        code |= exitcodes.INCONCLUSIVE
    if interrupted:
        code |= exitcodes.REFUSED
    return code


class _NbSession:
    """The NB connection, opened only when an NB action actually runs."""

    def __init__(self, target: NbTarget | None) -> None:
        self.target = target
        self.writer: NbWriter | None = None

    def __enter__(self) -> _NbSession:
        return self

    def get(self) -> NbWriter:
        if self.writer is None:
            assert self.target is not None
            self.writer = NbWriter(self.target).__enter__()
        return self.writer

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.__exit__(None, None, None)


def _run_one(action: Action, kube: KubeWriter, nb: _NbSession) -> ActionResult:
    if action.action in NB_ACTIONS:
        rows = [NbRowDelete(r["table"], r["uuid"], r["columns"], r.get("vip"))
                for r in action.preconditions.get("rows", [])]
        try:
            return nb.get().delete(rows)
        except EipfsckError as exc:
            return ActionResult("failed", exc.message)
    return kube.apply(action)
