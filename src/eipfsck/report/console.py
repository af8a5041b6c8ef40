"""stdout for people: how lines are laid out, and what happens when the reader goes away.

Piped output is for grep: a line is never wrapped, whatever its length, so one finding (or
one plan entry) is one line, as kubectl prints. On a terminal a long line is wrapped to the
width, and its continuation lines are indented under the text they continue, never at
column 0.

A reader that goes away (`eipfsck scan | head -1`) does not end the run or change its exit
code: the rest of the output is discarded and the code the run earned stands (the exit-code
contract, docs/operator-guide.md "Troubleshooting by exit code").
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Console
from rich.text import Text

from eipfsck.report.stdio import reader_gone

_UNBOUNDED = 100_000  # columns: wider than any line eipfsck prints


def continuation_indent(line: str) -> int:
    """Where a wrapped line continues: under its text, after the indent and a list marker
    ("- ", "· ") if it has one; a heading's continuation two columns in, never at 0."""
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    if stripped[:2] in ("- ", "· "):
        indent += 2
    return indent or 2


def wrap_hanging(line: str, width: int, hang: int | None = None) -> list[str]:
    """One line wrapped to `width`, continuations indented by `hang` (default: under the
    text), words never broken: an IP or an object name stays whole and greppable."""
    if len(line) <= width:
        return [line]
    indent = continuation_indent(line) if hang is None else hang
    return textwrap.wrap(line, width=max(width, indent + 20), subsequent_indent=" " * indent,
                         break_on_hyphens=False, break_long_words=False,
                         drop_whitespace=True) or [line]


def print_hanging(console: Console, text: Text, hang: int) -> None:
    """A styled line: whole when piped or when it fits, else wrapped on the terminal with its
    continuations `hang` columns in, styles kept."""
    plain = text.plain
    if not console.is_terminal or len(plain) <= console.width:
        console.print(text, soft_wrap=True)
        return
    pos = 0
    for i, line in enumerate(wrap_hanging(plain, console.width, hang)):
        body = line[hang:] if i else line
        start = plain.find(body, pos)
        if start < 0:  # cannot happen: wrapping only splits at whitespace
            console.print(text[pos:], soft_wrap=True)
            return
        part = text[start:start + len(body)]
        console.print(Text(" " * hang) + part if i else part, soft_wrap=True)
        pos = start + len(body)


class Stdout(Console):
    """stdout for people: object names and IPv6 text print literally (no markup, no emoji
    codes: rich turns "fd00:100::" into an emoji otherwise); never wrapped when piped,
    wrapped with indented continuations on a terminal."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, markup=False, emoji=False, **kwargs)
        if not self.is_terminal:
            # Piped: text is never wrapped, and a table is as wide as its cells (a table
            # does not expand beyond them), so a subnet is one row with its name whole.
            self.soft_wrap = True
            self.width = _UNBOUNDED

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if (self.is_terminal and len(objects) == 1 and isinstance(objects[0], str)
                and not kwargs.get("soft_wrap")):
            for line in objects[0].split("\n"):
                for part in wrap_hanging(line, self.width):
                    super().print(part, soft_wrap=True, **kwargs)
            return
        super().print(*objects, **kwargs)

    def on_broken_pipe(self) -> None:
        # rich would exit 1 here, which the exit-code contract reads as "repairs were made".
        # Stop printing, and let the run finish with the exit code it earned.
        self.quiet = True
        reader_gone()
