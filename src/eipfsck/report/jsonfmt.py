"""JSON output: stdout, or a report file written atomically with mode 0600."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

from eipfsck.errors import UsageError
from eipfsck.report.escape import json_safe


def dumps(report: dict[str, Any]) -> str:
    return json_safe(json.dumps(report, indent=2, ensure_ascii=False)) + "\n"


def write(report: dict[str, Any], stream: TextIO) -> None:
    stream.write(dumps(report))


def write_file(report: dict[str, Any], path: str) -> None:
    """Write to a temporary file beside the target, then rename: a failed run keeps the
    previous report, and no reader ever sees half a file."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"--report {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(report))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
