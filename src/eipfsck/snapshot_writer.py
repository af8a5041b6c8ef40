"""Write a Snapshot in the directory format of docs/snapshot-format.md (or a .tar.gz of it).

What is written is what the loader reads back: the slimmed objects (slimming is idempotent),
the NB rows in ovn-nbctl's JSON, and meta.json recording why a source has no file (absent,
failed, skipped). Snapshots hold a cluster's addresses and topology: files are 0600,
directories 0700, and nothing is ever half-written at the final path.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from eipfsck.errors import UsageError
from eipfsck.kubeovn.northbound import nb_version
from eipfsck.snapshot import K8S_RESOURCES, NB_TABLES, Snapshot, encode_nb_table

SNAPSHOT_SCHEMA = "eipfsck/snapshot/v1"


def snapshot_files(snap: Snapshot) -> dict[str, bytes]:
    """Relative path -> content, for every file of the snapshot."""
    files: dict[str, bytes] = {"meta.json": _dump(snapshot_meta(snap), indent=2)}
    for resource in K8S_RESOURCES:
        if resource not in snap.k8s:
            continue
        rv = next((s.resource_version for s in snap.sources
                   if s.name == resource and s.origin == "k8s"), None)
        doc = {"apiVersion": "v1", "kind": "List",
               # Named objects read one by one have no list resourceVersion (meta.json has
               # theirs); a List must not carry a made-up one.
               "metadata": {"resourceVersion": rv if rv and "," not in rv else ""},
               "items": snap.k8s[resource] + snap.rejected.get(resource, [])}
        files[f"k8s/{resource}.json"] = _dump(doc)
    if snap.nb is not None:
        for table in NB_TABLES:
            if table in snap.nb:
                files[f"nb/{table}.json"] = _dump(encode_nb_table(table, snap.nb[table]))
    return files


def snapshot_meta(snap: Snapshot) -> dict[str, Any]:
    meta = dict(snap.meta)
    meta.setdefault("schema", SNAPSHOT_SCHEMA)
    meta["captured_at"] = snap.captured_at.isoformat()
    cluster = meta.get("cluster") if isinstance(meta.get("cluster"), dict) else {}
    meta["cluster"] = {**cluster, "uid": snap.cluster_uid()}
    version = nb_version(snap)
    if version:
        meta["kube_ovn_version"] = version
    meta["sources"] = {
        s.name: {k: v for k, v in (("origin", s.origin), ("state", s.state),
                                   ("count", s.count),
                                   ("resource_version", s.resource_version),
                                   ("detail", s.detail)) if v is not None}
        for s in snap.sources
    }
    return meta


def _dump(doc: Any, indent: int | None = None) -> bytes:
    sep = (",", ": ") if indent else (",", ":")
    return (json.dumps(doc, ensure_ascii=False, indent=indent, separators=sep) + "\n").encode()


def target_path(out: str, tar: bool) -> Path:
    """Where the snapshot goes; refuses a missing parent or anything but an empty directory
    there (an old snapshot is evidence: never overwrite it)."""
    path = Path(out)
    if tar and not (path.name.endswith(".tar.gz") or path.name.endswith(".tgz")):
        path = path.with_name(path.name + ".tar.gz")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{out}: directory {parent} does not exist")
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise UsageError(f"{path}: already exists; refusing to overwrite it",
                         hint="choose a new name, or remove the old snapshot first")
    return path


def write_snapshot(snap: Snapshot, out: str, tar: bool = False) -> Path:
    """Write to a temporary name beside the target, then rename: an interrupted run leaves
    no snapshot that looks complete."""
    path = target_path(out, tar)
    parent = path.parent if str(path.parent) else Path(".")
    files = snapshot_files(snap)
    if tar:
        _write_tar(files, path, parent)
    else:
        _write_dir(files, path, parent)
    return path


def _write_dir(files: dict[str, bytes], path: Path, parent: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))  # mode 0700
    try:
        for rel, data in files.items():
            target = tmp / rel
            if not target.parent.is_dir():
                target.parent.mkdir(mode=0o700)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        if path.is_dir():
            path.rmdir()  # the empty directory the operator made for us
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_tar(files: dict[str, bytes], path: Path, parent: Path) -> None:
    top = path.name.removesuffix(".tar.gz").removesuffix(".tgz") or "snapshot"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)  # mode 0600
    now = time.time()
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            dirs = {top} | {f"{top}/{rel.rsplit('/', 1)[0]}" for rel in files if "/" in rel}
            for d in sorted(dirs):
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, now
                tar.addfile(info)
            for rel, data in files.items():
                info = tarfile.TarInfo(f"{top}/{rel}")
                info.size, info.mode, info.mtime = len(data), 0o600, now
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
