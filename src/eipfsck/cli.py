"""The command line: options in, pipeline, one rendering out, one exit code.

Every error an operator can cause ends here as one line on stderr and the
documented exit code, never as a traceback.

A command imports what it needs when it runs: --version, --help, `checks`, `explain` and a
usage error answer without loading the Kubernetes client, the OVS IDL, YAML, Prometheus or
rich (tests/test_cli_startup.py holds every fast path to that; bench/startup.py times them).
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import typer

from eipfsck import exitcodes
from eipfsck.cliparams import FastCommand, FastGroup
from eipfsck.errors import EipfsckError, UsageError
from eipfsck.report.escape import visible
from eipfsck.report.stdio import plain_stdout, reader_gone, rich_stderr, stderr_line

if TYPE_CHECKING:
    from rich.console import Console

    from eipfsck.collect.live import LiveOptions, NbMode
    from eipfsck.collect.ovnnb import NbTarget
    from eipfsck.collect.progress import Progress
    from eipfsck.repair.outcome import ActionResult
    from eipfsck.repair.plan import Action, Plan


class _Commands(FastGroup):
    """Ctrl-C (SIGINT) inside a command ends as main() reports an interrupt: one line and
    exit 32, as documented. Left alone, Typer turns it into exit 130 before main sees it."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise typer.Abort() from None


app = typer.Typer(
    name="eipfsck",
    cls=_Commands,
    help="Audit and repair Kube-OVN IP address management: leaked EIPs, orphan OVN "
         "rows, stale subnet status.",
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
)


class Output(StrEnum):
    table = "table"
    json = "json"


class ScanOutput(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    sarif = "sarif"
    junit = "junit"


# Every machine format renders the report dict, never the model: a snapshot scan and a
# live scan print alike. Each is the module in eipfsck.report with a write(); imported when
# chosen (yaml, for one, only for -o yaml).
WRITERS = {ScanOutput.json: "jsonfmt", ScanOutput.yaml: "yamlfmt",
           ScanOutput.sarif: "sarif", ScanOutput.junit: "junit"}


class FailOn(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"
    never = "never"


# Minutes: ten years. Beyond, the time arithmetic overflows and no owner is that old.
MAX_STUCK_AFTER = 10 * 366 * 24 * 60


def _version(value: bool) -> None:
    if value:
        from eipfsck import __version__

        typer.echo(f"eipfsck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


# Options shared by `scan` (without --snapshot) and `snapshot`: how to reach the cluster.
KubeconfigOpt = Annotated[str | None, typer.Option(
    "--kubeconfig", metavar="FILE", rich_help_panel="Cluster",
    help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the pod's service "
         "account).")]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", rich_help_panel="Cluster",
    help="Kubeconfig context (default: the current one).")]
RequestTimeoutOpt = Annotated[str, typer.Option(
    "--request-timeout", metavar="DURATION", rich_help_panel="Cluster",
    help="Per API request, e.g. 30s, 2m; 0 = none.")]
PageSizeOpt = Annotated[int, typer.Option(
    "--page-size", min=1, max=10000, metavar="N", rich_help_panel="Cluster",
    help="Objects per LIST page.")]
NamespaceOpt = Annotated[str, typer.Option(
    "--kube-ovn-namespace", metavar="NS", rich_help_panel="Cluster",
    help="Namespace of Kube-OVN's controller, ConfigMaps and ovn-central.")]
OvnNbOpt = Annotated[str | None, typer.Option(
    "--ovn-nb", envvar="OVN_NB_DB", metavar="REMOTE", rich_help_panel="OVN northbound",
    help="tcp:HOST:PORT, ssl:HOST:PORT, unix:PATH, a comma list of cluster members, or "
         "kubectl-exec (ovn-nbctl in the ovn-central leader pod). Default: found through "
         "Service ovn-nb.")]
NbKeyOpt = Annotated[str | None, typer.Option(
    "--ovn-nb-private-key", metavar="FILE", rich_help_panel="OVN northbound",
    help="Client key for ssl:.")]
NbCertOpt = Annotated[str | None, typer.Option(
    "--ovn-nb-certificate", metavar="FILE", rich_help_panel="OVN northbound",
    help="Client certificate for ssl:.")]
NbCaOpt = Annotated[str | None, typer.Option(
    "--ovn-nb-ca-cert", metavar="FILE", rich_help_panel="OVN northbound",
    help="CA certificate for ssl:.")]
NoNbOpt = Annotated[bool, typer.Option(
    "--no-nb", rich_help_panel="OVN northbound",
    help="Do not read the NB: its checks are reported as skipped (no exit bit 8).")]


def _live_options(kubeconfig: str | None, context: str | None, request_timeout: str,
                  page_size: int, namespace: str, ovn_nb: str | None, key: str | None,
                  cert: str | None, ca: str | None, no_nb: bool, controller_log: bool = False,
                  since: str = "24h") -> LiveOptions:
    from eipfsck.collect.kube import KubeTarget, parse_duration
    from eipfsck.collect.live import LiveOptions

    timeout = parse_duration(request_timeout)
    kube = KubeTarget(kubeconfig=kubeconfig, context=context, request_timeout=timeout,
                      page_size=page_size, kube_ovn_namespace=namespace)
    if no_nb and ovn_nb:
        raise UsageError("--no-nb and --ovn-nb (or OVN_NB_DB) contradict each other")
    return LiveOptions(kube, *_nb_choice(ovn_nb, key, cert, ca, no_nb, timeout),
                       controller_log=controller_log,
                       log_since=parse_duration(since, "--since") or 0.0)


def _nb_choice(ovn_nb: str | None, key: str | None, cert: str | None, ca: str | None,
               no_nb: bool, timeout: float | None) -> tuple[NbMode, NbTarget | None]:
    if no_nb:
        return "none", None
    if not ovn_nb:
        return "auto", None
    if ovn_nb == "kubectl-exec":
        return "kubectl-exec", None
    members = [m.strip() for m in ovn_nb.split(",") if m.strip()]
    bad = [m for m in members if not m.startswith(("tcp:", "ssl:", "unix:"))]
    if not members or bad:
        raise UsageError(f"--ovn-nb {ovn_nb!r}: each member must be tcp:HOST:PORT, "
                         "ssl:HOST:PORT or unix:PATH (or say kubectl-exec)")
    if any(m.startswith("ssl:") for m in members):
        missing = [flag for flag, v in (("--ovn-nb-private-key", key),
                                         ("--ovn-nb-certificate", cert),
                                         ("--ovn-nb-ca-cert", ca)) if not v]
        if missing:
            raise UsageError(f"--ovn-nb {ovn_nb}: ssl: needs {', '.join(missing)}")
    from eipfsck.collect.ovnnb import NbTarget

    return "remote", NbTarget(",".join(members), private_key=key, certificate=cert,
                              ca_cert=ca, timeout=timeout or 30.0)


@contextmanager
def _progress(quiet: bool) -> Iterator[Progress | None]:
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from eipfsck.collect.progress import RichProgress

    with RichProgress() as bars:
        yield bars


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        stderr_line(f"eipfsck: {visible(note)}")


@app.command("scan", cls=FastCommand, epilog=exitcodes.help_text("scan"))
def scan_cmd(
    snapshot: Annotated[str | None, typer.Option(
        "--snapshot", "-s", metavar="PATH",
        help="Scan a snapshot directory or .tar.gz (see docs/snapshot-format.md) instead of "
             "the live cluster.")] = None,
    output: Annotated[ScanOutput, typer.Option("--output", "-o", help="Output format.")] =
        ScanOutput.table,
    report: Annotated[str | None, typer.Option(
        "--report", metavar="FILE", help="Also write the JSON report here (mode 0600).")] = None,
    metrics_file: Annotated[str | None, typer.Option(
        "--metrics-file", metavar="FILE",
        help="Also write Prometheus metrics here (mode 0644, atomic), e.g. for "
             "node-exporter's textfile collector.")] = None,
    pushgateway: Annotated[str | None, typer.Option(
        "--pushgateway", metavar="URL",
        help="Also push the metrics to this Pushgateway (job eipfsck, grouped by cluster "
             "UID); a failed push sets exit bit 8.")] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Lowest severity that sets exit bit 4.")] = FailOn.warning,
    only: Annotated[list[str] | None, typer.Option(
        "--only", metavar="ID", help="Show only these check ids (repeat or comma-separate).")]
        = None,
    skip: Annotated[list[str] | None, typer.Option(
        "--skip", metavar="ID", help="Hide these check ids (repeat or comma-separate).")] = None,
    subnet: Annotated[list[str] | None, typer.Option(
        "--subnet", metavar="NAME", help="Show only findings in these subnets.")] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Table: findings and the result line only; no progress.")]
        = False,
    controller_log: Annotated[str | None, typer.Option(
        "--controller-log", metavar="FILE|auto",
        help="A kube-ovn-controller log, or auto (the leader's log through the API, live "
             "scans only): names the IPAM key (former owner) of each leak.")]
        = None,
    since: Annotated[str, typer.Option(
        "--since", metavar="DURATION", help="With --controller-log auto: how much log to read.")]
        = "24h",
    external_gateway_switch: Annotated[str | None, typer.Option(
        help="The controller's --external-gateway-switch (default: from its Deployment, "
             "else external).")] = None,
    cluster_router: Annotated[str | None, typer.Option(
        help="The controller's --cluster-router (default: from its Deployment, else "
             "ovn-cluster).")] = None,
    node_switch: Annotated[str | None, typer.Option(
        help="The controller's --node-switch (default: from its Deployment, else join).")]
        = None,
    stuck_after: Annotated[int, typer.Option(
        min=0, max=MAX_STUCK_AFTER, metavar="MINUTES",
        help="Report owners terminating for longer than this.")] = 10,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = "60s",
    page_size: PageSizeOpt = 500,
    kube_ovn_namespace: NamespaceOpt = "kube-system",
    ovn_nb: OvnNbOpt = None,
    ovn_nb_private_key: NbKeyOpt = None,
    ovn_nb_certificate: NbCertOpt = None,
    ovn_nb_ca_cert: NbCaOpt = None,
    no_nb: NoNbOpt = False,
) -> None:
    """Scan for IPAM inconsistencies (read-only): the live cluster, or a saved snapshot."""
    from eipfsck.checks.catalogue import resolve_ids
    from eipfsck.pipeline import ScanOptions, scan
    from eipfsck.report import jsonfmt

    live = None
    log_file = controller_log
    if snapshot is not None:
        given = [f for f, v in (("--kubeconfig", kubeconfig), ("--context", context),
                                ("--no-nb", no_nb)) if v]
        if given:
            raise UsageError(f"{', '.join(given)}: only for live scans, not with --snapshot")
        if controller_log == "auto":
            raise UsageError("--controller-log auto reads the live cluster; with --snapshot "
                             "give the log file")
        # Not used with a snapshot, but a typo is still a typo: say so, as a live scan does.
        # Only a value given is checked: the defaults are valid, and the rule lives with the
        # Kubernetes client, which a snapshot scan does not otherwise load (~0.3 s).
        for flag, text, default in (("--request-timeout", request_timeout, "60s"),
                                    ("--since", since, "24h")):
            if text != default:
                from eipfsck.collect.kube import duration_seconds

                duration_seconds(text, flag)
    else:
        if controller_log == "auto":
            log_file = None
        live = _live_options(kubeconfig, context, request_timeout, page_size,
                             kube_ovn_namespace, ovn_nb, ovn_nb_private_key,
                             ovn_nb_certificate, ovn_nb_ca_cert, no_nb,
                             controller_log=controller_log == "auto", since=since)
    opts = ScanOptions(
        snapshot=snapshot, live=live, controller_log=log_file,
        only=resolve_ids(only or []), skip=resolve_ids(skip or []),
        subnets=[s for item in subnet or [] for s in item.split(",") if s],
        fail_on=fail_on.value,
        settings={"external_gateway_switch": external_gateway_switch,
                  "cluster_router": cluster_router, "node_switch": node_switch,
                  "namespace": kube_ovn_namespace if kube_ovn_namespace != "kube-system"
                  else None},
        stuck_after=timedelta(minutes=stuck_after),
    )
    if report is not None:
        jsonfmt.check_target(report)
    if metrics_file is not None:
        from eipfsck.report import metrics

        metrics.check_target(metrics_file)
    started = time.monotonic()
    with _progress(quiet) as bars:
        result = scan(opts, bars)
    duration = time.monotonic() - started
    _print_notes(result.notes)
    code = result.exit_code | _write_report(result.report, report) | _export_metrics(
        result.report, duration, metrics_file, pushgateway)
    if output is ScanOutput.table:
        from eipfsck.report import table
        from eipfsck.report.console import Stdout

        table.render(result.report, Stdout(), quiet=quiet)
    else:
        write = import_module(f"eipfsck.report.{WRITERS[output]}").write
        with plain_stdout():
            write(result.report, sys.stdout)
    raise typer.Exit(code)


def _write_report(report: dict[str, Any], path: str | None) -> int:
    """A report that cannot be written is a note and exit bit 8: the findings still print."""
    if path is None:
        return exitcodes.CLEAN
    from eipfsck.report import jsonfmt

    try:
        jsonfmt.write_file(report, path)
    except EipfsckError as exc:
        _print_notes([f"error: {exc.message}"])
        return exc.exit_code
    return exitcodes.CLEAN


def _export_metrics(report: dict[str, Any], duration: float, path: str | None,
                    url: str | None) -> int:
    """Write and push the metrics; a failure is a note and exit bit 8, never the end of
    the run: the findings are still printed."""
    if not path and not url:
        return exitcodes.CLEAN
    from eipfsck.report import metrics

    registry = metrics.build_registry(report, duration)
    code = exitcodes.CLEAN
    if path:
        try:
            metrics.write_file(metrics.exposition(registry), path)
        except EipfsckError as exc:
            _print_notes([f"error: {exc.message}"])
            code |= exc.exit_code
    if url:
        failure = metrics.push(registry, url, report["cluster"]["uid"])
        if failure:
            _print_notes([f"error: --pushgateway {metrics.display_url(url)}: metrics not "
                          f"pushed: {failure}"])
            code |= exitcodes.INCONCLUSIVE
    return code


@app.command("snapshot", cls=FastCommand, epilog=exitcodes.help_text("snapshot"))
def snapshot_cmd(
    out: Annotated[str, typer.Argument(
        metavar="OUT", help="Directory to create (or OUT.tar.gz with --tar).")],
    tar: Annotated[bool, typer.Option("--tar", help="Write one OUT.tar.gz file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")]
        = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = "60s",
    page_size: PageSizeOpt = 500,
    kube_ovn_namespace: NamespaceOpt = "kube-system",
    ovn_nb: OvnNbOpt = None,
    ovn_nb_private_key: NbKeyOpt = None,
    ovn_nb_certificate: NbCertOpt = None,
    ovn_nb_ca_cert: NbCaOpt = None,
    no_nb: NoNbOpt = False,
) -> None:
    """Save what a live scan reads, in the snapshot format, for a later `scan --snapshot`.

    Exits 8 when a source failed (the snapshot is still written and says so)."""
    from eipfsck.collect.live import collect_live
    from eipfsck.snapshot_writer import target_path, write_snapshot

    live = _live_options(kubeconfig, context, request_timeout, page_size, kube_ovn_namespace,
                         ovn_nb, ovn_nb_private_key, ovn_nb_certificate, ovn_nb_ca_cert, no_nb)
    target_path(out, tar)  # refuse a bad OUT before reading the whole cluster
    with _progress(quiet) as bars:
        result = collect_live(live, bars)
    path = write_snapshot(result.snapshot, out, tar)
    snap = result.snapshot
    bad = [s for s in snap.sources if s.state in ("failed", "partial")]
    if not quiet:
        _print_notes(result.notes)
        objects = sum(len(v) for v in snap.k8s.values())
        rows = sum(len(v) for v in (snap.nb or {}).values())
        typer.echo(f"wrote {path}: {objects} objects, {rows} NB rows"
                   + (f"; {len(bad)} source(s) failed or partial: "
                      + ", ".join(f"{s.name} ({s.state})" for s in bad) if bad else ""),
                   err=True)
    raise typer.Exit(exitcodes.INCONCLUSIVE if bad else exitcodes.CLEAN)


class _ConsoleUI:
    """The repair run's conversation with the operator: plan and progress on stdout, the
    prompt on the terminal, notes on stderr."""

    def __init__(self, out: Console, show: bool) -> None:
        self.out, self.show = out, show
        self.err = rich_stderr()
        self.quiet = False  # no notes from the reads (the repair's own notes stay)

    def show_plan(self, plan: Plan, sha256: str) -> None:
        from eipfsck.repair.render import render_plan

        if self.show:
            render_plan(plan, self.out, sha256)

    def confirm(self, plan: Plan, sha256: str) -> bool | None:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            return None
        if not self.show:  # -o json: stdout is the document, the plan goes with the question
            from eipfsck.repair.render import render_plan

            render_plan(plan, self.err, sha256)
        return typer.confirm(f"Apply these {len(plan.actions)} action(s)?", default=False,
                             err=True)

    def countdown(self, seconds: float, why: str) -> None:
        self.err.print(f"eipfsck: waiting {seconds:.0f} s before the second read ({why}); "
                       "Ctrl-C to stop")
        end = time.monotonic() + seconds
        tty = sys.stderr.isatty()
        while (left := end - time.monotonic()) > 0:
            if tty:
                self.err.print(f"\r  {left:4.0f} s left", end="")
            time.sleep(min(1.0, left))
        if tty:
            self.err.print("")

    def action_done(self, action: Action, result: ActionResult) -> None:
        from eipfsck.repair.render import render_result

        if self.show:
            render_result(action, result, self.out)

    def note(self, text: str) -> None:
        self.err.print(f"eipfsck: {text}")


@app.command("repair", cls=FastCommand, epilog=exitcodes.help_text("repair"))
def repair_cmd(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", "-n", help="Show the plan; change nothing.")] = False,
    plan_in: Annotated[str | None, typer.Option(
        "--plan", metavar="FILE", help="Apply this reviewed plan (re-verified first).")] = None,
    plan_out: Annotated[str | None, typer.Option(
        "--plan-out", metavar="FILE", help="Save the plan here (0600) and stop.")] = None,
    plan_sha256: Annotated[str | None, typer.Option(
        "--plan-sha256", metavar="HEX",
        help="With --plan: refuse the file unless its sha256 is this one (shown at "
             "review).")] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask (unattended runs); the safety gates still apply.")]
        = False,
    snapshot: Annotated[str | None, typer.Option(
        "--snapshot", "-s", metavar="PATH",
        help="Plan from a saved snapshot (review only: never applied).")] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="Output format.")] =
        Output.table,
    max_actions: Annotated[int, typer.Option(
        "--max-actions", min=0, metavar="N", help="At most this many actions per run.")] = 20,
    max_leak_ratio: Annotated[float, typer.Option(
        "--max-leak-ratio", min=0.0, max=1.0, metavar="R",
        help="Refuse a subnet when more than this share of its in-use addresses looks "
             "leaked.")] = 0.2,
    grace: Annotated[str, typer.Option(
        "--grace", metavar="DURATION",
        help="A leak is acted on only if a second read this long after the first agrees.")]
        = "2m",
    max_age: Annotated[str, typer.Option(
        "--max-age", metavar="DURATION", help="Refuse a --plan older than this.")] = "15m",
    allow_controller_restart: Annotated[bool, typer.Option(
        "--allow-controller-restart",
        help="Release leaks by deleting the kube-ovn-controller leader pod (a rebuild).")]
        = False,
    ack_hazards: Annotated[bool, typer.Option(
        "--ack-hazards", help="Accept the restore hazards the plan lists for a restart.")]
        = False,
    allow_resurrect: Annotated[bool, typer.Option(
        "--allow-resurrect",
        help="Release a leak with a known IPAM key by re-creating its OvnEip or Vip and "
             "deleting it normally.")] = False,
    journal: Annotated[str | None, typer.Option(
        "--journal", metavar="FILE",
        help="Append-only journal (default: $XDG_STATE_HOME/eipfsck/journal.jsonl).")] = None,
    wait_timeout: Annotated[str, typer.Option(
        "--wait-timeout", metavar="DURATION",
        help="How long to wait for the controller (new leader, status, resurrect).")] = "2m",
    controller_log: Annotated[str | None, typer.Option(
        "--controller-log", metavar="FILE|auto",
        help="A kube-ovn-controller log, or auto: names the IPAM key of each leak "
             "(needed by --allow-resurrect).")] = None,
    since: Annotated[str, typer.Option(
        "--since", metavar="DURATION", help="With --controller-log auto: how much log to read.")]
        = "24h",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = "60s",
    page_size: PageSizeOpt = 500,
    kube_ovn_namespace: NamespaceOpt = "kube-system",
    ovn_nb: OvnNbOpt = None,
    ovn_nb_private_key: NbKeyOpt = None,
    ovn_nb_certificate: NbCertOpt = None,
    ovn_nb_ca_cert: NbCaOpt = None,
    no_nb: NoNbOpt = False,
) -> None:
    """Repair what is safe to repair: plan, confirm, re-verify live, apply, journal.

    See docs/repair.md for every action, every refusal and the journal."""
    from eipfsck.collect.kube import duration_seconds
    from eipfsck.pipeline import ScanOptions
    from eipfsck.repair.journal import default_journal_path
    from eipfsck.repair.kubeapply import Waits
    from eipfsck.repair.options import RepairRequest, check_request
    from eipfsck.repair.plan import RepairPolicy
    from eipfsck.repair.planfile import plan_to_json
    from eipfsck.repair.render import render_plan, render_summary
    from eipfsck.repair.run import RepairOptions
    from eipfsck.repair.run import repair as run_repair
    from eipfsck.report import jsonfmt
    from eipfsck.report.console import Stdout

    durations = {flag: duration_seconds(text, flag)
                 for flag, text in (("--grace", grace), ("--max-age", max_age),
                                    ("--wait-timeout", wait_timeout))}
    request = RepairRequest(
        dry_run=dry_run, plan_in=plan_in, plan_out=plan_out, plan_sha256=plan_sha256,
        snapshot=snapshot is not None, controller_log_auto=controller_log == "auto",
        grace=timedelta(seconds=durations["--grace"]),
        policy_flags=tuple(flag for flag, value, default in (
            ("--max-actions", max_actions, 20), ("--max-leak-ratio", max_leak_ratio, 0.2),
            ("--grace", grace, "2m"),
            ("--allow-controller-restart", allow_controller_restart, False),
            ("--ack-hazards", ack_hazards, False), ("--allow-resurrect", allow_resurrect, False),
        ) if value != default))
    check_request(request)
    live = None
    if snapshot is None:
        live = _live_options(kubeconfig, context, request_timeout, page_size,
                             kube_ovn_namespace, ovn_nb, ovn_nb_private_key,
                             ovn_nb_certificate, ovn_nb_ca_cert, no_nb,
                             controller_log=controller_log == "auto", since=since)
    scan_opts = ScanOptions(
        snapshot=snapshot, live=live,
        controller_log=None if controller_log == "auto" else controller_log,
        settings={"namespace": kube_ovn_namespace if kube_ovn_namespace != "kube-system"
                  else None})
    wait = durations["--wait-timeout"]
    opts = RepairOptions(
        scan=scan_opts,
        policy=RepairPolicy(max_actions=max_actions, max_leak_ratio=max_leak_ratio,
                            grace=request.grace,
                            allow_controller_restart=allow_controller_restart,
                            ack_hazards=ack_hazards, allow_resurrect=allow_resurrect),
        max_age=timedelta(seconds=durations["--max-age"]), yes=yes,
        journal=journal or str(default_journal_path()),
        waits=Waits(leader=wait, status=wait, resurrect=wait))
    out = Stdout()
    ui = _ConsoleUI(out, show=output is Output.table)
    ui.quiet = quiet
    done = run_repair(request, opts, ui)
    plan = done.plan
    result = done.result
    if request.review_only or result is None:
        if not request.review_only:
            ui.note("the plan has no action: nothing to apply")
        if output is Output.json and request.review_only:
            with plain_stdout():
                jsonfmt.write(plan_to_json(plan), sys.stdout)
        elif output is Output.table:
            render_plan(plan, out, done.digest)
        if output is Output.json and request.plan_out is None:  # --plan-out said it
            ui.note(f"plan sha256 {done.digest}")
        raise typer.Exit(done.exit_code)
    touched = {s for a, r in result.results if r.outcome == "released"
               for s in [a.subnet, *a.preconditions.get("subnets", [])] if s}
    if output is Output.json:
        with plain_stdout():
            jsonfmt.write({
                "schema": "eipfsck/repair/v1", "plan": plan_to_json(plan),
                "plan_sha256": done.digest,
                "results": [{"id": a.id, "action": a.action, "target": a.target.as_json(),
                             "outcome": r.outcome, "detail": r.detail}
                            for a, r in result.results],
                "interrupted": result.interrupted,
                "after": result.after.report if result.after else None,
                "exit_code": result.exit_code}, sys.stdout)
    else:
        render_summary(result.counts(), result.before.report if result.before else None,
                       result.after.report if result.after else None, touched, out,
                       result.interrupted)
    raise typer.Exit(result.exit_code)


@app.command("doctor", cls=FastCommand, epilog=exitcodes.help_text("doctor"))
def doctor_cmd(
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = "60s",
    kube_ovn_namespace: NamespaceOpt = "kube-system",
    ovn_nb: OvnNbOpt = None,
    ovn_nb_private_key: NbKeyOpt = None,
    ovn_nb_certificate: NbCertOpt = None,
    ovn_nb_ca_cert: NbCaOpt = None,
    no_nb: NoNbOpt = False,
) -> None:
    """Check access before a scan: kubeconfig, API server, RBAC for scan and repair, Kube-OVN,
    the northbound DB. One line each, every check listed (ok, fail, skip and why, note); a
    failure exits as the scan would for the same problem."""
    from eipfsck.doctor import exit_code as doctor_exit_code
    from eipfsck.doctor import run_doctor
    from eipfsck.report.console import Stdout

    live = _live_options(kubeconfig, context, request_timeout, 500, kube_ovn_namespace,
                         ovn_nb, ovn_nb_private_key, ovn_nb_certificate, ovn_nb_ca_cert, no_nb)
    checks = run_doctor(live)
    out = Stdout()
    for c in checks:
        out.print(f"{c.status:<4} {c.name}: {c.detail}")
    _print_notes([f"hint: {c.hint}" for c in checks if c.status == "fail" and c.hint])
    raise typer.Exit(doctor_exit_code(checks))


@app.command("checks", cls=FastCommand, epilog=exitcodes.help_text("checks"))
def checks_cmd(
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.table,
) -> None:
    """List every check: id, default severity, one line."""
    from eipfsck.checks.catalogue import CATALOGUE

    if output is Output.json:
        import json  # ~5 ms: only for -o json

        text = json.dumps([
            {"id": c.id, "class": c.cls, "severity": c.severity, "title": c.title,
             "severity_when": [{"severity": sev, "when": cond} for sev, cond in c.severity_when],
             "repairable": c.repairable, "needs": c.needs, "implemented": c.implemented}
            for c in CATALOGUE], indent=2)
    else:
        width = max(len(c.id) for c in CATALOGUE)
        text = "\n".join(f"{c.id:<{width}}  {c.severity:<7}  {c.title}"
                         + ("" if c.implemented else " (not implemented yet)")
                         + "".join(f" [{sev} when {cond}]" for sev, cond in c.severity_when)
                         for c in CATALOGUE)
    with plain_stdout():
        typer.echo(text)


@app.command("explain", cls=FastCommand, epilog=exitcodes.help_text("explain"))
def explain_cmd(check_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Explain one check: what it means, the evidence it gives, the safe remedy."""
    from eipfsck.checks.catalogue import BY_ID, resolve_ids

    (cid,) = resolve_ids([check_id])
    c = BY_ID[cid]
    width = min(shutil.get_terminal_size((80, 24)).columns, 100)

    def para(text: str) -> str:
        if not sys.stdout.isatty():  # piped: one paragraph, one line, for grep
            return "  " + text
        return textwrap.fill(text, width, initial_indent="  ", subsequent_indent="  ",
                             break_on_hyphens=False, break_long_words=False)

    lines = [
        f"{c.id} ({c.cls}), default severity {c.severity_text()}"
        + ("" if c.implemented else " — not implemented yet"),
        "",
        c.title, "",
        "Why it happens:", para(c.explanation), "",
        "Evidence in each finding:", para(c.evidence), "",
        "What to do:", para(c.remedy), "",
        "eipfsck repair can act on it: " + ("yes, after re-verification" if c.repairable
                                            else "no, a human decides"),
    ]
    with plain_stdout():
        typer.echo("\n".join(lines))


def _is_usage_error(exc: Exception) -> bool:
    # typer raises click's UsageError, vendored (typer._click) in recent releases and
    # from click in older ones; match it by name rather than by module.
    return any(c.__name__ == "UsageError" for c in type(exc).__mro__) and hasattr(
        exc, "format_message")


def main(argv: list[str] | None = None, prog_name: str = "eipfsck") -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except EipfsckError as exc:
        stderr_line(f"eipfsck: error: {visible(exc.message)}")
        if exc.hint:
            stderr_line(f"eipfsck: hint: {visible(exc.hint)}")
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        stderr_line("eipfsck: interrupted")
        code = exitcodes.REFUSED
    except BrokenPipeError:
        # The reader (head, less) went away from output that carries no verdict (--help):
        # a command's result goes through Stdout or plain_stdout, which keep the exit code
        # the run earned.
        reader_gone()
        code = exitcodes.CLEAN
    except Exception as exc:  # a bug: one line, never locals (they may hold credentials)
        if _is_usage_error(exc):
            text = exc.format_message()  # type: ignore[attr-defined]
            if type(exc).__name__ == "NoArgsIsHelpError":
                stderr_line(text)
                sys.exit(exitcodes.USAGE)
            stderr_line(f"eipfsck: usage error: {text}")
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                stderr_line(f"Try '{ctx.command_path} --help'.")
            sys.exit(exitcodes.USAGE)
        if os.environ.get("EIPFSCK_DEBUG"):
            raise
        stderr_line(f"eipfsck: internal error: {type(exc).__name__}: {visible(str(exc))}")
        stderr_line("eipfsck: hint: this is a bug; rerun with EIPFSCK_DEBUG=1 for the "
                    "traceback and report it")
        code = exitcodes.INCONCLUSIVE
    sys.exit(code if isinstance(code, int) else 0)


# kubectl's global flags that a plugin user types before the subcommand, as they would for
# any kubectl command; kubectl passes them through untouched. -n/--namespace is kubectl's
# namespace, which for eipfsck means Kube-OVN's (after the subcommand, -n is --dry-run).
_KUBECTL_FLAGS = {"--kubeconfig": "--kubeconfig", "--context": "--context",
                  "--request-timeout": "--request-timeout", "-n": "--kube-ovn-namespace",
                  "--namespace": "--kube-ovn-namespace"}


def _takes(command: str, option: str) -> bool:
    """Whether `command` has `option`; an unknown command is left for click to name."""
    cmd = getattr(typer.main.get_command(app), "commands", {}).get(command)
    return cmd is None or any(option in p.opts for p in cmd.params)


def plugin_args(argv: list[str]) -> list[str]:
    """`kubectl eipfsck --context prod scan -o json` → `scan -o json --context prod`.

    A flag goes only to a command that takes it; for one that reads no cluster (checks,
    explain) it is dropped, as kubectl ignores -n for a cluster-scoped kind: the user did
    not type the option it would become."""
    moved: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        flag, eq, value = argv[i].partition("=")
        if flag not in _KUBECTL_FLAGS:
            break
        if eq:
            moved.append((_KUBECTL_FLAGS[flag], value))
            i += 1
        elif i + 1 < len(argv):
            moved.append((_KUBECTL_FLAGS[flag], argv[i + 1]))
            i += 2
        else:
            break
    rest = argv[i:]
    if not moved or not rest or rest[0].startswith("-"):
        return argv  # nothing to move, or no subcommand to move it behind: let usage say so
    kept = [x for option, value in moved if _takes(rest[0], option) for x in (option, value)]
    return [rest[0], *kept, *rest[1:]]


def kubectl_main() -> None:
    """Entry point of the `kubectl-eipfsck` plugin (kubectl finds it on PATH)."""
    main(plugin_args(sys.argv[1:]), prog_name="kubectl eipfsck")
