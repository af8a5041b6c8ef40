"""report/stdio.stderr_line prints exactly what the rich Console it replaces on the fast
paths printed (no markup, highlighting or emoji, soft wrap): every error and note line."""

from __future__ import annotations

import pytest
from rich.console import Console

from eipfsck.report.stdio import stderr_line

LINES = [
    "", "eipfsck: usage error: No such option: --bogus", "x" * 500, "  lead and trail  ",
    "[bold]not markup[/]", ":smile: fd00:100::1 :thumbs_up:", "http://10.0.0.1:6641 1.2.3.4",
    "tab\there", "cr\rhere", "bell\x07 bs\x08 vt\x0b ff\x0c", "esc \x1b[31mred\x1b[0m",
    "two\nlines", "中文字符" * 40, "é ü ß", "\u202e reversed", "a\x85b", "\t\tlead tabs",
    *(f"a{chr(cp)}b" for cp in [*range(0x00, 0x250), 0x2028, 0x3000, 0xfeff, 0xffff, 0x1f600]),
]


def _rich(text: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False).print(
        text, markup=False)


def test_the_same_bytes_as_rich(capsys: pytest.CaptureFixture[str]) -> None:
    for text in LINES:
        _rich(text)
        want = capsys.readouterr().err
        stderr_line(text)
        assert capsys.readouterr().err == want, repr(text)
