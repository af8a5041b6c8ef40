"""Read the NB by running ovn-nbctl inside the ovn-central leader pod (as `kubectl ko nbctl`).

For operators whose machine reaches the API server but not the NB's port. One ovn-nbctl
invocation lists every table (commands joined by `--`), so all tables come from one
transaction: the same consistency as a direct ovsdb read. The output is the snapshot's
nb/ format, parsed by the same decoder.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client as k8s_client
from kubernetes.stream import stream

from eipfsck.collect.kube import Exhausted, Requester
from eipfsck.collect.ovnnb import NbResult
from eipfsck.collect.progress import Progress
from eipfsck.errors import InputError
from eipfsck.snapshot import NB_COLUMNS, NB_TABLES, decode_nb_table

OVN_CENTRAL_SELECTOR = "app=ovn-central"
NB_LEADER_LABEL = "ovn-nb-leader"  # set to "true" on the NB raft leader's pod by Kube-OVN
OVN_CENTRAL_CONTAINER = "ovn-central"


def nbctl_command() -> list[str]:
    cmd = ["ovn-nbctl", "--format=json"]
    for table in NB_TABLES:
        columns = ",".join(["_uuid", *sorted(NB_COLUMNS[table] - {"_uuid"})])
        cmd += ["--", f"--columns={columns}", "list", table]
    return cmd


def parse_nbctl_output(text: str, source: str) -> dict[str, list[dict[str, Any]]]:
    """ovn-nbctl prints one JSON document per command, in command order."""
    decoder = json.JSONDecoder()
    rows: dict[str, list[dict[str, Any]]] = {}
    pos = 0
    for table in NB_TABLES:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise InputError(f"{source}: output for table {table} is not ovn-nbctl JSON "
                             f"({exc})") from None
        rows[table] = decode_nb_table(table, doc, f"{source}, table {table}")
    if text[pos:].strip():
        raise InputError(f"{source}: unexpected output after the last table")
    return rows


def find_leader_pod(http: Requester, namespace: str) -> tuple[str | None, str]:
    """(pod name, why) of the running ovn-central pod holding the NB leader label."""
    answer = http.get(f"/api/v1/namespaces/{namespace}/pods",
                      [("labelSelector", OVN_CENTRAL_SELECTOR)])
    if answer.status != 200:
        return None, (f"cannot list pods {OVN_CENTRAL_SELECTOR} in {namespace}: "
                      f"HTTP {answer.status}: {answer.status_message()}")
    try:
        pods = json.loads(answer.body).get("items") or []
    except (ValueError, AttributeError):
        return None, f"pods in {namespace}: the answer is not JSON"
    running = [p for p in pods if isinstance(p, dict)
               and (p.get("status") or {}).get("phase") == "Running"]
    leaders = [p for p in running
               if ((p.get("metadata") or {}).get("labels") or {}).get(NB_LEADER_LABEL) == "true"]
    if not pods:
        return None, f"no pod {OVN_CENTRAL_SELECTOR} in namespace {namespace}"
    if not leaders:
        return None, (f"none of the {len(pods)} ovn-central pod(s) in {namespace} is running "
                      f"with label {NB_LEADER_LABEL}=true")
    return leaders[0]["metadata"]["name"], "leader"


def run_in_pod(api: k8s_client.ApiClient, namespace: str, pod: str, command: list[str],
               timeout: float) -> tuple[str, str, int | None]:
    """stdout, stderr and exit code of a command run through the pods/exec subresource."""
    core = k8s_client.CoreV1Api(api)
    ws = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                container=OVN_CENTRAL_CONTAINER, stderr=True, stdin=False, stdout=True,
                tty=False, _preload_content=False)
    out: list[str] = []
    err: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while ws.is_open():
            if time.monotonic() > deadline:
                raise TimeoutError(f"ovn-nbctl did not finish within {timeout:.0f}s")
            ws.update(timeout=1)
            if ws.peek_stdout():
                out.append(ws.read_stdout())
            if ws.peek_stderr():
                err.append(ws.read_stderr())
        out.append(ws.read_stdout() or "")
        err.append(ws.read_stderr() or "")
        return "".join(out), "".join(err), ws.returncode
    finally:
        ws.close()


def read_northbound_exec(api: k8s_client.ApiClient, http: Requester, namespace: str,
                         progress: Progress, timeout: float = 60.0) -> NbResult:
    try:
        pod, why = find_leader_pod(http, namespace)
    except Exhausted as exc:
        return NbResult.failed(f"kubectl-exec: {exc}")
    if pod is None:
        return NbResult.failed(f"kubectl-exec: {why}")
    endpoint = f"{namespace}/{pod}"
    for table in NB_TABLES:
        progress.start(table)
    try:
        out, err, code = run_in_pod(api, namespace, pod, nbctl_command(), timeout)
    except Exception as exc:  # websocket, HTTP and timeout errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return NbResult.failed(f"kubectl-exec in pod {endpoint}: {type(exc).__name__}: {first}",
                               endpoint)
    if code not in (0, None) or (code is None and not out):
        first = err.strip().splitlines()[0] if err.strip() else "no output"
        return NbResult.failed(f"ovn-nbctl in pod {endpoint} failed (exit {code}): {first}",
                               endpoint)
    try:
        rows = parse_nbctl_output(out, f"ovn-nbctl in pod {endpoint}")
    except InputError as exc:
        return NbResult.failed(exc.message, endpoint)
    for table in NB_TABLES:
        progress.advance(table, len(rows[table]))
        progress.done(table, "complete", len(rows[table]))
    return NbResult.complete(rows, endpoint)
