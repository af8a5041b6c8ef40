"""The compare that decides whether a planned NB delete still applies (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eipfsck.collect.ovnnb import NbTarget
from eipfsck.repair.nbapply import Difference, NbRowDelete, NbWriter, canonical, differences

U1 = "11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(("a", "b"), [
    ("snat", ["snat"]),                       # a one-element set prints as the bare atom
    (["b", "a"], ["a", "b"]),                 # set order means nothing
    (["a", "a"], ["a"]),
    ([], {}),                                 # an empty map decodes as an empty set
    (None, []),
    ({"k": "v", "a": "b"}, {"a": "b", "k": "v"}),
    (1, 1.0),
    (1, [1]),
    ([U1], U1),
])
def test_equal_forms(a: Any, b: Any) -> None:
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize(("a", "b"), [
    ("snat", "dnat"),
    (["a", "b"], ["a"]),
    ([], [""]),
    ({"k": "v"}, {"k": "w"}),
    ({"k": "v"}, {"k": "v", "x": "y"}),
    ({"k": "v"}, ["k", "v"]),
    (True, 1),                                # OVSDB booleans are not integers
    ("1", 1),
    ({}, {"k": ""}),
])
def test_different_forms(a: Any, b: Any) -> None:
    assert canonical(a) != canonical(b)


atoms = st.one_of(st.text(max_size=8), st.integers(), st.booleans())


@given(st.lists(atoms, max_size=6), st.randoms())
def test_sets_compare_in_any_order(values: list[Any], rnd: Any) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert canonical(values) == canonical(shuffled)
    if len(set(map(repr, values))) == 1:
        assert canonical(values[0]) == canonical(values)


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5))
def test_canonical_is_hashable_and_stable(value: dict[str, str]) -> None:
    assert hash(canonical(value)) == hash(canonical(dict(reversed(list(value.items())))))


NAT_ROW = {"_uuid": U1, "type": "dnat_and_snat", "external_ip": "172.30.0.31",
           "logical_ip": "192.168.0.5", "logical_port": "pod-a.ns1",
           "external_mac": "00:00:00:cc:cc:01", "external_ids": {"ovn-eip": "eip-1"},
           "options": {}}


def test_identical_row_has_no_difference() -> None:
    expect = {c: v for c, v in NAT_ROW.items() if c != "_uuid"}
    assert differences(NAT_ROW, expect) == []
    # The planner may spell a one-element set as a list and an empty map as an empty set.
    assert differences(NAT_ROW, {**expect, "logical_port": ["pod-a.ns1"], "options": []}) == []


def test_differences_name_column_planned_and_current() -> None:
    current = {**NAT_ROW, "logical_ip": "192.168.0.9", "external_ids": {}}
    assert differences(current, {"logical_ip": "192.168.0.5", "type": "dnat_and_snat",
                                 "external_ids": {"ovn-eip": "eip-1"}}) == [
        Difference("external_ids", {"ovn-eip": "eip-1"}, {}),
        Difference("logical_ip", "192.168.0.5", "192.168.0.9"),
    ]


def test_only_planned_columns_count() -> None:
    assert differences({**NAT_ROW, "external_ids": {"new": "x"}}, {"logical_ip": "192.168.0.5"}) \
        == []


def test_a_planned_column_missing_from_the_row_differs() -> None:
    assert differences({"_uuid": U1}, {"logical_ip": "192.168.0.5"}) == [
        Difference("logical_ip", "192.168.0.5", None)]


LB = {"_uuid": U1, "name": "lb1", "protocol": "tcp", "external_ids": {},
      "vips": {"10.96.0.1:443": "10.16.0.5:6443,10.16.0.6:6443", "10.96.0.10:53": "10.16.0.7:53"}}


def test_vip_plan_is_contained_in_the_map() -> None:
    assert differences(LB, {"vips": {"10.96.0.10:53": "10.16.0.7:53"}}, vip="10.96.0.10:53") \
        == []
    # Other keys may change freely.
    other = {**LB, "vips": {"10.96.0.10:53": "10.16.0.7:53", "10.96.0.2:80": "x"}}
    assert differences(other, {"vips": {"10.96.0.10:53": "10.16.0.7:53"}},
                       vip="10.96.0.10:53") == []


def test_vip_with_other_backends_differs() -> None:
    changed = {**LB, "vips": {**LB["vips"], "10.96.0.10:53": "10.16.0.8:53"}}
    assert differences(changed, {"vips": {"10.96.0.10:53": "10.16.0.7:53"}},
                       vip="10.96.0.10:53") == [
        Difference("vips[10.96.0.10:53]", "10.16.0.7:53", "10.16.0.8:53")]


def test_vip_plan_with_other_columns() -> None:
    assert differences({**LB, "protocol": "udp"},
                       {"vips": {"10.96.0.10:53": "10.16.0.7:53"}, "protocol": "tcp"},
                       vip="10.96.0.10:53") == [Difference("protocol", "tcp", "udp")]


def test_without_vip_the_whole_map_is_compared() -> None:
    assert differences(LB, {"vips": {"10.96.0.10:53": "10.16.0.7:53"}}) == [
        Difference("vips", {"10.96.0.10:53": "10.16.0.7:53"}, LB["vips"])]


# Malformed requests are caller bugs: they raise before any connection is needed.


@pytest.mark.parametrize(("row", "message"), [
    (NbRowDelete("Logical_Switch", U1, {"name": "x"}), "cannot delete rows of Logical_Switch"),
    (NbRowDelete("NAT", "not-a-uuid", {"type": "snat"}), "not a UUID"),
    (NbRowDelete("NAT", U1.replace("-", ""), {"type": "snat"}), "not in the canonical form"),
    (NbRowDelete("NAT", U1, {"gateway_port": []}), "columns eipfsck does not read: gateway_port"),
    (NbRowDelete("NAT", U1, {}), "expect is empty"),
    (NbRowDelete("NAT", U1, {"_uuid": U1}), "expect is empty"),
    (NbRowDelete("NAT", U1, {"type": "snat"}, vip="1.1.1.1:80"), "vip is for Load_Balancer"),
    (NbRowDelete("Load_Balancer", U1, {"name": "lb1"}), "never deleted, only one VIP"),
    (NbRowDelete("Load_Balancer", U1, {"name": "lb1"}, vip="1.1.1.1:80"),
     "expect['vips'] must map"),
    (NbRowDelete("Load_Balancer", U1, {"vips": {"2.2.2.2:80": "x"}}, vip="1.1.1.1:80"),
     "expect['vips'] must map"),
])
def test_malformed_requests_raise(row: NbRowDelete, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        NbWriter(NbTarget("tcp:127.0.0.1:1")).delete([row])


def test_empty_and_duplicate_requests_raise() -> None:
    w = NbWriter(NbTarget("tcp:127.0.0.1:1"))
    with pytest.raises(ValueError, match="at least one row"):
        w.delete([])
    row = NbRowDelete("NAT", U1, {"type": "snat"})
    with pytest.raises(ValueError, match="named twice"):
        w.delete([row, row])


def test_delete_outside_the_context_manager_raises() -> None:
    with pytest.raises(RuntimeError, match="not open"):
        NbWriter(NbTarget("tcp:127.0.0.1:1")).delete([NbRowDelete("NAT", U1, {"type": "snat"})])
