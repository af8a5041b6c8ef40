"""Writing a report, metrics or plan file: regular files only, replaced whole, nothing
followed.

A file is written beside its target and renamed over it, so a reader never sees half of
it. Renaming replaces whatever is at the path, so the path is checked first: a symlink,
FIFO, device or socket there is refused (as root, renaming over /dev/full or /dev/stdout
would replace the device node). A path that names this process's own streams
(/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N) is meant as a stream: it is written
to that open file descriptor, and the path itself is never opened, created or replaced.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from eipfsck.errors import EipfsckError, UsageError

STREAM = re.compile(r"/dev/(?P<std>stdout|stderr)|(?:/dev/fd|/proc/self/fd)/(?P<fd>\d+)")

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def is_stream(path: str) -> bool:
    return STREAM.fullmatch(path) is not None


def _stream_fd(path: str) -> int:
    m = STREAM.fullmatch(path)
    assert m is not None
    return {"stdout": 1, "stderr": 2}[m["std"]] if m["std"] else int(m["fd"])


def check_target(path: str, flag: str) -> None:
    """Refuse, before a long scan, a path that cannot be a regular file we replace."""
    if not path:
        raise UsageError(f"{flag} '': an empty path", hint=f"name a file, or leave {flag} out")
    if is_stream(path):
        return
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError:
        mode = None  # not reachable: said when writing, with the findings printed
    for test, kind in _KINDS:
        if mode is not None and test(mode):
            raise UsageError(
                f"{flag} {path}: is {kind}; refusing to replace it (only a regular file is "
                "written)", hint="name a regular file, or /dev/stdout to write to the "
                "output stream")
    directory = Path(path).parent
    if not directory.is_dir():
        raise UsageError(f"{flag} {path}: directory {directory} does not exist")


def write_text(path: str, text: str, mode: int, flag: str, suffix: str = "") -> None:
    """Write `text` (UTF-8) to `path` whole, as write_bytes does."""
    write_bytes(path, text.encode("utf-8"), mode, flag, suffix)


def write_bytes(path: str, data: bytes, mode: int, flag: str, suffix: str = "") -> None:
    """Write `data` to `path` whole (mode `mode`), or raise one EipfsckError saying why not:
    a symlink, FIFO or device is refused as a usage error (exit 16), a directory or an
    unwritable place is an operational error (exit bit 8). Exactly `data` is written, so a
    digest of it is the digest of the file (a plan's sha256)."""
    check_target(path, flag)
    if is_stream(path):
        fd = _stream_fd(path)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # what was printed before comes first
        try:
            with os.fdopen(os.dup(fd), "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise EipfsckError(f"{flag} {path}: {exc.strerror or exc}") from None
        return
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise EipfsckError(f"{flag} {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EipfsckError(f"{flag} {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
