"""Former owners of leaked IPs, from a kube-ovn-controller log.

The allocator logs every allocation with the IPAM key it files the address under
(pkg/ipam/ipam.go): "allocate v4 A, v6 B, mac M for KEY from subnet S", with
IPv4-only and IPv6-only variants and an "from ippool P in subnet S" form, and, for each
statically requested address (GetStaticAddress, v1.14.35+, v1.15.7+, v1.16), "allocate
static ip A, mac M for KEY from subnet S". The last such line for a leaked address names
the key that still holds it.

A release is logged too (pkg/ipam/subnet.go `releaseAddr`, v1.12 to v1.16): "release v4 A mac
M from subnet S for KEY, " and why ("add ip to released list", "ip is in reserved list",
"ignore ip"). Not every release writes a line (the first reason only when the address enters
the pool's released list), so a missing line proves nothing; a line after the last allocation,
for the same key, says the allocator let the address go.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, TextIO

from eipfsck.addresses import Address, try_parse_ip
from eipfsck.errors import InputError, UsageError

_ALLOCATE = re.compile(
    r"allocate (?:v4 (?P<v4>[^,\s]*),\s*)?(?:v6 (?P<v6>[^,\s]*),\s*)?mac (?P<mac>\S*) "
    r"for (?P<key>\S+) from (?:ippool \S+ in )?subnet (?P<subnet>\S+)"
)
_STATIC = re.compile(
    r"allocate static ip (?P<ip>[^,\s]+), mac (?P<mac>\S*) for (?P<key>\S+) "
    r"from subnet (?P<subnet>\S+)"
)
# The delete handlers' first line names the kind of the key they release (pkg/controller):
# OvnEip "handle del ovn eip K" (ovn_eip.go, v1.12-v1.14; v1.15+ adds " (without finalizer)"
# when the object is already gone) and "handle deleting ovn eip K" (v1.15+); IptablesEIP
# "handle delete iptables eip K" (vpc_nat_gw_eip.go, every version); Vip "handle delete vip
# K" (vip.go, up to v1.14) and "handle deleting vip K" (v1.15+).
_DELETE = re.compile(r"(?:^|\] )handle (?:(?:del|deleting) (?P<ovn>ovn eip)"
                     r"|delete (?P<ipt>iptables eip)|(?:delete|deleting) (?P<vip>vip)) "
                     r"(?P<key>[^\s()]+)(?: \(without finalizer\))?\s*$")
_DELETE_KIND = {"ovn": "OvnEip", "ipt": "IptablesEIP", "vip": "Vip"}
_RELEASE = re.compile(r"release v[46] (?P<ip>[^,\s]+) mac (?P<mac>\S*) from subnet "
                      r"(?P<subnet>\S+) for (?P<key>[^,\s]+),")
_KLOG_TIME = re.compile(r"^[IWEF](\d{4} \d\d:\d\d:\d\d\.\d+)")


@dataclass(frozen=True)
class Allocation:
    key: str
    subnet: str
    address: Address
    line_no: int
    time: str | None
    source: str
    kind: str | None = None  # the kind whose delete handler released the key after this
    kind_line: int | None = None  # the line that names that kind
    # The allocator's release of this address for this key, logged after this allocation.
    released_line: int | None = None
    released_time: str | None = None


def parse_allocations(lines: Iterable[str], source: str) -> dict[tuple[str, Address], Allocation]:
    """The last allocation of each (subnet, address) seen in the log, with the kind of its
    key when a delete handler names that key after the allocation, and the release of the
    address for that key when one is logged after the allocation."""
    out: dict[tuple[str, Address], Allocation] = {}
    deleted: dict[str, list[tuple[int, str]]] = {}
    released: dict[tuple[str, Address], list[tuple[int, str, str | None]]] = {}
    for no, line in enumerate(lines, start=1):
        if "release v" in line:
            r = _RELEASE.search(line)
            addr = try_parse_ip(r.group("ip")) if r is not None else None
            if r is not None and addr is not None:
                t = _KLOG_TIME.match(line)
                released.setdefault((r.group("subnet"), addr), []).append(
                    (no, r.group("key"), t.group(1) if t else None))
            continue
        if "handle del" in line:
            d = _DELETE.search(line)
            if d is not None:
                kind = next(v for k, v in _DELETE_KIND.items() if d.group(k))
                deleted.setdefault(d.group("key"), []).append((no, kind))
            continue
        if "allocate " not in line:
            continue
        m = _ALLOCATE.search(line) or _STATIC.search(line)
        if m is None:
            continue
        t = _KLOG_TIME.match(line)
        groups = ("ip",) if m.re is _STATIC else ("v4", "v6")
        for group in groups:
            for part in (m.group(group) or "").split(","):
                addr = try_parse_ip(part)
                if addr is not None:
                    out[(m.group("subnet"), addr)] = Allocation(
                        m.group("key"), m.group("subnet"), addr, no,
                        t.group(1) if t else None, source)
    for k, alloc in out.items():
        after = [(no, kind) for no, kind in deleted.get(alloc.key, []) if no > alloc.line_no]
        if after:
            out[k] = replace(alloc, kind=after[0][1], kind_line=after[0][0])
        let_go = [(no, t) for no, key, t in released.get(k, [])
                  if no > alloc.line_no and key == alloc.key]
        if let_go:
            out[k] = replace(out[k], released_line=let_go[0][0], released_time=let_go[0][1])
    return out


def read_controller_log(path: str) -> dict[tuple[str, Address], Allocation]:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p}: no such controller log")
    try:
        # Line by line: a log of gigabytes costs memory for what it allocates, not its size
        # (and a pipe such as <(kubectl logs ...) works too).
        with p.open("rb", buffering=0) as raw:
            return read_log_stream(raw, str(p)).allocations
    except OSError as exc:
        raise InputError(f"{p}: cannot read controller log ({exc.strerror})") from None


# No allocation line is near this long; the rest of a longer line is skipped unread. The one
# cap on a log, file or API stream alike: memory follows what it allocates, not its length.
MAX_LINE = 1 << 20
CHUNK = 1 << 16  # bytes read at a time


@dataclass(frozen=True)
class LogRead:
    allocations: dict[tuple[str, Address], Allocation]
    lines: int
    long_lines: int  # lines longer than MAX_LINE, cut there (nothing they hold is an allocation)
    # The last line has no end: klog ends every line, so the log was cut (or caught while a
    # line was being written). Through the API server this is the one trace a log cut at the
    # kubelet leaves: the server ends its own answer cleanly.
    ends_mid_line: bool = False


def read_log_stream(raw: BinaryIO, source: str) -> LogRead:
    """Parse a log from a raw byte stream (an open file, or an HTTP response body such as the
    kubernetes client's with _preload_content=False): read in CHUNK-byte pieces, decoded as
    UTF-8 (a bad byte becomes U+FFFD), split into lines as a text file is. An error of the
    stream (a connection cut half-way) propagates: the caller decides what a partial log
    is worth. A urllib3 response needs auto_close off, or it reads as closed at its end."""
    text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK),  # type: ignore[arg-type]
                            encoding="utf-8", errors="replace")
    count = _Count()
    allocations = parse_allocations(_lines(text, count), source)
    return LogRead(allocations, count.lines, count.long_lines, count.ends_mid_line)


@dataclass
class _Count:
    lines: int = 0
    long_lines: int = 0
    ends_mid_line: bool = False


def _lines(fh: TextIO, count: _Count) -> Iterator[str]:
    while line := fh.readline(MAX_LINE):
        end = line
        if len(line) == MAX_LINE and not line.endswith("\n"):
            count.long_lines += 1
            while (rest := fh.readline(MAX_LINE)) and not rest.endswith("\n"):
                end = rest
            end = rest or end
        count.lines += 1
        count.ends_mid_line = not end.endswith("\n")
        yield line
