"""Micro-benchmark: eipfsck's IntervalSet against netaddr's IPSet on the model's hot path.

The hot path per subnet and family is: parse two status range strings into sets, then
using - excluded - claimed, using & available, and a membership test per owner address.
Run: python bench/intervals_vs_netaddr.py  (prints a Markdown table)
"""

from __future__ import annotations

import ipaddress
import platform
import random
import timeit
from collections.abc import Callable

import netaddr

from eipfsck.addresses import parse_ip
from eipfsck.intervals import IntervalSet
from eipfsck.kubeovn.status import parse_range_string


def range_string(net: ipaddress._BaseNetwork, runs: int, seed: int) -> tuple[str, list[str]]:
    """A using range of `runs` intervals and the owner addresses inside it."""
    rng = random.Random(seed)
    base = int(net.network_address) + 2
    span = min(net.num_addresses - 4, 2**40)
    starts = sorted(rng.sample(range(0, span - 8, 8), runs))
    parts, owners = [], []
    for s in starts:
        lo, hi = base + s, base + s + rng.randint(0, 5)
        a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
        parts.append(str(a) if lo == hi else f"{a}-{b}")
        owners.extend(str(ipaddress.ip_address(x)) for x in range(lo, hi + 1))
    return ",".join(parts), owners


def ours(text: str, family: str, owners: list[str]) -> int:
    using = parse_range_string(text, family)  # type: ignore[arg-type]
    claimed = IntervalSet.of_points(parse_ip(o).value for o in owners[::2])
    leaked = using - claimed
    return sum(1 for o in owners if parse_ip(o).value in leaked)


def theirs(text: str, family: str, owners: list[str]) -> int:
    using = netaddr.IPSet()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        using.add(netaddr.IPRange(lo, hi or lo))
    claimed = netaddr.IPSet(owners[::2])
    leaked = using - claimed
    return sum(1 for o in owners if netaddr.IPAddress(o) in leaked)


def measure(fn: Callable[[], int], repeat: int = 3) -> float:
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def main() -> None:
    print(f"Python {platform.python_version()}, netaddr {netaddr.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print()
    print("| subnet | intervals | IntervalSet (ms) | netaddr IPSet (ms) | ratio |")
    print("|---|---|---|---|---|")
    # netaddr's IPSet grows superlinearly with the number of intervals (2,000 took
    # 20 s for one /16), so the larger case stops at 500.
    for cidr, family, runs in (("10.0.0.0/16", "ipv4", 100), ("10.0.0.0/16", "ipv4", 500),
                               ("fd00::/64", "ipv6", 100), ("fd00::/64", "ipv6", 500)):
        net = ipaddress.ip_network(cidr)
        text, owners = range_string(net, runs, seed=runs)
        assert ours(text, family, owners) == theirs(text, family, owners)
        a = measure(lambda t=text, f=family, o=owners: ours(t, f, o))
        b = measure(lambda t=text, f=family, o=owners: theirs(t, f, o))
        print(f"| {cidr} | {runs} | {a * 1000:.2f} | {b * 1000:.2f} | {b / a:.1f}x |")


if __name__ == "__main__":
    main()
