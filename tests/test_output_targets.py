"""Where --report and --metrics-file may write, and what a bad option or target costs.

Only regular files are replaced; a symlink, FIFO or device at the path is refused before
the scan (exit 16), /dev/stdout and its kin are written in place as the stream they are;
a directory or an unwritable place is a note and exit bit 8, with the findings printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostile import EXAMPLE, assert_outcome, run_scan
from outtargets import make_target

from eipfsck import exitcodes

SNAP = EXAMPLE  # findings: exit 4 when every output is written


@pytest.mark.parametrize("flag", ["--report", "--metrics-file"])
@pytest.mark.parametrize("kind", ["symlink-to-file", "dangling-symlink", "fifo", "device"])
def test_non_regular_target_is_refused_before_the_scan(flag: str, kind: str,
                                                       tmp_path: Path) -> None:
    target = str(make_target(tmp_path, kind))
    before = os.lstat(target)
    code, out, err = run_scan(SNAP, "table", flag, target)
    assert code == exitcodes.USAGE and out == "", (code, err)
    assert err.startswith(f"eipfsck: error: {flag} {target}: is a") and "refusing" in err
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # untouched
    if kind == "symlink-to-file":
        assert (tmp_path / "real.json").read_text() == "old\n"  # not followed either


@pytest.mark.parametrize("flag", ["--report", "--metrics-file"])
@pytest.mark.parametrize("where", ["directory", "unwritable"])
def test_unwritable_target_is_a_note_and_bit_8_with_the_findings_printed(
        flag: str, where: str, tmp_path: Path) -> None:
    # /proc takes no new files, even from root: an unwritable place everyone has.
    target = str(tmp_path) if where == "directory" else "/proc/eipfsck-out"
    code, out, err = run_scan(SNAP, "json", flag, target)
    report = assert_outcome(code, out, err, exported=True)
    assert report is not None and report["findings"]
    assert code == report["summary"]["exit_code"] | exitcodes.INCONCLUSIVE
    assert f"eipfsck: error: {flag} {target}: " in err


@pytest.mark.parametrize("prefix", ["/dev/fd", "/proc/self/fd"])
def test_report_to_an_open_descriptor_is_written_to_that_stream(prefix: str,
                                                                 tmp_path: Path) -> None:
    # /dev/stdout is the same rule (fd 1); a descriptor of our own keeps a regression from
    # ever replacing /dev/stdout itself (in /proc nothing can be created).
    sink = tmp_path / "sink"
    with sink.open("w") as fh:
        fh.write("before\n")
        fh.flush()
        code, out, err = run_scan(SNAP, "table", "-q", "--report", f"{prefix}/{fh.fileno()}")
    assert "exit 4" in out and '"schema"' not in out  # the table to stdout, the report to fd
    assert code == exitcodes.FINDINGS and err == "", err
    text = sink.read_text()
    assert text.startswith("before\n{") and '"schema": "eipfsck/report/v1"' in text


def test_a_stream_path_is_never_created(tmp_path: Path) -> None:
    from eipfsck.report.outfile import is_stream
    assert is_stream("/dev/stdout") and is_stream("/dev/stderr") and is_stream("/dev/fd/7")
    assert not is_stream("/dev/stdout2") and not is_stream(str(tmp_path / "dev/stdout"))


def test_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    code, _, err = run_scan(SNAP, "table", "-q", "--report", str(target))
    assert code == exitcodes.FINDINGS, err
    assert target.read_text().startswith("{") and oct(target.stat().st_mode)[-3:] == "600"


@pytest.mark.parametrize(("args", "says"), [
    (["--report", ""], "--report '': an empty path"),
    (["--metrics-file", ""], "--metrics-file '': an empty path"),
    (["--report", "/nonexistent-dir/r.json"], "directory /nonexistent-dir does not exist"),
    (["--stuck-after", str(10**30)], "--stuck-after"),
    (["--request-timeout", "abc"], "--request-timeout 'abc'"),
    (["--since", "abc"], "--since 'abc'"),
])
def test_bad_option_is_a_usage_error_even_with_a_snapshot(args: list[str], says: str) -> None:
    code, out, err = run_scan(SNAP, "json", *args)
    assert code == exitcodes.USAGE and out == "", (code, err)
    assert says in err and "internal error" not in err, err


def test_snapshot_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "snap")
    code, out, err = run_scan(tmp_path / "snap")
    assert code == exitcodes.USAGE and out == "" and "not a directory or a regular file" in err


def test_unreadable_snapshot_is_one_error_line(tmp_path: Path) -> None:
    # /proc/self/mem is a regular file that even root cannot read from its start (EIO);
    # chmod 000 would not stop root, who runs these tests in CI.
    code, out, err = run_scan(Path("/proc/self/mem"))
    assert code == exitcodes.INCONCLUSIVE and out == ""
    assert err == "eipfsck: error: /proc/self/mem: cannot read (Input/output error)\n"


@pytest.mark.parametrize("url", ["http://[::1", "http://eip:s3cret@[::1/x", "http://h:port"])
def test_pushgateway_that_is_no_url_is_a_note_and_bit_8(url: str) -> None:
    # As an unreachable gateway (tests/test_metrics.py): the metrics are lost, not the scan.
    code, out, err = run_scan(SNAP, "json", "--pushgateway", url)
    report = assert_outcome(code, out, err, exported=True)
    assert report is not None and code == report["summary"]["exit_code"] | 8
    assert err.startswith("eipfsck: error: --pushgateway ") and "metrics not pushed" in err
    assert err.count("\n") == 1 and "s3cret" not in err
