"""Errors that end a run, each carrying its exit bit and the place that caused it.

The CLI turns any of these into one clear message on stderr and that exit code;
no traceback ever reaches an operator.
"""

from __future__ import annotations

from eipfsck import exitcodes


class EipfsckError(Exception):
    exit_code = exitcodes.INCONCLUSIVE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(EipfsckError):
    exit_code = exitcodes.USAGE


class InputError(EipfsckError):
    """Input that cannot be read at all: a snapshot file, an NB table, a log file."""

    exit_code = exitcodes.INCONCLUSIVE


class RefusedError(EipfsckError):
    """A safety gate refused the run, or the operator declined it."""

    exit_code = exitcodes.REFUSED
