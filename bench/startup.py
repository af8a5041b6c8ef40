#!/usr/bin/env python3
"""Start-up time of the commands that should answer at once: fresh processes, wall time.

    python3 bench/startup.py [--repeat 30] [--compare SRC_DIR [--compare-label NAME]]

Each row is a fresh `python -m eipfsck ARGS` (stdout and stderr to /dev/null), run
--repeat times; the rows take turns, so a burst of load on the machine hits every row
alike. Reported: the exit code, and the best and median wall time. Baselines in the same
run: the interpreter alone (`python -c pass`), the CLI framework alone (`import typer`),
and `kubectl version --client` when kubectl is on PATH.

--compare SRC_DIR measures another version of eipfsck in the same run, e.g. the commit
before a change (`git archive REV src | tar -x -C /tmp/old`, then `--compare /tmp/old/src`):
its rows run with PYTHONPATH=SRC_DIR, with the same interpreter and libraries.

The output is Markdown, ready for docs/performance.md; nothing here is a test and no
timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from run_scan import machine

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "examples" / "healthy-cluster"

# (label, eipfsck arguments): the fast paths of issue 14, then a small scan for reference.
COMMANDS: list[tuple[str, list[str]]] = [
    ("`eipfsck --version`", ["--version"]),
    ("`eipfsck --help`", ["--help"]),
    ("`eipfsck scan --help`", ["scan", "--help"]),
    ("`eipfsck checks`", ["checks"]),
    ("`eipfsck explain leaked-ip`", ["explain", "leaked-ip"]),
    ("usage error: `eipfsck scan --no-such-option`", ["scan", "--no-such-option"]),
    ("usage error: `eipfsck scan -o csv`", ["scan", "-o", "csv"]),
    ("usage error: `eipfsck explain no-such-check`", ["explain", "no-such-check"]),
    ("for reference: `eipfsck scan --snapshot examples/healthy-cluster`",
     ["scan", "--snapshot", str(SNAPSHOT)]),
]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=env, cwd=ROOT, check=False)
    return time.perf_counter() - t0, proc.returncode


def measure(rows: list[tuple[str, list[str], dict[str, str]]], repeat: int
            ) -> dict[str, tuple[list[float], int]]:
    times: dict[str, list[float]] = {label: [] for label, _, _ in rows}
    codes: dict[str, int] = {}
    for i in range(repeat):
        for label, argv, env in rows:
            took, code = run_once(argv, env)
            times[label].append(took)
            codes[label] = code
        print(f"startup: round {i + 1}/{repeat}", file=sys.stderr)
    return {label: (times[label], codes[label]) for label in times}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=30, help="fresh processes per row")
    ap.add_argument("--compare", metavar="SRC_DIR", type=Path,
                    help="another eipfsck source tree (its src/ directory) to measure too")
    ap.add_argument("--compare-label", default="before", metavar="NAME")
    args = ap.parse_args(argv)

    py = sys.executable
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EIPFSCK_DEBUG")}
    base["COLUMNS"] = "80"
    here = {**base, "PYTHONPATH": str(ROOT / "src")}
    rows: list[tuple[str, list[str], dict[str, str]]] = [
        ("floor: `python -c pass`", [py, "-c", "pass"], base),
        ("floor: `python -c 'import typer'`", [py, "-c", "import typer"], base),
    ]
    kubectl = shutil.which("kubectl")
    if kubectl:
        rows.append(("baseline: `kubectl version --client`", [kubectl, "version", "--client"],
                     base))
    for label, cmd in COMMANDS:
        rows.append((label, [py, "-m", "eipfsck", *cmd], here))
        if args.compare:
            rows.append((f"{label} ({args.compare_label})", [py, "-m", "eipfsck", *cmd],
                         {**base, "PYTHONPATH": str(args.compare.resolve())}))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = measure(rows, args.repeat)

    print(f"Machine: {machine()}; typer {version('typer')}, rich {version('rich')}; "
          f"load average {load:.2f} at the start.\n")
    print(f"Each figure: {args.repeat} fresh processes, wall time, stdout and stderr to "
          "/dev/null; the rows took turns.\n")
    print("| command | exit | best (ms) | median (ms) |")
    print("|---|---:|---:|---:|")
    for label, _, _ in rows:
        times, code = results[label]
        print(f"| {label} | {code} | {ms(min(times))} | {ms(statistics.median(times))} |")
    if kubectl:
        said = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True,
                              check=False).stdout.splitlines()
        print(f"\nkubectl: {kubectl}, {said[0] if said else 'version unknown'}.")
    else:
        print("\nNo kubectl on PATH: no kubectl baseline in this run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
