"""Help that tells the truth: every command's --help names only options that command takes
and only the exit codes it can return (from exitcodes, the one table), and every kubectl-style
prefix of `kubectl eipfsck` works in front of every command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from clirun import run

from eipfsck import exitcodes
from eipfsck.cli import app, main, plugin_args

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)  # type: ignore[attr-defined]
REPO = Path(__file__).resolve().parent.parent


def _options(command: str) -> set[str]:
    params = GROUP.commands[command].params  # type: ignore[attr-defined]
    return {o for p in params for o in (*p.opts, *p.secondary_opts)}


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_command_is_covered() -> None:
    assert set(COMMANDS) == set(exitcodes.COMMAND_CODES)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_only_options_the_command_takes(
        command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run([command, "--help"], capsys)
    assert code == 0 and err == ""
    out = re.sub(r"-\n\s+", "-", out)  # click wraps help at 80 columns, also after a hyphen
    # an option after another command's name ("a later `scan --snapshot`") is that command's
    others = "|".join(c for c in COMMANDS if c != command)
    mentioned = {m.group(2) for m in re.finditer(rf"(`?(?:{others})\s+)?(--[a-z][a-z0-9-]*)", out)
                 if not m.group(1)}
    assert mentioned, out
    assert mentioned <= _options(command) | {"--help"}, mentioned - _options(command)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_exit_codes_of_that_command(
        command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = run([command, "--help"], capsys)
    text = _flat(out)
    assert _flat(exitcodes.help_text(command)) in text
    listed = [int(c) for c in re.findall(r"(?:: |; )(\d+) ", text[text.index("Exit codes"):])]
    assert listed == list(exitcodes.COMMAND_CODES[command])


def test_repair_help_does_not_mention_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["repair", "--help"], capsys)
    assert "--fail-on" not in out
    assert "--fail-on" not in _options("repair")


PREFIXES = [
    ["--context", "prod"], ["--context=prod"], ["--kubeconfig", "/nonexistent/kubeconfig"],
    ["--request-timeout", "5s"], ["-n", "kube-system"], ["--namespace", "kube-system"],
    ["--namespace=kube-ovn"], ["-n", "kube-system", "--context", "prod"],
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=" ".join)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_kubectl_prefix_works_before_every_command(
        command: str, prefix: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(plugin_args([*prefix, command, "--help"]), prog_name="kubectl eipfsck")
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert "No such option" not in err and out.startswith("Usage: kubectl eipfsck " + command)


@pytest.mark.parametrize("args", [["checks"], ["explain", "leaked-ip"]])
def test_a_namespace_flag_before_a_command_that_reads_no_cluster_is_ignored(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`kubectl eipfsck -n kube-system checks`: as kubectl ignores -n for a cluster-scoped
    kind; never "No such option: --kube-ovn-namespace", an option the user did not type."""
    with pytest.raises(SystemExit) as exc:
        main(plugin_args(["-n", "kube-system", "--context", "prod", *args]),
             prog_name="kubectl eipfsck")
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert err == "" and out


def test_the_installed_plugin_takes_kubectl_flags() -> None:
    exe = Path(sys.executable).with_name("kubectl-eipfsck")
    done = subprocess.run([str(exe), "-n", "kube-system", "checks"], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "leaked-ip"
    done = subprocess.run([str(exe), "-n", "kube-system", "scan", "--snapshot",
                           "examples/healthy-cluster"], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
