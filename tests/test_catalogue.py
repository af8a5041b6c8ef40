"""The catalogue is the single source: docs, CLI and findings agree with it."""

from __future__ import annotations

from pathlib import Path

from eipfsck.checks.catalogue import CATALOGUE
from eipfsck.checks.docs import render
from eipfsck.checks.runner import PRODUCERS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "checks.md"
DESIGN_IDS = {  # the stable ids, as first published
    "leaked-ip", "phantom-v6-restore", "owner-ip-available", "double-claim", "orphan-ip-cr",
    "orphan-nb-lsp", "orphan-nb-lrp", "orphan-nb-nat", "orphan-nb-lb", "dangling-eip-ref",
    "nb-address-drift", "terminating-owner", "owner-ip-out-of-cidr", "owner-ip-excluded",
    "status-range-invalid", "status-count-mismatch", "restore-hazard", "subnet-ref-invalid",
    "lsp-eip-not-node", "dataplane-residue",
}


def test_committed_check_reference_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/checks.md is stale: run python -m eipfsck.checks.docs docs/checks.md")


def test_catalogue_has_every_design_id_once() -> None:
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert set(ids) >= DESIGN_IDS


def test_every_implemented_check_has_a_producer() -> None:
    produced = {i for ids, _ in PRODUCERS for i in ids}
    assert {c.id for c in CATALOGUE if c.implemented} == produced


def test_every_entry_is_complete() -> None:
    for c in CATALOGUE:
        assert c.severity in ("info", "warning", "error")
        assert c.title.endswith(".") and c.explanation and c.remedy and c.evidence
