"""The release package: what `python -m build` makes is what PyPI and the image get.

One build (sdist, then the wheel from that sdist, as `python -m build` does) into a temp dir,
offline (--no-isolation: the backend comes from the dev extras), from a copy of the tree so
that nothing is written into the checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import yaml
from clirun import run

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
IMAGE = "ghcr.io/eipfsck/eipfsck"
# Not part of a source distribution; everything else of the checkout is copied.
SKIP = shutil.ignore_patterns(".git", ".venv", "dist", "build", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".ruff_cache", ".hypothesis")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("package")
    src, out = tmp / "src", tmp / "dist"
    shutil.copytree(REPO, src, ignore=SKIP)
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(src)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # A deprecated setting is a build that stops working on a later setuptools.
    assert "deprecated" not in (done.stdout + done.stderr).lower(), done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_twine_check_passes(dists: dict[str, Path]) -> None:
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                           str(dists["wheel"]), str(dists["sdist"])],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_carries_the_package_and_nothing_from_tests(dists: dict[str, Path]) -> None:
    wheel = dists["wheel"]
    assert wheel.name == f"eipfsck-{VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"eipfsck", f"eipfsck-{VERSION}.dist-info"}, tops
    assert "eipfsck/py.typed" in names
    assert "eipfsck/cli.py" in names and "eipfsck/kubeovn/names.py" in names
    assert not [n for n in names if "tests/" in n or "/test_" in n or "conftest" in n]
    assert f"eipfsck-{VERSION}.dist-info/licenses/LICENSE" in names
    # Every module of the source tree is in the wheel (a package without __init__.py, or
    # a data file left out of package-data, would be missing here).
    source = {str(p.relative_to(REPO / "src")) for p in (REPO / "src" / "eipfsck").rglob("*")
              if p.is_file() and p.suffix in (".py", ".typed", ".json", ".yaml")
              and "__pycache__" not in p.parts}
    assert source <= set(names), source - set(names)


def test_the_metadata_is_complete(dists: dict[str, Path]) -> None:
    wheel = zipfile.ZipFile(dists["wheel"])
    meta = Parser().parsestr(wheel.read(f"eipfsck-{VERSION}.dist-info/METADATA").decode())
    assert meta["Name"] == "eipfsck" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert any(u.startswith("Source, https://") for u in meta.get_all("Project-URL"))
    requires = {re.split(r"[ <>=;\[]", r)[0] for r in meta.get_all("Requires-Dist")}
    assert {"kubernetes", "ovsdbapp", "typer"} <= requires
    entry = wheel.read(f"eipfsck-{VERSION}.dist-info/entry_points.txt").decode()
    assert "eipfsck = eipfsck.cli:main" in entry
    assert "kubectl-eipfsck = eipfsck.cli:kubectl_main" in entry


def test_the_sdist_carries_the_license_and_the_sources(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = sdist.getnames()
    root = f"eipfsck-{VERSION}"
    assert {f"{root}/pyproject.toml", f"{root}/README.md", f"{root}/LICENSE",
            f"{root}/src/eipfsck/py.typed"} <= set(names)


def test_the_version_is_written_in_one_place(dists: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # The package reads it from the installed metadata; it is never written in src/.
    init = (REPO / "src" / "eipfsck" / "__init__.py").read_text()
    assert 'version("eipfsck")' in init
    assert not [p for p in (REPO / "src").rglob("*.py") if VERSION in p.read_text()]
    # The wheel's own metadata gives the installed package that version.
    target = tmp_path / "site"
    zipfile.ZipFile(dists["wheel"]).extractall(target)
    done = subprocess.run([sys.executable, "-S", "-c",
                           f"import sys; sys.path.insert(0, {str(target)!r}); "
                           "import eipfsck; print(eipfsck.__version__)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == VERSION
    code, out, _ = run(["--version"], capsys)
    assert (code, out.strip()) == (0, f"eipfsck {VERSION}")


def image_tags() -> dict[str, set[str]]:
    """Every tag of eipfsck's image that a file names, by file."""
    files = [REPO / "Dockerfile", *sorted((REPO / "deploy").glob("*.yaml*")),
             *sorted((REPO / "deploy" / "helm").rglob("*.yaml"))]
    tags = {}
    for f in files:
        found = set(re.findall(re.escape(IMAGE) + r":([0-9A-Za-z.+-]+)", f.read_text()))
        if found:
            tags[str(f.relative_to(REPO))] = found
    return tags


def test_every_image_tag_and_the_chart_follow_the_version() -> None:
    tags = image_tags()
    assert "deploy/cronjob-scan.yaml" in tags and "Dockerfile" in tags
    assert {f: t for f, t in tags.items() if t != {VERSION}} == {}
    chart = yaml.safe_load((REPO / "deploy" / "helm" / "eipfsck" / "Chart.yaml").read_text())
    assert chart["appVersion"] == VERSION
    assert chart["version"] == VERSION
    values = yaml.safe_load((REPO / "deploy" / "helm" / "eipfsck" / "values.yaml").read_text())
    # An empty tag means the chart's appVersion: the chart names no version of its own.
    assert values["image"]["repository"] == IMAGE and values["image"]["tag"] == ""


def test_the_changelog_has_the_release_entry() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    heads = re.findall(r"^## (\S+)", text, re.M)
    assert heads and heads[0] == VERSION, heads
