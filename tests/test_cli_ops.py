"""The operator conveniences: the kubectl plugin, shell completion, --version."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from eipfsck import __version__
from eipfsck.cli import plugin_args


@pytest.mark.parametrize(("argv", "expected"), [
    (["--context", "prod", "scan", "-o", "json"], ["scan", "--context", "prod", "-o", "json"]),
    (["--kubeconfig=/k", "-n", "kube-ovn", "repair", "-n"],
     ["repair", "--kubeconfig", "/k", "--kube-ovn-namespace", "kube-ovn", "-n"]),
    (["scan", "--context", "prod"], ["scan", "--context", "prod"]),
    (["--context", "prod"], ["--context", "prod"]),          # no subcommand: usage says so
    (["--context"], ["--context"]),
    (["--version"], ["--version"]),
    ([], []),
])
def test_plugin_moves_kubectl_flags_behind_the_subcommand(argv: list[str],
                                                          expected: list[str]) -> None:
    assert plugin_args(argv) == expected


def _script(name: str) -> str:
    path = shutil.which(name, path=os.path.dirname(sys.executable) + os.pathsep
                        + os.environ.get("PATH", ""))
    if path is None:
        pytest.fail(f"console script {name} is not installed: pip install -e . installs it",
                    pytrace=False)
    return path


def test_kubectl_plugin_is_installed_and_names_itself() -> None:
    plugin = _script("kubectl-eipfsck")
    out = subprocess.run([plugin, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"eipfsck {__version__}"
    usage = subprocess.run([plugin, "--help"], capture_output=True, text=True, timeout=60)
    assert usage.stdout.startswith("Usage: kubectl eipfsck ")
    # kubectl's flag before the subcommand reaches the subcommand.
    bad = subprocess.run([plugin, "--kubeconfig", "/nonexistent/kc", "scan"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 16 and "--kubeconfig /nonexistent/kc: no such file" in bad.stderr


def test_shell_completion() -> None:
    exe = _script("eipfsck")
    shown = subprocess.run([exe, "--show-completion", "bash"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "_EIPFSCK_COMPLETE=complete_bash" in shown.stdout
    env = {**os.environ, "_EIPFSCK_COMPLETE": "complete_bash",
           "COMP_WORDS": "eipfsck repair --allow", "COMP_CWORD": "2"}
    done = subprocess.run([exe], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.split() == ["--allow-controller-restart", "--allow-resurrect"]


@pytest.mark.parametrize("args", [["scan", "--snapshot", "examples/leaky-cluster"],
                                  ["repair", "--snapshot", "examples/leaky-cluster", "--dry-run"]])
def test_a_reader_that_goes_away_is_not_an_error(args: list[str]) -> None:
    """`eipfsck scan | head`: the closed pipe is not rich's exit 1 ("repairs were made"),
    nothing on stderr, and the exit code is the one the run earned (4: findings)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([_script("eipfsck"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=repo)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 4
    assert proc.stderr.read() == b""
