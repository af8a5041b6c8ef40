"""Prometheus metrics from `eipfsck scan`: --metrics-file (node-exporter's textfile collector)
and --pushgateway, run through the real CLI and read back with prometheus_client's parser;
the Pushgateway is a real HTTP server on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from clirun import run
from prometheus_client.parser import text_string_to_metric_families

from eipfsck import __version__
from eipfsck.checks.catalogue import BY_ID

ROOT = Path(__file__).resolve().parent.parent
LEAKY = str(ROOT / "examples" / "leaky-cluster")
HEALTHY = str(ROOT / "examples" / "healthy-cluster")
FAMILIES = {
    "eipfsck_findings", "eipfsck_subnet_addresses", "eipfsck_scan_duration_seconds",
    "eipfsck_last_success_timestamp_seconds", "eipfsck_sources_incomplete",
    "eipfsck_source_complete", "eipfsck_exit_code", "eipfsck_info",
}
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        series = out.setdefault(family.name, {})
        for sample in family.samples:
            assert sample.name == family.name
            key = tuple(sorted(sample.labels.items()))
            assert key not in series, (family.name, key)
            series[key] = sample.value
    return out


def scan(capsys: pytest.CaptureFixture[str], snapshot: str, *extra: str
         ) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(["scan", "--snapshot", snapshot, "-o", "json", *extra], capsys)
    return code, json.loads(out), err


def metrics_of(capsys: pytest.CaptureFixture[str], tmp_path: Path, snapshot: str,
               *extra: str) -> tuple[int, dict[str, Any], Samples]:
    path = tmp_path / "out" / "eipfsck.prom"
    path.parent.mkdir(exist_ok=True)
    code, report, _ = scan(capsys, snapshot, "--metrics-file", str(path), *extra)
    return code, report, parse(path.read_text())


def copy_of_leaky(tmp_path: Path) -> Path:
    target = tmp_path / "snap"
    shutil.copytree(LEAKY, target)
    return target


# -- the metrics file --------------------------------------------------------------------------


@pytest.mark.parametrize("snapshot", [LEAKY, HEALTHY])
def test_metrics_file_matches_the_report(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         snapshot: str) -> None:
    code, report, m = metrics_of(capsys, tmp_path, snapshot)
    assert set(m) == FAMILIES

    expected: dict[tuple[tuple[str, str], ...], float] = {}
    for f in report["findings"]:
        key = (("check", f["check"]), ("severity", f["severity"]), ("subnet", f["subnet"] or ""))
        expected[key] = expected.get(key, 0) + 1
    silent = [c for c in report["checks"]["run"] if c not in report["summary"]["by_check"]]
    for check in silent:
        expected[(("check", check), ("severity", BY_ID[check].severity), ("subnet", ""))] = 0
    assert m["eipfsck_findings"] == expected
    assert sum(m["eipfsck_findings"].values()) == report["summary"]["findings"]
    not_run = {s["check"] for s in report["checks"]["skipped"]}
    assert not_run == {"dataplane-residue"}
    assert not any(dict(k)["check"] in not_run for k in m["eipfsck_findings"])

    addresses = {(fam, sub, state): v for key, v in m["eipfsck_subnet_addresses"].items()
                 for (_, fam), (_, state), (_, sub) in [key]}
    # Prometheus values are float64: an IPv6 /64's available count is as close as it gets.
    want = {(fam["family"], s["name"], state): float(fam[state]) for s in report["subnets"]
            for fam in s["families"] for state in ("using", "available", "leaked", "owned")}
    assert addresses == want

    assert m["eipfsck_exit_code"] == {(): code}
    assert m["eipfsck_sources_incomplete"] == {(): 0}
    assert m["eipfsck_source_complete"] == {(("source", s["name"]),): 1
                                            for s in report["sources"]}
    assert m["eipfsck_info"] == {(("cluster", report["cluster"]["uid"]),
                                  ("kube_ovn_version", report["cluster"]["kube_ovn_version"]),
                                  ("version", __version__)): 1}
    scanned = datetime.fromisoformat(report["scanned_at"]).timestamp()
    assert m["eipfsck_last_success_timestamp_seconds"] == {(): pytest.approx(scanned)}
    (duration,) = m["eipfsck_scan_duration_seconds"].values()
    assert 0 < duration < 60


def test_leaky_example_leaks_per_subnet_and_family(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    """The fixture's known leaks (examples/leaky-cluster) as an alert would read them."""
    code, _, m = metrics_of(capsys, tmp_path, LEAKY)
    assert code == 4
    leaked = {(dict(k)["subnet"], dict(k)["family"]): v
              for k, v in m["eipfsck_subnet_addresses"].items() if dict(k)["state"] == "leaked"}
    assert leaked == {("external", "ipv4"): 1, ("vpc1-net1", "ipv4"): 1,
                      ("vpc1-net1", "ipv6"): 1}
    findings = {dict(k)["subnet"]: v for k, v in m["eipfsck_findings"].items()
                if dict(k)["check"] == "leaked-ip"}
    assert findings == {"external": 1, "vpc1-net1": 2}


def test_inconclusive_scan_has_no_last_success(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    snap = copy_of_leaky(tmp_path)
    (snap / "k8s" / "pods.json").unlink()
    code, report, m = metrics_of(capsys, tmp_path, str(snap))
    assert code & 8
    assert "eipfsck_last_success_timestamp_seconds" not in m
    assert set(m) == FAMILIES - {"eipfsck_last_success_timestamp_seconds"}
    assert m["eipfsck_exit_code"] == {(): code} and report["summary"]["exit_code"] == code


def test_failed_and_partial_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    snap = copy_of_leaky(tmp_path)
    (snap / "k8s" / "vpcs.kubeovn.io.json").unlink()
    meta = json.loads((snap / "meta.json").read_text())
    meta["sources"] = {"vpcs.kubeovn.io": {"state": "failed", "detail": "forbidden"},
                       "pods": {"state": "partial", "detail": "continue token expired"}}
    (snap / "meta.json").write_text(json.dumps(meta))
    code, _, m = metrics_of(capsys, tmp_path, str(snap))
    assert code & 8
    assert m["eipfsck_sources_incomplete"] == {(): 2}
    incomplete = {dict(k)["source"] for k, v in m["eipfsck_source_complete"].items() if v == 0}
    assert incomplete == {"vpcs.kubeovn.io", "pods"}
    assert "eipfsck_last_success_timestamp_seconds" not in m


def test_metrics_file_is_0644_and_replaced_atomically(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    directory = tmp_path / "textfile"
    directory.mkdir()
    path = directory / "eipfsck.prom"
    path.write_text("old\n")
    old_reader = directory / "held-by-a-reader"
    os.link(path, old_reader)  # what a reader that opened the old file still sees
    old_umask = os.umask(0o077)  # a restrictive umask must not make it unreadable
    try:
        code, _, _ = scan(capsys, LEAKY, "--metrics-file", str(path))
    finally:
        os.umask(old_umask)
    assert code == 4
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert old_reader.read_text() == "old\n"  # renamed over, never rewritten in place
    assert path.stat().st_ino != old_reader.stat().st_ino
    assert sorted(p.name for p in directory.iterdir()) == ["eipfsck.prom", "held-by-a-reader"]
    assert "eipfsck_exit_code 4.0" in path.read_text()


def test_metrics_file_in_a_missing_directory_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(["scan", "--snapshot", LEAKY, "--metrics-file",
                          str(tmp_path / "nowhere" / "eipfsck.prom")], capsys)
    assert code == 16
    assert out == ""  # refused before scanning
    assert err.count("\n") == 1 and "does not exist" in err


# -- the Pushgateway ---------------------------------------------------------------------------


class Gateway:
    """A Pushgateway stand-in: records each request and answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append({
                    "method": self.command, "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "body": self.rfile.read(length).decode()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST = do_DELETE = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with Gateway() as gw:
        yield gw


def test_pushgateway_receives_the_same_metrics(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, gateway: Gateway) -> None:
    path = tmp_path / "eipfsck.prom"
    code, report, err = scan(capsys, LEAKY, "--metrics-file", str(path),
                             "--pushgateway", gateway.url)
    assert code == 4, err
    (request,) = gateway.requests
    uid = report["cluster"]["uid"]
    assert request["method"] == "PUT"  # replaces the group: fixed findings disappear
    assert request["path"] == f"/metrics/job/eipfsck/cluster/{uid}"
    assert request["content_type"].startswith("text/plain; version=0.0.4")
    pushed = parse(request["body"])
    assert set(pushed) == FAMILIES
    assert pushed == parse(path.read_text())


def test_pushgateway_without_cluster_uid_groups_by_job_only(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, gateway: Gateway) -> None:
    snap = copy_of_leaky(tmp_path)
    meta = json.loads((snap / "meta.json").read_text())
    del meta["cluster"]
    (snap / "meta.json").write_text(json.dumps(meta))
    namespaces = json.loads((snap / "k8s" / "namespaces.json").read_text())
    for ns in namespaces["items"]:
        ns["metadata"].pop("uid", None)
    (snap / "k8s" / "namespaces.json").write_text(json.dumps(namespaces))
    code, report, _ = scan(capsys, str(snap), "--pushgateway", gateway.url)
    assert report["cluster"]["uid"] is None
    assert code == 4
    assert [r["path"] for r in gateway.requests] == ["/metrics/job/eipfsck"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_pushgateway_is_exit_bit_8_and_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, report, err = scan(capsys, LEAKY, "--pushgateway", url)
    assert code == 4 | 8
    assert report["summary"]["exit_code"] == 4  # the findings are still printed in full
    assert len(report["findings"]) == 20
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"eipfsck: error: --pushgateway {url}: metrics not pushed:")
    assert "Traceback" not in err


def test_pushgateway_credentials_stay_out_of_the_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    for url in (f"http://eip:s3cret@127.0.0.1:{port}", f"http://eip:s3cret@127.0.0.1:x{port}"):
        code, _, err = scan(capsys, HEALTHY, "--pushgateway", url)
        assert code == 8
        assert err.count("\n") == 1 and "metrics not pushed" in err
        assert "s3cret" not in err


def test_pushgateway_error_status_is_exit_bit_8(capsys: pytest.CaptureFixture[str]) -> None:
    with Gateway(status=500) as gw:
        code, _, err = scan(capsys, HEALTHY, "--pushgateway", gw.url)
    assert len(gw.requests) == 1
    assert code == 8
    # The status alone, not a random port that happens to hold the digits.
    assert err.count("\n") == 1 and re.search(r"(?<![0-9])500(?![0-9])", err), err
