"""The repair journal: append-only JSON lines, one record before and one after each action.

A record is written and fsynced before the action runs, so a run that is killed half-way
leaves an "intent" without an "outcome": the journal says exactly which action was in flight.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eipfsck.errors import EipfsckError


class JournalError(EipfsckError):
    """The journal cannot be written: repair refuses to act without one (exit 8)."""


def default_journal_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "eipfsck" / "journal.jsonl"


class Journal:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_APPEND: concurrent runs interleave whole lines instead of overwriting.
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise JournalError(f"journal {self.path}: {exc.strerror or exc}",
                               hint="give a writable file with --journal") from None

    def record(self, event: str, **fields: Any) -> None:
        entry = {"time": datetime.now(UTC).isoformat(), "event": event, **fields}
        line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
        try:
            os.write(self.fd, line)
            os.fsync(self.fd)
        except OSError as exc:
            raise JournalError(f"journal {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        os.close(self.fd)
