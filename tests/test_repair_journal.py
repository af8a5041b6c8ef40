"""The journal's file rules and what an interrupted run left behind (pure parts)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from eipfsck.repair.journal import Journal, JournalError, read_entries
from eipfsck.repair.recover import pending


def test_new_journal_is_0600_in_new_0700_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.jsonl"
    old = os.umask(0o022)
    try:
        j = Journal(path)
    finally:
        os.umask(old)
    j.record("start", x=1)
    j.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for d in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    (entry,) = read_entries(path)
    assert entry["event"] == "start" and entry["run"] and entry["x"] == 1


def test_a_wider_journal_is_refused_not_used(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"event": "start"}\n')
    path.chmod(0o644)
    with pytest.raises(JournalError, match="has mode 0644, wider than 0600; refused"):
        Journal(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not silently changed either
    assert path.read_text() == '{"event": "start"}\n'


def test_a_symlinked_journal_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    target.chmod(0o600)
    link = tmp_path / "journal.jsonl"
    link.symlink_to(target)
    with pytest.raises(JournalError, match="is a symbolic link; refused"):
        Journal(link)
    with pytest.raises(JournalError, match="symbolic link"):
        read_entries(link)
    assert target.read_text() == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_journal_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    path.chmod(0o600)
    os.chown(path, 4242, 4242)
    with pytest.raises(JournalError, match="is owned by uid 4242"):
        Journal(path)


def _lines(*entries: dict) -> list[dict]:
    return [json.loads(json.dumps(e)) for e in entries]


def test_pending_is_an_intent_without_outcome_or_recovery() -> None:
    vip = {"action": "resurrect", "target": {"kind": "Vip", "name": "vip-b"}}
    nat = {"action": "delete-nb-nat", "target": {"kind": "NAT", "name": "n"}}
    entries = _lines(
        {"run": "r1", "event": "start"},
        {"run": "r1", "event": "intent", "id": "A01", "action": nat},
        {"run": "r1", "event": "outcome", "id": "A01", "outcome": "released"},
        {"run": "r1", "event": "intent", "id": "A02", "action": vip, "cluster": "c"},
        {"run": "r1", "event": "created", "id": "A02", "uid": "u-1"},
        # another run, interleaved in the same file, with the same ids
        {"run": "r2", "event": "intent", "id": "A01", "action": nat},
        {"run": "r2", "event": "outcome", "id": "A01", "outcome": "released"},
        {"run": "r3", "event": "intent", "id": "A01", "action": nat},
        {"run": "r4", "event": "recovered", "of_run": "r3", "id": "A01"},
    )
    (p,) = pending(entries)
    assert (p.run, p.id, p.created_uid, p.cluster) == ("r1", "A02", "u-1", "c")
    assert p.describe() == "A02 resurrect Vip vip-b"


def test_pending_in_a_journal_without_run_ids() -> None:
    nat = {"action": "delete-nb-nat", "target": {"kind": "NAT", "name": "n"}}
    entries = _lines(
        {"event": "start"}, {"event": "intent", "id": "A01", "action": nat},
        {"event": "outcome", "id": "A01"},
        {"event": "start"}, {"event": "intent", "id": "A01", "action": nat})
    (p,) = pending(entries)
    assert p.run == "line 4"
