#!/usr/bin/env python3
"""Write a large, internally consistent eipfsck snapshot directory (docs/snapshot-format.md).

    python3 bench/gen_snapshot.py OUT_DIR [--pods 30000] [--subnets 400] [--eips 2000]
                                  [--seed 1] [--leaks N] [--v6-prefix 64] [--compact]

The cluster is synthetic but follows Kube-OVN v1.16.2: subnet status ranges are the allocator's
view (owners' IPs minus excludeIps, interval arithmetic only), counts follow docs/kube-ovn.md
§2.3, and the NB tables mirror what the controller creates. --leaks N deletes N OvnEips (with
their OvnFip and NAT row) after the allocator filed their IPs, so a scan must report exactly N
`leaked-ip` findings. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# the script's directory is on sys.path, so the helper package imports directly
from snapgen import k8s
from snapgen.nb import TABLES, build_nb
from snapgen.plan import Cluster, Options, plan_cluster

ITEM_INDENT = " " * 8  # items sit two levels deep in a List printed with indent=4


def write_k8s_list(path: Path, items: Iterable[dict[str, Any]], compact: bool = False) -> int:
    """Write a List exactly as `kubectl get -o json` prints it, one item at a time.

    kubectl prints sorted keys with a 4-space indent; the result equals json.dumps of the whole
    List with indent=4 and sort_keys=True, without holding every item in memory. `compact`
    writes the API server's own form instead (what `curl` of a list or a tool writing
    json.dumps without indent produces): the same document without any whitespace.
    """
    count = 0
    if compact:
        with path.open("w", encoding="utf-8") as f:
            f.write('{"apiVersion":"v1","items":[')
            for item in items:
                f.write(("" if count == 0 else ",")
                        + json.dumps(item, sort_keys=True, separators=(",", ":")))
                count += 1
            f.write('],"kind":"List","metadata":{"resourceVersion":""}}\n')
        return count
    with path.open("w", encoding="utf-8") as f:
        f.write('{\n    "apiVersion": "v1",\n    "items": [')
        for item in items:
            text = json.dumps(item, indent=4, sort_keys=True)
            f.write(("\n" if count == 0 else ",\n") + ITEM_INDENT
                    + text.replace("\n", "\n" + ITEM_INDENT))
            count += 1
        f.write("\n    ]," if count else "],")
        f.write('\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n'
                "    }\n}\n")
    return count


def k8s_files(c: Cluster) -> dict[str, Iterator[dict[str, Any]]]:
    rv = k8s.ResourceVersions()
    return {
        "subnets.kubeovn.io": k8s.all_subnets(c, rv),
        "vpcs.kubeovn.io": (k8s.vpc_obj(v, rv) for v in c.vpcs),
        "namespaces": k8s.namespaces(c, rv),
        "nodes": (k8s.node_obj(n, c, rv) for n in c.nodes),
        "statefulsets.apps": (k8s.statefulset_obj(w, rv) for w in c.workloads
                              if w.kind == "StatefulSet"),
        "pods": k8s.all_pods(c, rv),
        "ips.kubeovn.io": k8s.all_ips(c, rv),
        "ovn-eips.kubeovn.io": (k8s.ovn_eip_obj(e, rv) for e in c.eips),
        "ovn-fips.kubeovn.io": (k8s.ovn_fip_obj(f, rv) for f in c.fips),
        "ovn-snat-rules.kubeovn.io": (k8s.ovn_snat_obj(r, rv) for r in c.snats),
        "ovn-dnat-rules.kubeovn.io": iter(()),
        "vips.kubeovn.io": iter(()),
        "iptables-eips.kubeovn.io": iter(()),
        "services": iter(()),
    }


def write_meta(out: Path, c: Cluster) -> None:
    meta = {"schema": "eipfsck/snapshot/v1",
            "captured_at": c.opts.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cluster": {"uid": c.kube_system_uid}, "kube_ovn_version": "v1.16.2",
            "tool": "bench/gen_snapshot.py",
            "generator": {"pods": c.opts.pods, "subnets": c.opts.subnets,
                          "eips": c.opts.eips, "seed": c.opts.seed, "leaks": c.opts.leaks,
                          "v6_prefix": c.opts.v6_prefix}}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def write_snapshot(c: Cluster, out: Path, compact: bool = False) -> dict[str, int]:
    (out / "k8s").mkdir(parents=True, exist_ok=True)
    (out / "nb").mkdir(exist_ok=True)
    write_meta(out, c)
    counts = {}
    for name, items in k8s_files(c).items():
        counts[f"k8s/{name}"] = write_k8s_list(out / "k8s" / f"{name}.json", items, compact)
    tables = build_nb(c)
    for table in TABLES:
        with (out / "nb" / f"{table}.json").open("w", encoding="utf-8") as f:
            # ovn-nbctl's compact one-line form
            json.dump(tables.document(table), f, separators=(",", ":"))
            f.write("\n")
        counts[f"nb/{table}"] = len(tables.rows[table])
    return counts


def disk_usage(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path, help="directory to create (must be empty or absent)")
    ap.add_argument("--pods", type=positive, default=30_000,
                    help="pods with an IP CR and an LSP (default 30000)")
    ap.add_argument("--subnets", type=positive, default=400,
                    help="subnets in all, join and external ones included (default 400)")
    ap.add_argument("--eips", type=positive, default=2_000,
                    help="nat OvnEips, each with an OvnFip and a NAT row (default 2000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--leaks", type=positive, default=0,
                    help="OvnEips to delete after allocation, leaving N leaked IPs")
    ap.add_argument("--v6-prefix", type=int, default=64, choices=(64, 120),
                    help="prefix length of the IPv6 subnets (default 64)")
    ap.add_argument("--compact", action="store_true",
                    help="write Kubernetes lists without whitespace (default: kubectl's indent)")
    ap.add_argument("--force", action="store_true", help="write into a non-empty directory")
    ap.add_argument("-q", "--quiet", action="store_true")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out_dir
    if out.exists() and any(out.iterdir()) and not args.force:
        print(f"error: {out} is not empty (use --force)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    opts = Options(pods=args.pods, subnets=args.subnets, eips=args.eips, seed=args.seed,
                   leaks=args.leaks, v6_prefix=args.v6_prefix)
    cluster = plan_cluster(opts)
    counts = write_snapshot(cluster, out, args.compact)
    elapsed = time.perf_counter() - start
    if not args.quiet:
        for name, n in counts.items():
            print(f"{n:>8}  {name}", file=sys.stderr)
        print(f"wrote {out} ({disk_usage(out) / 1e6:.1f} MB) in {elapsed:.1f} s; "
              f"leaked EIPs: {len(cluster.leaked)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
