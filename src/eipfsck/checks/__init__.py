"""Checks: pure functions from the Model to Findings, defined once in the catalogue."""
