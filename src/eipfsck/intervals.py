"""Sets of integers stored as sorted, merged, inclusive intervals.

Addresses are integers here, so a set of IPv6 addresses costs what its number of
intervals costs, never what its number of addresses costs: a /64 is one pair.
netaddr's IPSet does the same job through CIDR blocks and is several times slower
for the range strings Kube-OVN writes (see docs/performance.md), hence this module.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

Interval = tuple[int, int]


class IntervalSet:
    """An immutable set of non-negative integers."""

    __slots__ = ("_ivs",)

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._ivs: tuple[Interval, ...] = _normalise(intervals)

    @classmethod
    def _trusted(cls, ivs: list[Interval]) -> IntervalSet:
        new = cls.__new__(cls)
        new._ivs = tuple(ivs)
        return new

    @classmethod
    def of_points(cls, points: Iterable[int]) -> IntervalSet:
        return cls((p, p) for p in points)

    @property
    def intervals(self) -> tuple[Interval, ...]:
        return self._ivs

    def __bool__(self) -> bool:
        return bool(self._ivs)

    def __len__(self) -> int:
        return len(self._ivs)

    def size(self) -> int:
        """Number of integers in the set (may exceed 2**63)."""
        return sum(hi - lo + 1 for lo, hi in self._ivs)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self._ivs, (value, float("inf"))) - 1
        return i >= 0 and self._ivs[i][0] <= value <= self._ivs[i][1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._ivs == other._ivs

    def __hash__(self) -> int:
        return hash(self._ivs)

    def __repr__(self) -> str:
        return f"IntervalSet({list(self._ivs)!r})"

    def __or__(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet._trusted(_merge_sorted(_merge_iter(self._ivs, other._ivs)))

    def __and__(self, other: IntervalSet) -> IntervalSet:
        out: list[Interval] = []
        a, b = self._ivs, other._ivs
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet._trusted(out)

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        out: list[Interval] = []
        b = other._ivs
        j = 0
        for lo, hi in self._ivs:
            while j < len(b) and b[j][1] < lo:
                j += 1
            k = j
            cur = lo
            while k < len(b) and b[k][0] <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                if cur > hi:
                    break
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet._trusted(out)

    def isdisjoint(self, other: IntervalSet) -> bool:
        return not (self & other)

    def issubset(self, other: IntervalSet) -> bool:
        return not (self - other)

    def lowest(self, count: int) -> list[int]:
        """The `count` smallest members, in ascending order."""
        out: list[int] = []
        for lo, hi in self._ivs:
            take = min(count - len(out), hi - lo + 1)
            out.extend(range(lo, lo + take))
            if len(out) >= count:
                break
        return out


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    ivs = sorted(intervals)
    for lo, hi in ivs:
        if lo > hi:
            raise ValueError(f"empty interval ({lo}, {hi})")
    return tuple(_merge_sorted(ivs))


def _merge_iter(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> Iterator[Interval]:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            yield a[i]
            i += 1
        else:
            yield b[j]
            j += 1
    yield from a[i:]
    yield from b[j:]


def _merge_sorted(ivs: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for lo, hi in ivs:
        # Adjacent intervals merge too: 1-3 and 4-5 are one run of addresses.
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out
