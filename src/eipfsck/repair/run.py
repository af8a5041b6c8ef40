"""One repair run, top to bottom: settle the journal → plan (or read the approved plan) → bind
→ confirm → first read and grace (leaks) → fresh read → act on what it plans and the plan
approves → journal → rescan.

Nothing here knows about terminals: the CLI passes a RepairUI for the prompt, the countdown
and the progress lines.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from eipfsck import __version__, exitcodes
from eipfsck.addresses import Address, try_parse_ip
from eipfsck.collect.kube import Exhausted
from eipfsck.collect.live import LiveOptions
from eipfsck.collect.ovnnb import NbTarget
from eipfsck.controller_log import Allocation
from eipfsck.errors import EipfsckError, RefusedError, UsageError
from eipfsck.pipeline import ScanOptions, ScanResult, scan
from eipfsck.repair.journal import Journal, JournalError, default_journal_path, read_entries
from eipfsck.repair.kubeapply import KubeWriter, Waits
from eipfsck.repair.nbapply import NbRowDelete, NbWriter
from eipfsck.repair.options import RepairRequest, check_request
from eipfsck.repair.outcome import OUTCOMES, ActionResult
from eipfsck.repair.plan import NB_ACTIONS, Action, Plan, RepairPolicy, build_plan
from eipfsck.repair.planfile import (
    PlanFileError,
    check_plan_target,
    digest,
    plan_bytes,
    plan_to_json,
    read_plan_file,
    write_plan,
)
from eipfsck.repair.recover import pending, recover
from eipfsck.repair.verify import (
    binding_refusal,
    effective_grace,
    grace_left,
    has_leak_actions,
    reverify,
    unapproved,
)
from eipfsck.report.document import inconclusive_reasons


class RepairUI(Protocol):
    def show_plan(self, plan: Plan, sha256: str) -> None: ...
    def confirm(self, plan: Plan, sha256: str) -> bool | None: ...  # None: cannot ask
    def countdown(self, seconds: float, why: str) -> None: ...
    def action_done(self, action: Action, result: ActionResult) -> None: ...
    def note(self, text: str) -> None: ...
    quiet: bool  # the reads' notes are not shown (the repair's own are)


@dataclass(frozen=True)
class RepairOptions:
    scan: ScanOptions  # how to observe (live, or a snapshot for planning only)
    policy: RepairPolicy = field(default_factory=RepairPolicy)
    max_age: timedelta = timedelta(minutes=15)
    yes: bool = False
    journal: str | None = None  # None: the default path
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
    if ui is not None and not ui.quiet:
        for note in result.notes:
            ui.note(note)
    return result


def make_plan(result: ScanResult, policy: RepairPolicy, created: datetime | None = None
              ) -> Plan:
    """The plan of one read. `created` is when the read was made, by the API server's clock
    for a live read (a plan's age is measured on that clock), else the snapshot's time."""
    snap = result.model.snapshot
    cluster_meta = snap.meta.get("cluster") if isinstance(snap.meta.get("cluster"), dict) else {}
    nb_meta = snap.meta.get("northbound") if isinstance(snap.meta.get("northbound"), dict) \
        else {}
    return build_plan(
        result.model, result.run.findings, policy,
        cluster={"uid": snap.cluster_uid(), "server": cluster_meta.get("server"),
                 "nb": nb_meta.get("endpoint")},
        created=created or snap.captured_at, tool_version=__version__, source=snap.origin,
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


class _Signals:
    """SIGINT and SIGTERM (a CronJob's deadline) alike. While actions run, the first one
    lets the action in flight finish and stops before the next (said at once on screen); a
    second one aborts the action in flight. Anywhere else, either one stops the run."""

    def __init__(self, note: Callable[[str], None]) -> None:
        self.note = note
        self.set = False
        self.in_actions = False
        self.current = ""

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if not self.in_actions or self.set:
            raise KeyboardInterrupt
        self.set = True
        name = signal.Signals(signum).name
        self.note(f"{name}: stopping after the action in flight ({self.current or 'none'}) "
                  "finishes; send it again to abort that action")


@contextmanager
def _handle_signals(note: Callable[[str], None]) -> Iterator[_Signals]:
    flag = _Signals(note)
    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, flag.handler)
    except ValueError:  # not the main thread (tests): no signal handling
        pass
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Outcome:
    """What a repair run did, for the CLI to print: the plan (reviewed or applied), its
    sha256, the apply result when actions ran, and the exit code."""

    plan: Plan
    digest: str
    exit_code: int
    result: RepairResult | None = None
    scanned: ScanResult | None = None


def repair(request: RepairRequest, opts: RepairOptions, ui: RepairUI) -> Outcome:
    """The whole command: review only (--dry-run, --plan-out), or settle the journal, plan,
    confirm, re-read and apply."""
    check_request(request)
    if request.review_only:
        return _review(request, opts, ui)
    live = opts.scan.live
    if live is None:
        raise UsageError("a plan is applied to a live cluster only; a plan from a snapshot is "
                         "for review (--dry-run or --plan-out)")
    journal = Journal(opts.journal or str(default_journal_path()))  # fail before acting
    try:
        with _handle_signals(ui.note) as signals:
            return _apply_flow(request, opts, live, ui, journal, signals)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM outside the actions, or a second one during one: exit 32 (the
        # CLI framework would turn a bare KeyboardInterrupt into 130).
        raise RefusedError("interrupted: nothing more was run",
                           hint="what ran is in the journal; the next repair settles an "
                                "action that was cut short") from None
    finally:
        journal.close()


def _server_time(kube: KubeWriter, fallback: datetime) -> datetime:
    try:
        return kube.server_now()
    except Exhausted:
        return fallback


def _review(request: RepairRequest, opts: RepairOptions, ui: RepairUI) -> Outcome:
    scanned = None
    if request.plan_out is not None:
        check_plan_target(request.plan_out)  # a symlink or FIFO: refused before the scan
    if request.plan_in is not None:
        plan, sha = read_plan_file(request.plan_in)
        code = exitcodes.CLEAN
    else:
        scanned = observe(opts.scan, ui)
        created = None
        if opts.scan.live is not None:
            created = _server_time(KubeWriter(opts.scan.live.kube, opts.waits),
                                   scanned.model.snapshot.captured_at)
        plan = make_plan(scanned, opts.policy, created=created)
        code = scanned.exit_code
        sha = digest(plan_bytes(plan))
    if request.plan_out is not None:
        try:
            sha = write_plan(request.plan_out, plan)
        except EipfsckError as exc:
            # As --report: the plan is still printed, and the exit code says it was not saved
            # (bit 8 for a directory or an unwritable place; 16 for a target that became a
            # symlink or FIFO since the check above).
            ui.note(f"error: {exc.message}; the plan was not saved")
            code |= exc.exit_code
        else:
            ui.note(f"wrote the plan to {request.plan_out} ({len(plan.actions)} action(s)), "
                    f"sha256 {sha}")
    if opts.journal and Path(opts.journal).exists():
        try:
            waiting = pending(read_entries(opts.journal))
        except JournalError as exc:
            ui.note(exc.message)
            waiting = []
        for p in waiting:
            ui.note(f"journal: {p.describe()} (run {p.run}) was interrupted; a repair that "
                    "acts settles it before planning")
    return Outcome(plan, sha, code, None, scanned)


def _leaks_of(result: ScanResult) -> set[tuple[str | None, str]]:
    return {(f.subnet, str(f.ip)) for f in result.run.findings
            if f.check == "leaked-ip" and f.ip is not None}


def _apply_flow(request: RepairRequest, opts: RepairOptions, live: LiveOptions, ui: RepairUI,
                journal: Journal, signals: _Signals) -> Outcome:
    kube = KubeWriter(live.kube, opts.waits)
    first: ScanResult | None = None
    first_at: datetime | None = None
    if request.plan_in is not None:
        try:
            plan, sha = read_plan_file(request.plan_in)
        except PlanFileError as exc:
            journal.record("refused", reason=exc.message, plan_file=request.plan_in)
            raise
        if request.plan_sha256 is not None and sha != request.plan_sha256:
            why = (f"{request.plan_in} has sha256 {sha}, not the reviewed "
                   f"{request.plan_sha256}: the file changed since its review")
            journal.record("refused", reason=why, plan_sha256=sha)
            raise RefusedError(f"plan refused: {why}")
        policy = RepairPolicy.from_json(plan.policy)
    uid = kube.cluster_uid()
    recover(journal, kube, uid, ui.note)
    if request.plan_in is None:
        first = observe(opts.scan, ui)
        first_at = _server_time(kube, first.model.snapshot.captured_at)
        plan = make_plan(first, opts.policy, created=first_at)
        sha = digest(plan_bytes(plan))
        policy = opts.policy
        if not plan.actions:
            return Outcome(plan, sha, first.exit_code, None, first)
    elif not plan.actions:
        return Outcome(plan, sha, exitcodes.CLEAN)
    refusal = binding_refusal(plan, uid, _server_time(kube, datetime.now(UTC)), opts.max_age)
    if refusal is not None:
        journal.record("refused", reason=refusal, plan_created=plan.created.isoformat(),
                       plan_sha256=sha)
        raise RefusedError(f"plan refused: {refusal}")
    ui.show_plan(plan, sha)
    if not opts.yes:
        answer = ui.confirm(plan, sha)
        if answer is None:
            journal.record("refused", reason="no TTY to confirm on and no --yes",
                           plan_sha256=sha)
            raise RefusedError("not applying: no terminal to confirm on",
                               hint="review with --dry-run, then rerun with --yes")
        if not answer:
            journal.record("declined", plan_created=plan.created.isoformat(), plan_sha256=sha)
            raise RefusedError("declined: nothing was changed")
    scan_opts = replace(opts.scan, allocations=_planned_keys(plan))
    first_leaks = None
    if has_leak_actions(plan):
        if first is None or first_at is None:
            # A file's `created` and its leaks are the file's word: the two reads a leak must
            # be seen in are both made here.
            why = ("the plan releases leaks: the first of the two reads they must be seen in "
                   "is made now, not taken from the plan's `created`")
            journal.record("first_read", reason=why, plan_created=plan.created.isoformat())
            ui.note(why)
            first = observe(scan_opts, ui)
            first_at = _server_time(kube, first.model.snapshot.captured_at)
        first_leaks = _leaks_of(first)
        _wait_grace(kube, ui, first_at, policy.grace)
    result = _apply(plan, sha, opts, scan_opts, policy, kube, ui, journal, signals, uid,
                    first_leaks)
    return Outcome(plan, sha, result.exit_code, result, first)


def _wait_grace(kube: KubeWriter, ui: RepairUI, first_at: datetime, grace: timedelta) -> None:
    """Wait, on the API server's clock, until the grace has passed since the first read."""
    while True:
        try:
            server_now = kube.server_now()
        except Exhausted as exc:
            raise RefusedError(f"the API server's clock cannot be read ({exc}): the grace "
                               "between the two reads cannot be measured; nothing was "
                               "changed") from None
        left = grace_left(first_at, server_now, grace)
        if left <= 0:
            return
        ui.countdown(left, "a leak is acted on only when a second read, "
                     f"{effective_grace(grace).total_seconds():g} s after the first by the "
                     "API server's clock, agrees")


def _apply(plan: Plan, sha: str, opts: RepairOptions, scan_opts: ScanOptions,
           policy: RepairPolicy, kube: KubeWriter, ui: RepairUI, journal: Journal,
           signals: _Signals, uid: str | None,
           first_leaks: set[tuple[str | None, str]] | None) -> RepairResult:
    record = journal.record
    fresh_scan = observe(scan_opts, ui)
    fresh = make_plan(fresh_scan, replace(policy, max_actions=10**9))
    checked = reverify(plan, fresh, fresh_scan.model, first_leaks)
    extra = unapproved(plan, fresh)
    if extra:
        ui.note(f"a fresh read plans {len(extra)} action(s) the plan does not approve; not "
                "run: " + "; ".join(f"{a.action} {a.target}" for a in extra[:5])
                + (" …" if len(extra) > 5 else ""))
    nb_target = nb_write_target(opts.scan.live, fresh_scan) if opts.scan.live else None
    if any(c.action.action in NB_ACTIONS for c in checked if c.early is None) \
            and nb_target is None:
        raise UsageError("the plan deletes NB rows, but the NB was not read over OVSDB "
                         "(kubectl-exec or --no-nb): deletes need a direct connection to "
                         "carry their wait precondition",
                         hint="give --ovn-nb tcp:HOST:6641 (or ssl:/unix:)")
    record("start", plan=plan_to_json(plan) | {"scan": None}, plan_sha256=sha,
           fresh_read=fresh_scan.model.snapshot.captured_at.isoformat(),
           unapproved=[a.as_json() for a in extra])
    results: list[tuple[Action, ActionResult]] = []
    interrupted = False
    with _NbSession(nb_target) as nb:
        signals.in_actions = True
        try:
            for c in checked:
                action = c.action
                if signals.set:
                    interrupted = True
                    break
                signals.current = f"{action.id} {action.action} {action.target}"
                record("intent", id=action.id, action=action.as_json(), cluster=uid)
                try:
                    result = c.early or _unmet(action, results) or _run_one(
                        action, kube, nb, _recorder(journal, action.id))
                except KeyboardInterrupt:
                    record("aborted", id=action.id, detail="a second interrupt aborted it "
                           "while it ran; the next repair settles it before planning")
                    ui.note(f"aborted {signals.current}; the next repair run settles it "
                            "(finishes or undoes it) before planning anything new")
                    raise
                record("outcome", id=action.id, outcome=result.outcome, detail=result.detail,
                       before=result.before)
                ui.action_done(action, result)
                results.append((action, result))
                if result.outcome in ("released", "failed"):
                    why = kube.event(action, result, "default")
                    if why is not None:
                        ui.note(f"event for {action.target} not written ({why})")
        finally:
            signals.in_actions = False
            signals.current = ""
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


def _recorder(journal: Journal, action_id: str) -> Callable[..., None]:
    def record(event: str, **fields: Any) -> None:
        journal.record(event, id=action_id, **fields)
    return record


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
    """A release waits for the NB rows that carried its addresses to be gone: released
    first, the next allocation would get an address an NB row still routes."""
    outcome = {a.id: r.outcome for a, r in done}
    for dep in action.preconditions.get("after") or []:
        if outcome.get(dep) not in ("released", "already-gone"):
            return ActionResult("skipped-changed", f"not run: {dep}, which removes an NB row "
                                f"carrying one of its addresses, ended "
                                f"{outcome.get(dep, 'not run')}; releasing now would let the "
                                "next allocation duplicate the address")
    return None


def _verified(action: Action, result: ActionResult, after: ScanResult) -> ActionResult:
    """A release is only a release if the rescan no longer finds the leak."""
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


def _run_one(action: Action, kube: KubeWriter, nb: _NbSession,
             record: Callable[..., None]) -> ActionResult:
    if action.action in NB_ACTIONS:
        # The owners the port is named after are re-read right before its transaction: a
        # StatefulSet pod re-created under the same name keeps the same port, and the
        # OVSDB wait on the row's columns cannot see it.
        try:
            gone = kube.still_absent(action)
        except Exhausted as exc:
            return ActionResult("failed", f"cannot re-check its owners: {exc}")
        if gone is not None:
            return ActionResult("skipped-changed", f"not deleted: {gone}")
        rows = [NbRowDelete(r["table"], r["uuid"], r["columns"], r.get("vip"))
                for r in action.preconditions.get("rows", [])]
        try:
            return nb.get().delete(rows)
        except EipfsckError as exc:
            return ActionResult("failed", exc.message)
        except ValueError as exc:  # a malformed request: never planned so, never sent
            return ActionResult("failed", f"not sent: {exc}")
    return kube.apply(action, record)
