"""Addresses, CIDR universes and the Subnet spec/status text formats (docs/kube-ovn.md §2)."""

from __future__ import annotations

import ipaddress

import pytest

from eipfsck.addresses import Address, Cidr, canonical, parse_cidr, parse_ip, split_ips
from eipfsck.intervals import IntervalSet
from eipfsck.kubeovn.status import (
    Count,
    parse_cidr_block,
    parse_count,
    parse_exclude_ips,
    parse_range_string,
)


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


# -- addresses -------------------------------------------------------------------


def test_parse_ip_ipv4() -> None:
    a = parse_ip("10.0.0.5")
    assert a == Address("ipv4", v4("10.0.0.5"))
    assert str(a) == "10.0.0.5"
    assert parse_ip(" 10.0.0.5 ") == a


def test_parse_ip_upper_case_ipv6_is_canonical_compressed_lower_case() -> None:
    a = parse_ip("FD00:0010:0010:0000:0000:0000:0000:000D")
    assert a.family == "ipv6"
    assert a == parse_ip("fd00:10:10::d")
    assert str(a) == "fd00:10:10::d"
    assert canonical("2001:DB8:0:0:1:0:0:1") == "2001:db8::1:0:0:1"  # RFC 5952: first run


@pytest.mark.parametrize("bad", ["", "10.0.0", "10.0.0.256", "fd00:::1", "host", "10.0.0.1/24"])
def test_parse_ip_rejects_garbage_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        parse_ip(bad)


def test_split_ips_dual_stack_list() -> None:
    assert split_ips("10.0.0.5,FD00::5") == [parse_ip("10.0.0.5"), parse_ip("fd00::5")]
    assert split_ips("") == []
    with pytest.raises(ValueError):
        split_ips(["10.0.0.5"])


def test_addresses_order_by_family_then_value() -> None:
    assert sorted([parse_ip("fd00::1"), parse_ip("10.0.0.9"), parse_ip("10.0.0.10")]) == [
        parse_ip("10.0.0.9"), parse_ip("10.0.0.10"), parse_ip("fd00::1")]


# -- CIDR universes (correction 10: /31 and /127 have two, /32 and /128 none) -----------


@pytest.mark.parametrize(("cidr", "first", "last"), [
    ("10.0.0.0/24", "10.0.0.1", "10.0.0.254"),
    ("10.0.0.0/31", "10.0.0.0", "10.0.0.1"),
    ("fd00::/64", "fd00::1", "fd00::ffff:ffff:ffff:fffe"),
    ("fd00::/127", "fd00::", "fd00::1"),
])
def test_universe_bounds(cidr: str, first: str, last: str) -> None:
    c = parse_cidr(cidr)
    lo, hi = parse_ip(first).value, parse_ip(last).value
    assert c.universe() == IntervalSet([(lo, hi)])
    assert c.universe().size() == hi - lo + 1


@pytest.mark.parametrize("cidr", ["10.0.0.7/32", "fd00::7/128"])
def test_host_routes_have_an_empty_universe(cidr: str) -> None:
    assert parse_cidr(cidr).universe() == IntervalSet()
    assert parse_cidr(cidr).universe().size() == 0


def test_universe_sizes() -> None:
    assert parse_cidr("10.0.0.0/24").universe().size() == 254
    assert parse_cidr("10.0.0.0/31").universe().size() == 2
    assert parse_cidr("fd00::/64").universe().size() == 2**64 - 2
    assert parse_cidr("fd00::/127").universe().size() == 2
    assert parse_cidr("::/0").universe().size() == 2**128 - 2


def test_address_count_is_kube_ovns_two_to_the_host_bits_minus_two() -> None:
    # docs/kube-ovn.md §2: AddressCount = 2^bits − 2
    assert parse_cidr("10.0.0.0/24").address_count() == 254
    assert parse_cidr("10.0.0.0/16").address_count() == 65534
    assert parse_cidr("fd00::/64").address_count() == 2**64 - 2
    assert parse_cidr("fd00::/120").address_count() == 254
    assert parse_cidr("10.0.0.0/31").address_count() == 0
    assert parse_cidr("fd00::/127").address_count() == 0
    for host in ("10.0.0.0/32", "fd00::/128"):
        assert parse_cidr(host).address_count() == 0  # never negative


def test_parse_cidr_clears_host_bits_and_rejects_plain_addresses() -> None:
    c = parse_cidr("10.0.0.77/24")
    assert c == Cidr("ipv4", v4("10.0.0.0"), 24)
    assert str(c) == "10.0.0.0/24"
    assert str(parse_cidr("FD00:0:0:0::5/64")) == "fd00::/64"
    assert c.contains(v4("10.0.0.255")) and not c.contains(v4("10.0.1.0"))
    with pytest.raises(ValueError, match="no prefix"):
        parse_cidr("10.0.0.0")
    with pytest.raises(ValueError, match="not a CIDR"):
        parse_cidr("10.0.0.0/33")


# -- range strings (status.v4usingIPrange and friends) ------------------------------


def test_empty_range_string_is_the_empty_set() -> None:
    assert parse_range_string("", "ipv4") == IntervalSet()
    assert parse_range_string("", "ipv6") == IntervalSet()


def test_range_string_intervals_and_single_addresses() -> None:
    s = parse_range_string("10.0.0.2-10.0.0.5,10.0.0.9", "ipv4")
    assert s.intervals == ((v4("10.0.0.2"), v4("10.0.0.5")), (v4("10.0.0.9"), v4("10.0.0.9")))
    assert s.size() == 5


def test_ipv6_range_string() -> None:
    s = parse_range_string("fd00:10:10::3-fd00:10:10::9,fd00:10:10::b", "ipv6")
    assert s.intervals == ((v6("fd00:10:10::3"), v6("fd00:10:10::9")),
                           (v6("fd00:10:10::b"), v6("fd00:10:10::b")))


def test_ipv6_range_string_in_upper_case() -> None:
    assert parse_range_string("FD00::3-FD00::9", "ipv6") == parse_range_string(
        "fd00::3-fd00::9", "ipv6")


def test_range_string_of_a_whole_v6_64_is_one_interval() -> None:
    s = parse_range_string("fd00::1-fd00::ffff:ffff:ffff:fffe", "ipv6")
    assert len(s) == 1 and s.size() == 2**64 - 2


@pytest.mark.parametrize(("text", "family"), [
    ("fd00::1", "ipv4"),
    ("10.0.0.1", "ipv6"),
    ("10.0.0.1-fd00::1", "ipv4"),
    ("10.0.0.1,fd00::1", "ipv4"),
])
def test_range_string_of_the_wrong_family_is_rejected(text: str, family: str) -> None:
    with pytest.raises(ValueError, match="is not an"):
        parse_range_string(text, family)  # type: ignore[arg-type]


def test_descending_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="descending"):
        parse_range_string("10.0.0.9-10.0.0.2", "ipv4")


@pytest.mark.parametrize("text", [
    "garbage", "10.0.0.1-10.0.0.2-10.0.0.3", "10.0.0.1,", ",10.0.0.1", "10.0.0.1,,10.0.0.2",
    "10.0.0.1-", "-10.0.0.1", "10.0.0.1..10.0.0.3", "10.0.0.0/24",
])
def test_garbage_range_strings_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range_string(text, "ipv4")


@pytest.mark.parametrize("value", [None, 5, ["10.0.0.1"]])
def test_a_range_field_that_is_not_a_string_is_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="expected a string"):
        parse_range_string(value, "ipv4")


# -- excludeIps ---------------------------------------------------------------------


def test_exclude_ips_ranges_use_two_dots_and_single_ips_stand_alone() -> None:
    ex = parse_exclude_ips(["10.0.0.1", "10.0.0.10..10.0.0.20", "10.0.0.15..10.0.0.23"])
    assert ex.of("ipv4").intervals == ((v4("10.0.0.1"), v4("10.0.0.1")),
                                       (v4("10.0.0.10"), v4("10.0.0.23")))
    assert ex.of("ipv6") == IntervalSet()
    # the raw entries stay as written (the count rule compares them with the gateway)
    assert [e[0] for e in ex.entries] == ["10.0.0.1", "10.0.0.10..10.0.0.20",
                                          "10.0.0.15..10.0.0.23"]
    assert ex.entries[1][1:] == ("ipv4", v4("10.0.0.10"), v4("10.0.0.20"))


def test_exclude_ips_mixed_families_and_upper_case_ipv6() -> None:
    ex = parse_exclude_ips(["10.0.0.1", "FD00::A..FD00::14", "fd00::1"])
    assert ex.of("ipv4") == IntervalSet.of_points([v4("10.0.0.1")])
    assert ex.of("ipv6").intervals == ((v6("fd00::1"), v6("fd00::1")),
                                       (v6("fd00::a"), v6("fd00::14")))
    assert ex.of("ipv6").size() == 12


def test_exclude_ips_none_and_empty() -> None:
    assert parse_exclude_ips(None).of("ipv4") == IntervalSet()
    assert parse_exclude_ips([]).entries == ()


@pytest.mark.parametrize("entry", ["10.0.0.5..10.0.0.1", "10.0.0.1..fd00::1"])
def test_descending_or_mixed_family_exclude_range_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="not an ascending range") as exc:
        parse_exclude_ips(["10.0.0.1", entry])
    assert entry in str(exc.value)


@pytest.mark.parametrize("entries", [
    ["10.0.0.1-10.0.0.5"],  # the status string's dash is not the excludeIps syntax
    ["10.0.0.1...10.0.0.5"],
    ["10.0.0.1..10.0.0.2..10.0.0.3"],
    ["nope"],
    [""],
    [5],
    "10.0.0.1",
    {"ip": "10.0.0.1"},
])
def test_bad_exclude_ips_are_rejected(entries: object) -> None:
    with pytest.raises(ValueError):
        parse_exclude_ips(entries)


# -- counts (int, float64, quoted) ------------------------------------------------------


def test_count_int() -> None:
    c = parse_count(5)
    assert c is not None
    assert c.value == 5 and c.text == "5" and not c.approximate
    assert c.matches(5)
    assert not c.matches(4) and not c.matches(6)
    assert c.as_int() == 5


def test_count_integral_float_is_exact() -> None:
    c = parse_count(253.0)
    assert c is not None
    assert c.value == 253 and isinstance(c.value, int) and not c.approximate
    assert c.matches(253) and not c.matches(252)


def test_count_float64_of_a_v6_64_matches_the_recomputed_value() -> None:
    c = parse_count(1.8446744073709552e+19)
    assert c is not None
    assert c.approximate
    # AddressCount(/64) − one excluded gateway − no using
    assert c.matches(2**64 - 2 - 1 - 0)
    assert c.matches(2**64 - 2)
    assert c.as_int() == 2**64
    # a difference that float64 can represent is still a mismatch
    assert not c.matches(2**64 - 2 - 100_000)
    assert not c.matches(1000)


def test_count_json_integer_printed_from_a_float64() -> None:
    # real-world-shapes.md: JSON prints the float64 of a /64 as 18446744073709552000
    c = parse_count(18446744073709552000)
    assert c is not None
    assert c.approximate
    assert c.matches(2**64 - 3)
    assert not c.matches(2**63)


def test_exact_big_integer_count_of_v1_16() -> None:
    c = parse_count(2**64 - 3)
    assert c is not None
    assert c.matches(2**64 - 3)


@pytest.mark.parametrize(("raw", "value"), [
    ("5", 5), ("5.0", 5), (" 7 ", 7), ("1.8446744073709552e+19", 1.8446744073709552e+19),
    ("18446744073709552000", 18446744073709552000),
])
def test_quoted_counts(raw: str, value: float) -> None:
    c = parse_count(raw)
    assert c is not None
    assert c.value == value
    assert c.matches(round(value))


def test_quoted_small_count_is_exact() -> None:
    c = parse_count("5")
    assert c is not None and c.matches(5) and not c.matches(6)
    c = parse_count("5.0")
    assert c is not None and c.matches(5) and not c.matches(4)


def test_absent_count_is_none() -> None:
    assert parse_count(None) is None


@pytest.mark.parametrize("raw", [True, False, "garbage", "", "5 apples", [5], {"n": 5},
                                 float("nan"), float("inf"), "nan", "-inf"])
def test_non_numbers_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_count(raw)


def test_count_type_keeps_the_text_as_written() -> None:
    assert parse_count("5") == Count(5, "5")
    c = parse_count(1.8446744073709552e+19)
    assert c is not None and c.text == "1.8446744073709552e+19"


# -- cidrBlock ----------------------------------------------------------------------------


def test_cidr_block_single_stack() -> None:
    assert parse_cidr_block("10.0.0.0/24") == {"ipv4": parse_cidr("10.0.0.0/24")}
    assert parse_cidr_block("fd00::/120") == {"ipv6": parse_cidr("fd00::/120")}


def test_cidr_block_dual_stack_is_order_independent() -> None:
    a = parse_cidr_block("10.0.0.0/24,fd00::/120")
    b = parse_cidr_block("FD00::/120,10.0.0.0/24")
    assert a == b
    assert set(a) == {"ipv4", "ipv6"}
    assert str(a["ipv6"]) == "fd00::/120"


@pytest.mark.parametrize("text", ["10.0.0.0/24,10.1.0.0/24", "fd00::/64,fd01::/64"])
def test_two_cidrs_of_one_family_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="two ipv"):
        parse_cidr_block(text)


@pytest.mark.parametrize("text", ["10.0.0.0", "10.0.0.0/24,bogus", "10.0.0.0/40"])
def test_bad_cidr_blocks_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cidr_block(text)
