"""Endpoints that are not what the kubeconfig promises. A kubeconfig that points at something
that is not a Kubernetes API server: scan, snapshot and doctor say what answered, instead of
concluding that Kube-OVN is not installed. And doctor exits as the scan does for the same
problem (no kubeconfig, a missing one, an unreadable one, no API server).

The endpoint is a real HTTP server on loopback (http.server) that answers 404 to everything,
reached through the official Kubernetes client, as a mistyped server address would be."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from clirun import run

from eipfsck.doctor import CHECKS


class _NotFound(BaseHTTPRequestHandler):
    server_version = "NotKubernetes/1.0"

    def do_GET(self) -> None:
        self.send_error(404, "Not Found")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_an_apiserver(tmp_path: Path) -> Iterator[Path]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: not-a-secret}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("command", [["scan", "--no-nb"], ["scan", "-o", "json", "--no-nb"],
                                     ["repair", "--dry-run", "--no-nb"]])
def test_scan_names_what_answered(not_an_apiserver: Path, command: list[str],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*command, "--kubeconfig", str(not_an_apiserver)], capsys)
    assert code == 8
    assert out == ""
    assert "is not a Kubernetes API server: GET /version answered HTTP 404" in err
    assert "Server: NotKubernetes/1.0" in err
    assert "Kube-OVN" not in err and "CRD" not in err


def test_snapshot_names_what_answered(not_an_apiserver: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["snapshot", str(tmp_path / "snap"), "--no-nb", "--kubeconfig",
                        str(not_an_apiserver)], capsys)
    assert code == 8
    assert "is not a Kubernetes API server" in err


def test_doctor_names_what_answered_and_skips_the_rest(
        not_an_apiserver: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["doctor", "--kubeconfig", str(not_an_apiserver)], capsys)
    assert code == 8  # as the scan
    lines = out.splitlines()
    assert lines[0].startswith("ok   kubeconfig: kubeconfig, context x: http://127.0.0.1:")
    assert lines[1].startswith("fail API server: http://127.0.0.1:")
    assert "is not a Kubernetes API server: GET /version answered HTTP 404" in lines[1]
    assert [line.split(":")[0] for line in lines[2:]] == [
        "skip RBAC for scan", "skip RBAC for repair", "skip Kube-OVN", "skip northbound"]
    assert all(line.endswith("not run: needs the API server that failed above")
               for line in lines[2:])


# -- doctor and scan: one exit-code contract ----------------------------------------------------


def _no_cluster(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
                 "OVN_NB_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))


@pytest.mark.parametrize("case", ["no kubeconfig", "missing file", "not an API server",
                                  "unreadable kubeconfig"])
def test_doctor_exits_as_the_scan_does(case: str, not_an_apiserver: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _no_cluster(monkeypatch, tmp_path / "home")
    garbage = tmp_path / "garbage"
    garbage.write_text("clusters: [this is not\n")
    args = {"no kubeconfig": [], "missing file": ["--kubeconfig", str(tmp_path / "nope")],
            "not an API server": ["--kubeconfig", str(not_an_apiserver)],
            "unreadable kubeconfig": ["--kubeconfig", str(garbage)]}[case]
    scan_code, _, scan_err = run(["scan", "--no-nb", *args], capsys)
    doctor_code, out, doctor_err = run(["doctor", "--no-nb", *args], capsys)
    assert scan_code in (8, 16)
    assert doctor_code == scan_code, (out, doctor_err)
    # the hint the scan gives, the doctor gives too
    hints = [line for line in scan_err.splitlines() if line.startswith("eipfsck: hint:")]
    assert hints == [line for line in doctor_err.splitlines()
                     if line.startswith("eipfsck: hint:")]
    # every check is listed, each ok, fail or skip with its reason
    listed = [(line[:4].strip(), line[5:].split(":")[0]) for line in out.splitlines()]
    assert [name for _, name in listed] == list(CHECKS)
    assert {status for status, _ in listed} <= {"ok", "fail", "skip"}
    assert [status for status, _ in listed].count("fail") == 1
    assert "northbound: not run: --no-nb" in out or "northbound: not run: needs" in out
