"""Repair: plan → confirm → a fresh read decides → apply → journal (docs/repair.md)."""
