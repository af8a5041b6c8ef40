"""Pure pieces of live collection: durations, controller flags, RBAC hints, the ovn-nbctl
command line and its output parser (fed with real ovn-nbctl output in tests/live)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from eipfsck.collect.kube import API_RESOURCES, _rbac_hint, parse_duration
from eipfsck.collect.nbexec import nbctl_command, parse_nbctl_output
from eipfsck.errors import InputError, UsageError
from eipfsck.kubeovn.names import settings_from_args
from eipfsck.model import settings_from
from eipfsck.snapshot import K8S_RESOURCES, NB_TABLES, Snapshot


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 30.0), ("30s", 30.0), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0),
    ("500ms", 0.5), ("0", None), ("0s", None),
])
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "1m 30s", "-5s", "s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="request-timeout"):
        parse_duration(text)


def test_settings_from_controller_flags() -> None:
    assert settings_from_args([
        "--external-gateway-switch=ext-gw", "--cluster-router", "lr-main", "-node-switch=j2",
        "--keep-vm-ip=false", "--default-cidr=10.16.0.0/16", "--gc-interval=0",
    ]) == {"external_gateway_switch": "ext-gw", "cluster_router": "lr-main",
           "node_switch": "j2", "keep_vm_ip": False}
    assert settings_from_args(["--keep-vm-ip"]) == {"keep_vm_ip": True}
    assert settings_from_args(["--keep-vm-ip=maybe", "--cluster-router"]) == {}
    assert settings_from_args([]) == {}


def _snap_with_controller(args: list[str], meta: dict[str, object]) -> Snapshot:
    deployment = {"metadata": {"name": "kube-ovn-controller", "namespace": "kube-system"},
                  "spec": {"template": {"spec": {"containers": [
                      {"name": "kube-ovn-controller", "image": "kubeovn/kube-ovn:v1.15.4",
                       "args": args}]}}}, "status": {}}
    return Snapshot("t", datetime.now(UTC), "scan time", meta,
                    {"deployments.apps": [deployment]}, None, ())


def test_settings_precedence_flags_then_meta_then_overrides() -> None:
    snap = _snap_with_controller(["--external-gateway-switch=gw-a", "--node-switch=j-a"], {})
    got = settings_from(snap)
    assert (got.external_gateway_switch, got.node_switch, got.cluster_router) == \
        ("gw-a", "j-a", "ovn-cluster")
    snap = dataclasses.replace(snap, meta={"settings": {"node_switch": "j-meta"}})
    got = settings_from(snap, {"external_gateway_switch": "gw-cli", "cluster_router": None})
    assert (got.external_gateway_switch, got.node_switch) == ("gw-cli", "j-meta")


def test_rbac_hints_name_verb_group_and_resource() -> None:
    assert _rbac_hint("pods", "kube-system") == \
        'ClusterRole (all namespaces): apiGroups: [""], resources: ["pods"], verbs: ["list"]'
    assert _rbac_hint("ovn-eips.kubeovn.io", "kube-system") == \
        'ClusterRole: apiGroups: ["kubeovn.io"], resources: ["ovn-eips"], verbs: ["list"]'
    hint = _rbac_hint("configmaps", "kube-ovn")
    assert "Role in namespace kube-ovn" in hint and '"ovn-external-gw-config"' in hint
    assert 'verbs: ["get"]' in hint
    assert set(API_RESOURCES) == set(K8S_RESOURCES)
    assert API_RESOURCES["leases.coordination.k8s.io"].path("ns", "x") == \
        "/apis/coordination.k8s.io/v1/namespaces/ns/leases/x"
    assert API_RESOURCES["pods"].path() == "/api/v1/pods"


def test_nbctl_command_lists_every_table_in_one_transaction() -> None:
    cmd = nbctl_command()
    assert cmd[:2] == ["ovn-nbctl", "--format=json"]
    assert [cmd[i + 1] for i, w in enumerate(cmd) if w == "list"] == list(NB_TABLES)
    assert cmd.count("--") == len(NB_TABLES)


def test_nbctl_output_parser_rejects_garbage() -> None:
    one = '{"data":[],"headings":["_uuid","name"]}\n'
    assert parse_nbctl_output(one * len(NB_TABLES), "t") == {t: [] for t in NB_TABLES}
    with pytest.raises(InputError, match="table Logical_Router"):
        parse_nbctl_output(one * 2 + "ovn-nbctl: error", "t")
    with pytest.raises(InputError, match="after the last table"):
        parse_nbctl_output(one * len(NB_TABLES) + "{}", "t")
