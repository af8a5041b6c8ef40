"""stdout as pipes and terminals see it: a reader that goes away keeps the exit code the run
earned; piped output is never wrapped; on a terminal, continuation lines are indented.

Every test runs the installed entry point as a process, with real pipes (os.pipe, bash with
`set -o pipefail`) and a real pseudo-terminal (pty).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from eipfsck.checks.catalogue import BY_ID

REPO = Path(__file__).resolve().parent.parent
LEAKY = str(REPO / "examples" / "leaky-cluster")
HEALTHY = str(REPO / "examples" / "healthy-cluster")
EXE = str(Path(sys.executable).with_name("eipfsck"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
                        "COLUMNS", "LINES", "EIPFSCK_DEBUG")}
    env.update(extra)
    return env


# -- a reader that goes away -----------------------------------------------------------------

CLOSED_READER = [
    (["scan", "--snapshot", LEAKY], 4),
    (["scan", "--snapshot", LEAKY, "-o", "json"], 4),
    (["scan", "--snapshot", LEAKY, "-o", "yaml"], 4),
    (["scan", "--snapshot", LEAKY, "--fail-on", "never"], 0),
    (["scan", "--snapshot", HEALTHY], 0),
    (["repair", "--snapshot", LEAKY, "--dry-run"], 4),
    (["repair", "--snapshot", LEAKY, "--dry-run", "-o", "json"], 4),
    (["checks"], 0),
    (["explain", "leaked-ip"], 0),
]


@pytest.mark.parametrize(("args", "code"), CLOSED_READER,
                         ids=[" ".join(a[:1] + a[3:]) or a[0] for a, _ in CLOSED_READER])
def test_a_closed_pipe_keeps_the_exit_code_the_run_earned(args: list[str], code: int) -> None:
    """The reader is gone before the first write (its end of the pipe is closed before the
    process starts), so every write fails with EPIPE: deterministic, no race with head."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([EXE, *args], stdout=write_end, stderr=subprocess.PIPE,
                              env=_env(), cwd=REPO, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == code, done.stderr
    # Not our error: no message, no "Exception ignored"; only the notes a run always gives
    # on stderr (a reviewed plan's sha256).
    notes = [line for line in done.stderr.splitlines()
             if not line.startswith(b"eipfsck: plan sha256 ")]
    assert notes == []


@pytest.mark.parametrize("output", ["table", "json"])
def test_head_under_pipefail_sees_the_findings_bit(output: str) -> None:
    """The CI step the issue describes: `set -o pipefail; eipfsck scan … | head -1`. Whether
    head leaves before or after the last write, the pipeline reports the findings (4)."""
    script = (f'set -o pipefail; "$0" scan --snapshot {LEAKY} -o {output} | head -1; '
              'echo "status $? ${PIPESTATUS[*]}" >&2')
    done = subprocess.run(["bash", "-c", script, EXE], capture_output=True, text=True,
                          env=_env(), cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "status 4 4 0", done.stderr
    assert len(done.stdout.splitlines()) == 1


# -- piped: never wrapped --------------------------------------------------------------------


def _piped(*args: str) -> str:
    done = subprocess.run([EXE, *args], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=_env(COLUMNS="40", TERM="xterm-256color"), check=False)
    assert "\x1b" not in done.stdout
    return done.stdout


def test_piped_findings_are_one_line_each_even_at_40_columns() -> None:
    report = json.loads(_piped("scan", "--snapshot", LEAKY, "-o", "json"))
    lines = _piped("scan", "--snapshot", LEAKY, "--controller-log",
                   str(REPO / "examples" / "leaky-cluster-controller.log")).splitlines()
    assert report["findings"]
    for f in report["findings"]:
        assert any(f["message"] in line for line in lines), f["message"]
    # each subnet is one row of the summary table, its name whole
    for s in report["subnets"]:
        assert any(line.split()[:1] == [s["name"]] for line in lines), s["name"]


def test_piped_plan_entries_are_one_line_each() -> None:
    plan = json.loads(_piped("repair", "--snapshot", LEAKY, "--dry-run", "-o", "json"))
    lines = _piped("repair", "--snapshot", LEAKY, "--dry-run").splitlines()
    assert plan["actions"]
    for a in plan["actions"]:
        assert any(line.strip() == a["reason"] for line in lines), a["reason"]


def test_piped_explain_is_one_line_per_paragraph() -> None:
    lines = [line.strip() for line in _piped("explain", "leaked-ip").splitlines()]
    spec = BY_ID["leaked-ip"]
    for text in (spec.explanation, spec.evidence, spec.remedy):
        assert text in lines


# -- on a terminal: wrapped, continuations indented -------------------------------------------


def _on_a_pty(*args: str, columns: int = 80) -> str:
    """stdout and stderr on a pseudo-terminal of `columns` columns, escapes removed."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([EXE, *args], stdout=secondary, stderr=secondary, cwd=REPO,
                            env=_env(TERM="xterm", COLUMNS=str(columns)))
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    proc.wait(timeout=120)
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@pytest.mark.parametrize("args", [["repair", "--snapshot", LEAKY, "--dry-run"],
                                  ["scan", "--snapshot", LEAKY]], ids=["plan", "scan"])
def test_on_a_terminal_lines_fit_and_continuations_are_indented(args: list[str]) -> None:
    # A plan's sha256 covers its creation time, which differs between the two runs.
    def same(text: str) -> str:
        return re.sub(r"\b[0-9a-f]{64}\b", "SHA256", text)
    terminal = [line.rstrip() for line in same(_on_a_pty(*args)).splitlines()]
    piped = same(_piped(*args)).splitlines()
    assert max(len(line) for line in terminal) <= 80
    wrapped = [line for line in piped if len(line.rstrip()) > 80]
    assert wrapped  # the test means something: some lines do need wrapping at 80
    # A line at column 0 on the terminal is the start of a line at column 0 when piped:
    # a continuation never starts at column 0.
    headings = [line for line in piped if line[:1] not in ("", " ")]
    for line in terminal:
        if line[:1] not in ("", " "):
            assert any(h.startswith(line) for h in headings), line
