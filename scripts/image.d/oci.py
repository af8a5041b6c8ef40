"""scripts/image's helper: reads the project's metadata and the OCI layout, writes the OCI
runtime config of a run. Standard library only (it runs on the host's python3)."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

UID = 65532
REF_NAME = "org.opencontainers.image.ref.name"
# What the CronJob's pod gets: emptyDirs on /tmp and /var/lib/eipfsck (deploy/cronjob-scan.yaml).
SCRATCH = {"/tmp": "size=64m,mode=1777",
           "/var/lib/eipfsck": f"size=256m,mode=0755,uid={UID},gid={UID}"}
# The kernel paths a container must not see or write (as runc's and containerd's defaults).
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def project(field: str, pyproject: str) -> str:
    meta = tomllib.loads(Path(pyproject).read_text())["project"]
    return str(meta["version"] if field == "version" else meta["urls"]["Source"])


def manifest_of(index: dict[str, Any]) -> dict[str, Any]:
    (manifest,) = index["manifests"]  # scripts/image writes one tag
    return manifest


def image_config(layout: Path) -> dict[str, Any]:
    def blob(digest: str) -> dict[str, Any]:
        algo, hexa = digest.split(":")
        return json.loads((layout / "blobs" / algo / hexa).read_text())
    manifest = blob(manifest_of(json.loads((layout / "index.json").read_text()))["digest"])
    return blob(manifest["config"]["digest"])


def mount(dest: str, typ: str, source: str, options: list[str]) -> dict[str, Any]:
    return {"destination": dest, "type": typ, "source": source, "options": options}


def runtime_config(config: dict[str, Any], rootfs: str, binds: list[str], env: list[str],
                   args: list[str], entrypoint: str | None = None) -> dict[str, Any]:
    c = config["config"]
    entry = [entrypoint] if entrypoint else c.get("Entrypoint", [])
    user, _, group = c["User"].partition(":")
    mounts = [
        mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        mount("/dev/pts", "devpts", "devpts",
              ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
        mount("/dev/shm", "tmpfs", "shm",
              ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        # The host's network namespace is shared: so are its name resolution files.
        mount("/etc/resolv.conf", "bind", "/etc/resolv.conf", ["rbind", "ro", "nosuid", "nodev"]),
        mount("/etc/hosts", "bind", "/etc/hosts", ["rbind", "ro", "nosuid", "nodev"]),
    ]
    mounts += [mount(d, "tmpfs", "tmpfs", ["nosuid", "nodev", *o.split(",")])
               for d, o in SCRATCH.items()]
    for b in binds:
        host, sep, dest = b.partition("=")
        if not sep or not Path(host).exists() or not dest.startswith("/"):
            sys.exit(f"image: --ro {b!r}: want HOST=/CONTAINER/PATH with an existing HOST")
        mounts.append(mount(dest, "bind", str(Path(host).resolve()),
                            ["rbind", "ro", "nosuid", "nodev"]))
    no_caps: list[str] = []
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": int(user), "gid": int(group or user)},
            "args": [*entry, *(args or ([] if entrypoint else c.get("Cmd", [])))],
            "env": [*c.get("Env", []), "HOME=/home/eipfsck", *env],
            "cwd": c.get("WorkingDir") or "/",
            # The CronJob's `capabilities: drop: [ALL]` and `allowPrivilegeEscalation: false`.
            "capabilities": {k: no_caps for k in
                             ("bounding", "effective", "inheritable", "permitted", "ambient")},
            "noNewPrivileges": True,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "eipfsck",
        "mounts": mounts,
        "linux": {
            # No "network" namespace: the host's loopback servers are reachable.
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
        },
    }


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("project")
    s.add_argument("field", choices=["version", "source"])
    s.add_argument("pyproject")
    sub.add_parser("index-digest")
    sub.add_parser("index-tag")
    s = sub.add_parser("image-config")
    s.add_argument("layout")
    s = sub.add_parser("runtime-config")
    s.add_argument("image_config")
    s.add_argument("rootfs")
    s.add_argument("--mounts", nargs="*", default=[])
    s.add_argument("--env", nargs="*", default=[])
    s.add_argument("--entrypoint")
    # The container's arguments follow "--": argparse would take an "-o" among them as its own.
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    a.args = argv[cut + 1:]
    if a.cmd == "project":
        print(project(a.field, a.pyproject))
    elif a.cmd == "index-digest":
        print(manifest_of(json.load(sys.stdin))["digest"].split(":")[1])
    elif a.cmd == "index-tag":
        print(manifest_of(json.load(sys.stdin))["annotations"][REF_NAME])
    elif a.cmd == "image-config":
        print(json.dumps(image_config(Path(a.layout)), indent=2))
    else:
        config = json.loads(Path(a.image_config).read_text())
        print(json.dumps(runtime_config(config, a.rootfs, a.mounts, a.env, a.args,
                                                a.entrypoint), indent=2))


if __name__ == "__main__":
    main()
