"""YAML output: the JSON report, same keys in the same order, for people who read YAML."""

from __future__ import annotations

from typing import Any, TextIO

import yaml

from eipfsck.report.escape import UNSAFE, json_safe


class _Dumper(yaml.SafeDumper):
    """A string holding a control, bidi or surrogate character is written double-quoted,
    where an escape means that character: then escaping what PyYAML leaves raw (it counts
    bidi overrides as printable) keeps the document exact and safe on a terminal."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if UNSAFE.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dumps(report: dict[str, Any]) -> str:
    # safe_dump: the report holds only plain values, and a reader must be able to load it
    # back with safe_load. sort_keys=False keeps the report's order (schema and tool first).
    text = yaml.dump(report, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)
    # Only double-quoted scalars can still hold such characters, and \uXXXX is YAML there.
    return json_safe(text)


def write(report: dict[str, Any], stream: TextIO) -> None:
    stream.write(dumps(report))
