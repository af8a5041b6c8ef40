"""The repair journal: append-only JSON lines, one record before and one after each action.

A record is written and fsynced before the action runs, so a run that is killed half-way
leaves an "intent" without an "outcome": the journal says exactly which action was in flight,
and the next run finishes or undoes it before planning anything new (repair/recover.py).

The journal says what was deleted, so it is private: opened with O_NOFOLLOW (a symlink planted
at its path is refused, not followed), mode 0600 enforced (a wider file, or one owned by
another user, is refused rather than trusted or silently changed), and the directories it
creates are 0700.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eipfsck.errors import EipfsckError


class JournalError(EipfsckError):
    """The journal cannot be written: repair refuses to act without one (exit 8)."""


def default_journal_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "eipfsck" / "journal.jsonl"


_HINT = "give a private file of your own with --journal (mode 0600)"


def _fail(path: Path, why: str) -> JournalError:
    return JournalError(f"journal {path}: {why}", hint=_HINT)


def _make_parents(directory: Path) -> None:
    """Create the missing directories, each 0700 (mkdir's `mode` reaches only the last one
    with parents=True, and the umask may narrow but never widen it)."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by a concurrent run meanwhile
        os.chmod(d, 0o700)


def _open(path: Path, flags: int) -> int:
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the last component is a symlink
            raise _fail(path, "is a symbolic link; refused (the journal is never followed "
                        "through a link)") from None
        raise _fail(path, exc.strerror or str(exc)) from None
    try:
        _check(path, os.fstat(fd))
    except JournalError:
        os.close(fd)
        raise
    return fd


def _check(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, "is not a regular file")
    if st.st_uid != os.geteuid():
        raise _fail(path, f"is owned by uid {st.st_uid}, not by this user ({os.geteuid()}); "
                    "refused")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise _fail(path, f"has mode {mode:04o}, wider than 0600; refused (chmod 600 it if "
                    "it is yours)")


class Journal:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.run = uuid.uuid4().hex[:12]  # ties a run's records together in a shared file
        try:
            _make_parents(self.path.parent)
        except OSError as exc:
            raise _fail(self.path, exc.strerror or str(exc)) from None
        # O_APPEND: concurrent runs interleave whole lines instead of overwriting.
        self.fd = _open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def record(self, event: str, **fields: Any) -> None:
        entry = {"time": datetime.now(UTC).isoformat(), "run": self.run, "event": event,
                 **fields}
        line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
        try:
            os.write(self.fd, line)
            os.fsync(self.fd)
        except OSError as exc:
            raise JournalError(f"journal {self.path}: {exc.strerror or exc}") from None

    def entries(self) -> list[dict[str, Any]]:
        """Every record in the file (lines that are not JSON objects are skipped: a line cut
        by a crash mid-write)."""
        return read_entries(self.path)

    def close(self) -> None:
        os.close(self.fd)


def read_entries(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return []
    fd = _open(p, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
    out = []
    for line in data.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out
