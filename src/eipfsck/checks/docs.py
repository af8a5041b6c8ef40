"""docs/checks.md, produced from the catalogue (python -m eipfsck.checks.docs FILE).

A test compares the committed file with this output, so the reference cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from eipfsck import exitcodes
from eipfsck.checks.catalogue import CATALOGUE


def render() -> str:
    out = [
        "# Checks",
        "",
        "<!-- Generated from src/eipfsck/checks/catalogue.py by "
        "`python -m eipfsck.checks.docs docs/checks.md`; do not edit by hand. -->",
        "",
        "Every finding carries one of these ids. Ids are stable: put them in `--skip`, "
        "`--only` and alerts. `eipfsck explain ID` prints the same text. The class (C01 … C19) "
        "and the Kube-OVN rule behind each check are in [kube-ovn.md](kube-ovn.md).",
        "",
        "| id | class | default severity | repair may act | title |",
        "|---|---|---|---|---|",
    ]
    for c in CATALOGUE:
        note = "" if c.implemented else " (not implemented yet)"
        out.append(f"| `{c.id}` | {c.cls} | {c.severity} | {'yes' if c.repairable else 'no'} "
                   f"| {c.title}{note} |")
    out += ["", "A finding's severity differs from its check's default only for a reason the "
            "check lists below (for example, an orphan NB row is an error when its IP is "
            "marked available: the next allocation would duplicate it); the finding then says "
            "why, in its `severity_reason`.", ""]
    for c in CATALOGUE:
        out += [f"## `{c.id}`", "", f"**{c.title}** ({c.cls}, {c.severity_text()}"
                + ("" if c.implemented else ", not implemented yet") + ")", "",
                f"*Why it happens.* {c.explanation}", "",
                f"*Evidence.* {c.evidence}", "",
                f"*What to do.* {c.remedy}", ""]
    out += ["## Exit codes", "", "Bits, added together (the same whatever `-o` is):", ""]
    out += [f"- `{code}`: {text}" for code, text in exitcodes.TABLE]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m eipfsck.checks.docs FILE", file=sys.stderr)
        return 16
    Path(argv[1]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
