"""`eipfsck repair` on the command line, without a cluster: usage errors, the snapshot
dry-run, the plan file. (Applying is tested against real servers in tests/live.)"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from clirun import run
from outtargets import make_target

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LEAKY = str(EXAMPLES / "leaky-cluster")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.mark.parametrize(("args", "message"), [
    (["--snapshot", LEAKY], "a plan from a snapshot is never applied"),
    (["--snapshot", LEAKY, "--plan", "p.json"], "a plan is applied to the live cluster only"),
    (["--plan", "p.json", "--plan-out", "q.json"], "the plan exists already"),
    (["--snapshot", LEAKY, "--dry-run", "--grace", "soon"], "--grace 'soon'"),
    (["--snapshot", LEAKY, "--dry-run", "--controller-log", "auto"], "reads the live cluster"),
    (["--snapshot", LEAKY, "--dry-run", "--max-leak-ratio", "2"], "--max-leak-ratio"),
])
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]
                      ) -> None:
    code, _, err = run(["repair", *args], capsys)
    assert code == 16
    assert message in " ".join(err.split())


def test_snapshot_dry_run_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["repair", "--snapshot", LEAKY, "--dry-run"], capsys)
    assert code == 4  # the scan's code: findings
    assert "Actions (6), in the order they run:" in out
    assert "A01  delete-nb-nat" in out
    assert "Needs an opt-in option (2):" in out  # fd00:10:10::d: a possible phantom
    assert "For a human (no safe automatic action) (7):" in out  # every error is in the plan


def test_snapshot_plan_out_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.json"
    code, out, err = run(["repair", "-s", LEAKY, "--plan-out", str(path), "-o", "json",
                          "--controller-log", str(EXAMPLES / "leaky-cluster-controller.log"),
                          "--allow-controller-restart", "--ack-hazards"], capsys)
    assert code == 4
    assert json.loads(out) == json.loads(path.read_text())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(out)
    assert doc["schema"] == "eipfsck/plan/v1"
    assert doc["actions"][-1]["action"] == "restart-controller"
    assert doc["policy"]["allow_controller_restart"] is True
    assert "wrote the plan" in err


def test_plan_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["repair", "--plan", str(tmp_path / "nope.json"),
                        "--kubeconfig", str(tmp_path / "kc")], capsys)
    assert code == 16 and "no such file" in err


def test_journal_is_private_append_only_and_unwritable_is_an_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from eipfsck.repair.journal import Journal, JournalError
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="journal"):
        Journal(blocker / "journal.jsonl")
    j = Journal(tmp_path / "state" / "journal.jsonl")
    j.record("start", n=1)
    j.record("end", n=2)
    j.close()
    lines = [json.loads(x) for x in (tmp_path / "state" / "journal.jsonl").read_text()
             .splitlines()]
    assert [x["event"] for x in lines] == ["start", "end"]
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "journal.jsonl").st_mode) == 0o600


def test_scan_points_at_the_dry_run_only_when_repair_could_act(
        capsys: pytest.CaptureFixture[str]) -> None:
    pointer = "`eipfsck repair --dry-run` shows which of these repair would act on"
    _, out, _ = run(["scan", "--snapshot", LEAKY], capsys)
    assert pointer in out
    _, out, _ = run(["scan", "--snapshot", str(EXAMPLES / "healthy-cluster")], capsys)
    assert pointer not in out


# -- where --plan-out may write (report/outfile.py, as --report and --metrics-file) ---------


@pytest.mark.parametrize("kind", ["symlink-to-file", "dangling-symlink", "fifo", "device"])
def test_plan_out_that_is_not_a_regular_file_is_refused_before_the_scan(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = make_target(tmp_path, kind)
    before = os.lstat(target)
    code, out, err = run(["repair", "-s", LEAKY, "--plan-out", str(target)], capsys)
    assert code == 16 and out == "", (code, err)
    assert err.startswith(f"eipfsck: error: --plan-out {target}: is a") and "refusing" in err
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    if kind == "symlink-to-file":
        assert (tmp_path / "real.json").read_text() == "old\n"  # not followed either


@pytest.mark.parametrize("where", ["directory", "unwritable"])
def test_plan_out_unwritable_is_a_note_and_bit_8_with_the_plan_printed(
        where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # /proc takes no new files, even from root: an unwritable place everyone has.
    target = str(make_target(tmp_path, where)) if where == "directory" \
        else "/proc/eipfsck-plan.json"
    code, out, err = run(["repair", "-s", LEAKY, "--plan-out", target, "-o", "json"], capsys)
    assert code == 4 | 8, (code, err)  # the scan's findings, and the plan not saved
    assert json.loads(out)["schema"] == "eipfsck/plan/v1"  # the plan still reaches stdout
    assert f"eipfsck: error: --plan-out {target}: " in err and "not saved" in err, err
    assert "wrote the plan" not in err and "Traceback" not in err
    if where == "directory":
        assert list(Path(target).iterdir()) == []  # no temp file left in it


def test_plan_out_replaces_a_regular_file_and_its_sha256_is_the_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:

    target = make_target(tmp_path, "regular")
    code, out, err = run(["repair", "-s", LEAKY, "--plan-out", str(target)], capsys)
    assert code == 4, err
    data = target.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert f"wrote the plan to {target} (6 action(s)), sha256 {sha}" in " ".join(err.split())
    assert f"Plan sha256: {sha}" in out  # the review shows the file's digest too
    assert json.loads(data)["schema"] == "eipfsck/plan/v1"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp left beside it


def test_plan_out_to_an_open_descriptor_writes_that_stream(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:

    sink = tmp_path / "sink"
    with sink.open("w") as fh:
        code, _, err = run(["repair", "-s", LEAKY, "-q", "--plan-out",
                            f"/dev/fd/{fh.fileno()}"], capsys)
    assert code == 4, err
    data = sink.read_bytes()
    assert json.loads(data)["schema"] == "eipfsck/plan/v1"
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in err
