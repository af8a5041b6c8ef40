"""The OCI image of `scripts/image build`, run by `scripts/image run` with runc (or crun) the
way the CronJob runs it: read-only root, no capabilities, no new privileges, uid 65532, the
snapshot or kubeconfig mounted read-only, the host's network (its loopback servers).

* The image: labels, user and entrypoint as the Dockerfile describes them; the label's version
  is `eipfsck --version` inside it and pyproject.toml's.
* The confinement is real: looked at from inside the container.
* A scan of examples/leaky-cluster mounted into it: exit 4, the same findings as on the host.
* A live scan from inside it against the genuine apiserver and NB of scripts/test-env, once
  with a mounted kubeconfig and once in-cluster (a ServiceAccount token mounted where a pod
  has it, deploy/rbac-scan.yaml's rights): the same findings as the admin's scan on the host.

`scripts/image build` is a no-op when dist/eipfsck-image.tar's stamp matches its inputs.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import run
from live.conftest import REPO_ROOT, UP_TIMEOUT, EnvFactory, LiveEnv, seeded
from live.test_deploy import LEAKY, key, service_account

SCRIPT = REPO_ROOT / "scripts" / "image"
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="session")
def image() -> dict[str, Any]:
    """Build (or find up to date) the image; its OCI image config."""
    done = subprocess.run([str(SCRIPT), "build"], capture_output=True, text=True,
                          timeout=UP_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([str(SCRIPT), "inspect"], capture_output=True, text=True,
                          timeout=300, check=True)
    return dict(json.loads(done.stdout))


def in_image(*args: str, ro: tuple[str, ...] = (), env: tuple[str, ...] = (),
             entrypoint: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT), "run"]
    for m in ro:
        cmd += ["--ro", m]
    for e in env:
        cmd += ["--env", e]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint]
    return subprocess.run([*cmd, "--", *args], capture_output=True, text=True, timeout=600,
                          check=False)


def dockerfile() -> tuple[dict[str, str], list[str]]:
    """The final stage's LABELs, and its USER / WORKDIR / ENTRYPOINT lines."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', final))
    lines = [ln.strip() for ln in final.splitlines()
             if ln.startswith(("USER ", "WORKDIR ", "ENTRYPOINT "))]
    return labels, lines


def test_the_image_is_the_one_the_dockerfile_describes(image: dict[str, Any]) -> None:
    config = image["config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.source"] == PROJECT["urls"]["Source"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["eipfsck"]
    assert image["os"] == "linux" and image["architecture"] == "amd64"
    want, lines = dockerfile()
    assert want.pop("org.opencontainers.image.version") == "$VERSION"
    assert {k: v for k, v in labels.items() if k in want} == want
    assert set(labels) == {*want, "org.opencontainers.image.version"}
    assert lines == [f"USER {config['User']}", f"WORKDIR {config['WorkingDir']}",
                     f"ENTRYPOINT {json.dumps(config['Entrypoint'])}"]

    done = in_image("--version")
    assert (done.returncode, done.stdout) == (0, f"eipfsck {VERSION}\n"), done.stderr


LOOK = r"""
import os, sys
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w"):
            pass
        return True
    except OSError:
        return False
print(os.getuid(), os.getgid(), status["CapEff"].strip(), status["CapBnd"].strip(),
      status["NoNewPrivs"].strip(), writable("/"), writable("/home/eipfsck"),
      writable("/snapshot"), writable("/tmp"), writable("/var/lib/eipfsck"),
      os.path.exists("/opt/eipfsck/bin/pip"), sys.version_info[:2] == (3, 11))
"""


def test_the_container_is_confined_as_the_cronjob_pod(image: dict[str, Any]) -> None:
    done = in_image("-c", LOOK, ro=(f"{LEAKY}=/snapshot",),
                    entrypoint="/opt/eipfsck/bin/python")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "65532", "65532", "0000000000000000", "0000000000000000", "1",
        "False", "False", "False",  # read-only root (even where uid 65532 owns a dir), mount
        "True", "True",             # the emptyDirs
        "False", "True"], done.stdout  # no pip left; Debian's Python 3.11


def test_a_scan_of_the_demo_snapshot_mounted_into_the_container(
        image: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    done = in_image("scan", "--snapshot", "/snapshot", "-o", "json",
                    ro=(f"{LEAKY}=/snapshot",))
    assert done.returncode == 4, done.stderr
    code, out, _ = run(["scan", "--snapshot", str(LEAKY), "-o", "json"], capsys)
    assert code == 4
    inside, host = json.loads(done.stdout), json.loads(out)
    assert inside["findings"]
    assert sorted(map(key, inside["findings"])) == sorted(map(key, host["findings"]))


@pytest.fixture(scope="module")
def image_env(live_env_factory: EnvFactory) -> Any:
    env = seeded(live_env_factory, "image", LEAKY)
    try:
        yield env
    finally:
        live_env_factory.stop(env.state)


def admin_findings(env: LiveEnv, capsys: pytest.CaptureFixture[str]) -> list[Any]:
    code, out, err = run(["scan", "-o", "json", "--kubeconfig", env.kubeconfig,
                          "--ovn-nb", env.nb_tcp], capsys)
    assert code == 4, err
    return sorted(map(key, json.loads(out)["findings"]))


def test_a_live_scan_from_inside_the_container_with_a_mounted_kubeconfig(
        image: dict[str, Any], image_env: LiveEnv, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = image_env
    config = yaml.safe_load(Path(env.kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    # Self-contained: the CA inside the file, which alone is mounted.
    ca = Path(cluster.pop("certificate-authority")).read_bytes()
    cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    kubeconfig.chmod(0o644)  # uid 65532 reads it through the read-only bind
    done = in_image("scan", "-o", "json", "--kubeconfig", "/etc/eipfsck/kubeconfig",
                    "--ovn-nb", env.nb_tcp, ro=(f"{kubeconfig}=/etc/eipfsck/kubeconfig",))
    assert done.returncode == 4, done.stderr
    report = json.loads(done.stdout)
    assert report["findings"]
    assert sorted(map(key, report["findings"])) == admin_findings(env, capsys)


def test_a_live_scan_from_inside_the_container_in_cluster(
        image: dict[str, Any], image_env: LiveEnv, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """As the CronJob's pod: no kubeconfig, the ServiceAccount's token and CA where the
    kubelet mounts them, KUBERNETES_SERVICE_HOST/PORT, deploy/rbac-scan.yaml's rights."""
    env = image_env
    sa = service_account(env, tmp_path, ["rbac-scan.yaml"])
    try:
        token = yaml.safe_load(Path(sa.kubeconfig).read_text())["users"][0]["user"]["token"]
    finally:
        sa.api.close()
    secrets = tmp_path / "serviceaccount"
    secrets.mkdir()
    (secrets / "token").write_text(token)
    (secrets / "ca.crt").write_bytes(Path(env.apiserver_ca).read_bytes())
    (secrets / "namespace").write_text("eipfsck")
    for f in secrets.iterdir():
        f.chmod(0o644)
    host, port = env.apiserver.removeprefix("https://").rsplit(":", 1)
    done = in_image("scan", "-o", "json", "--ovn-nb", env.nb_tcp,
                    ro=(f"{secrets}={SA_DIR}",),
                    env=(f"KUBERNETES_SERVICE_HOST={host}", f"KUBERNETES_SERVICE_PORT={port}"))
    assert done.returncode == 4, done.stderr
    assert "forbidden" not in done.stderr.lower(), done.stderr
    report = json.loads(done.stdout)
    assert report["findings"]
    assert sorted(map(key, report["findings"])) == admin_findings(env, capsys)
