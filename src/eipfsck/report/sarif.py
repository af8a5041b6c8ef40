"""SARIF 2.1.0 output, for code-scanning dashboards and the tools that read SARIF.

Built from the report dict only, so a snapshot scan and a live scan render alike. Findings
are about cluster objects, not files: each result names its subjects as logical locations.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, metadata
from typing import Any, TextIO

from eipfsck.checks.catalogue import CATALOGUE, CheckSpec
from eipfsck.report.escape import json_safe

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "eipfsckFinding/v1"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _information_uri() -> str | None:
    """The project's home page from the package metadata; SARIF wants a real URI here, so
    none is made up when the package does not declare one."""
    try:
        meta = metadata("eipfsck")
    except PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository") and url.strip():
            return url.strip()
    home = meta.get("Home-page")
    return home if home and home != "UNKNOWN" else None


def _rule_name(check_id: str) -> str:
    # SARIF's rule name is an identifier-like word (e.g. "LeakedIp"); the id stays the key.
    return "".join(part.capitalize() for part in check_id.split("-"))


def rule(spec: CheckSpec) -> dict[str, Any]:
    tags = ["kube-ovn", "ipam"] + ([spec.cls] if spec.cls != "-" else [])
    return {
        "id": spec.id,
        "name": _rule_name(spec.id),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": spec.explanation},
        "help": {"text": spec.remedy},
        "defaultConfiguration": {"level": LEVEL[spec.severity]},
        "properties": {"tags": tags, "kubeOvnClass": spec.cls, "evidence": spec.evidence,
                       "repairable": spec.repairable, "needs": spec.needs,
                       "implemented": spec.implemented},
    }


def _qualified(subject: dict[str, Any]) -> str:
    parts = [subject["kind"], subject.get("namespace"), subject["name"]]
    return "/".join(p for p in parts if p)


def _logical_locations(finding: dict[str, Any]) -> list[dict[str, Any]]:
    subjects = finding["subjects"] or (
        [{"kind": "Subnet", "name": finding["subnet"]}] if finding["subnet"] else [])
    out = []
    for s in subjects:
        loc: dict[str, Any] = {"name": s["name"], "fullyQualifiedName": _qualified(s),
                               "kind": "resource", "properties": {"kind": s["kind"]}}
        for key in ("namespace", "uuid"):
            if s.get(key):
                loc["properties"][key] = s[key]
        out.append(loc)
    return out


def fingerprint_material(finding: dict[str, Any]) -> str:
    """What identifies a finding from one scan to the next. The NB row UUID is left out
    (a row re-created under the same name is the same problem to the operator), and so are
    the message and evidence, whose counts and timestamps change between scans."""
    subjects = sorted(_qualified(s) for s in finding["subjects"])
    return json.dumps([finding["check"], finding["subnet"], finding["family"], finding["ip"],
                       subjects], separators=(",", ":"))


def fingerprints(findings: list[dict[str, Any]]) -> list[str]:
    """One stable hash per finding. Findings that share all identifying fields (two count
    mismatches on one subnet) are told apart by their rank in the report's sorted order,
    so that a dashboard keeps them as two alerts."""
    seen: dict[str, int] = {}
    out = []
    for f in findings:
        material = fingerprint_material(f)
        n = seen.get(material, 0)
        seen[material] = n + 1
        if n:
            material += f"#{n}"
        out.append(hashlib.sha256(material.encode()).hexdigest())
    return out


def _result(finding: dict[str, Any], index: dict[str, int], fp: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": finding["check"],
        "ruleIndex": index[finding["check"]],
        "level": LEVEL[finding["severity"]],
        "message": {"text": finding["message"]},
    }
    locations = _logical_locations(finding)
    if locations:
        out["locations"] = [{"logicalLocations": locations}]
    out["partialFingerprints"] = {FINGERPRINT_KEY: fp}
    out["properties"] = {"subnet": finding["subnet"], "ip": finding["ip"],
                         "family": finding["family"], "subjects": finding["subjects"],
                         "repairable": finding["repairable"], "evidence": finding["evidence"]}
    return out


def _notifications(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Why the result is inconclusive: each failed or partial source, then the other
    reasons the report gives (owner kinds not captured, unreadable fields)."""
    out = []
    source_reasons = set()
    for s in report["sources"]:
        if s["state"] not in ("failed", "partial"):
            continue
        text = f"{s['name']}: {s['state']}" + (f" ({s['detail']})" if s["detail"] else "")
        source_reasons.add(text)
        out.append({"level": "error" if s["state"] == "failed" else "warning",
                    "message": {"text": f"source {text}"},
                    "properties": {"source": s["name"], "origin": s["origin"],
                                   "state": s["state"]}})
    for reason in report["inconclusive"]:
        if reason not in source_reasons:
            out.append({"level": "warning", "message": {"text": reason}})
    return out


def _utc(iso: str) -> str:
    # SARIF asks for UTC times written with "Z"; the report writes "+00:00".
    return iso[:-6] + "Z" if iso.endswith("+00:00") else iso


def _skipped(report: dict[str, Any], index: dict[str, int]) -> list[dict[str, Any]]:
    out = []
    for s in report["checks"]["skipped"]:
        out.append({"level": "note", "message": {"text": f"not checked: {s['reason']}"},
                    "descriptor": {"id": s["check"], "index": index[s["check"]]}})
    return out


def to_sarif(report: dict[str, Any]) -> dict[str, Any]:
    index = {spec.id: i for i, spec in enumerate(CATALOGUE)}
    driver: dict[str, Any] = {"name": report["tool"]["name"],
                              "version": report["tool"]["version"],
                              "semanticVersion": report["tool"]["version"]}
    uri = _information_uri()
    if uri:
        driver["informationUri"] = uri
    driver["rules"] = [rule(spec) for spec in CATALOGUE]
    summary = report["summary"]
    invocation: dict[str, Any] = {
        "executionSuccessful": not summary["exit_code"] & 8,
        "exitCode": summary["exit_code"],
        "endTimeUtc": _utc(report["scanned_at"]),
        "toolExecutionNotifications": _notifications(report),
        "toolConfigurationNotifications": _skipped(report, index),
        "properties": {"failOn": summary["fail_on"], "input": report["input"],
                       "checksRun": report["checks"]["run"],
                       "checksDeselected": report["checks"]["deselected"],
                       "suppressed": summary["suppressed"]},
    }
    findings = report["findings"]
    return {
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": {"driver": driver},
            "invocations": [invocation],
            "results": [_result(f, index, fp)
                        for f, fp in zip(findings, fingerprints(findings), strict=True)],
            "properties": {"reportSchema": report["schema"], "cluster": report["cluster"],
                           "capturedAt": report["captured_at"],
                           "subnets": report["subnets"]},
        }],
    }


def dumps(report: dict[str, Any]) -> str:
    return json_safe(json.dumps(to_sarif(report), indent=2, ensure_ascii=False)) + "\n"


def write(report: dict[str, Any], stream: TextIO) -> None:
    stream.write(dumps(report))
