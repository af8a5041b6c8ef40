#!/usr/bin/env python3
"""Measure `eipfsck scan` on a snapshot against the floor of merely parsing it.

    python3 bench/run_scan.py [--snapshot DIR] [--repeat 3] [--scale] [--subnet-size-check]
                              [--layout indented|compact|slim]

Measurements per snapshot, each repeated:
  floor  a fresh Python process that json.loads every file of the snapshot (and keeps the
         parsed documents, as a loader would) and nothing else; once more with the cyclic GC
         off, the pure parsing cost;
  scan   `eipfsck scan --snapshot DIR -o json`, stdout to a temporary file.
Each run happens inside its own small wrapper process, because getrusage(RUSAGE_CHILDREN)
reports the maximum over every child a process ever waited for: one wrapper per run gives one
run's peak RSS. Without --snapshot, a snapshot is generated with gen_snapshot.py defaults, in
one of three layouts: `indented` (kubectl get -o json), `compact` (the API server's own
bytes, as curl or a client writes them) or `slim` (written by eipfsck's snapshot writer:
only the fields the model reads, compact; nearly every byte is read, so the parser cannot skip
anything).
The output is Markdown, ready for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
GENERATOR = BENCH_DIR / "gen_snapshot.py"

# Runs CMD with stdout to OUT, then prints wall time and the child's peak RSS as JSON.
WRAPPER = r"""
import json, resource, subprocess, sys, time
out_path, cmd = sys.argv[1], sys.argv[2:]
with open(out_path, "wb") as out:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.buffer.write(proc.stderr[-4000:])
print(json.dumps({"wall": wall, "maxrss_kb": usage.ru_maxrss, "rc": proc.returncode}))
"""

# The floor: parse every JSON file, keep the documents, print how many objects they hold.
# With "nogc", CPython's cyclic GC is off: its full collections walk every object parsed so
# far, which makes plain json.load superlinear on a 300 MB pods.json.
FLOOR = r"""
import gc, json, sys
from pathlib import Path
if sys.argv[2:] == ["nogc"]:
    gc.disable()
docs, objects = [], 0
for path in sorted(Path(sys.argv[1]).rglob("*.json")):
    with path.open("rb") as f:
        doc = json.load(f)
    docs.append(doc)
    if isinstance(doc, dict):
        objects += len(doc.get("items") or doc.get("data") or [])
print(objects)
"""


@dataclass
class Runs:
    """Repeated runs of one command on one snapshot."""

    walls: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    rcs: list[int] = field(default_factory=list)
    stdout: bytes = b""

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def peak_mb(self) -> float:
        return max(self.rss_kb) / 1024


@dataclass
class Result:
    label: str
    snapshot: Path
    size_bytes: int
    floor: Runs
    floor_nogc: Runs
    scan: Runs
    objects: int = 0
    findings: Counter[str] = field(default_factory=Counter)

    @property
    def exit_code(self) -> int:
        return self.scan.rcs[-1]


# ---------------------------------------------------------------- running things


def run_once(cmd: list[str]) -> tuple[float, int, int, bytes]:
    """One run in a fresh wrapper process: (wall seconds, peak RSS KB, exit code, stdout)."""
    with tempfile.NamedTemporaryFile(prefix="eipfsck-bench-", suffix=".out") as out:
        proc = subprocess.run([sys.executable, "-c", WRAPPER, out.name, *cmd],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"error: benchmark wrapper failed:\n{proc.stderr}")
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        data = Path(out.name).read_bytes()
    if stats["rc"] & ~4:  # anything but "findings remain" means the run is not a measurement
        raise SystemExit(f"error: {' '.join(cmd)} exited {stats['rc']}:\n{proc.stderr[-2000:]}")
    return stats["wall"], stats["maxrss_kb"], stats["rc"], data


def measure(cmd: list[str], repeat: int) -> Runs:
    runs = Runs()
    for _ in range(repeat):
        wall, rss, rc, data = run_once(cmd)
        runs.walls.append(wall)
        runs.rss_kb.append(rss)
        runs.rcs.append(rc)
        runs.stdout = data
    return runs


def count_findings(report: bytes) -> Counter[str]:
    doc = json.loads(report)
    return Counter(f["check"] for f in doc.get("findings", []))


def bench_snapshot(label: str, snapshot: Path, eipfsck: str, repeat: int) -> Result:
    print(f"measuring {label}: {snapshot}", file=sys.stderr)
    floor = measure([sys.executable, "-c", FLOOR, str(snapshot)], repeat)
    floor_nogc = measure([sys.executable, "-c", FLOOR, str(snapshot), "nogc"], repeat)
    scan = measure([eipfsck, "scan", "--snapshot", str(snapshot), "-o", "json"], repeat)
    result = Result(label, snapshot, disk_usage(snapshot), floor, floor_nogc, scan,
                    objects=int(floor.stdout.decode().strip() or 0))
    result.findings = count_findings(scan.stdout)
    return result


# Rewrites a snapshot as eipfsck's writer does (slimmed objects, compact JSON).
SLIM = r"""
import sys
from eipfsck.snapshot import load_snapshot
from eipfsck.snapshot_writer import write_snapshot
write_snapshot(load_snapshot(sys.argv[1]), sys.argv[2])
"""


def generate(out_dir: Path, gen_args: list[str], layout: str = "indented") -> None:
    print(f"generating {out_dir} ({layout}) {' '.join(gen_args)}", file=sys.stderr)
    extra = [] if layout == "indented" else ["--compact"]
    raw = out_dir.with_name(out_dir.name + "-raw") if layout == "slim" else out_dir
    subprocess.run([sys.executable, str(GENERATOR), str(raw), "-q", *gen_args, *extra],
                   check=True)
    if layout == "slim":
        subprocess.run([sys.executable, "-c", SLIM, str(raw), str(out_dir)], check=True)
        shutil.rmtree(raw)


@contextmanager
def generated(workdir: Path | None, gen_args: list[str], keep: bool,
              layout: str = "indented") -> Iterator[Path]:
    """A generated snapshot in a temporary directory, removed afterwards unless --keep."""
    parent = Path(tempfile.mkdtemp(prefix="eipfsck-snap-", dir=workdir))
    try:
        generate(parent / "snapshot", gen_args, layout)
        yield parent / "snapshot"
    finally:
        if keep:
            print(f"kept {parent / 'snapshot'}", file=sys.stderr)
        else:
            shutil.rmtree(parent, ignore_errors=True)


def disk_usage(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- reporting


def machine() -> str:
    model = "unknown CPU"
    mem_gib = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 2**20
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"nproc {nproc}, {model}, {mem_gib:.1f} GiB RAM, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def tool_version(eipfsck: str) -> str:
    proc = subprocess.run([eipfsck, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "eipfsck (version unknown)"


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def main_table(r: Result) -> str:
    size_mb = r.size_bytes / 2**20
    lines = [
        f"Snapshot: {r.label}; {mib(r.size_bytes)} MiB on disk, {r.objects:,} objects "
        "(Kubernetes items + NB rows).",
        "",
        "| run | best (s) | median (s) | peak RSS (MiB) | peak RSS / size on disk |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, runs in (("floor: `json.load` every file", r.floor),
                       ("floor with `gc.disable()` (parsing only)", r.floor_nogc),
                       ("`eipfsck scan -o json`", r.scan)):
        lines.append(f"| {name} | {runs.best:.2f} | {runs.median:.2f} | "
                     f"{runs.peak_mb:,.0f} | {runs.peak_mb / size_mb:.2f} |")
    by_check = ", ".join(f"`{k}` {v}" for k, v in sorted(r.findings.items())) or "none"
    lines += [
        "",
        f"- scan / floor (best wall time): **{r.scan.best / r.floor.best:.2f}×** "
        f"({r.scan.best / r.floor_nogc.best:.2f}× the floor without GC)",
        f"- findings in the JSON report: {sum(r.findings.values())} ({by_check})",
        f"- exit code: {r.exit_code}",
    ]
    return "\n".join(lines)


def scale_table(rows: list[tuple[str, Result]]) -> str:
    lines = [
        "| scale | objects | size on disk (MiB) | floor best (s) | scan best (s) "
        "| scan µs / object | scan / floor | scan peak RSS (MiB) | RSS / size |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r.objects:,} | {mib(r.size_bytes)} | {r.floor.best:.2f} | "
                     f"{r.scan.best:.2f} | {r.scan.best / r.objects * 1e6:.0f} | "
                     f"{r.scan.best / r.floor.best:.2f}× | {r.scan.peak_mb:,.0f} | "
                     f"{r.scan.peak_mb * 2**20 / r.size_bytes:.2f}× |")
    return "\n".join(lines)


def size_table(rows: list[tuple[str, Result]]) -> str:
    lines = ["| IPv6 subnets | objects | scan best (s) | scan median (s) | scan peak RSS (MiB) "
             "| findings |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r.objects:,} | {r.scan.best:.2f} | {r.scan.median:.2f} | "
                     f"{r.scan.peak_mb:,.0f} | {sum(r.findings.values())} |")
    (_, a), (_, b) = rows
    lines += ["", f"- /64 ÷ /120 scan time (best): **{a.scan.best / b.scan.best:.2f}×** "
                  "(≈1 means the cost does not depend on subnet size)"]
    return "\n".join(lines)


# ---------------------------------------------------------------- modes


def gen_args_for(args: argparse.Namespace, fraction: float = 1.0, v6_prefix: int = 64
                 ) -> list[str]:
    return ["--pods", str(max(1, round(args.pods * fraction))),
            "--subnets", str(max(3, round(args.subnets * fraction))),
            "--eips", str(round(args.eips * fraction)),
            "--seed", str(args.seed), "--leaks", str(args.leaks), "--v6-prefix", str(v6_prefix)]


class Bench:
    """Generates and measures snapshots, once per distinct set of generator arguments."""

    def __init__(self, args: argparse.Namespace, eipfsck: str) -> None:
        self.args = args
        self.eipfsck = eipfsck
        self.cache: dict[tuple[str, ...], Result] = {}

    def generated(self, gen: list[str]) -> Result:
        key = tuple(gen)
        if key not in self.cache:
            with generated(self.args.workdir, gen, self.args.keep, self.args.layout) as snap:
                self.cache[key] = bench_snapshot(
                    f"{self.args.layout}, generated with `gen_snapshot.py {' '.join(gen)}`",
                    snap, self.eipfsck, self.args.repeat)
        return self.cache[key]

    def main(self) -> str:
        if self.args.snapshot is not None:
            return main_table(bench_snapshot(str(self.args.snapshot), self.args.snapshot,
                                             self.eipfsck, self.args.repeat))
        return main_table(self.generated(gen_args_for(self.args)))

    def scale(self) -> str:
        rows = []
        for name, fraction in (("1/8", 0.125), ("1/4", 0.25), ("1/2", 0.5), ("1", 1.0)):
            gen = gen_args_for(self.args, fraction)
            rows.append((f"{name} (`{' '.join(gen[:6])}`)", self.generated(gen)))
        return scale_table(rows)

    def size_check(self) -> str:
        return size_table([(f"/{p}", self.generated(gen_args_for(self.args, v6_prefix=p)))
                           for p in (64, 120)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path, help="snapshot directory to measure "
                    "(default: generate one with gen_snapshot.py)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    ap.add_argument("--scale", action="store_true",
                    help="also run at 1/8, 1/4, 1/2 and full object counts (time per "
                         "object, memory per byte)")
    ap.add_argument("--subnet-size-check", action="store_true",
                    help="also compare scan time with IPv6 subnets /64 versus /120")
    gen = ap.add_argument_group("generated snapshots (gen_snapshot.py options)")
    gen.add_argument("--pods", type=int, default=30_000)
    gen.add_argument("--subnets", type=int, default=400)
    gen.add_argument("--eips", type=int, default=2_000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--leaks", type=int, default=0)
    gen.add_argument("--layout", choices=("indented", "compact", "slim"), default="indented",
                     help="how the generated snapshot is written (default indented)")
    gen.add_argument("--workdir", type=Path, help="where to generate (default: system temp)")
    gen.add_argument("--keep", action="store_true", help="keep generated snapshots")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.snapshot is not None and not args.snapshot.is_dir():
        ap.error(f"--snapshot {args.snapshot}: not a directory")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    eipfsck = shutil.which("eipfsck")
    if eipfsck is None:
        print("error: `eipfsck` is not on PATH; install it first (pip install -e .) "
              "and re-run", file=sys.stderr)
        return 2
    bench = Bench(args, eipfsck)
    sections = [
        "## eipfsck scan benchmark",
        "",
        f"Machine: {machine()}; {tool_version(eipfsck)}; repeats: {args.repeat}.",
        "",
        bench.main(),
    ]
    if args.scale:
        sections += ["", "### Scaling (same generator, scaled object counts)", "",
                     bench.scale()]
    if args.subnet_size_check:
        sections += ["", "### Subnet size (same object counts, IPv6 /64 versus /120)", "",
                     bench.size_check()]
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
