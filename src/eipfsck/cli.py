"""The command line: options in, pipeline, one rendering out, one exit code.

Every error an operator can cause ends here as one line on stderr and the
documented exit code, never as a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from eipfsck import __version__, exitcodes
from eipfsck.checks.catalogue import BY_ID, CATALOGUE, resolve_ids
from eipfsck.errors import EipfsckError
from eipfsck.pipeline import ScanOptions, scan
from eipfsck.report import jsonfmt, table

app = typer.Typer(
    name="eipfsck",
    help="Audit (and soon repair) Kube-OVN IP address management: leaked EIPs, orphan OVN "
         "rows, stale subnet status.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
)


class Output(StrEnum):
    table = "table"
    json = "json"


class FailOn(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"
    never = "never"


EXIT_HELP = "Exit codes (bits, added): " + "; ".join(f"{c} {t}" for c, t in exitcodes.TABLE)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"eipfsck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


@app.command("scan", epilog=EXIT_HELP)
def scan_cmd(
    snapshot: Annotated[str | None, typer.Option(
        "--snapshot", "-s", metavar="PATH",
        help="Snapshot directory or .tar.gz (see docs/snapshot-format.md).")] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="Output format.")] =
        Output.table,
    report: Annotated[str | None, typer.Option(
        "--report", metavar="FILE", help="Also write the JSON report here (mode 0600).")] = None,
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
        "--quiet", "-q", help="Table: findings and the result line only.")] = False,
    controller_log: Annotated[str | None, typer.Option(
        "--controller-log", metavar="FILE",
        help="A kube-ovn-controller log: names the IPAM key (former owner) of each leak.")]
        = None,
    external_gateway_switch: Annotated[str | None, typer.Option(
        help="The controller's --external-gateway-switch (default: external).")] = None,
    cluster_router: Annotated[str | None, typer.Option(
        help="The controller's --cluster-router (default: ovn-cluster).")] = None,
    node_switch: Annotated[str | None, typer.Option(
        help="The controller's --node-switch (default: join).")] = None,
    stuck_after: Annotated[int, typer.Option(
        metavar="MINUTES", help="Report owners terminating for longer than this.")] = 10,
) -> None:
    """Scan for IPAM inconsistencies (read-only)."""
    opts = ScanOptions(
        snapshot=snapshot, controller_log=controller_log,
        only=resolve_ids(only or []), skip=resolve_ids(skip or []),
        subnets=[s for item in subnet or [] for s in item.split(",") if s],
        fail_on=fail_on.value,
        settings={"external_gateway_switch": external_gateway_switch,
                  "cluster_router": cluster_router, "node_switch": node_switch},
        stuck_after=timedelta(minutes=stuck_after),
    )
    result = scan(opts)
    if report:
        jsonfmt.write_file(result.report, report)
    if output is Output.json:
        jsonfmt.write(result.report, sys.stdout)
    else:
        # Object names and IPv6 text must print literally: no markup, no emoji codes
        # (rich turns "fd00:100::" into an emoji otherwise).
        table.render(result.report, Console(highlight=False, markup=False, emoji=False),
                     quiet=quiet)
    raise typer.Exit(result.exit_code)



@app.command("checks")
def checks_cmd(
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.table,
) -> None:
    """List every check: id, default severity, one line."""
    if output is Output.json:
        typer.echo(json.dumps([
            {"id": c.id, "class": c.cls, "severity": c.severity, "title": c.title,
             "repairable": c.repairable, "needs": c.needs, "implemented": c.implemented}
            for c in CATALOGUE], indent=2))
        return
    width = max(len(c.id) for c in CATALOGUE)
    for c in CATALOGUE:
        note = "" if c.implemented else " (not implemented yet)"
        typer.echo(f"{c.id:<{width}}  {c.severity:<7}  {c.title}{note}")


@app.command("explain")
def explain_cmd(check_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Explain one check: what it means, the evidence it gives, the safe remedy."""
    (cid,) = resolve_ids([check_id])
    c = BY_ID[cid]
    width = min(shutil.get_terminal_size((80, 24)).columns, 100)

    def para(text: str) -> str:
        return textwrap.fill(text, width, initial_indent="  ", subsequent_indent="  ",
                             break_on_hyphens=False, break_long_words=False)

    lines = [
        f"{c.id} ({c.cls}), default severity {c.severity}"
        + ("" if c.implemented else " — not implemented yet"),
        "",
        c.title, "",
        "Why it happens:", para(c.explanation), "",
        "Evidence in each finding:", para(c.evidence), "",
        "What to do:", para(c.remedy), "",
        "eipfsck repair can act on it: " + ("yes, after re-verification" if c.repairable
                                            else "no, a human decides"),
    ]
    typer.echo("\n".join(lines))


def _is_usage_error(exc: Exception) -> bool:
    # typer raises click's UsageError, vendored (typer._click) in recent releases and
    # from click in older ones; match it by name rather than by module.
    return any(c.__name__ == "UsageError" for c in type(exc).__mro__) and hasattr(
        exc, "format_message")


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    try:
        code = command.main(args=argv, prog_name="eipfsck", standalone_mode=False)
    except EipfsckError as exc:
        err.print(f"eipfsck: error: {exc.message}", markup=False)
        if exc.hint:
            err.print(f"eipfsck: hint: {exc.hint}", markup=False)
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("eipfsck: interrupted", markup=False)
        code = exitcodes.REFUSED
    except BrokenPipeError:
        # The reader (head, less) went away: not our error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = exitcodes.CLEAN
    except Exception as exc:  # a bug: one line, never locals (they may hold credentials)
        if _is_usage_error(exc):
            text = exc.format_message()  # type: ignore[attr-defined]
            if type(exc).__name__ == "NoArgsIsHelpError":
                err.print(text, markup=False)
                sys.exit(exitcodes.USAGE)
            err.print(f"eipfsck: usage error: {text}", markup=False)
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                err.print(f"Try '{ctx.command_path} --help'.", markup=False)
            sys.exit(exitcodes.USAGE)
        if os.environ.get("EIPFSCK_DEBUG"):
            raise
        err.print(f"eipfsck: internal error: {type(exc).__name__}: {exc}", markup=False)
        err.print("eipfsck: hint: this is a bug; rerun with EIPFSCK_DEBUG=1 for the "
                  "traceback and report it", markup=False)
        code = exitcodes.INCONCLUSIVE
    sys.exit(code if isinstance(code, int) else 0)
