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
