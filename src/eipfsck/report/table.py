"""The human format: a per-subnet summary and the findings grouped by subnet.

Written for an operator reading it on an 80-column terminal or in a log: every
finding says what, the evidence says why, and "What to do" says how to fix it.
Colour only on a terminal; plain text when piped.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from eipfsck.checks.catalogue import BY_ID

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _num(value: int | None) -> str:
    if value is None:
        return "-"
    if value >= 10**7:
        return f"{value:.1e}".replace("e+", "e")
    return str(value)


def _nb_rows(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['kind']} {r['name']}" for r in rows[:4]) + (
        f" (+{len(rows) - 4})" if len(rows) > 4 else "")


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
                   f"real IPv6 {', '.join(ev['owner_real_ipv6'])} is available")
    for key in ("causes", "blocked_by", "gap"):
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
            out.append(f"{d['delta']} {d.get('ip') or ''} {d.get('object') or ''}: "
                       f"{d['reason']}".replace("  ", " "))
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
    summary = report["summary"]
    cluster = report["cluster"]
    if not quiet:
        head = Text("eipfsck scan", style="bold")
        head.append(f" · {report['input']} · captured {report['captured_at']}")
        console.print(head)
        console.print(f"cluster {cluster['uid'] or 'unknown'} · Kube-OVN "
                      f"{cluster['kube_ovn_version'] or 'unknown'} "
                      f"({cluster['version_source']}) · leader "
                      f"{cluster['controller_leader'] or 'unknown'}", highlight=False)
        console.print()
        _subnet_table(report, console)
    _findings(report, console, quiet)
    if not quiet:
        _footer(report, console)
    console.print(_result_line(summary, report), highlight=False)


def _subnet_table(report: dict[str, Any], console: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Subnets", title_justify="left",
                  title_style="bold")
    for col, justify in (("subnet", "left"), ("fam", "left"), ("cidr", "left"),
                         ("size", "right"), ("excl", "right"), ("using", "right"),
                         ("avail", "right"), ("owned", "right"), ("leaked", "right")):
        table.add_column(col, justify=justify, no_wrap=col != "subnet",
                         overflow="fold")
    for s in report["subnets"]:
        for i, fam in enumerate(s["families"]):
            leaked = fam["leaked"]
            table.add_row(
                s["name"] if i == 0 else "", fam["family"].replace("ip", ""), fam["cidr"],
                _num(fam["size"]), _num(fam["excluded"]), _num(fam["using"]),
                _num(fam["available"]), _num(fam["owned"]),
                Text(_num(leaked), style="bold red" if leaked else ""),
            )
        if not s["families"]:
            table.add_row(s["name"], "-", "(no CIDR)", "", "", "", "", "", "")
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
            console.print(line)
            console.print(Padding(Text(f["message"]), (0, 0, 0, 4), expand=False))
            if not quiet:
                for ev in evidence_lines(f):
                    console.print(Padding(Text("· " + ev, style="dim"), (0, 0, 0, 6), expand=False))


def _footer(report: dict[str, Any], console: Console) -> None:
    seen = list(dict.fromkeys(f["check"] for f in report["findings"]))
    if seen:
        console.print()
        console.print(Text("What to do", style="bold"))
        for cid in seen:
            console.print(Padding(Text(f"{cid}: ", style="bold").append(BY_ID[cid].remedy,
                                                                        style=""),
                                  (0, 0, 0, 2), expand=False))
        console.print(Text("  `eipfsck explain ID` tells more about each check.", style="dim"))
    skipped = report["checks"]["skipped"]
    if skipped:
        console.print()
        console.print(Text("Not checked", style="bold"))
        for s in skipped:
            console.print(Padding(Text(f"{s['check']}: {s['reason']}"), (0, 0, 0, 2), expand=False))
    if report["absent"]:
        console.print(Padding(Text("Absent from the input (treated as: none exist): "
                                   + ", ".join(report["absent"])), (0, 0, 0, 0), expand=False))
    if report["inconclusive"]:
        console.print()
        console.print(Text("Inconclusive", style="bold red"))
        for r in report["inconclusive"]:
            console.print(Padding(Text(r), (0, 0, 0, 2), expand=False))
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
