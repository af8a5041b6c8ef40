"""Ctrl-C during a scan: the documented exit code (32, as e2fsck's "cancelled by the user"),
one line on stderr, no traceback, no report half-printed on stdout.

Deterministic: the scan reads its --controller-log from a FIFO whose writer this test holds
open and never writes to, so the scan is blocked inside the run (reading the log) when the
SIGINT arrives. The test knows the scan got there because a non-blocking open of the FIFO
for writing succeeds only once a reader has it open."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eipfsck import exitcodes

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _open_writer(fifo: Path, proc: subprocess.Popen[str]) -> int:
    """The write end of `fifo`, once `proc` has opened it for reading."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the scan never opened its controller log"
        time.sleep(0.05)


def _sigint_default() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and a
    # process that inherits an ignored SIGINT keeps ignoring it (CPython installs its handler
    # only over the default). A terminal's Ctrl-C reaches a process with the default, so the
    # child gets that, whatever runs this suite (CI launched in the background did not).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("exe", ["eipfsck", "kubectl-eipfsck"])
def test_ctrl_c_during_a_scan_exits_32_with_one_line(exe: str, tmp_path: Path) -> None:
    fifo = tmp_path / "controller.log"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if k != "EIPFSCK_DEBUG"}
    proc = subprocess.Popen(
        [str(BIN / exe), "scan", "--snapshot", "examples/healthy-cluster",
         "--controller-log", str(fifo), "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
        preexec_fn=_sigint_default)
    writer = _open_writer(fifo, proc)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(writer)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == exitcodes.REFUSED, (proc.returncode, err)
    assert err == "eipfsck: interrupted\n"
    assert out == ""


def test_the_fifo_scan_completes_when_the_log_arrives(tmp_path: Path) -> None:
    """The control: the same scan, not interrupted, reads the log and finishes normally."""
    fifo = tmp_path / "controller.log"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [str(BIN / "eipfsck"), "scan", "--snapshot", "examples/healthy-cluster",
         "--controller-log", str(fifo), "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    writer = _open_writer(fifo, proc)
    os.close(writer)  # an empty log: nothing allocated
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == exitcodes.CLEAN, err
    assert out.startswith("{")
