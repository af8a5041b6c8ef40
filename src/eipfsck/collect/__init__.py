"""Live collection: read a running cluster into a Snapshot.

Each collector (kube.py for the Kubernetes API, ovnnb.py for the OVN northbound DB, nbexec.py
for ovn-nbctl run inside the ovn-central pod) returns plain data plus one SourceStatus per
resource or table; nothing after collection knows where the data came from.
"""
