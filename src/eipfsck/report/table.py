"""The human format: a per-subnet summary and the findings grouped by subnet.

Written for an operator reading it on an 80-column terminal or in a log: every
finding says what, the evidence says why, and "What to do" says how to fix it.
Colour and wrapping only on a terminal; piped, plain text with one line per finding,
message or evidence item, never wrapped (for grep), as kubectl prints.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from eipfsck.checks.catalogue import BY_ID
from eipfsck.report.console import print_hanging
from eipfsck.report.escape import visible_tree

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _para(console: Console, text: str, indent: int, style: str = "",
          first: str = "", hang: int = 0) -> None:
    """On a terminal, wrap to its width with a hanging indent and no trailing blanks."""
    if console.is_terminal:
        width = max(console.width - indent, 20)
        lines = textwrap.wrap(first + text, width=width, break_on_hyphens=False,
                              break_long_words=False, subsequent_indent=" " * hang) or [""]
    else:  # piped: never wrapped, so grep finds the whole finding on one line
        lines = [first + text]
    for i, line in enumerate(lines):
        out = Text(" " * indent)
        if i == 0 and first:
            out.append(first.rstrip(), style="bold")
            out.append(line[len(first.rstrip()):], style=style)
        else:
            out.append(line, style=style)
        console.print(out, highlight=False, soft_wrap=True)


def _num(value: int | None) -> str:
    if value is None:
        return "-"
    if value >= 10**7:
        return f"{value:.1e}".replace("e+", "e")
    return str(value)


def _nb_rows(rows: list[dict[str, Any]]) -> str:
    names = list(dict.fromkeys(f"{r['kind']} {r['name']}" for r in rows))
    return ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")


def evidence_lines(f: dict[str, Any]) -> list[str]:
    """The few evidence items that make a finding believable at a glance."""
    ev = f["evidence"]
    out: list[str] = []
    if "status_range" in ev:
        sr = ev["status_range"]
        out.append(f"status: {sr['field']} contains {sr['interval']}")
    if "former_owner" in ev:
        log = ev.get("controller_log", {})
        out.append(f"former owner: {ev['former_owner']} (key {ev['ipam_key']!r}, "
                   f"{log.get('file', 'log')}:{log.get('line', '?')})")
    if f["check"] == "leaked-ip":
        out.append("searched: " + ", ".join(ev.get("owners_searched", [])))
        if ev.get("ranges"):
            out.append(f"ranges: {ev['ranges']}")
    if "paired_owner" in ev:
        out.append(f"paired with {ev['paired_owner']['kind']} {ev['paired_owner']['name']}, "
                   + (f"real IPv6 {', '.join(ev['owner_real_ipv6'])} is available"
                      if ev.get("owner_real_ipv6") else
                      f"key {ev.get('owner_ipam_key')!r}, by {ev.get('paired_by')}"))
    if ev.get("pairing_ambiguous"):
        out.append(f"pairing is a guess: {ev['pairing_ambiguous']}")
    for key in ("causes", "blocked_by"):
        value = ev.get(key)
        if value:
            items = value if isinstance(value, list) else [value]
            out.extend(f"{key.replace('_', ' ')}: {v}" for v in items)
    if ev.get("owner_looked_for"):
        out.append(f"owner looked for: {ev['owner_looked_for']}")
    if ev.get("addresses_marked_available"):
        out.append("marked available: " + ", ".join(ev["addresses_marked_available"]))
    if ev.get("columns"):
        cols = {k: v for k, v in ev["columns"].items() if v not in (None, "", [], {})}
        out.append("row: " + ", ".join(f"{k}={v}" for k, v in cols.items()))
    if ev.get("delta"):
        bad = [d for d in ev["delta"] if not d.get("legitimate")]
        ok = [d for d in ev["delta"] if d.get("legitimate")]
        for d in bad[:6]:
            who = " ".join(x for x in (d.get("ip"), d.get("object")) if x)
            out.append(f"{d['delta']} {who}: {d['reason']}")
        if len(bad) > 6:
            out.append(f"… {len(bad) - 6} more")
        if ok:
            out.append(f"legitimate: {len(ok)} ({ok[0]['reason']})")
    if ev.get("recount"):
        out.append(f"recount: {ev['recount']}")
    if ev.get("nb_rows"):
        out.append(f"NB rows: {_nb_rows(ev['nb_rows'])}")
    if "confirmed" in ev and not ev["confirmed"]:
        out.append("not confirmed: one observation (repair needs two, a grace period apart)")
    return out


def render(report: dict[str, Any], console: Console, quiet: bool = False) -> None:
    report = visible_tree(report)  # names are data: no escape sequence reaches the terminal
    summary = report["summary"]
    cluster = report["cluster"]
    if not quiet:
        _para(console, f"· {report['input']} · captured {report['captured_at']}", 0,
              first="eipfsck scan ", hang=2)
        _para(console, f"cluster {cluster['uid'] or 'unknown'} · Kube-OVN "
                       f"{cluster['kube_ovn_version'] or 'unknown'} "
                       f"({cluster['version_source']}) · leader "
                       f"{cluster['controller_leader'] or 'unknown'}", 0, hang=2)
        console.print()
        _subnet_table(report, console)
    _findings(report, console, quiet)
    if not quiet:
        _footer(report, console)
    console.print(_result_line(summary, report), highlight=False)


def _subnet_table(report: dict[str, Any], console: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), title="Subnets",
                  title_justify="left", title_style="bold")
    table.add_column("subnet", no_wrap=True, overflow="ellipsis",
                     max_width=24 if console.is_terminal else None)
    table.add_column("cidr", overflow="fold")
    for col in ("size", "excl", "using", "avail", "owned", "leaked"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in report["subnets"]:
        for i, fam in enumerate(s["families"]):
            leaked = fam["leaked"]
            table.add_row(
                s["name"] if i == 0 else "", fam["cidr"],
                _num(fam["size"]), _num(fam["excluded"]), _num(fam["using"]),
                _num(fam["available"]), _num(fam["owned"]),
                Text(_num(leaked), style="bold red" if leaked else ""),
            )
        if not s["families"]:
            table.add_row(s["name"], "(no CIDR)", "", "", "", "", "", "")
    console.print(table)


def _findings(report: dict[str, Any], console: Console, quiet: bool) -> None:
    findings = report["findings"]
    sev = report["summary"]["by_severity"]
    console.print(Text(f"Findings: {len(findings)} ({sev['error']} error, {sev['warning']} "
                       f"warning, {sev['info']} info)", style="bold"))
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f["subnet"] or "(not in a subnet)", []).append(f)
    for subnet, items in groups.items():
        console.print()
        console.print(Text(subnet, style="bold underline"))
        for f in items:
            line = Text("  ")
            line.append(f"{f['severity'].upper():<7}", style=SEVERITY_STYLE[f["severity"]])
            line.append(f" {f['check']}")
            if f["ip"]:
                line.append(f"  {f['ip']}", style="bold")
            if f.get("severity_reason"):  # not the catalogue's severity: say why
                line.append(f"  ({f['severity']}: {f['severity_reason']})")
            print_hanging(console, line, 10)
            _para(console, f["message"], 4)
            if not quiet:
                for ev in evidence_lines(f):
                    _para(console, "· " + ev, 6, "dim", hang=2)


def _footer(report: dict[str, Any], console: Console) -> None:
    seen = list(dict.fromkeys(f["check"] for f in report["findings"]))
    if seen:
        console.print()
        console.print(Text("What to do", style="bold"))
        for cid in seen:
            _para(console, BY_ID[cid].remedy, 2, first=f"{cid}: ")
        _para(console, "`eipfsck explain ID` tells more about each check.", 2, "dim")
        if any(f["repairable"] for f in report["findings"]):
            _para(console, "`eipfsck repair --dry-run` shows which of these repair would act "
                  "on, and why it leaves the others.", 2, "dim")
    skipped = report["checks"]["skipped"]
    if skipped:
        console.print()
        console.print(Text("Not checked", style="bold"))
        for s in skipped:
            _para(console, s["reason"], 2, first=f"{s['check']}: ")
    if report["absent"]:
        _para(console, ", ".join(report["absent"]), 0,
              first="Absent from the input (treated as: none exist): ", hang=2)
    if report["inconclusive"]:
        console.print()
        console.print(Text("Inconclusive", style="bold red"))
        for r in report["inconclusive"]:
            _para(console, r, 2)
    console.print()


def _result_line(summary: dict[str, Any], report: dict[str, Any]) -> Text:
    code = summary["exit_code"]
    parts = []
    if code & 4:
        parts.append(f"findings at or above {summary['fail_on']}")
    if code & 8:
        parts.append("inconclusive")
    if summary["suppressed"]:
        parts.append(f"{summary['suppressed']} finding(s) hidden by --only/--skip/--subnet")
    text = Text(f"exit {code}", style="bold")
    text.append(": " + ("; ".join(parts) if parts else "clean"))
    return text
