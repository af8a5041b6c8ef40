"""Repair: plan → confirm → verify live → apply → journal (design.md, kube-ovn-model.md §9)."""
