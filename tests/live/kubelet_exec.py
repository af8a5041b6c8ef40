"""A node's kubelet, reduced to the one thing the Kube-OVN controller needs from it: exec.

The v1.14.10 controller programs a VPC NAT gateway by exec'ing `bash /kube-ovn/nat-gateway.sh
<operation> <rules>` in the gateway pod's `vpc-nat-gw` container (pkg/controller/
vpc_nat_gateway.go `execNatGwRules`, through client-go's SPDY executor). It gives an IptablesEIP
its address only once that exec succeeded (vpc_nat_gw_eip.go `handleAddIptablesEip`). The request
takes the genuine path: controller → kube-apiserver (`pods/exec`) → the node's kubelet, which the
apiserver finds from the Node object (an address and `status.daemonEndpoints.kubeletEndpoint`).

This module is that kubelet endpoint: HTTPS, the `/exec/{namespace}/{pod}/{container}` upgrade to
SPDY/3.1 with the `v4.channel.k8s.io` stream protocol (error, stdout, stderr streams; the exit
status as a JSON Status on the error stream), as the kubelet's streaming server speaks it. It runs
nothing: it records each command and answers with what the test's `answer` says (by default
success and no output: the gateway's script, whose iptables rules eipfsck does not audit).
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import subprocess
import threading
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROTOCOL = "v4.channel.k8s.io"

# The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00, section 2.6.10.1):
# length-prefixed header names and values, then a run of plain text.
_WORDS = [
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
         "504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad "
         "Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not "
         "Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec "
         "00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,"
         "image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
         "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
assert len(DICTIONARY) == 1423, len(DICTIONARY)

SYN_STREAM, SYN_REPLY, RST_STREAM, PING, GOAWAY = 1, 2, 3, 6, 7
FLAG_FIN = 0x01


@dataclass(frozen=True)
class ExecCall:
    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]


Answer = Callable[[ExecCall], tuple[int, bytes, bytes]]  # exit code, stdout, stderr


def succeed(_call: ExecCall) -> tuple[int, bytes, bytes]:
    return 0, b"", b""


class ExecKubelet:
    """Serve exec for the pods of one node until closed; `calls` is what was asked, in order."""

    def __init__(self, workdir: Path, answer: Answer = succeed) -> None:
        self.answer = answer
        self.calls: list[ExecCall] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        cert, key = workdir / "kubelet.crt", workdir / "kubelet.key"
        # A kubelet's self-signed serving cert: the apiserver is not given a kubelet CA.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=kubelet", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._sock.close()
        self._thread.join(timeout=5)

    def commands(self) -> list[tuple[str, ...]]:
        with self._lock:
            return [c.command for c in self.calls]

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(30)
            with self._tls.wrap_socket(raw, server_side=True) as conn:
                _Session(conn, self).run()
        except (OSError, ValueError, zlib.error) as exc:
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def record(self, call: ExecCall) -> tuple[int, bytes, bytes]:
        with self._lock:
            self.calls.append(call)
        return self.answer(call)


class _Session:
    """One upgraded exec connection."""

    def __init__(self, conn: ssl.SSLSocket, kubelet: ExecKubelet) -> None:
        self.conn = conn
        self.kubelet = kubelet
        self.buf = b""
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zdict=DICTIONARY)

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def http_response(self, status: str, headers: dict[str, str], body: bytes = b"") -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
        self.conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def run(self) -> None:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                return
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        method, target, _ = request_line.split(" ", 2)
        url = urllib.parse.urlsplit(target)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query)
        offered = [p.strip() for v in headers.get("x-stream-protocol-version", [])
                   for p in v.split(",")]
        if method not in ("GET", "POST") or len(parts) != 4 or parts[0] != "exec":
            self.http_response("404 Not Found", {"Content-Length": "0"})
            return
        if "spdy/3.1" not in [u.lower() for u in headers.get("upgrade", [])] \
                or PROTOCOL not in offered:
            body = f"exec needs SPDY/3.1 and {PROTOCOL}".encode()
            self.http_response("400 Bad Request", {"Content-Length": str(len(body))}, body)
            return
        call = ExecCall(parts[1], parts[2], parts[3], tuple(query.get("command", [])))
        wanted = {"error"} | {name for name, param in
                              (("stdin", "input"), ("stdout", "output"), ("stderr", "error"))
                              if query.get(param, ["0"])[0] in ("1", "true")}
        self.http_response("101 Switching Protocols", {
            "Connection": "Upgrade", "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": PROTOCOL})
        streams: dict[str, int] = {}
        answered = False
        while True:
            try:
                frame = self.read_frame()
            except EOFError:
                return
            if frame is None:
                continue
            kind, stream_id, data = frame
            if kind == SYN_STREAM:
                stream_type = self.headers(data).get("streamtype", "")
                streams[stream_type] = stream_id
                self.control(SYN_REPLY, 0, struct.pack(">I", stream_id) + self.header_block({}))
            elif kind == PING:
                self.control(PING, 0, data)
            elif kind == GOAWAY:
                return
            if not answered and wanted <= streams.keys():
                answered = True
                self.finish(streams, *self.kubelet.record(call))

    def finish(self, streams: dict[str, int], code: int, stdout: bytes, stderr: bytes) -> None:
        """Output, then the exit status on the error stream (v4), then FIN on every stream."""
        for name, payload in (("stdout", stdout), ("stderr", stderr)):
            if name in streams and payload:
                self.data(streams[name], payload, 0)
        if code == 0:
            status: dict[str, object] = {"metadata": {}, "status": "Success"}
        else:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": f"command terminated with non-zero exit code: {code}",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        self.data(streams["error"], json.dumps(status).encode(), 0)
        for stream_id in streams.values():
            self.data(stream_id, b"", FLAG_FIN)

    # -- SPDY/3 framing --------------------------------------------------------------------------

    def read_frame(self) -> tuple[int, int, bytes] | None:
        """(control type, stream id, payload after the stream id) or None for a data frame."""
        first, flags_len = struct.unpack(">II", self.read(8))
        payload = self.read(flags_len & 0xFFFFFF)
        if not first & 0x80000000:
            return None  # data from the client (stdin, or FIN on its side): nothing to do
        kind = first & 0xFFFF
        if kind == SYN_STREAM:
            stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            return kind, stream_id, payload[10:]
        return kind, 0, payload

    def headers(self, block: bytes) -> dict[str, str]:
        raw = self.inflate.decompress(block)
        (count,), pos, out = struct.unpack(">I", raw[:4]), 4, {}
        for _ in range(count):
            (n,) = struct.unpack(">I", raw[pos:pos + 4])
            name = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack(">I", raw[pos:pos + 4])
            out[name.lower()] = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
        return out

    def header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def control(self, kind: int, flags: int, payload: bytes) -> None:
        self.conn.sendall(struct.pack(">HHI", 0x8003, kind, flags << 24 | len(payload)) + payload)

    def data(self, stream_id: int, payload: bytes, flags: int) -> None:
        self.conn.sendall(struct.pack(">II", stream_id, flags << 24 | len(payload)) + payload)
