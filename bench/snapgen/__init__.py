"""Synthetic Kube-OVN snapshot generator used by bench/gen_snapshot.py (not part of eipfsck)."""
