"""A local HTTP(S) server that streams a log as a kubelet's /containerLogs does: chunked, as
it is produced, never built whole in memory. `cut` ends the body early the two ways a
connection can break: mid-chunk with no last chunk, or short of a declared Content-Length.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Literal

Cut = Literal["chunked", "length"] | None


class LogServer:
    def __init__(self, body: Callable[[], Iterable[bytes]], *, cut: Cut = None,
                 tls: tuple[str, str] | None = None) -> None:
        """`body` makes the log's pieces anew for each request; `tls` is (cert, key). `cut`
        may be changed between requests."""
        self.requests: list[str] = []  # each request's path and query
        self.cut = cut
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                if server.cut == "length":
                    pieces = list(body())
                    self.send_header("Content-Length", str(sum(map(len, pieces)) + 1000))
                    self.end_headers()
                    for piece in pieces:
                        self.wfile.write(piece)
                    self.close_connection = True
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in body():
                    if piece:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if server.cut == "chunked":
                    self.wfile.write(b"100\r\npartial line")  # a chunk that never ends
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LogServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()
