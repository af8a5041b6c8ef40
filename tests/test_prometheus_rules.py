"""deploy/prometheus-rules.yaml: a PrometheusRule whose expressions only use metric names,
labels and check ids that `eipfsck scan --metrics-file` really writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import run
from prometheus_client.parser import text_string_to_metric_families

from eipfsck.checks.catalogue import BY_ID, SEVERITY_RANK

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus-rules.yaml"
LEAKY = str(ROOT / "examples" / "leaky-cluster")
RUNBOOK = "docs/operator-guide.md#alerts"
METRIC = re.compile(r"\b(eipfsck_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(eipfsck_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["namespace"] == "eipfsck"
    assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "eipfsck"
    return [r for group in doc["spec"]["groups"] for r in group["rules"]]


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> dict[str, set[str]]:
    """Metric name -> label names, from a real metrics file of a conclusive scan (so the
    last-success timestamp is in it)."""
    path = tmp_path / "eipfsck.prom"
    code, _, _ = run(["scan", "--snapshot", LEAKY, "-q", "--metrics-file", str(path)], capsys)
    assert code == 4
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def test_rules_parse_with_the_required_alerts() -> None:
    by_name = {r["alert"]: r for r in rules()}
    assert {"EipfsckLeakedIPs", "EipfsckOwnerIPAvailable", "EipfsckScanNotSucceeding",
            "EipfsckScanIncomplete"} <= set(by_name)
    assert by_name["EipfsckLeakedIPs"]["for"] == "30m"
    assert by_name["EipfsckLeakedIPs"]["labels"]["severity"] == "warning"
    assert by_name["EipfsckOwnerIPAvailable"]["labels"]["severity"] == "critical"
    assert by_name["EipfsckScanIncomplete"]["for"] == "1h"
    assert "absent" in by_name["EipfsckScanNotSucceeding"]["expr"]
    for r in by_name.values():
        assert r["labels"]["severity"] in ("warning", "critical"), r["alert"]
        annotations = r["annotations"]
        assert annotations["summary"] and annotations["description"], r["alert"]
        assert annotations["runbook_url"] == RUNBOOK, r["alert"]


def test_every_metric_in_an_expr_is_emitted(emitted: dict[str, set[str]]) -> None:
    assert "eipfsck_last_success_timestamp_seconds" in emitted
    used = {name for r in rules() for name in METRIC.findall(r["expr"])}
    assert used  # the regex does find them
    assert used - set(emitted) == set()


def test_every_label_and_value_in_an_expr_exists(emitted: dict[str, set[str]]) -> None:
    for r in rules():
        expr = r["expr"]
        for metric, matchers in SELECTOR.findall(expr):
            for label, op, value in MATCHER.findall(matchers):
                assert label in emitted[metric], (r["alert"], metric, label)
                values = value.split("|") if op in ("=~", "!~") else [value]
                if label == "check":
                    assert set(values) <= set(BY_ID), (r["alert"], values)
                if label == "severity":
                    assert set(values) <= set(SEVERITY_RANK), (r["alert"], values)
        metrics = METRIC.findall(expr)
        for grouping in GROUPING.findall(expr):
            for label in filter(None, (x.strip() for x in grouping.split(","))):
                assert any(label in emitted[m] for m in metrics), (r["alert"], label)
