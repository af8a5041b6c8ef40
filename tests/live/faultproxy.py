"""A small HTTP proxy in front of the genuine kube-apiserver that injects the faults a real
server will not produce on demand: 5xx answers, 429 with Retry-After, connections closed
without an answer. Everything else is forwarded unchanged (over TLS, with the real CA).

The client talks plain HTTP to the proxy (a kubeconfig with an http:// server and the bearer
token); only the transport in between is ours, the answers are the apiserver's.
"""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# A fault for the n-th request (1-based) whose path matches: a status to answer with,
# "reset" to close the connection without an answer, or "truncate" to forward the answer but
# close the connection half-way through its body (its Content-Length promises all of it).
Fault = int | str


@dataclass
class FaultProxy:
    upstream: str
    ca_file: str
    faults: Callable[[str, int], Fault | None] = lambda path, n: None
    seen: list[tuple[str, str, int | str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.context = ssl.create_default_context(cafile=self.ca_file)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self)

            do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            n = self.counts[path] = self.counts.get(path, 0) + 1
        fault = self.faults(path, n)
        if fault == "reset":
            self.seen.append((h.command, path, "reset"))
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if isinstance(fault, int):
            self.seen.append((h.command, path, fault))
            body = b'{"kind":"Status","message":"injected by the test proxy"}'
            h.send_response(fault)
            if fault == 429:
                h.send_header("Retry-After", "1")
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        length = int(h.headers.get("Content-Length") or 0)
        data = h.rfile.read(length) if length else None
        request = urllib.request.Request(self.upstream + h.path, data=data, method=h.command)
        for key in ("Authorization", "Accept", "Content-Type"):
            if h.headers.get(key):
                request.add_header(key, h.headers[key])
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as answer:
                status, headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as err:
            status, headers, body = err.code, err.headers, err.read()
        self.seen.append((h.command, path, "truncate" if fault == "truncate" else status))
        h.send_response(status)
        h.send_header("Content-Type", headers.get("Content-Type", "application/json"))
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if fault == "truncate":
            h.wfile.write(body[:len(body) // 2])
            h.close_connection = True
            h.connection.shutdown(2)
            return
        h.wfile.write(body)

    def kubeconfig(self, token: str, path: Path) -> str:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: proxy, cluster: {{server: '{self.url}'}}}}]\n"
            f"users: [{{name: admin, user: {{token: '{token}'}}}}]\n"
            "contexts: [{name: proxy, context: {cluster: proxy, user: admin}}]\n"
            "current-context: proxy\n")
        return str(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
