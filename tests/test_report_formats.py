"""The machine formats of `eipfsck scan` (-o yaml, sarif, junit), run through the real CLI on
the example snapshots: each is the JSON report in another shape, with the same exit code.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from clirun import run

from eipfsck.checks.catalogue import BY_ID, CATALOGUE, SEVERITY_RANK

ROOT = Path(__file__).resolve().parent.parent
LEAKY = str(ROOT / "examples" / "leaky-cluster")
HEALTHY = str(ROOT / "examples" / "healthy-cluster")
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def inconclusive(tmp_path: Path) -> str:
    """The leaky example without pods.json: an owner kind not captured, exit bit 8."""
    target = tmp_path / "no-pods"
    shutil.copytree(LEAKY, target)
    (target / "k8s" / "pods.json").unlink()
    return str(target)


def failed_source(tmp_path: Path) -> str:
    """The leaky example as `eipfsck snapshot` records a forbidden kind and a partial list."""
    target = tmp_path / "failed-source"
    shutil.copytree(LEAKY, target)
    (target / "k8s" / "vpcs.kubeovn.io.json").unlink()
    meta = json.loads((target / "meta.json").read_text())
    meta["sources"] = {
        "vpcs.kubeovn.io": {"state": "failed", "detail": "forbidden: list vpcs.kubeovn.io"},
        "pods": {"state": "partial", "detail": "continue token expired after 2 pages"},
    }
    (target / "meta.json").write_text(json.dumps(meta))
    return str(target)


def scan(capsys: pytest.CaptureFixture[str], snapshot: str, fmt: str, *extra: str
         ) -> tuple[int, str]:
    code, out, _ = run(["scan", "--snapshot", snapshot, "-o", fmt, *extra], capsys)
    return code, out


def report_of(capsys: pytest.CaptureFixture[str], snapshot: str, *extra: str
              ) -> tuple[int, dict[str, Any]]:
    code, out = scan(capsys, snapshot, "json", *extra)
    return code, json.loads(out)


# -- yaml --------------------------------------------------------------------------------------


@pytest.mark.parametrize("snapshot", [LEAKY, HEALTHY])
def test_yaml_is_the_json_report(capsys: pytest.CaptureFixture[str], snapshot: str) -> None:
    code_json, report = report_of(capsys, snapshot)
    code_yaml, out = scan(capsys, snapshot, "yaml")
    loaded = yaml.safe_load(out)
    assert code_yaml == code_json
    assert loaded.pop("scanned_at") and report.pop("scanned_at")
    assert loaded == report
    assert list(loaded) == list(report)  # the report's key order, not sorted
    assert list(loaded["findings"][0] if loaded["findings"] else {}) == list(
        report["findings"][0] if report["findings"] else {})
    assert out.startswith("schema: eipfsck/report/v1\n")
    assert "{" not in out.splitlines()[1]  # block style


# -- sarif -------------------------------------------------------------------------------------


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in sarif_validator().iter_errors(doc)]


def test_the_schema_check_catches_an_invalid_log(capsys: pytest.CaptureFixture[str]) -> None:
    """The validation below is not vacuous: the official schema rejects a wrong level and a
    missing message."""
    _, out = scan(capsys, LEAKY, "sarif")
    doc = json.loads(out)
    assert schema_errors(doc) == []
    doc["runs"][0]["results"][0]["level"] = "fatal"
    del doc["runs"][0]["results"][1]["message"]
    errors = schema_errors(doc)
    assert any("fatal" in e for e in errors), errors
    assert any("message" in e for e in errors), errors


@pytest.mark.parametrize("which", ["leaky", "healthy", "inconclusive", "failed-source"])
def test_sarif_is_valid_and_matches_the_report(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, which: str) -> None:
    snapshot = {"leaky": LEAKY, "healthy": HEALTHY}.get(which) or (
        inconclusive(tmp_path) if which == "inconclusive" else failed_source(tmp_path))
    code, report = report_of(capsys, snapshot)
    sarif_code, out = scan(capsys, snapshot, "sarif")
    doc = json.loads(out)
    assert sarif_code == code
    assert schema_errors(doc) == []
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (sarif_run,) = doc["runs"]

    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "eipfsck" and driver["version"] == report["tool"]["version"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [c.id for c in CATALOGUE]
    for r in rules:
        spec = BY_ID[r["id"]]
        assert r["shortDescription"]["text"] == spec.title
        assert r["fullDescription"]["text"] == spec.explanation
        assert r["help"]["text"] == spec.remedy
        assert r["defaultConfiguration"]["level"] == LEVEL[spec.severity]
        assert "kube-ovn" in r["properties"]["tags"]
        assert spec.cls == "-" or spec.cls in r["properties"]["tags"]

    results = sarif_run["results"]
    assert len(results) == len(report["findings"])
    for result, finding in zip(results, report["findings"], strict=True):
        assert result["ruleId"] == finding["check"]
        assert rules[result["ruleIndex"]]["id"] == finding["check"]
        assert result["level"] == LEVEL[finding["severity"]]
        assert result["message"]["text"] == finding["message"]
        named = [loc["fullyQualifiedName"]
                 for loc in result["locations"][0]["logicalLocations"]]
        assert named == ["/".join(p for p in (s["kind"], s.get("namespace"), s["name"]) if p)
                         for s in finding["subjects"]]
        props = result["properties"]
        assert (props["subnet"], props["ip"], props["family"], props["evidence"]) == (
            finding["subnet"], finding["ip"], finding["family"], finding["evidence"])

    (invocation,) = sarif_run["invocations"]
    assert invocation["exitCode"] == code
    assert invocation["executionSuccessful"] is not bool(code & 8)
    notes = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    bad = [s for s in report["sources"] if s["state"] in ("failed", "partial")]
    assert len([n for n in notes if n.startswith("source ")]) == len(bad)
    for s in bad:
        assert any(n.startswith(f"source {s['name']}: {s['state']}") for n in notes), notes
    if which == "inconclusive":
        assert any("owner kinds not captured: pods" in n for n in notes), notes
    if which == "failed-source":
        levels = {n["properties"]["source"]: n["level"]
                  for n in invocation["toolExecutionNotifications"] if "properties" in n}
        assert levels == {"vpcs.kubeovn.io": "error", "pods": "warning"}
    if which in ("leaky", "healthy"):
        assert notes == []


def fingerprints(capsys: pytest.CaptureFixture[str], snapshot: str) -> list[str]:
    _, out = scan(capsys, snapshot, "sarif")
    return [r["partialFingerprints"]["eipfsckFinding/v1"]
            for r in json.loads(out)["runs"][0]["results"]]


def test_sarif_fingerprints_are_stable_across_scans(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    first = fingerprints(capsys, LEAKY)
    second = fingerprints(capsys, LEAKY)
    moved = tmp_path / "elsewhere"
    shutil.copytree(LEAKY, moved)
    assert len(first) == 20
    assert first == second
    assert fingerprints(capsys, str(moved)) == first  # not tied to where the input lies
    assert len(set(first)) == len(first)  # each finding its own alert


def test_sarif_fingerprint_follows_the_finding(capsys: pytest.CaptureFixture[str]) -> None:
    """Hiding findings with --only must not shift the fingerprints of the others."""
    _, out = scan(capsys, LEAKY, "sarif")
    every = {(r["ruleId"], r["properties"]["ip"]): r["partialFingerprints"]
             for r in json.loads(out)["runs"][0]["results"]}
    _, out = scan(capsys, LEAKY, "sarif", "--only", "leaked-ip")
    some = json.loads(out)["runs"][0]["results"]
    assert len(some) == 3
    for r in some:
        assert r["partialFingerprints"] == every[(r["ruleId"], r["properties"]["ip"])]


# -- junit -------------------------------------------------------------------------------------


def junit(capsys: pytest.CaptureFixture[str], snapshot: str, *extra: str
          ) -> tuple[int, ET.Element]:
    code, out = scan(capsys, snapshot, "junit", *extra)
    assert out.startswith("<?xml")
    return code, ET.fromstring(out)


def at_or_above(report: dict[str, Any], fail_on: str) -> list[dict[str, Any]]:
    if fail_on == "never":
        return []
    return [f for f in report["findings"]
            if SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[fail_on]]


def assert_counts(root: ET.Element) -> ET.Element:
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "eipfsck"
    cases = suite.findall("testcase")
    counts = {"tests": len(cases),
              "failures": sum(1 for c in cases if c.find("failure") is not None),
              "skipped": sum(1 for c in cases if c.find("skipped") is not None),
              "errors": 0}
    for element in (root, suite):
        assert {k: int(element.get(k, "-1")) for k in counts} == counts
    return suite


@pytest.mark.parametrize("fail_on", ["warning", "error", "info", "never"])
def test_junit_one_case_per_check_failures_per_finding(capsys: pytest.CaptureFixture[str],
                                                       fail_on: str) -> None:
    code, report = report_of(capsys, LEAKY, "--fail-on", fail_on)
    junit_code, root = junit(capsys, LEAKY, "--fail-on", fail_on)
    assert junit_code == code
    suite = assert_counts(root)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.id for c in CATALOGUE]
    assert [c.get("classname") for c in cases] == [f"eipfsck.{c.cls}" for c in CATALOGUE]

    failing = at_or_above(report, fail_on)
    failures = [(c.get("name"), f.get("message"), f.get("type"))
                for c in cases for f in c.findall("failure")]
    assert sorted(failures) == sorted((f["check"], f["message"], f["severity"])
                                      for f in failing)
    below = [f for f in report["findings"] if f not in failing]
    by_name = {c.get("name"): c for c in cases}
    for f in below:
        out = by_name[f["check"]].find("system-out")
        assert out is not None and f["message"] in (out.text or ""), f["check"]
    for f in failing:
        texts = [x.text or "" for x in by_name[f["check"]].findall("failure")
                 if x.get("message") == f["message"]]
        assert any(f["remedy"] in t for t in texts)

    skipped = {c.get("name"): c.find("skipped") for c in cases if c.find("skipped") is not None}
    assert set(skipped) == {s["check"] for s in report["checks"]["skipped"]}
    for s in report["checks"]["skipped"]:
        assert s["reason"] in (skipped[s["check"]].get("message") or "")


def test_junit_fail_on_error_changes_the_failure_set(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    def failed(*extra: str) -> set[tuple[str, str]]:
        _, root = junit(capsys, LEAKY, *extra)
        return {(c.get("name") or "", f.get("message") or "")
                for c in root.iter("testcase") for f in c.findall("failure")}

    warning, error = failed(), failed("--fail-on", "error")
    assert error < warning
    assert {c for c, _ in warning - error} == {
        "status-count-mismatch", "orphan-ip-cr", "orphan-nb-lsp", "phantom-v6-restore"}
    assert {c for c, _ in error} == {
        "double-claim", "orphan-nb-nat", "nb-address-drift", "dangling-eip-ref", "leaked-ip",
        "owner-ip-available", "owner-ip-out-of-cidr", "orphan-nb-lsp"}


def test_junit_deselected_checks_are_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    _, root = junit(capsys, LEAKY, "--only", "leaked-ip")
    suite = assert_counts(root)
    run_cases = [c.get("name") for c in suite.findall("testcase")
                 if c.find("skipped") is None]
    assert run_cases == ["leaked-ip"]
    assert suite.get("failures") == "1"
    assert len(suite.find("testcase").findall("failure")) == 3  # type: ignore[union-attr]


def test_junit_healthy_and_inconclusive(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    code, root = junit(capsys, HEALTHY)
    suite = assert_counts(root)
    assert code == 0 and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.findall("testcase") if c.find("system-out")
            is not None] == ["owner-ip-excluded"]  # its info finding, below --fail-on
    assert suite.find("system-err") is None

    code, root = junit(capsys, inconclusive(tmp_path))
    suite = assert_counts(root)
    assert code & 8
    err = suite.find("system-err")
    assert err is not None and "owner kinds not captured: pods" in (err.text or "")


# -- the exit code does not depend on -o ---------------------------------------------------------


@pytest.mark.parametrize("case", ["leaky", "healthy", "inconclusive", "leaky-fail-on-error",
                                  "healthy-fail-on-info", "leaky-fail-on-never"])
def test_exit_code_is_the_same_for_every_format(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, case: str) -> None:
    snapshot, extra, expected = {
        "leaky": (LEAKY, [], 4), "healthy": (HEALTHY, [], 0),
        "inconclusive": (inconclusive(tmp_path), [], 12),
        "leaky-fail-on-error": (LEAKY, ["--fail-on", "error"], 4),
        "healthy-fail-on-info": (HEALTHY, ["--fail-on", "info"], 4),
        "leaky-fail-on-never": (LEAKY, ["--fail-on", "never"], 0),
    }[case]
    codes = {fmt: scan(capsys, snapshot, fmt, *extra)[0]
             for fmt in ("table", "json", "yaml", "sarif", "junit")}
    assert codes == dict.fromkeys(codes, expected)


def test_unknown_output_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["scan", "--snapshot", LEAKY, "-o", "xml"], capsys)
    assert code == 16
    assert "xml" in err
