"""Prometheus metrics: a text file for node-exporter's textfile collector, or a push to a
Pushgateway. Both carry the same registry, built from the report dict alone.

A fresh CollectorRegistry per scan: the process-wide default registry would mix in the
Python process's own metrics and keep series from an earlier scan in the same process.
"""

from __future__ import annotations

from datetime import datetime
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway

from eipfsck import exitcodes
from eipfsck.checks.catalogue import BY_ID
from eipfsck.report import outfile
from eipfsck.report.escape import visible_tree

JOB = "eipfsck"
STATES = ("using", "available", "leaked", "owned")
# Sources that count against a conclusive result; "absent" (kind not installed) and
# "skipped" (--no-nb) are answers, not failures.
INCOMPLETE = ("failed", "partial")


def build_registry(report: dict[str, Any], duration_seconds: float | None = None
                   ) -> CollectorRegistry:
    report = visible_tree(report)  # label values from the cluster: escaped, and encodable
    reg = CollectorRegistry(auto_describe=True)
    findings = Gauge("eipfsck_findings", "Findings of the last scan, by check, severity and "
                     "subnet; 0 for a check that ran and found nothing.",
                     ["check", "severity", "subnet"], registry=reg)
    counts: dict[tuple[str, str, str], int] = {}
    for f in report["findings"]:
        key = (f["check"], f["severity"], f["subnet"] or "")
        counts[key] = counts.get(key, 0) + 1
    for (check, severity, subnet), n in counts.items():
        findings.labels(check, severity, subnet).set(n)
    found = {check for check, _, _ in counts}
    for check in report["checks"]["run"]:
        if check not in found:
            # An explicit 0 lets an alert tell "ran, found nothing" from "did not run".
            findings.labels(check, BY_ID[check].severity, "").set(0)

    addresses = Gauge("eipfsck_subnet_addresses", "Addresses per subnet and family: using "
                      "and available as the subnet status says, owned by some object, "
                      "leaked.", ["subnet", "family", "state"], registry=reg)
    for s in report["subnets"]:
        for fam in s["families"]:
            for state in STATES:
                if fam[state] is not None:  # None: the status has no ranges to count
                    addresses.labels(s["name"], fam["family"], state).set(fam[state])

    if duration_seconds is not None:
        Gauge("eipfsck_scan_duration_seconds", "Wall-clock time of the last scan.",
              registry=reg).set(duration_seconds)
    code = report["summary"]["exit_code"]
    if not code & exitcodes.INCONCLUSIVE:
        # Only a conclusive scan counts as a success: an alert on its age then also fires
        # when scans keep running but cannot see everything.
        Gauge("eipfsck_last_success_timestamp_seconds", "Unix time of the last conclusive "
              "scan.", registry=reg).set(datetime.fromisoformat(report["scanned_at"])
                                         .timestamp())
    incomplete = [s for s in report["sources"] if s["state"] in INCOMPLETE]
    Gauge("eipfsck_sources_incomplete", "Sources that failed or were read only partly.",
          registry=reg).set(len(incomplete))
    complete = Gauge("eipfsck_source_complete", "1 when the source was read completely (or "
                     "is absent from the cluster), 0 when it failed or was partial.",
                     ["source"], registry=reg)
    for s in report["sources"]:
        if s["state"] != "skipped":  # not read by choice: neither complete nor incomplete
            complete.labels(s["name"]).set(0 if s["state"] in INCOMPLETE else 1)
    Gauge("eipfsck_exit_code", "Exit code of the last scan (bits: 4 findings, 8 "
          "inconclusive).", registry=reg).set(code)
    cluster = report["cluster"]
    Gauge("eipfsck_info", "eipfsck and Kube-OVN versions and the cluster's identity.",
          ["version", "kube_ovn_version", "cluster"], registry=reg).labels(
        report["tool"]["version"], cluster["kube_ovn_version"] or "",
        cluster["uid"] or "").set(1)
    return reg


def exposition(registry: CollectorRegistry) -> str:
    """The text exposition format (0.0.4), as node-exporter and the Pushgateway read it."""
    return generate_latest(registry).decode("utf-8")


def render(report: dict[str, Any], duration_seconds: float | None = None) -> str:
    return exposition(build_registry(report, duration_seconds))


def check_target(path: str) -> None:
    """Refuse a file in a directory that does not exist, or a path that is not a regular
    file, before a long scan, not after."""
    outfile.check_target(path, "--metrics-file")


def write_file(text: str, path: str) -> None:
    """Write beside the target and rename: the textfile collector must never read half a
    file. The temporary name does not end in .prom, so the collector ignores it. Mode 0644:
    node-exporter runs as another user and must read it."""
    outfile.write_text(path, text, 0o644, "--metrics-file", suffix=".tmp")


def display_url(url: str) -> str:
    """The URL without user:password, for messages and logs."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a bad port, as push does
    except ValueError:
        return "(not a URL)"
    if not parts.hostname or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2]))


def push(registry: CollectorRegistry, url: str, cluster_uid: str | None,
         timeout: float = 30.0) -> str | None:
    """PUT the registry to a Pushgateway: the group's series are replaced, so a finding
    that is gone disappears. Returns why it failed, or None."""
    grouping = {"cluster": cluster_uid} if cluster_uid else None
    try:
        push_to_gateway(url, job=JOB, registry=registry, grouping_key=grouping,
                        timeout=timeout)
    # URLError and HTTP error statuses are OSErrors; a malformed URL is a ValueError or,
    # for a bad port, http.client's InvalidURL.
    except (OSError, ValueError, HTTPException) as exc:
        text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
        return text.replace(userinfo, "…") if userinfo else text
    return None
