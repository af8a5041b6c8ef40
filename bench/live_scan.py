#!/usr/bin/env python3
"""Live scan vs the floor of reading the same data, on genuine servers (scripts/test-env).

    python3 bench/live_scan.py [--pods 10000] [--keep DIR]

Generates a consistent snapshot (bench/gen_snapshot.py), seeds it into a fresh
kube-apiserver + etcd + ovsdb-server (tests/live/seed.py), then times in one run:
  floor: paging every list eipfsck reads with plain urllib3 + json.loads, plus dumping the
         NB tables with ovn-nbctl --format=json (one call, every table)
  scan:  eipfsck scan -o json (live: Kubernetes + NB through ovsdb), in-process
No timing is asserted anywhere; figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from live.conftest import parse_env  # noqa: E402
from live.seed import seed_snapshot  # noqa: E402

from eipfsck.collect.kube import API_RESOURCES  # noqa: E402
from eipfsck.collect.nbexec import nbctl_command  # noqa: E402
from eipfsck.pipeline import ScanOptions, scan  # noqa: E402
from eipfsck.snapshot import K8S_RESOURCES  # noqa: E402


def floor(env: dict[str, str], page_size: int) -> float:
    http = urllib3.PoolManager(ca_certs=env["EIPFSCK_TEST_APISERVER_CA"])
    headers = {"Authorization": f"Bearer {env['EIPFSCK_TEST_ADMIN_TOKEN']}",
               "Accept": "application/json"}
    t0 = time.perf_counter()
    for resource in K8S_RESOURCES:
        api = API_RESOURCES[resource]
        if api.named:
            continue
        token = ""
        while True:
            url = f"{env['EIPFSCK_TEST_APISERVER']}{api.path()}?limit={page_size}"
            if token:
                url += f"&continue={token}"
            resp = http.request("GET", url, headers=headers)
            if resp.status == 404:  # CRD not installed: eipfsck reads the 404 too
                break
            doc = json.loads(resp.data)
            token = (doc.get("metadata") or {}).get("continue") or ""
            if not token:
                break
    nb = env["EIPFSCK_TEST_OVN_NB_UNIX"]
    subprocess.run([nbctl_command()[0], f"--db={nb}", *nbctl_command()[1:]], check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eipfsck-bench-"))
    snap = work / "snap"
    state = work / "env"
    subprocess.run([sys.executable, str(ROOT / "bench/gen_snapshot.py"), str(snap),
                    "--pods", str(args.pods), "--subnets", "40", "--eips", "200"], check=True)
    envvars = dict(os.environ, EIPFSCK_TEST_STATE=str(state))
    subprocess.run([str(ROOT / "scripts/test-env"), "up"], check=True, env=envvars)
    try:
        env = parse_env(subprocess.run([str(ROOT / "scripts/test-env"), "env"], check=True,
                                       env=envvars, capture_output=True, text=True).stdout)
        t0 = time.perf_counter()
        seed_snapshot(snap, env["EIPFSCK_TEST_KUBECONFIG"], env["EIPFSCK_TEST_OVN_NB_UNIX"])
        print(f"seeded {args.pods} pods in {time.perf_counter() - t0:.0f}s", flush=True)
        from eipfsck.collect.kube import KubeTarget
        from eipfsck.collect.live import LiveOptions
        from eipfsck.collect.ovnnb import NbTarget
        opts = ScanOptions(snapshot=None, live=LiveOptions(
            KubeTarget(kubeconfig=env["EIPFSCK_TEST_KUBECONFIG"]), "remote",
            NbTarget(env["EIPFSCK_TEST_OVN_NB_UNIX"])))
        for i in range(args.runs):
            f = floor(env, 500)
            t0 = time.perf_counter()
            result = scan(opts)
            s = time.perf_counter() - t0
            print(f"run {i + 1}: floor {f:.2f}s  live scan {s:.2f}s  ratio {s / f:.2f}x  "
                  f"exit {result.exit_code}  findings {len(result.run.findings)}", flush=True)
    finally:
        subprocess.run([str(ROOT / "scripts/test-env"), "down"], env=envvars)


if __name__ == "__main__":
    main()
