"""--controller-log auto's reader: the pod log streamed from an HTTP response, line by line.

The response is a real urllib3 one (the kubernetes client returns exactly that with
_preload_content=False) from a local server that streams the log in chunks as a kubelet
does. The way through the genuine kube-apiserver is tested in
tests/live/test_controller_log_auto.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import urllib3
from logserver import Cut, LogServer

from eipfsck.controller_log import MAX_LINE, read_controller_log, read_log_stream

ALLOCATE = (b"I1129 10:00:00.000000 1 ipam.go:60] allocate v4 10.16.0.9, mac 00:00:00:00:00:09 "
            b"for ns1/pod9 from subnet ovn-default\n")
LATER = (b"I1129 10:05:00.000000 1 ipam.go:60] allocate v4 10.16.0.9, mac 00:00:00:00:00:0a "
         b"for ns1/pod10 from subnet ovn-default\n")
DELETE = b"I1129 10:06:00.000000 1 vip.go:1] handle delete vip ns1/pod10\n"


def _get(server: LogServer) -> urllib3.BaseHTTPResponse:
    resp = urllib3.PoolManager().request("GET", f"{server.url}/containerLogs/ns/p/c",
                                         preload_content=False)
    resp.auto_close = False  # as collect/live.py reads it: through io wrappers
    return resp


def _pieces(data: bytes, size: int) -> Iterable[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


# Lines a file reader and a stream reader must split alike: CRLF, a character of two
# bytes (split across pieces), a bad UTF-8 byte, a line
# over MAX_LINE with an allocation right after it, the last line without a newline.
MIXED = ("I1129 café start\r\n".encode() + ALLOCATE + b"bad byte \xff here\n"
         + b"x" * (MAX_LINE + 7) + b"\n" + LATER + DELETE + b"no newline at the end")


@pytest.mark.parametrize("piece", [3, 4099, 1 << 20])
def test_a_stream_reads_as_the_same_file_does(piece: int, tmp_path: Path) -> None:
    log = tmp_path / "ctl.log"
    log.write_bytes(MIXED)
    from_file = read_controller_log(str(log))
    with LogServer(lambda: _pieces(MIXED, piece)) as server:
        read = read_log_stream(_get(server), "pod ns/p log")
    assert read.allocations == {k: a.__class__(**{**a.__dict__, "source": "pod ns/p log"})
                                for k, a in from_file.items()}
    (alloc,) = read.allocations.values()
    assert (alloc.key, alloc.line_no, alloc.kind) == ("ns1/pod10", 5, "Vip")  # the last one
    assert (read.lines, read.long_lines, read.ends_mid_line) == (7, 1, True)
    assert server.requests == ["/containerLogs/ns/p/c"]


@pytest.mark.parametrize("ending", [b"", b"\n"])
def test_a_log_that_ends_mid_line_says_so(ending: bytes) -> None:
    with LogServer(lambda: [ALLOCATE, b"x" * (MAX_LINE + 3), ending]) as server:
        read = read_log_stream(_get(server), "pod ns/p log")
    assert (read.lines, read.long_lines, read.ends_mid_line) == (2, 1, not ending)


@pytest.mark.parametrize("cut", ["chunked", "length"])
def test_a_stream_cut_before_its_end_is_an_error_not_a_shorter_log(cut: Cut) -> None:
    # The allocation to ns1/pod9 arrives; whatever came after it (a later owner) is lost.
    with LogServer(lambda: [ALLOCATE, b"filler\n" * 10000], cut=cut) as server, \
            pytest.raises(urllib3.exceptions.ProtocolError, match="Connection broken"):
        read_log_stream(_get(server), "pod ns/p log")


def test_an_empty_stream_is_an_empty_log() -> None:
    with LogServer(lambda: []) as server:
        read = read_log_stream(_get(server), "pod ns/p log")
    assert (read.allocations, read.lines, read.long_lines, read.ends_mid_line) == \
        ({}, 0, 0, False)


PROBE = """
import resource, sys, urllib3
sys.path[:0] = [sys.argv[1]]
from logserver import LogServer
from eipfsck.controller_log import read_log_stream
size = int(sys.argv[2])
ALLOCATE = sys.argv[3].encode()
filler = b"I1129 10:00:00.000000 1 pod.go:1] handle add pod ns1/x " + b"y" * 60 + b"\\n"
block = filler * ((1 << 20) // len(filler))
line_no = size * block.count(b"\\n") + 2  # after the overlong line
def body():
    for _ in range(size):
        yield block
    yield b"x" * (3 << 20) + b"\\n"  # one overlong line, skipped in pieces
    yield ALLOCATE
    for _ in range(size):
        yield block
with LogServer(body) as server:
    resp = urllib3.PoolManager().request("GET", server.url + "/log", preload_content=False)
    resp.auto_close = False
    read = read_log_stream(resp, "pod ns/p log")
assert [a.line_no for a in read.allocations.values()] == [line_no], read.allocations
assert (read.long_lines, read.ends_mid_line) == (1, False), read
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(mib_each_side: int) -> int:
    p = subprocess.run([sys.executable, "-c", PROBE, str(Path(__file__).parent),
                        str(mib_each_side), ALLOCATE.decode()],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    return int(p.stdout)


def test_a_large_streamed_log_costs_memory_like_a_small_one() -> None:
    """128 MiB streamed around one allocation (and a 3 MiB line): peak memory stays near that
    of a log of a few lines, and line numbers stay right."""
    base, peak = _peak_kib(0), _peak_kib(64)
    assert peak < base + 24 * 1024, (base, peak)  # KiB; reading it whole takes 128 MiB+
