"""`eipfsck repair` on the command line, without a cluster: usage errors, the snapshot
dry-run, the plan file. (Applying is tested against real servers in tests/live.)"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from clirun import run

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
