"""stdout and stderr without rich: what the commands that answer at once (--help, checks,
explain, a usage error) and every error line need, so that they start without importing it.

A reader that goes away (`eipfsck scan | head -1`) does not end the run or change its exit
code: the rest of the output is discarded and the code the run earned stands (the exit-code
contract, docs/operator-guide.md "Troubleshooting by exit code").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# The characters rich's Console changes in plain text: it expands a tab to the next tab stop
# (by cell width) and drops BEL, BS, VT, FF and CR. Every other character, escape sequences
# included, it prints as it is.
_RICH_REWRITES = frozenset("\t\x07\x08\x0b\x0c\r")


def reader_gone() -> None:
    """The reader of stdout went away: discard everything still to be written, including
    what Python's own buffer holds (its flush at exit would fail otherwise)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@contextmanager
def plain_stdout() -> Iterator[None]:
    """Around writes to sys.stdout that do not go through a Stdout console (JSON, YAML,
    plain lines): a reader that goes away does not end the run."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()


def stderr_line(text: str) -> None:
    """One line on stderr, printed literally and never wrapped: exactly what a rich Console
    (no markup, highlighting or emoji; soft wrap) prints, without importing rich for the
    usual line. A line with a character rich rewrites goes through rich itself."""
    if _RICH_REWRITES.isdisjoint(text):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return
    rich_stderr().print(text)


def rich_stderr() -> Console:
    """stderr for notes, prompts and errors that need rich (a plan shown with the prompt):
    one line each, printed literally."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)
