"""The exit-code contract: additive bits, as e2fsck's, the same whatever -o is.

This table is the single source; the CLI help and docs are produced from it.
"""

from __future__ import annotations

CLEAN = 0
REPAIRED = 1
FINDINGS = 4
INCONCLUSIVE = 8
USAGE = 16
REFUSED = 32

TABLE: tuple[tuple[int, str], ...] = (
    (CLEAN, "clean: no finding at or above --fail-on"),
    (REPAIRED, "repairs were made"),
    (FINDINGS, "findings remain at or above --fail-on (default: warning)"),
    (INCONCLUSIVE, "operational error, or a source failed or was partial: the result is "
                   "inconclusive"),
    (USAGE, "usage error (bad option, missing path)"),
    (REFUSED, "refused by a safety gate or declined by the user"),
)

# The codes each command can end with. A command's help lists only these, in TABLE's words
# unless _WORDING says what the code means for that command: help that names a code the
# command never returns, or an option it does not take, misleads at 3 a.m.
COMMAND_CODES: dict[str, tuple[int, ...]] = {
    "scan": (CLEAN, FINDINGS, INCONCLUSIVE, USAGE, REFUSED),
    "snapshot": (CLEAN, INCONCLUSIVE, USAGE, REFUSED),
    "repair": (CLEAN, REPAIRED, FINDINGS, INCONCLUSIVE, USAGE, REFUSED),
    "doctor": (CLEAN, INCONCLUSIVE, USAGE, REFUSED),
    "checks": (CLEAN, USAGE),
    "explain": (CLEAN, USAGE),
}

_WORDING: dict[tuple[str, int], str] = {
    # repair has no --fail-on: its scans count warnings and errors
    ("repair", CLEAN): "clean: no warning or error finding",
    ("repair", FINDINGS): "warning or error findings remain",
    ("snapshot", CLEAN): "written, every source read completely",
    ("snapshot", INCONCLUSIVE): "a source failed or was partial (the snapshot is still "
                                "written, and says so)",
    ("doctor", CLEAN): "everything a scan needs is in place",
    ("doctor", INCONCLUSIVE): "something a scan needs is missing or unreachable (as the scan "
                              "would exit)",
    ("doctor", USAGE): "usage error, or no kubeconfig to use (as the scan would exit)",
    # Ctrl-C: the commands that read a cluster or a large snapshot can take long enough to
    # be interrupted (checks and explain answer at once and do not list it).
    ("scan", REFUSED): "interrupted (Ctrl-C)",
    ("snapshot", REFUSED): "interrupted (Ctrl-C)",
    ("doctor", REFUSED): "interrupted (Ctrl-C)",
    ("checks", CLEAN): "listed",
    ("explain", CLEAN): "explained",
    ("explain", USAGE): "usage error (an unknown check id)",
}

_MEANING = dict(TABLE)


def for_command(command: str) -> list[tuple[int, str]]:
    """The exit codes of one command, each with what it means there."""
    return [(code, _WORDING.get((command, code), _MEANING[code]))
            for code in COMMAND_CODES[command]]


def help_text(command: str) -> str:
    """The exit-code paragraph of a command's --help."""
    bits = " (bits, added)" if len(COMMAND_CODES[command]) > 3 else ""
    return f"Exit codes{bits}: " + "; ".join(f"{c} {t}" for c, t in for_command(command))
