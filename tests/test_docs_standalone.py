"""The product stands alone: its docs and its output cite the project's own docs or Kube-OVN's
source, never research notes that are not part of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from clirun import run

from eipfsck.checks.catalogue import CATALOGUE
from eipfsck.cli import app

REPO = Path(__file__).resolve().parent.parent
NOT_OURS = re.compile(r"kube-ovn-model|(?<![-\w])design\.md|\.\./shared|prior-art\.md|"
                      r"real-world-shapes\.md")
# Everything the project ships or builds from: its docs, its source, its manifests, the
# example generator and the benchmarks.
FIXED = sorted(
    str(p.relative_to(REPO))
    for pattern in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md", "Dockerfile", "docs/*.md",
                    "src/eipfsck/**/*.py", "deploy/**/*.y*ml", "deploy/**/*.tpl",
                    "examples/*.py", "bench/**/*.py", "bench/*.md", "scripts/*")
    for p in REPO.glob(pattern) if p.is_file())


@pytest.mark.parametrize("path", FIXED)
def test_no_citation_of_files_the_project_does_not_have(path: str) -> None:
    text = (REPO / path).read_text(encoding="utf-8")
    assert not NOT_OURS.findall(text), path


def test_the_kube_ovn_page_is_linked_and_cites_upstream_functions() -> None:
    page = (REPO / "docs" / "kube-ovn.md").read_text(encoding="utf-8")
    for needed in ("pkg/controller/init.go", "`InitIPAM`", "`handleDelIptablesEip`",
                   "`calculateUsingIPs`", "`markAndCleanLSP`", "`checkAndAppendIpsForDual`"):
        assert needed in page
    for doc in ("README.md", "docs/operator-guide.md", "docs/checks.md"):
        assert "kube-ovn.md" in (REPO / doc).read_text(encoding="utf-8"), doc


COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
OUTPUTS = [["scan", "--snapshot", "examples/leaky-cluster", "--controller-log",
            "examples/leaky-cluster-controller.log"],
           ["scan", "--snapshot", "examples/leaky-cluster", "-o", "json"],
           ["checks"], ["checks", "-o", "json"],
           *[["explain", c.id] for c in CATALOGUE],
           *[[c, "--help"] for c in COMMANDS]]


@pytest.mark.parametrize("args", OUTPUTS, ids=" ".join)
def test_output_cites_nothing_the_project_does_not_have(
        args: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    _, out, err = run(args, capsys)
    assert not NOT_OURS.findall(out + err)


def _readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_demo_installs_into_a_virtualenv_and_ci_runs_its_test_command() -> None:
    demo, tests = _readme_commands()
    steps = [step.strip() for step in demo.split("&&")]
    assert steps[0].startswith("python3 -m venv ")
    venv = steps[0].split()[-1]
    # every later step runs from that virtualenv: nothing touches the user's global Python
    assert all(step.startswith(f"{venv}/bin/") for step in steps[1:]), steps
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert f"exec {tests}\n" in ci
    assert "~/.cache/eipfsck-test" in (REPO / "README.md").read_text(encoding="utf-8")
