"""JSON output: stdout, or a report file written atomically with mode 0600."""

from __future__ import annotations

import json
from typing import Any, TextIO

from eipfsck.report.escape import json_safe
from eipfsck.report.outfile import check_target as check_target_of
from eipfsck.report.outfile import write_text


def dumps(report: dict[str, Any]) -> str:
    return json_safe(json.dumps(report, indent=2, ensure_ascii=False)) + "\n"


def write(report: dict[str, Any], stream: TextIO) -> None:
    stream.write(dumps(report))


def check_target(path: str) -> None:
    check_target_of(path, "--report")


def write_file(report: dict[str, Any], path: str) -> None:
    """Mode 0600, written beside the target and renamed over it (report/outfile.py): a
    failed run keeps the previous report, and no reader ever sees half a file."""
    write_text(path, dumps(report), 0o600, "--report")
