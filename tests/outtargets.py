"""Odd places to point an output option at (--report, --metrics-file, --plan-out)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def make_target(tmp_path: Path, kind: str) -> Path:
    """A path in tmp_path of this kind: a symlink to a file ("real.json", holding "old\\n")
    or to nothing, a FIFO, a character device, a directory, or a regular file."""
    path = tmp_path / f"out-{kind}"
    if kind == "symlink-to-file":
        (tmp_path / "real.json").write_text("old\n")
        path.symlink_to(tmp_path / "real.json")
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nowhere.json")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        # Never a real /dev node: code that regressed would replace it (as root, for all).
        if os.geteuid() != 0:
            return Path("/dev/null")  # not replaceable without root
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "directory":
        path.mkdir()
    elif kind == "regular":
        path.write_text("older content\n")
    else:
        raise ValueError(kind)
    return path
