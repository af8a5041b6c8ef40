"""Kube-OVN knowledge: the one place that changes when Kube-OVN changes."""
