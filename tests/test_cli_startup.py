"""The commands that answer at once (--version, --help, checks, explain, a usage error) start
without the libraries a scan needs: what a fresh process imports decides its start-up time,
and that is checked exactly here, never a timing (bench/startup.py measures the time).

Each case runs the installed entry point (the `eipfsck` or `kubectl-eipfsck` script pip
wrote) in a fresh interpreter that, at exit, writes down sys.modules: every module the run
imported, however it was imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from eipfsck import exitcodes

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# What a scan needs and a fast path must not pay for: the Kubernetes client (and urllib3,
# requests under it), the OVS IDL, YAML, Prometheus, rich (tables, progress), pydantic
# (Typer's checks of option values; eipfsck.cliparams does the plain ones without it), and
# importlib.metadata (the installed version: --version and reports only).
HEAVY = ("kubernetes", "urllib3", "requests", "ovs", "ovsdbapp", "yaml", "prometheus_client",
         "rich", "pydantic", "pydantic_core", "importlib.metadata")
# The only modules of eipfsck itself a fast path may load: no pipeline, model, collector,
# report format or repair module.
LIGHT = {"eipfsck", "eipfsck.__main__", "eipfsck.cli", "eipfsck.cliparams", "eipfsck.exitcodes",
         "eipfsck.errors", "eipfsck.checks", "eipfsck.checks.catalogue", "eipfsck.report",
         "eipfsck.report.escape", "eipfsck.report.stdio"}

# Runs an entry-point script as `python SCRIPT ARGS` would, and records sys.modules at exit
# (after SystemExit, so after the command ran).
_PROBE = """\
import atexit, os, runpy, sys
def record():
    with open(os.environ["EIPFSCK_TEST_MODULES"], "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(record)
sys.argv = sys.argv[1:]
if sys.argv[0] == "-m":
    del sys.argv[0]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def imported(exe: str, *args: str) -> tuple[int, str, str, set[str]]:
    """(exit code, stdout, stderr, modules imported) of one run of the installed `exe`, or of
    `python -m eipfsck` when `exe` is "-m"."""
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "modules"
        env = {**os.environ, "EIPFSCK_TEST_MODULES": str(record), "COLUMNS": "100"}
        env.pop("EIPFSCK_DEBUG", None)
        target = ["-m", "eipfsck"] if exe == "-m" else [str(BIN / exe)]
        done = subprocess.run([sys.executable, "-c", _PROBE, *target, *args],
                              capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
                              check=False)
        modules = set(record.read_text().split("\n"))
    return done.returncode, done.stdout, done.stderr, modules


def heavy(modules: set[str], allowed: tuple[str, ...] = ()) -> set[str]:
    return {m for m in modules for h in HEAVY
            if h not in allowed and (m == h or m.startswith(h + "."))}


FAST = [
    (["--version"], exitcodes.CLEAN),
    (["--help"], exitcodes.CLEAN),
    ([], exitcodes.USAGE),  # no command: the help, as a usage error
    *[([command, "--help"], exitcodes.CLEAN) for command in sorted(exitcodes.COMMAND_CODES)],
    (["checks"], exitcodes.CLEAN),
    (["checks", "-o", "json"], exitcodes.CLEAN),
    (["explain", "leaked-ip"], exitcodes.CLEAN),
    (["explain", "no-such-check"], exitcodes.USAGE),
    (["scan", "--no-such-option"], exitcodes.USAGE),
    (["scan", "-o", "csv"], exitcodes.USAGE),
    (["scan", "--page-size", "0"], exitcodes.USAGE),
    (["repair", "--max-leak-ratio", "2"], exitcodes.USAGE),
    (["explain"], exitcodes.USAGE),
    (["no-such-command"], exitcodes.USAGE),
]


@pytest.mark.parametrize(("args", "code"), FAST, ids=[" ".join(a) or "(none)" for a, _ in FAST])
def test_a_fast_path_imports_nothing_heavy(args: list[str], code: int) -> None:
    rc, out, err, modules = imported("eipfsck", *args)
    assert rc == code, err
    assert "Traceback" not in err and (out or err)
    assert "eipfsck.cli" in modules  # the list is read: the run went through the CLI
    allowed = ("importlib.metadata",) if args == ["--version"] else ()
    assert not heavy(modules, allowed), sorted(heavy(modules, allowed))
    ours = {m for m in modules if m == "eipfsck" or m.startswith("eipfsck.")}
    assert ours <= LIGHT, sorted(ours - LIGHT)


@pytest.mark.parametrize("args", [["-n", "kube-system", "checks"],
                                  ["--context", "prod", "scan", "--help"]], ids=" ".join)
def test_the_kubectl_plugin_fast_paths_import_nothing_heavy(args: list[str]) -> None:
    rc, out, err, modules = imported("kubectl-eipfsck", *args)
    assert rc == 0, err
    assert out and "eipfsck.cli" in modules
    assert not heavy(modules), sorted(heavy(modules))


def test_python_dash_m_takes_the_same_fast_path() -> None:
    rc, out, err, modules = imported("-m", "--version")
    assert rc == 0 and out.startswith("eipfsck "), err
    assert "eipfsck.cli" in modules
    assert not heavy(modules, ("importlib.metadata",)), sorted(heavy(modules))


def test_a_scan_still_imports_what_it_needs() -> None:
    """The control: the same reading sees the libraries a command does load."""
    rc, out, err, modules = imported("eipfsck", "scan", "--snapshot",
                                     "examples/healthy-cluster", "-o", "yaml")
    assert rc == exitcodes.CLEAN, err
    assert out.startswith("schema: eipfsck/report/v")
    assert {"yaml", "eipfsck.pipeline", "eipfsck.report.yamlfmt"} <= modules
    # A snapshot is read without the cluster's clients, and without the metrics exporter
    # when no --metrics-file or --pushgateway asks for it.
    assert not heavy(modules) - {m for m in modules if m == "yaml" or m.startswith("yaml.")
                                 or m.startswith("importlib.metadata")}, sorted(heavy(modules))


def test_a_live_command_still_imports_the_kubernetes_client() -> None:
    """The control for the live side: the clients are imported when the command runs."""
    rc, out, err, modules = imported("eipfsck", "doctor", "--kubeconfig", "/nonexistent/config")
    assert rc == exitcodes.USAGE, err
    assert out.startswith("fail kubeconfig: --kubeconfig /nonexistent/config: no such file")
    assert {"kubernetes", "ovs", "eipfsck.collect.kube", "eipfsck.doctor"} <= modules
