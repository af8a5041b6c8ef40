"""IntervalSet: every operation against hand-computed answers, then against Python's set."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eipfsck.intervals import IntervalSet

# -- construction and normalisation -------------------------------------------


def test_adjacent_intervals_merge_into_one_run() -> None:
    s = IntervalSet([(4, 5), (1, 3)])
    assert s.intervals == ((1, 5),)
    assert len(s) == 1
    assert s.size() == 5


def test_overlapping_and_contained_intervals_merge() -> None:
    s = IntervalSet([(10, 20), (1, 2), (15, 30), (12, 13), (31, 31)])
    assert s.intervals == ((1, 2), (10, 31))


def test_a_gap_of_one_keeps_intervals_apart() -> None:
    s = IntervalSet([(1, 3), (5, 6)])
    assert s.intervals == ((1, 3), (5, 6))
    assert 4 not in s
    assert s.size() == 5


def test_of_points_merges_consecutive_points_and_ignores_duplicates() -> None:
    s = IntervalSet.of_points([7, 3, 4, 5, 5, 9, 8, 20])
    assert s.intervals == ((3, 5), (7, 9), (20, 20))
    assert s.size() == 7


def test_descending_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty interval"):
        IntervalSet([(5, 4)])


def test_equality_and_hash_follow_the_members_not_the_input_shape() -> None:
    a = IntervalSet([(1, 3), (4, 5)])
    b = IntervalSet.of_points([1, 2, 3, 4, 5])
    assert a == b
    assert hash(a) == hash(b)
    assert a != IntervalSet([(1, 4)])
    assert a != {1, 2, 3, 4, 5}


# -- empty sets ---------------------------------------------------------------


def test_empty_set_behaviour() -> None:
    e = IntervalSet()
    s = IntervalSet([(1, 3)])
    assert not e
    assert len(e) == 0
    assert e.size() == 0
    assert 0 not in e
    assert e.lowest(5) == []
    assert e | s == s and s | e == s
    assert e & s == e and s & e == e
    assert s - e == s
    assert e - s == e
    assert e.issubset(s) and e.issubset(e)
    assert not s.issubset(e)
    assert e.isdisjoint(s) and s.isdisjoint(e) and e.isdisjoint(e)
    assert bool(s)


# -- the operations on hand-made examples ---------------------------------------


def test_union() -> None:
    a = IntervalSet([(1, 3), (10, 12)])
    b = IntervalSet([(4, 5), (11, 15), (20, 20)])
    assert (a | b).intervals == ((1, 5), (10, 15), (20, 20))


def test_intersection() -> None:
    a = IntervalSet([(1, 10), (20, 30)])
    b = IntervalSet([(5, 25), (30, 40)])
    assert (a & b).intervals == ((5, 10), (20, 25), (30, 30))


def test_difference_splits_and_trims() -> None:
    a = IntervalSet([(1, 20)])
    b = IntervalSet([(1, 1), (5, 6), (10, 12), (20, 25)])
    assert (a - b).intervals == ((2, 4), (7, 9), (13, 19))
    assert (b - a).intervals == ((21, 25),)


def test_difference_by_a_covering_set_is_empty() -> None:
    a = IntervalSet([(3, 4), (8, 9)])
    assert a - IntervalSet([(0, 100)]) == IntervalSet()


def test_contains_at_bounds_and_between_intervals() -> None:
    s = IntervalSet([(2, 4), (8, 8)])
    assert [v in s for v in range(10)] == [
        False, False, True, True, True, False, False, False, True, False]
    assert "3" not in s
    assert 3.0 not in s  # only integers are members


def test_lowest_walks_across_intervals() -> None:
    s = IntervalSet([(2, 3), (7, 9), (20, 30)])
    assert s.lowest(0) == []
    assert s.lowest(1) == [2]
    assert s.lowest(4) == [2, 3, 7, 8]
    assert s.lowest(6) == [2, 3, 7, 8, 9, 20]
    assert s.lowest(100) == [2, 3, 7, 8, 9, *range(20, 31)]


def test_issubset_and_isdisjoint() -> None:
    a = IntervalSet([(2, 4)])
    b = IntervalSet([(1, 5), (9, 9)])
    assert a.issubset(b)
    assert not b.issubset(a)
    assert a.issubset(a)
    assert not IntervalSet([(4, 6)]).issubset(b)
    assert IntervalSet([(6, 8)]).isdisjoint(b)
    assert not IntervalSet([(5, 8)]).isdisjoint(b)
    assert not IntervalSet([(9, 12)]).isdisjoint(b)


# -- huge values: sizes are arithmetic, never enumeration -------------------------


def test_ipv6_sized_sets_are_cheap_and_exact() -> None:
    full = IntervalSet([(0, 2**128 - 1)])
    assert full.size() == 2**128
    assert len(full) == 1
    assert 2**128 - 1 in full and 2**128 not in full
    hole = IntervalSet([(2**64, 2**64 + 9)])
    rest = full - hole
    assert rest.intervals == ((0, 2**64 - 1), (2**64 + 10, 2**128 - 1))
    assert rest.size() == 2**128 - 10
    assert (rest | hole) == full
    assert (rest & hole) == IntervalSet()
    assert hole.issubset(full) and not full.issubset(rest)
    assert rest.lowest(3) == [0, 1, 2]
    # a /64 universe: [network+1, broadcast-1]
    net = 0xFD00 << 112
    universe = IntervalSet([(net + 1, net + 2**64 - 2)])
    assert universe.size() == 2**64 - 2
    assert (universe - IntervalSet.of_points([net + 1, net + 5])).size() == 2**64 - 4


def test_lowest_on_a_huge_set_takes_only_what_is_asked() -> None:
    s = IntervalSet([(2**100, 2**127)])
    assert s.lowest(2) == [2**100, 2**100 + 1]


# -- properties against Python's set -------------------------------------------

BOUND = 60
intervals = st.lists(
    st.tuples(st.integers(0, BOUND), st.integers(0, 8)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=8,
)


def members(ivs: list[tuple[int, int]]) -> set[int]:
    return {v for lo, hi in ivs for v in range(lo, hi + 1)}


def check_normal_form(s: IntervalSet) -> None:
    """Sorted, non-empty, non-overlapping and non-adjacent intervals."""
    ivs = s.intervals
    for lo, hi in ivs:
        assert lo <= hi
    for (_, hi), (lo2, _) in pairwise(ivs):
        assert lo2 > hi + 1


def as_set(s: IntervalSet) -> set[int]:
    return members(list(s.intervals))


@given(intervals)
def test_construction_matches_set(a: list[tuple[int, int]]) -> None:
    s = IntervalSet(a)
    check_normal_form(s)
    assert as_set(s) == members(a)
    assert s.size() == len(members(a))
    assert bool(s) == bool(members(a))
    for v in range(-1, BOUND + 10):
        assert (v in s) == (v in members(a))


@given(intervals, intervals)
def test_union_matches_set(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    u = IntervalSet(a) | IntervalSet(b)
    check_normal_form(u)
    assert as_set(u) == members(a) | members(b)
    assert u == IntervalSet(a + b)


@given(intervals, intervals)
def test_intersection_matches_set(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    i = IntervalSet(a) & IntervalSet(b)
    check_normal_form(i)
    assert as_set(i) == members(a) & members(b)


@given(intervals, intervals)
def test_difference_matches_set(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    d = IntervalSet(a) - IntervalSet(b)
    check_normal_form(d)
    assert as_set(d) == members(a) - members(b)


@given(intervals, intervals)
def test_subset_and_disjoint_match_set(a: list[tuple[int, int]],
                                       b: list[tuple[int, int]]) -> None:
    sa, sb = IntervalSet(a), IntervalSet(b)
    assert sa.issubset(sb) == members(a).issubset(members(b))
    assert sa.isdisjoint(sb) == members(a).isdisjoint(members(b))


@given(intervals, st.integers(0, 80))
def test_lowest_matches_sorted_set(a: list[tuple[int, int]], n: int) -> None:
    assert IntervalSet(a).lowest(n) == sorted(members(a))[:n]


@given(st.lists(st.integers(0, BOUND), max_size=30))
def test_of_points_matches_set(points: list[int]) -> None:
    s = IntervalSet.of_points(points)
    check_normal_form(s)
    assert as_set(s) == set(points)
