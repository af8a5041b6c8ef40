"""JUnit XML output, for CI systems that show test results: one test case per check.

A check fails with one <failure> per finding at or above --fail-on; findings below the
threshold go to <system-out>, so the CI page still shows them without failing the job.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any, TextIO

from eipfsck.checks.catalogue import CATALOGUE, SEVERITY_RANK
from eipfsck.report.escape import visible_tree
from eipfsck.report.table import evidence_lines

SUITE = "eipfsck"


def _at_or_above(severity: str, fail_on: str) -> bool:
    return fail_on != "never" and SEVERITY_RANK[severity] >= SEVERITY_RANK[fail_on]


def _subjects(f: dict[str, Any]) -> str:
    return ", ".join(f"{s['kind']} " + "/".join(p for p in (s.get("namespace"), s["name"]) if p)
                     for s in f["subjects"])


def _detail(f: dict[str, Any]) -> str:
    where = " ".join(x for x in (f["subnet"] and f"subnet {f['subnet']}", f["ip"]) if x)
    lines = [f"{f['severity']} {f['check']}" + (f" {where}" if where else ""), f["message"]]
    if f["subjects"]:
        lines.append("subjects: " + _subjects(f))
    lines += ["· " + line for line in evidence_lines(f)]
    # The human lines pick the telling items; the full evidence stays available to tools.
    lines.append("evidence: " + json.dumps(f["evidence"], ensure_ascii=False, sort_keys=True))
    lines.append("what to do: " + f["remedy"])
    return "\n".join(lines) + "\n"


def to_element(report: dict[str, Any]) -> ET.Element:
    # XML 1.0 cannot carry most control characters at all: every name is escaped first.
    report = visible_tree(report)
    summary = report["summary"]
    fail_on = summary["fail_on"]
    by_check: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        by_check.setdefault(f["check"], []).append(f)
    not_run = {s["check"]: f"not checked: {s['reason']}" for s in report["checks"]["skipped"]}
    not_run.update({c: "not selected (--only/--skip)" for c in report["checks"]["deselected"]})

    suite = ET.Element("testsuite", name=SUITE, timestamp=report["scanned_at"])
    props = ET.SubElement(suite, "properties")
    for name, value in (("input", report["input"]), ("cluster", report["cluster"]["uid"]),
                        ("kube_ovn_version", report["cluster"]["kube_ovn_version"]),
                        ("fail_on", fail_on), ("exit_code", summary["exit_code"]),
                        ("tool_version", report["tool"]["version"])):
        ET.SubElement(props, "property", name=name, value="" if value is None else str(value))
    failed = skipped = 0
    for spec in CATALOGUE:
        case = ET.SubElement(suite, "testcase", classname=f"{SUITE}.{spec.cls}", name=spec.id)
        if spec.id in not_run:
            ET.SubElement(case, "skipped", message=not_run[spec.id])
            skipped += 1
            continue
        found = by_check.get(spec.id, [])
        failing = [f for f in found if _at_or_above(f["severity"], fail_on)]
        for f in failing:
            failure = ET.SubElement(case, "failure", message=f["message"], type=f["severity"])
            failure.text = _detail(f)
        below = [f for f in found if not _at_or_above(f["severity"], fail_on)]
        if below:
            ET.SubElement(case, "system-out").text = "".join(_detail(f) for f in below)
        failed += bool(failing)
    if report["inconclusive"]:
        # An inconclusive scan is not a failed check; exit bit 8 says so to the job.
        ET.SubElement(suite, "system-err").text = "inconclusive:\n" + "".join(
            f"{r}\n" for r in report["inconclusive"])
    # The counts follow JUnit's meaning: test cases, not <failure> elements.
    counts = {"tests": str(len(CATALOGUE)), "failures": str(failed), "errors": "0",
              "skipped": str(skipped)}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", name=SUITE, **counts)
    root.append(suite)
    return root


def dumps(report: dict[str, Any]) -> str:
    root = to_element(report)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(report: dict[str, Any], stream: TextIO) -> None:
    stream.write(dumps(report))
