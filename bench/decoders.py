#!/usr/bin/env python3
"""Which decoder turns a Kubernetes List into the model's slim objects fastest.

    python3 bench/decoders.py [--pods 30000] [--repeat 3] [--layout compact|indented]

Generates a cluster (gen_snapshot.py), then for pods.json and ips.kubeovn.io.json times, in
this process with the cyclic GC off (as the scan runs), each way to get the slim objects:
  json      json.loads, then snapshot.slim_list (the reference path)
  orjson    orjson.loads, then snapshot.slim_list (orjson parses in C, slimming stays Python)
  msgspec   msgspec.json.decode to Python objects, then snapshot.slim_list
  typed     typed_decode.decode_list: msgspec into TypedDicts of only the read fields (what
            eipfsck uses)
and checks that every way gives the same objects. orjson is optional (pip install orjson).
Prints Markdown for docs/performance.md; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from eipfsck.snapshot import NAMESPACED, slim_list
from eipfsck.typed_decode import decode_list

GENERATOR = Path(__file__).resolve().parent / "gen_snapshot.py"


def ways() -> dict[str, Callable[[str, bytes], list[dict[str, Any]]]]:
    def parsed_then_slimmed(loads: Callable[[bytes], Any]) -> Callable[..., Any]:
        return lambda resource, data: slim_list(resource, loads(data), "bench")[0]

    out = {"json": parsed_then_slimmed(json.loads)}
    try:
        import orjson
        out["orjson"] = parsed_then_slimmed(orjson.loads)
    except ImportError:
        print("note: orjson is not installed; its row is left out", file=sys.stderr)
    out["msgspec"] = parsed_then_slimmed(msgspec.json.decode)

    def typed(resource: str, data: bytes) -> list[dict[str, Any]]:
        decoded = decode_list(resource, data, resource in NAMESPACED)
        assert decoded is not None, f"{resource}: the typed decoder did not answer"
        return decoded.items
    out["typed"] = typed
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--layout", choices=("compact", "indented"), default="compact")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="eipfsck-dec-") as tmp:
        snap = Path(tmp) / "s"
        subprocess.run([sys.executable, str(GENERATOR), str(snap), "-q", "--pods",
                        str(args.pods), *(["--compact"] if args.layout == "compact" else [])],
                       check=True)
        files = {r: (snap / "k8s" / f"{r}.json").read_bytes()
                 for r in ("pods", "ips.kubeovn.io")}
    gc.disable()
    rows = []
    reference: dict[str, list[dict[str, Any]]] = {}
    for name, way in ways().items():
        for resource, data in files.items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                items = way(resource, data)
                times.append(time.perf_counter() - start)
                reference.setdefault(resource, items)
                assert items == reference[resource], f"{name} disagrees on {resource}"
                del items
            rows.append((name, resource, len(data), min(times), statistics.median(times)))
    print(f"{args.layout} layout, {args.pods:,} pods; best and median of {args.repeat}, "
          "GC off, one process.\n")
    print("| decoder | file | MiB | best (s) | median (s) | MiB/s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, resource, size, best, median in rows:
        print(f"| {name} | {resource}.json | {size / 2**20:.1f} | {best:.2f} | {median:.2f} "
              f"| {size / 2**20 / best:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
