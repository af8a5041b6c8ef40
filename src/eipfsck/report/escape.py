"""Text from a cluster, made safe to print: names are data, never terminal commands.

An object name, label or NB cell may hold anything a tenant wrote: ESC sequences that
clear an operator's screen, NUL, bidi overrides that make text read backwards (U+202E),
characters XML cannot carry, lone surrogates that no encoder accepts. Every output escapes
them the same way, as Python writes them in a string literal (\\x1b, \\u202e, \\ud800), so a
name stays recognisable and greppable and nothing in it acts on the reader.

- visible(): for people (table, stderr, JUnit text): also escapes tab, CR and LF, since one
  finding is one line.
- json_safe(): for JSON text after json.dumps: the same characters as JSON escapes, which
  decode back to the exact name (lossless).
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, bidi embeddings/overrides/isolates and marks, line/paragraph
# separators, BOM, lone surrogates, and U+FFFE/U+FFFF (not characters; illegal in XML).
_UNSAFE = ("\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
           "\ufeff\ud800-\udfff\ufffe\uffff")
UNSAFE = re.compile(f"[{_UNSAFE}]")
# JSON already escapes C0 controls; the rest pass json.dumps(ensure_ascii=False) raw.
_JSON_UNSAFE = re.compile(f"[{_UNSAFE.replace(chr(0) + '-' + chr(0x1f), '')}]")


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    if match.group() in _SHORT:
        return _SHORT[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every unsafe character written as its escape (\\x1b, \\u202e)."""
    return UNSAFE.sub(_escape, text)


def visible_tree(value: Any) -> Any:
    """visible() applied to every string (keys too) in a report of dicts and lists."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible_tree(k): visible_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible_tree(v) for v in value]
    return value


def json_safe(text: str) -> str:
    """JSON text from json.dumps(ensure_ascii=False) with the unsafe characters it leaves
    raw written as \\uXXXX escapes: the same document, safe on a terminal and encodable.
    Outside strings JSON is ASCII, so replacing anywhere only touches string contents."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
