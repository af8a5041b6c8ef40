"""Read the Kubernetes side of a live cluster with the official client.

Lists are paged (`limit` + `continue`) and parsed from the raw JSON bytes: the client's model
classes would cost more than everything else together on a large cluster. Each object is
slimmed (snapshot.slim_object) as its page arrives, so memory follows what the checks use.

What goes wrong, and what it becomes:
  /version is not a Kubernetes answer   the endpoint is not an API server: the collection
                       stops (exit 8) naming what answered, before any Kube-OVN conclusion
  404 on a list        the kind is not installed (CRD absent): reported absent, not an error
  403                  that source failed; a message names the verb, resource and RBAC rule
  410 while paging     the continue token expired: that list restarts, a bounded number of times
  5xx, 429, no answer  retried with backoff, then that source failed
  401, or subnets unreadable   the whole collection stops (exit 8): nothing can be checked
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from eipfsck.collect.progress import Progress, Silent
from eipfsck.errors import EipfsckError, UsageError
from eipfsck.kubeovn.names import (
    CONTROLLER,
    EXTERNAL_GW_CONFIGMAP,
    KUBE_OVN_CONFIGMAPS,
    controller_containers,
    settings_from_args,
)
from eipfsck.snapshot import (
    K8S_RESOURCES,
    NAMESPACED,
    REQUIRED_RESOURCE,
    InputProblem,
    SourceState,
    SourceStatus,
    object_label,
    slim_object,
)
from eipfsck.typed_decode import decode_list


class CollectError(EipfsckError):
    """The cluster could not be read well enough to check anything (exit 8)."""


@dataclass(frozen=True)
class ApiResource:
    group: str  # "" for the core group
    version: str
    plural: str
    # Read as named GETs in Kube-OVN's namespace instead of a cluster-wide LIST: the model
    # needs a few well-known objects, and an operator should not have to grant list on all
    # ConfigMaps to get them.
    named: tuple[str, ...] = ()

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name is not None else "")


def _api(resource: str) -> ApiResource:
    plural, _, group = resource.partition(".")
    versions = {"kubeovn.io": "v1", "kubevirt.io": "v1", "apps": "v1",
                "k8s.cni.cncf.io": "v1", "coordination.k8s.io": "v1", "": "v1"}
    named: tuple[str, ...] = ()
    if resource == "configmaps":
        named = KUBE_OVN_CONFIGMAPS
    elif resource in ("deployments.apps", "leases.coordination.k8s.io"):
        named = (CONTROLLER,)
    elif resource == "namespaces":
        named = ("kube-system",)  # its UID is the cluster's identity
    return ApiResource(group, versions[group], plural, named)


API_RESOURCES: dict[str, ApiResource] = {r: _api(r) for r in K8S_RESOURCES}


@dataclass(frozen=True)
class KubeTarget:
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float | None = 60.0
    page_size: int = 500
    max_restarts: int = 3  # of one list after 410 Gone
    retries: int = 4  # per request, after 5xx / 429 / connection errors
    backoff: float = 0.5  # first retry delay in seconds, doubled each time (capped at 8 s)
    kube_ovn_namespace: str = "kube-system"


@dataclass
class KubeResult:
    k8s: dict[str, list[dict[str, Any]]]
    sources: list[SourceStatus]
    problems: list[InputProblem]
    rejected: dict[str, list[Any]]
    warnings: list[str]
    server: str
    context: str | None
    auth: str  # "kubeconfig" or "in-cluster"


# ---------------------------------------------------------------------------------------------
# Connecting


def parse_duration(text: str, flag: str = "--request-timeout") -> float | None:
    """kubectl's --request-timeout: a bare number of seconds or a Go duration; 0 = none."""
    return duration_seconds(text, flag) or None


def duration_seconds(text: str, flag: str) -> float:
    """A bare number of seconds or a Go duration (1m30s), as kubectl takes them."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        value = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise UsageError(f"{flag} {text!r}: expected seconds or a duration such as 30s, "
                             "2m, 1m30s")
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        value = sum(float(n) * scale[u] for n, u in parts)
    return value


def connect(target: KubeTarget) -> tuple[k8s_client.ApiClient, str | None, str]:
    """An ApiClient as kubectl would pick it: --kubeconfig, $KUBECONFIG (a colon-separated
    list), ~/.kube/config, and in-cluster service account only when none of them exists."""
    cfg = k8s_client.Configuration()
    # Our own retry loop (with backoff, per request) replaces urllib3's silent retries; the
    # config loaders fill host and credentials only, so this survives them.
    cfg.retries = False
    files = target.kubeconfig or os.environ.get("KUBECONFIG") or ""
    if not files and Path("~/.kube/config").expanduser().is_file():
        files = "~/.kube/config"
    in_cluster = not files and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    if not files and not in_cluster:
        raise UsageError(
            "no cluster to read: no --kubeconfig, no KUBECONFIG, no ~/.kube/config, and not "
            "running in a pod",
            hint="point at a cluster with --kubeconfig FILE, or scan a saved snapshot with "
                 "--snapshot DIR",
        )
    if in_cluster:
        if target.context:
            raise UsageError("--context needs a kubeconfig; in a pod the service account "
                             "is used")
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise UsageError(f"in-cluster configuration: {exc}") from None
        return k8s_client.ApiClient(cfg), None, "in-cluster"
    paths = [p for p in files.split(os.pathsep) if p]
    for p in paths:
        if target.kubeconfig and not Path(p).expanduser().is_file():
            raise UsageError(f"--kubeconfig {p}: no such file")
    try:
        k8s_config.load_kube_config(config_file=files, context=target.context,
                                    client_configuration=cfg, persist_config=False)
        _, active = k8s_config.list_kube_config_contexts(config_file=files)
        context = target.context or (active or {}).get("name")
    except ConfigException as exc:
        raise UsageError(f"kubeconfig {files}: {exc}") from None
    except yaml.YAMLError as exc:  # one line: PyYAML's message spans several
        raise UsageError(f"kubeconfig {files}: not valid YAML ({' '.join(str(exc).split())})")\
            from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"kubeconfig {files}: unreadable ({type(exc).__name__}: {exc})") \
            from None
    if not cfg.verify_ssl:
        # urllib3 would print a multi-line InsecureRequestWarning with its source path for
        # every request; tls_note says it once, in our words.
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
    return k8s_client.ApiClient(cfg), context, "kubeconfig"


def tls_note(api: k8s_client.ApiClient) -> str | None:
    """One line when the kubeconfig turns TLS verification off, else None."""
    cfg = api.configuration
    if cfg.verify_ssl or not str(cfg.host).startswith("https:"):
        return None
    return (f"TLS verification is off for {cfg.host} (insecure-skip-tls-verify in the "
            "kubeconfig): the server's identity is not checked")


def identify(http: Requester) -> str:
    """The Kubernetes version of the endpoint, asked first (GET /version, which every API
    server serves), so that something else answering is named for what it is rather than
    taken for a cluster without Kube-OVN. Raises CollectError when it is not an API server."""
    server = http.api.configuration.host
    try:
        answer = http.get("/version")
    except Exhausted as exc:
        raise CollectError(f"{server}: no answer: {exc}",
                           hint="check the server address in the kubeconfig, and "
                                "--request-timeout") from None
    doc = answer.document()
    if answer.status == 200 and isinstance(doc.get("gitVersion"), str):
        return doc["gitVersion"]
    if answer.status == 401:
        raise CollectError(
            f"{server}: the API server rejected the credentials (401 Unauthorized)",
            hint="the token or client certificate in the kubeconfig is invalid or expired")
    if doc.get("kind") == "Status":
        # an API server that will not tell its version (RBAC on /version): still one
        return f"unknown (/version: HTTP {answer.status}: {answer.status_message()})"
    raise CollectError(f"{server} is not a Kubernetes API server: GET /version answered "
                       f"{describe_answer(answer)}",
                       hint="check the cluster's server: address (and --context) in the "
                            "kubeconfig")


def describe_answer(answer: _Answer) -> str:
    """What answered, in one line: status, Server header, content type, start of the body."""
    headers = {k.lower(): v for k, v in answer.headers.items()}
    parts = [f"HTTP {answer.status}"]
    for name in ("server", "content-type"):
        if headers.get(name):
            parts.append(f"{name.title()}: {headers[name]}")
    body = " ".join(answer.body[:120].decode("utf-8", "replace").split())
    if body:
        parts.append(f"body {body!r}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Requests


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The body as a JSON object, or {} when it is not one."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def status_message(self) -> str:
        """The apiserver's Status message, or the start of a non-JSON body."""
        message = self.document().get("message")
        if isinstance(message, str):
            return message
        return self.body[:200].decode("utf-8", "replace").strip() or f"HTTP {self.status}"


class _Transient(Exception):
    """One attempt failed in a way worth retrying."""


class Exhausted(Exception):
    """Every attempt of one request failed: that source failed, the others may still work."""


class Requester:
    """Requests through the client's authenticated connection pool, returning raw bytes."""

    def __init__(self, api: k8s_client.ApiClient, target: KubeTarget,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self.target = target
        self.sleep = sleep

    def get(self, path: str, query: list[tuple[str, Any]] | None = None) -> _Answer:
        last = ""
        for attempt in range(self.target.retries + 1):
            if attempt:
                self.sleep(min(self.target.backoff * 2 ** (attempt - 1), 8.0))
            try:
                answer = self._once("GET", path, query or [])
            except _Transient as exc:
                last = str(exc)
                continue
            if answer.status == 429 or answer.status >= 500:
                last = f"HTTP {answer.status}: {answer.status_message()}"
                retry_after = answer.headers.get("Retry-After", "")
                if retry_after.isdigit() and attempt < self.target.retries:
                    self.sleep(min(float(retry_after), 30.0))
                continue
            return answer
        raise Exhausted(f"GET {path}: no answer after {self.target.retries + 1} attempts "
                        f"({last})")

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> _Answer:
        """One write, never retried: whether a write that got no answer happened is for the
        caller to find out by reading again, not for a blind second attempt."""
        try:
            return self._once(method, path, [], body)
        except _Transient as exc:
            raise Exhausted(f"{method} {path}: {exc}") from None

    def _once(self, method: str, path: str, query: list[tuple[str, Any]],
              payload: dict[str, Any] | None = None) -> _Answer:
        headers_in = {"Accept": "application/json"}
        if payload is not None:
            headers_in["Content-Type"] = "application/json"
        method, url, headers, body, post = self.api.param_serialize(
            method, path, query_params=query, header_params=headers_in, body=payload,
            auth_settings=["BearerToken"])
        try:
            resp = self.api.call_api(method, url, headers, body, post,
                                     _request_timeout=self.target.request_timeout)
            data = resp.read()
        except k8s_client.ApiException as exc:
            # The client reports TLS failures as status 0.
            if exc.status == 0:
                raise CollectError(f"{self.api.configuration.host}: TLS error: "
                                   f"{(exc.reason or '').splitlines()[-1]}",
                                   hint="check the CA in the kubeconfig") from None
            raise _Transient(f"HTTP {exc.status}: {exc.reason}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Transient(_short(exc)) from None
        return _Answer(resp.status, data or b"", dict(resp.headers or {}))


def _short(exc: BaseException) -> str:
    # urllib3 nests the useful reason ("Connection refused") a level or two down.
    inner: BaseException = exc
    while getattr(inner, "reason", None) is not None and isinstance(inner.reason, BaseException):
        inner = inner.reason
    text = str(inner).split(": ", 1)[-1] if ">: " in str(inner) else str(inner)
    return f"{type(inner).__name__}: {text}"


# ---------------------------------------------------------------------------------------------
# Collecting


@dataclass
class _ListOutcome:
    items: list[dict[str, Any]]
    resource_version: str | None
    bad: list[InputProblem]
    rejected: list[Any]
    state: SourceState
    detail: str | None = None

    @classmethod
    def unread(cls, state: SourceState, detail: str) -> _ListOutcome:
        """Nothing could be used: the kind is absent, or its read failed."""
        return cls([], None, [], [], state, detail)

    @classmethod
    def read(cls, items: list[dict[str, Any]], rv: str | None, bad: list[InputProblem],
             rejected: list[Any]) -> _ListOutcome:
        """Everything was read; an object that could not be used makes the source partial."""
        if bad:
            return cls(items, rv, bad, rejected, "partial", f"{len(bad)} object(s) skipped")
        return cls(items, rv, bad, rejected, "complete")


class KubeCollector:
    def __init__(self, target: KubeTarget, progress: Progress | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.target = target
        self.progress = progress or Silent()
        self.api, self.context, self.auth = connect(target)
        self.server = self.api.configuration.host
        self.http = Requester(self.api, target, sleep)
        self.warnings: list[str] = []

    def close(self) -> None:
        self.api.close()

    def collect(self, resources: tuple[str, ...] = K8S_RESOURCES) -> KubeResult:
        identify(self.http)
        note = tls_note(self.api)
        if note:
            self.warnings.append(note)
        # Subnet status first, owners after: an owner created between the two reads is then
        # an owner the status does not know yet (an in-flight claim), never a leak; a leak is
        # only reported for an address that was in use before every owner list began.
        order = [REQUIRED_RESOURCE] + [r for r in resources if r != REQUIRED_RESOURCE]
        k8s: dict[str, list[dict[str, Any]]] = {}
        sources: list[SourceStatus] = []
        problems: list[InputProblem] = []
        rejected: dict[str, list[Any]] = {}
        for resource in order:
            self.progress.start(resource)
            out = self._read(resource)
            if resource == REQUIRED_RESOURCE and out.state in ("absent", "failed"):
                reason = out.detail or out.state
                if out.state == "absent":
                    raise CollectError(
                        f"{self.server}: the Subnet CRD (subnets.kubeovn.io) is not installed; "
                        "is this a Kube-OVN cluster?")
                raise CollectError(f"{self.server}: cannot read subnets.kubeovn.io: {reason}",
                                   hint=_rbac_hint(resource, self.target.kube_ovn_namespace)
                                   if "forbidden" in reason.lower() else None)
            if out.state in ("complete", "partial"):
                k8s[resource] = out.items
            if out.rejected:
                rejected[resource] = out.rejected
            problems.extend(out.bad)
            sources.append(SourceStatus(resource, "k8s", out.state, len(out.items),
                                        out.resource_version, out.detail))
            self.progress.done(resource, out.state, len(out.items))
        self._gateway_config_elsewhere(k8s)
        by_name = {s.name: s for s in sources}
        return KubeResult(k8s, [by_name[r] for r in resources], problems, rejected,
                          self.warnings, self.server, self.context, self.auth)

    def _gateway_config_elsewhere(self, k8s: dict[str, list[dict[str, Any]]]) -> None:
        """--external-gateway-config-ns may put ovn-external-gw-config outside Kube-OVN's
        namespace (pkg/controller/config.go); the flag is only known once the Deployment
        is read, so that one ConfigMap is read after it."""
        if "configmaps" not in k8s:
            return
        values: dict[str, Any] = {}
        for dep in k8s.get("deployments.apps", []):
            if dep["metadata"]["name"] == CONTROLLER:
                for c in controller_containers(dep):
                    values.update(settings_from_args(list(c.get("command") or [])
                                                     + list(c.get("args") or [])))
        ns = values.get("external_gateway_config_ns")
        if not ns or ns == self.target.kube_ovn_namespace:
            return
        api = API_RESOURCES["configmaps"]
        answer = self.http.get(api.path(ns, EXTERNAL_GW_CONFIGMAP))
        if answer.status != 200:
            if answer.status != 404:
                self.warnings.append(f"cannot read ConfigMap {ns}/{EXTERNAL_GW_CONFIGMAP} "
                                     f"(--external-gateway-config-ns): HTTP {answer.status}")
            return
        obj = _parse(answer.body, f"{self.server}{api.path(ns, EXTERNAL_GW_CONFIGMAP)}")
        slim, _, _ = slim_object("configmaps", obj)
        if slim is not None:
            k8s["configmaps"].append(slim)

    def _read(self, resource: str) -> _ListOutcome:
        api = API_RESOURCES[resource]
        try:
            if api.named:
                return self._get_named(resource, api)
            return self._list(resource, api)
        except Exhausted as exc:
            return _ListOutcome.unread("failed", str(exc))

    def _failure(self, resource: str, answer: _Answer, verb: str,
                 namespace: str | None = None) -> _ListOutcome | None:
        """None for 200; otherwise the outcome for this HTTP status (or raise if fatal)."""
        if answer.status == 200:
            return None
        message = answer.status_message()
        if answer.status == 401:
            raise CollectError(
                f"{self.server}: the API server rejected the credentials (401 Unauthorized)",
                hint="the token or client certificate in the kubeconfig is invalid or expired")
        if answer.status == 403:
            where = f"in namespace {namespace}" if namespace else "cluster-wide"
            self.warnings.append(
                f"forbidden to {verb} {resource} {where}: {message}\n"
                f"  add this RBAC rule: {_rbac_hint(resource, self.target.kube_ovn_namespace)}")
            return _ListOutcome.unread("failed", f"forbidden to {verb} ({message})")
        return _ListOutcome.unread("failed", f"HTTP {answer.status}: {message}")

    def _list(self, resource: str, api: ApiResource) -> _ListOutcome:
        path = api.path()
        restarts = 0
        while True:
            items: list[dict[str, Any]] = []
            bad: list[InputProblem] = []
            rejected: list[Any] = []
            rv: str | None = None
            token: str | None = None
            while True:
                query: list[tuple[str, Any]] = [("limit", self.target.page_size)]
                if token:
                    query.append(("continue", token))
                answer = self.http.get(path, query)
                if answer.status == 410 and token:
                    break  # restart below
                if answer.status == 404 and not token:
                    return _ListOutcome.unread("absent",
                                        "not served by the API server (CRD not installed)")
                failed = self._failure(resource, answer, "list")
                if failed is not None:
                    return failed
                fast = decode_list(resource, answer.body, resource in NAMESPACED)
                if fast is not None:  # the page as the reference path reads it, typed
                    page_rv, count, token = (fast.resource_version, len(fast.items),
                                             fast.continue_token)
                    items.extend(fast.items)
                else:
                    page = _parse(answer.body, f"{self.server}{path}")
                    meta = page.get("metadata") or {}
                    page_rv = meta.get("resourceVersion") or None
                    raw = page.get("items")
                    if not isinstance(raw, list):
                        return _ListOutcome([], rv or page_rv, [], [], "failed",
                                            f"{path}: the answer is not a List (no items array)")
                    self._slim_into(resource, raw, len(items) + len(bad), items, bad, rejected)
                    count, token = len(raw), meta.get("continue") or None
                if rv is None:
                    rv = page_rv
                self.progress.advance(resource, count)
                if not token:
                    return _ListOutcome.read(items, rv, bad, rejected)
            restarts += 1
            if restarts > self.target.max_restarts:
                return _ListOutcome.unread(
                    "failed",
                    f"the list expired (410 Gone) {restarts} times while paging; the cluster "
                    "changes faster than it can be read with --page-size "
                    f"{self.target.page_size}: retry, or raise --page-size")
            self.warnings.append(f"{resource}: the continue token expired (410 Gone); "
                                 f"listing again from the start ({restarts}/"
                                 f"{self.target.max_restarts})")
            self.progress.restart(resource)

    def _get_named(self, resource: str, api: ApiResource) -> _ListOutcome:
        namespace = None if resource == "namespaces" else self.target.kube_ovn_namespace
        items: list[dict[str, Any]] = []
        bad: list[InputProblem] = []
        rejected: list[Any] = []
        versions: list[str] = []
        for name in api.named:
            path = api.path(namespace, name)
            answer = self.http.get(path)
            if answer.status == 404:
                continue  # this object does not exist; the others may
            failed = self._failure(resource, answer, "get", namespace)
            if failed is not None:
                return failed
            obj = _parse(answer.body, f"{self.server}{path}")
            self._slim_into(resource, [obj], len(items), items, bad, rejected)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if isinstance(rv, str):
                versions.append(rv)
        self.progress.advance(resource, len(items))
        # Named objects are read one by one: there is no single list resourceVersion.
        return _ListOutcome.read(items, ",".join(versions) or None, bad, rejected)

    def _slim_into(self, resource: str, raw: list[Any], offset: int,
                   items: list[dict[str, Any]], bad: list[InputProblem],
                   rejected: list[Any]) -> None:
        for i, obj in enumerate(raw):
            slim, fld, msg = slim_object(resource, obj)
            if slim is None:
                bad.append(InputProblem(f"{self.server} {resource}",
                                        object_label(resource, obj, offset + i),
                                        fld or "", msg or ""))
                rejected.append(obj)
            else:
                items.append(slim)


def _parse(body: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise CollectError(f"{where}: the answer is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CollectError(f"{where}: the answer is not a JSON object")
    return doc


def _rbac_hint(resource: str, namespace: str) -> str:
    api = API_RESOURCES[resource]
    group = api.group
    if api.named:
        scope = ("ClusterRole" if resource == "namespaces"
                 else f"Role in namespace {namespace} (or ClusterRole)")
        names = ", ".join(f'"{n}"' for n in api.named)
        return (f'{scope}: apiGroups: ["{group}"], resources: ["{api.plural}"], '
                f'resourceNames: [{names}], verbs: ["get"]')
    scope = "ClusterRole (all namespaces)" if resource in NAMESPACED else "ClusterRole"
    return f'{scope}: apiGroups: ["{group}"], resources: ["{api.plural}"], verbs: ["list"]'


def read_kubernetes(target: KubeTarget, progress: Progress | None = None) -> KubeResult:
    collector = KubeCollector(target, progress)
    try:
        return collector.collect()
    finally:
        collector.close()
