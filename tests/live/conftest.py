"""Fixtures for tests against real servers: kube-apiserver + etcd + OVN NB ovsdb-server.

Each environment is a `scripts/test-env up` in its own state directory (several can run at
once) and is always taken down again. Environments start only when a test asks for one:

* `leaky_env`, `healthy_env` (session): examples/leaky-cluster or examples/healthy-cluster
  seeded into a fresh environment. Tests must only read them.
* `fresh_env` (function): an empty environment, no CRDs installed; the `install_crds` fixture
  gives the helper `install_crds(env, resources)` that installs what a test needs.
* `live_env_factory` (session): `start(name)` for anything else; stopped at session end.

An environment that cannot be started fails the test with the tail of the script's stderr; these
tests are never skipped.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from live import ovsdb
from live.seed import Api, SeedError, SeedResult, seed_snapshot
from live.seed import install_crds as _install_crds

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_ENV = REPO_ROOT / "scripts" / "test-env"
EXAMPLES = REPO_ROOT / "examples"
# A cold build of kube-apiserver can take many minutes on a busy machine (test-infrastructure.md).
UP_TIMEOUT = float(os.environ.get("EIPFSCK_TEST_UP_TIMEOUT", "3600"))
STDERR_TAIL = 40


@dataclass(frozen=True)
class LiveEnv:
    """A running environment, as `scripts/test-env env` describes it."""

    name: str
    state: Path
    kubeconfig: str
    kubeconfig_limited: str
    apiserver: str
    apiserver_ca: str
    admin_token: str
    limited_token: str
    etcd: str
    nb_tcp: str
    nb_unix: str
    nb_ssl: str
    nb_ca: str
    nb_cert: str
    nb_key: str
    bin_dir: Path
    vars: dict[str, str] = field(repr=False)
    """Every EIPFSCK_TEST_* variable printed by `scripts/test-env env`."""
    snapshot: Path | None = None
    """The snapshot seeded into it, if any."""
    seeded: SeedResult | None = None

    @property
    def nb_ssl_files(self) -> tuple[str, str, str]:
        """(key, cert, CA) for the ssl: remote, the order seed_snapshot takes them."""
        return self.nb_key, self.nb_cert, self.nb_ca

    def api(self) -> Api:
        """A JSON client for the admin kubeconfig (close it when done)."""
        return Api(self.kubeconfig)


def parse_env(text: str) -> dict[str, str]:
    """`export NAME=VALUE` lines (VALUE quoted by bash's printf %q) into a dict."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        words = shlex.split(line[len("export "):])
        if len(words) != 1 or "=" not in words[0]:
            raise ValueError(f"unexpected line from scripts/test-env env: {line!r}")
        key, value = words[0].split("=", 1)
        out[key] = value
    return out


def _env_from_vars(name: str, v: dict[str, str]) -> LiveEnv:
    p = "EIPFSCK_TEST_"
    try:
        return LiveEnv(
            name=name, state=Path(v[p + "STATE"]),
            kubeconfig=v[p + "KUBECONFIG"], kubeconfig_limited=v[p + "KUBECONFIG_LIMITED"],
            apiserver=v[p + "APISERVER"], apiserver_ca=v[p + "APISERVER_CA"],
            admin_token=v[p + "ADMIN_TOKEN"], limited_token=v[p + "LIMITED_TOKEN"],
            etcd=v[p + "ETCD"], nb_tcp=v[p + "OVN_NB_TCP"], nb_unix=v[p + "OVN_NB_UNIX"],
            nb_ssl=v[p + "OVN_NB_SSL"], nb_ca=v[p + "OVN_NB_CA"], nb_cert=v[p + "OVN_NB_CERT"],
            nb_key=v[p + "OVN_NB_KEY"], bin_dir=Path(v[p + "BIN_DIR"]), vars=dict(v),
        )
    except KeyError as exc:
        raise ValueError(f"scripts/test-env env did not print {exc.args[0]}") from None


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-STDERR_TAIL:])


def _run(args: list[str], state: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EIPFSCK_TEST_STATE": str(state)}
    return subprocess.run([str(TEST_ENV), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


class EnvFactory:
    """Starts environments in state dirs under `base` and takes every one down at `close()`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[Path] = []

    def start(self, name: str, *, kube_ovn: bool = False) -> LiveEnv:
        """`up`, or `up --kube-ovn` (the genuine controller, see docs/test-infrastructure.md)."""
        state = self.base / name
        n = 1
        while state.exists():   # a name used twice gets its own directory
            n += 1
            state = self.base / f"{name}-{n}"
        self.started.append(state)
        try:
            up = _run(["up", *(["--kube-ovn"] if kube_ovn else [])], state, UP_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            pytest.fail(f"scripts/test-env up ({state}) did not finish within {UP_TIMEOUT:.0f}s; "
                        f"stderr tail:\n{_tail(err)}", pytrace=False)
        if up.returncode != 0:
            pytest.fail(f"scripts/test-env up ({state}) failed with exit {up.returncode}; "
                        f"stderr tail:\n{_tail(up.stderr)}", pytrace=False)
        env_out = _run(["env"], state, 60)
        if env_out.returncode != 0:
            pytest.fail(f"scripts/test-env env ({state}) failed: {_tail(env_out.stderr)}",
                        pytrace=False)
        try:
            return _env_from_vars(name, parse_env(env_out.stdout))
        except ValueError as exc:
            pytest.fail(f"scripts/test-env env ({state}): {exc}", pytrace=False)

    def stop(self, state: Path) -> None:
        if state in self.started:
            self.started.remove(state)
        down = _run(["down"], state, 120)
        if down.returncode != 0:
            raise RuntimeError(f"scripts/test-env down ({state}) failed with exit "
                               f"{down.returncode}:\n{_tail(down.stderr)}")

    def close(self) -> None:
        errors = []
        for state in list(reversed(self.started)):
            try:
                self.stop(state)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
        if errors:
            raise RuntimeError("\n".join(errors))


@pytest.fixture(scope="session")
def live_env_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvFactory]:
    # Short base path: the NB unix socket lives under the state dir (sun_path is 108 bytes).
    factory = EnvFactory(tmp_path_factory.mktemp("live"))
    try:
        yield factory
    finally:
        factory.close()


def seeded(factory: EnvFactory, name: str, snapshot: Path) -> LiveEnv:
    env = factory.start(name)
    try:
        result = seed_snapshot(snapshot, env.kubeconfig, env.nb_unix)
    except SeedError as exc:
        pytest.fail(f"seeding {snapshot} into {env.state} failed: {exc}", pytrace=False)
    return replace(env, snapshot=snapshot, seeded=result)


@pytest.fixture(scope="session")
def leaky_env(live_env_factory: EnvFactory) -> LiveEnv:
    """examples/leaky-cluster, seeded. Read-only."""
    return seeded(live_env_factory, "leaky", EXAMPLES / "leaky-cluster")


@pytest.fixture
def leaky_rw(live_env_factory: EnvFactory) -> Iterator[LiveEnv]:
    """examples/leaky-cluster seeded into an environment of its own, which the test may change
    (repair deletes things); taken down after the test."""
    env = seeded(live_env_factory, "leaky-rw", EXAMPLES / "leaky-cluster")
    try:
        yield env
    finally:
        live_env_factory.stop(env.state)


@pytest.fixture(autouse=True)
def _no_kube_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read the developer's own cluster (HOME stays: the server binaries are cached
    under it; a test that needs no ~/.kube/config sets HOME itself). Wide terminal: messages
    with long temporary paths stay on one line."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("OVN_NB_DB", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture(scope="session")
def healthy_env(live_env_factory: EnvFactory) -> LiveEnv:
    """examples/healthy-cluster, seeded. Read-only."""
    return seeded(live_env_factory, "healthy", EXAMPLES / "healthy-cluster")


@pytest.fixture
def fresh_env(live_env_factory: EnvFactory) -> Iterator[LiveEnv]:
    """An empty environment of its own (no CRDs), taken down after the test."""
    env = live_env_factory.start("fresh")
    try:
        yield env
    finally:
        live_env_factory.stop(env.state)


def install_crds_into(env: LiveEnv, resources: Iterable[str]) -> list[str]:
    """Install the CRDs (deploy/crds, deploy/crds/test-only) of these snapshot resource stems,
    e.g. "subnets.kubeovn.io" or "virtualmachines.kubevirt.io", and wait until they are served.
    Returns the CRD names."""
    api = env.api()
    try:
        return _install_crds(api, resources)
    finally:
        api.close()


@pytest.fixture
def install_crds() -> Callable[[LiveEnv, Iterable[str]], list[str]]:
    """The helper `install_crds(env, resources)` (see install_crds_into)."""
    return install_crds_into


@pytest.fixture(scope="session")
def ovn_tools() -> None:
    """Fail (never skip) every test of a module that needs the OVN tools when they are
    missing; modules ask with pytestmark = pytest.mark.usefixtures("ovn_tools")."""
    ovsdb.require_tools()


@pytest.fixture
def nb() -> Iterator[ovsdb.NbServer]:
    """A standalone, empty OVN NB ovsdb-server, stopped after the test."""
    server = ovsdb.start_nb()
    yield server
    server.stop()


@pytest.fixture
def cluster() -> Iterator[list[ovsdb.NbServer]]:
    """A 3-member RAFT cluster of NB servers, stopped after the test."""
    servers = ovsdb.start_cluster(3)
    yield servers
    for s in servers:
        s.stop()
