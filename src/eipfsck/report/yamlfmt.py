"""YAML output: the JSON report, same keys in the same order, for people who read YAML."""

from __future__ import annotations

from typing import Any, TextIO

import yaml


def dumps(report: dict[str, Any]) -> str:
    # safe_dump: the report holds only plain values, and a reader must be able to load it
    # back with safe_load. sort_keys=False keeps the report's order (schema and tool first).
    return yaml.safe_dump(report, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=100)


def write(report: dict[str, Any], stream: TextIO) -> None:
    stream.write(dumps(report))
