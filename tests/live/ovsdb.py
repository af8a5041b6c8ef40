"""Private OVN northbound ovsdb-servers for live tests: standalone, TLS, or a RAFT cluster.

Every server is a foreground child of the test process (a crashed test run leaves no daemon
behind) with its own short temporary directory: unix socket paths must stay under 108 bytes,
which pytest's tmp_path does not guarantee.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ovs.jsonrpc
import ovs.stream
import pytest

NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")
INSTALL = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
           "--no-install-recommends ovn-central ovn-common openvswitch-common openssl")
TOOLS = ("ovsdb-server", "ovsdb-tool", "ovsdb-client", "ovn-nbctl", "ovs-appctl", "openssl")
START_TIMEOUT = 10.0


def require_tools() -> None:
    """Fail (never skip) when the real servers are missing: a skipped live test proves nothing."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    missing += [str(f) for f in (NB_SCHEMA, SB_SCHEMA) if not f.is_file()]
    if missing:
        pytest.fail(f"live OVN NB tests need {', '.join(missing)}; install with: {INSTALL}",
                    pytrace=False)


def free_port() -> int:
    # Raft and pssl: ports must be known before the server starts; a tiny race, fine on loopback.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*cmd: str, timeout: float = 60.0) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)[:300]} exited {proc.returncode}: "
                             f"{proc.stderr.strip()[-2000:]}")
    return proc.stdout


@dataclass
class Pki:
    """A test CA with server and client certificates, plus an unrelated CA (the "wrong" one)."""

    dir: Path
    ca_cert: Path
    server_key: Path
    server_cert: Path
    client_key: Path
    client_cert: Path
    other_ca_cert: Path
    other_client_key: Path    # signed by the other CA: the server must reject it
    other_client_cert: Path


def make_pki(directory: Path) -> Pki:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    # EC keys: an RSA key pair costs ~100 ms each, and OVS accepts either.
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for ca in ("ca", "other-ca"):
        _run("openssl", "req", "-x509", *ec, "-days", "2", "-subj", f"/CN=eipfsck-test-{ca}",
             "-keyout", str(d / f"{ca}-key.pem"), "-out", str(d / f"{ca}-cert.pem"))
    for who, ca in (("server", "ca"), ("client", "ca"), ("other-client", "other-ca")):
        _run("openssl", "req", *ec, "-subj", f"/CN=eipfsck-test-{who}",
             "-keyout", str(d / f"{who}-key.pem"), "-out", str(d / f"{who}-req.pem"))
        _run("openssl", "x509", "-req", "-in", str(d / f"{who}-req.pem"),
             "-CA", str(d / f"{ca}-cert.pem"), "-CAkey", str(d / f"{ca}-key.pem"),
             "-CAcreateserial", "-days", "2", "-out", str(d / f"{who}-cert.pem"))
    return Pki(d, d / "ca-cert.pem", d / "server-key.pem", d / "server-cert.pem",
               d / "client-key.pem", d / "client-cert.pem", d / "other-ca-cert.pem",
               d / "other-client-key.pem", d / "other-client-cert.pem")


@dataclass
class NbServer:
    dir: Path
    proc: subprocess.Popen[bytes]
    port: int
    ssl: bool = False
    raft: str | None = None  # the member's RAFT address, in a cluster

    @property
    def sock(self) -> Path:
        return self.dir / "nb.sock"

    @property
    def unix(self) -> str:
        return f"unix:{self.sock}"

    @property
    def tcp(self) -> str:
        assert not self.ssl
        return f"tcp:127.0.0.1:{self.port}"

    @property
    def ssl_remote(self) -> str:
        assert self.ssl
        return f"ssl:127.0.0.1:{self.port}"

    def nbctl(self, *args: str) -> str:
        # --no-leader-only: a cluster test may talk to a follower's socket on purpose.
        return _run("ovn-nbctl", f"--db={self.unix}", "--no-leader-only", "--timeout=30",
                    *args)

    def list_json(self, table: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.nbctl("--format=json", "list", table))
        return doc

    def transact(self, operations: list[dict[str, Any]]) -> list[Any]:
        """One OVSDB transaction over the unix socket, for bulk inserts: ovn-nbctl is slow at
        thousands of rows, and ovsdb-client takes the transaction as one argument, which Linux
        caps at 128 KiB."""
        error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(self.unix), 10_000)
        assert not error, os.strerror(error)
        rpc = ovs.jsonrpc.Connection(stream)
        try:
            request = ovs.jsonrpc.Message.create_request(
                "transact", ["OVN_Northbound", *operations])
            error, reply = rpc.transact_block(request)
        finally:
            rpc.close()
        assert not error and reply is not None, os.strerror(error)
        assert reply.type == ovs.jsonrpc.Message.T_REPLY, reply.error
        result: list[Any] = reply.result
        errors = [r for r in result if isinstance(r, dict) and "error" in r]
        assert not errors, errors
        return result

    def appctl(self, *args: str) -> str:
        return _run("ovs-appctl", "-t", str(self.dir / "nb.ctl"), *args)

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = (self.dir / "nb.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def kill(self) -> None:
        """SIGKILL and reap: the kernel has closed every client socket when this returns."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def short_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="eipfsck-nb-", dir="/tmp"))


def _spawn(d: Path, remotes: list[str], extra: list[str]) -> subprocess.Popen[bytes]:
    cmd = ["ovsdb-server", str(d / "nb.db"), f"--remote=punix:{d / 'nb.sock'}",
           *(f"--remote={r}" for r in remotes), *extra,
           f"--unixctl={d / 'nb.ctl'}", f"--log-file={d / 'nb.log'}",
           "-vconsole:off", "-vsocket_util:file:info", "--no-chdir"]
    with open(d / "stderr", "wb") as err:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    # In the child before exec: SIGKILL it when the test process dies, however it dies, so a
    # crashed or killed run leaves no server behind (servers are started from the main thread,
    # whose exit is what the kernel watches).
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _wait_ready(server: NbServer, *, want_log_port: bool) -> int:
    """Wait for the unix socket and (for ptcp:0) the port the server chose, from its log."""
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        if server.proc.poll() is not None:
            err = (server.dir / "stderr").read_text(errors="replace")
            raise AssertionError(f"ovsdb-server exited {server.proc.returncode}: {err}\n"
                                 f"{server.log_tail()}")
        port = 0
        if want_log_port:
            log = (server.dir / "nb.log").read_text(errors="replace") \
                if (server.dir / "nb.log").exists() else ""
            m = re.search(r"0:127\.0\.0\.1: listening on port (\d+)", log)
            port = int(m.group(1)) if m else 0
        if server.sock.exists() and (port or not want_log_port):
            return port
        time.sleep(0.01)
    server.stop()
    raise AssertionError(f"ovsdb-server not ready within {START_TIMEOUT}s\n{server.log_tail()}")


def _wait_tcp(port: int) -> None:
    # A pssl: listener on a chosen port is not logged: wait until it accepts.
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.01)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT}s")


def start_nb(pki: Pki | None = None, schema: Path = NB_SCHEMA) -> NbServer:
    """A standalone NB server on a unix socket plus tcp: (ptcp:0) or, with `pki`, ssl:.
    Another `schema` makes a server that is not a northbound one."""
    d = short_dir()
    try:
        _run("ovsdb-tool", "create", str(d / "nb.db"), str(schema))
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    if pki is None:
        server = NbServer(d, _spawn(d, ["ptcp:0:127.0.0.1"], []), 0)
    else:
        port = free_port()
        server = NbServer(d, _spawn(d, [f"pssl:{port}:127.0.0.1"],
                                    [f"--private-key={pki.server_key}",
                                     f"--certificate={pki.server_cert}",
                                     f"--ca-cert={pki.ca_cert}"]), port, ssl=True)
    try:
        if pki is None:
            server.port = _wait_ready(server, want_log_port=True)
        else:
            _wait_ready(server, want_log_port=False)
            _wait_tcp(server.port)
    except BaseException:
        server.stop()
        raise
    return server


def start_cluster(members: int = 3) -> list[NbServer]:
    """A real RAFT cluster of `members` NB servers on loopback; returns once one is leader and
    every member has joined. The first member created the cluster."""
    dirs = [short_dir() for _ in range(members)]
    raft = [f"tcp:127.0.0.1:{free_port()}" for _ in range(members)]
    _run("ovsdb-tool", "create-cluster", str(dirs[0] / "nb.db"), str(NB_SCHEMA), raft[0])
    for d, addr in zip(dirs[1:], raft[1:], strict=True):
        _run("ovsdb-tool", "join-cluster", str(d / "nb.db"), "OVN_Northbound", addr, raft[0])
    servers: list[NbServer] = []
    try:
        for d, addr in zip(dirs, raft, strict=True):
            server = NbServer(d, _spawn(d, ["ptcp:0:127.0.0.1"], []), 0, raft=addr)
            servers.append(server)
            server.port = _wait_ready(server, want_log_port=True)
        end = time.monotonic() + 20
        while True:
            roles = [cluster_role(s) for s in servers]
            if roles.count("leader") == 1 and roles.count("follower") == members - 1:
                return servers
            if time.monotonic() > end:
                raise AssertionError(f"cluster did not form within 20 s: roles {roles}\n"
                                     + "\n".join(s.log_tail(10) for s in servers))
            time.sleep(0.05)
    except BaseException:
        for s in servers:
            s.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        raise


def cluster_role(server: NbServer) -> str:
    """"leader", "follower", "candidate" or "joining" from cluster/status."""
    try:
        status = server.appctl("cluster/status", "OVN_Northbound")
    except AssertionError:
        return "down"
    if "Status: cluster member" not in status:
        return "joining"
    m = re.search(r"^Role: (\w+)", status, re.MULTILINE)
    return m.group(1) if m else "unknown"

