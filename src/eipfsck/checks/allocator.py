"""Checks of the allocator's published view against the owners: C01, C02, C03, C14, C15."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eipfsck.addresses import Address, Family, format_ip
from eipfsck.checks.finding import Finding, claim_json
from eipfsck.intervals import IntervalSet
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.counting import CountIndex, count_eras, ip_cr_rules
from eipfsck.kubeovn.owners import PENDING_ALLOCATION, PROTECTING_ROLES, AddrCR, Claim
from eipfsck.kubeovn.restore import OneFamilyOwner
from eipfsck.kubeovn.status import STATUS_FIELDS, format_ranges
from eipfsck.kubeovn.subnet import FamilySpace, SubnetInfo
from eipfsck.model import OWNER_KINDS, Model


def _interval_text(fs: FamilySpace, ivs: IntervalSet, value: int) -> str:
    for lo, hi in ivs.intervals:
        if lo <= value <= hi:
            return format_ranges(fs.family, IntervalSet([(lo, hi)]))
    return ""


def _former_owner(key: str) -> str:
    if "/" in key:
        return f"pod or VM {key}"
    if key.startswith(n.SUBNET_IP_PREFIXES):
        return "a subnet address"
    if key.startswith(n.NODE_PORT_PREFIX):
        # An OvnEip, IptablesEIP or Vip may be called node-… too (an lsp-type OvnEip is
        # named after its node): the key alone cannot tell them apart.
        return (f"Node {key[len(n.NODE_PORT_PREFIX):]}, or an OvnEip, IptablesEIP or Vip "
                f"named {key}")
    return f"an OvnEip, IptablesEIP or Vip named {key}"


def _phantom_owners(model: Model, s: SubnetInfo, fs: FamilySpace) -> list[OneFamilyOwner]:
    """The live keys that may hold a phantom of this family here. An owner whose own address
    of this family is still held was not re-filed from its status since it got it, so it has
    no phantom; one whose own address is marked available was (it is half-restored)."""
    out = []
    for o in model.one_family.get((s.name, fs.family), []):
        if o.real and (fs.available is None
                       or not all(a.value in fs.available for a in o.real)):
            continue
        out.append(o)
    return out


def leaks(model: Model) -> Iterator[Finding]:
    """leaked-ip, phantom-ip and phantom-v6-restore: addresses in use that nothing claims."""
    searched = [k for k in OWNER_KINDS if model.snapshot.has(k)] + [
        "subnet U2O/multicast status", "in-flight requests (pods, EIP/Vip specs, NAT gateway "
        "lanIp, egress gateways, Services)"]
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        for fam, fs in sorted(s.families.items()):
            if fs.using is None or _inconsistencies(fs):
                continue
            gateways = IntervalSet.of_points([fs.gateway] if fs.gateway is not None else [])
            blocked = _blocked_requests(model, s, fs)
            claimed = model.space(s.name, fam).claimed - IntervalSet.of_points(blocked)
            candidates = fs.using - fs.excluded - gateways - claimed
            if not candidates:
                continue
            owners = _phantom_owners(model, s, fs)
            ambiguous = ""
            if owners:
                pairs, ambiguous = _pair_phantoms(model, s, fs, candidates, owners)
                for owner, value, how in pairs:
                    yield _phantom(model, s, fs, owner, value, how, ambiguous)
                candidates = candidates - IntervalSet.of_points([v for _, v, _ in pairs])
            yield from _leaked(model, s, fs, candidates, searched, ambiguous, blocked)


def _blocked_requests(model: Model, s: SubnetInfo, fs: FamilySpace) -> dict[int, list[Claim]]:
    """Addresses in use that only a Pending pod's static ip_address asks for. The controller
    allocates a static IP with GetStaticAddress before it marks the pod allocated; when the
    address is already held under another key it answers ErrConflict (pkg/ipam) and the pod
    never starts. So the request does not own the address: it is the leak's victim, and it
    does not hide the leak. (An allocation in flight looks the same in one scan; that is
    why a leak needs two observations before repair acts.)"""
    if fs.using is None:
        return {}
    space = model.space(s.name, fs.family)
    out: dict[int, list[Claim]] = {}
    for value, claims in space.by_address.items():
        if value not in fs.using:
            continue
        protecting = [c for c in claims if c.role in PROTECTING_ROLES]
        if protecting and all(_pending_request(model, c) for c in protecting):
            out[value] = protecting
    return out


def _pending_request(model: Model, c: Claim) -> bool:
    if c.role != "inflight" or c.ref.kind != "Pod":
        return False
    pod = model.inventory.pods.get((c.ref.namespace or "", c.ref.name))
    return pod is not None and pod.phase in ("", "Pending")


def _pair_phantoms(model: Model, s: SubnetInfo, fs: FamilySpace, candidates: IntervalSet,
                   owners: list[OneFamilyOwner]
                   ) -> tuple[list[tuple[OneFamilyOwner, int, str]], str]:
    """Which unowned addresses are phantoms, and whose. The controller log decides where it
    names the key (`allocate v4 …, v6 … for KEY`); the rest are paired as InitIPAM files them
    (the lowest free address, owner after owner), which is only certain when there are as many
    addresses left as owners: a leak lower than a phantom, or an owner without a phantom (no
    leader start since it got its address), makes the pairing a guess. Returns the pairs and,
    when the pairing is a guess, why."""
    by_key = {o.key: o for o in owners}
    pairs: list[tuple[OneFamilyOwner, int, str]] = []
    decided: list[int] = []
    for (subnet, addr), alloc in sorted(model.allocations.items(), key=lambda kv: kv[1].line_no):
        if subnet != s.name or addr.family != fs.family or addr.value not in candidates:
            continue
        decided.append(addr.value)
        owner = by_key.pop(alloc.key, None)
        if owner is not None:
            pairs.append((owner, addr.value, "log"))
    rest = list(by_key.values())
    left = candidates - IntervalSet.of_points(decided)
    if not rest or not left:
        return pairs, ""
    lowest = left.lowest(len(rest))
    pairs += [(o, v, "lowest") for o, v in zip(rest, lowest, strict=False)]
    count = left.size()
    if count == len(rest):
        return pairs, ""
    return pairs, (
        f"{len(rest)} owner(s) here get a phantom {fs.family} at each leader start "
        f"({', '.join(str(o.ref) for o in rest[:5])}) and {count} unowned {fs.family} "
        "address(es) are in use: "
        + ("a leak may be lower than a phantom, so which addresses are phantoms is a guess"
           if count > len(rest) else
           "not every owner has a phantom, so which owner holds which is a guess")
        + "; give the controller log (--controller-log) to pair them by IPAM key")


def _phantom(model: Model, s: SubnetInfo, fs: FamilySpace, owner: OneFamilyOwner,
             value: int, how: str, ambiguous: str) -> Finding:
    addr = Address(fs.family, value)
    assert fs.using is not None
    real = [str(a) for a in owner.real]
    if how == "log":
        why = "the controller log shows this address filed under the owner's key"
    else:
        why = ("InitIPAM files the lowest free address of the missing family under the owner's "
               "key; this is the lowest unowned address in use, owners taken in InitIPAM's "
               "order")
    evidence: dict[str, Any] = {
        "status_range": {"field": f"status.{STATUS_FIELDS[fs.family]['using']}",
                         "interval": _interval_text(fs, fs.using, value)},
        "paired_owner": owner.ref.as_json(), "owner_ipam_key": owner.key,
        "owner_restored": [str(a) for a in owner.restored], "why_phantom": owner.why,
        "why_paired": why, "paired_by": how,
        "nb_rows": model.nb_rows_json(addr), **_log_evidence(model, s, addr)}
    if ambiguous and how != "log":
        evidence["pairing_ambiguous"] = ambiguous
    if real and fs.family == "ipv6":
        evidence["owner_real_ipv6"] = real
        evidence["owner_ipv4"] = [str(a) for a in owner.restored]
        return Finding(
            "phantom-v6-restore", "warning",
            f"{addr} is held with no owner; it is the phantom IPv6 of {owner.ref} "
            f"(whose real IPv6 {', '.join(real)} is marked available)",
            s.name, "ipv6", addr, (owner.ref, s.ref), evidence)
    return Finding(
        "phantom-ip", "warning",
        f"{addr} is held under the key {owner.key!r} of {owner.ref}: {owner.why}, so every "
        f"leader start files the lowest free {fs.family} for it; a restart re-creates it",
        s.name, fs.family, addr, (owner.ref, s.ref), evidence)


def _log_evidence(model: Model, s: SubnetInfo, addr: Address) -> dict[str, Any]:
    alloc = model.allocations.get((s.name, addr))
    if alloc is None:
        return {}
    out: dict[str, Any] = {
        "ipam_key": alloc.key, "former_owner": _former_owner(alloc.key),
        "controller_log": {"file": alloc.source, "line": alloc.line_no, "time": alloc.time}}
    if alloc.kind:
        # Its delete handler logged the kind: "handle delete iptables eip KEY" and the like.
        out["former_kind"] = alloc.kind
        out["former_owner"] = f"{alloc.kind} {alloc.key}" + (
            f" (its delete handler ran: log line {alloc.kind_line})" if alloc.kind_line else "")
    if alloc.released_line is not None:
        out["released_in_log"] = {"line": alloc.released_line, "time": alloc.released_time}
    return out


def _leaked(model: Model, s: SubnetInfo, fs: FamilySpace, leaked: IntervalSet,
            searched: list[str], ambiguous: str = "",
            blocked: dict[int, list[Claim]] | None = None) -> Iterator[Finding]:
    assert fs.using is not None
    fld = f"status.{STATUS_FIELDS[fs.family]['using']}"
    listed = leaked.lowest(model.policy.max_listed)
    for value in listed:
        addr = Address(fs.family, value)
        evidence: dict[str, Any] = {
            "status_range": {"field": fld, "interval": _interval_text(fs, fs.using, value)},
            "owners_searched": searched,
            "nb_rows": model.nb_rows_json(addr),
            "confirmed": False, "observations": 1,
        }
        evidence.update(_log_evidence(model, s, addr))
        if ambiguous and "ipam_key" not in evidence:
            evidence["pairing_ambiguous"] = ambiguous
        message = f"{addr} is in {s.name}'s using range but no object owns it"
        if "ipam_key" in evidence:
            message += f" (IPAM key {evidence['ipam_key']!r} from the controller log)"
        if "released_in_log" in evidence:
            # Still a leak finding: in the status a lagging release (handleDeletePod can
            # publish the status between deleting the IP CR and releasing the address) and a
            # leak look alike, a log is a window that may miss a later allocation, and the
            # restart repair plans is harmless where the status only lags.
            message += (f"; the log shows it released after that (line "
                        f"{evidence['released_in_log']['line']}): the status may only be "
                        "behind, until the next event in the subnet publishes it")
        victims = (blocked or {}).get(value, [])
        if victims:
            evidence["blocked_requests"] = [claim_json(c) for c in victims]
            message += ("; it blocks " + ", ".join(str(c.ref) for c in victims)
                        + ", Pending with this static ip_address (the allocator answers "
                        "ErrConflict)")
        yield Finding("leaked-ip", "error", message, s.name, fs.family, addr, (s.ref,), evidence)
    rest = leaked - IntervalSet.of_points(listed)
    if rest:
        yield Finding(
            "leaked-ip", "error",
            f"{rest.size()} more addresses in {s.name}'s using range have no owner",
            s.name, fs.family, None, (s.ref,),
            {"ranges": format_ranges(fs.family, rest, limit=32), "count": rest.size(),
             "status_field": fld, "owners_searched": searched, "confirmed": False,
             "observations": 1, **({"pairing_ambiguous": ambiguous} if ambiguous else {}),
             "note": "listed by range: that many leaks usually means the status is stale or "
                     "the scan missed an owner kind"})


def owner_ip_available(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    vip_by_port = {v.reserved_by: v for v in inv.vips.values() if v.reserved_by}
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        for fam, fs in sorted(s.families.items()):
            if fs.available is None:
                continue
            space = model.space(s.name, fam)
            hits = space.owned & fs.available
            for lo, hi in hits.intervals:
                for value in range(lo, hi + 1):  # owned addresses: bounded by the objects
                    # Only owners of this subnet: a claim placed here because it names no
                    # subnet may belong to another VPC's subnet with the same CIDR.
                    owners = [c for c in space.by_address[value]
                              if c.role == "owner" and c.subnet == s.name]
                    if owners:
                        yield _owner_available(model, s, fs, value, owners, vip_by_port)


def _owner_available(model: Model, s: SubnetInfo, fs: FamilySpace, value: int,
                     owners: list[Claim], vip_by_port: dict[str, AddrCR]) -> Finding:
    addr = Address(fs.family, value)
    causes = []
    for c in owners:
        if not c.restored:
            causes.append(f"{c.ref} is not restored at leader start ({_restore_gap(model, c)})")
        pod = model.inventory.pods.get((c.ref.namespace or "", c.ref.name)) \
            if c.ref.kind == "Pod" else None
        if pod is not None:
            for nic in pod.nics:
                vip = vip_by_port.get(nic.port)
                if vip is not None and addr in vip.addresses:
                    causes.append(f"the pod took over {vip.ref}: the controller released the "
                                  "Vip's entry and filed nothing for the pod")
    if not causes:
        causes.append("stale status, or an owner skipped at the last leader start (an IP or "
                      "MAC conflict)")
    assert fs.available is not None
    return Finding(
        "owner-ip-available", "error",
        f"{addr} is owned by {', '.join(str(c.ref) for c in owners)} but marked available",
        s.name, fs.family, addr, tuple(c.ref for c in owners),
        {"owners": [claim_json(c) for c in owners],
         "status_range": {"field": f"status.{STATUS_FIELDS[fs.family]['available']}",
                          "interval": _interval_text(fs, fs.available, value)},
         "causes": causes, "nb_rows": model.nb_rows_json(addr)})


def _restore_gap(model: Model, c: Claim) -> str:
    if c.ref.kind == "OvnEip":
        eip = model.inventory.ovn_eips.get(c.ref.name)
        if eip is not None and not eip.subnet_field:
            return "spec.externalSubnet is empty"
    if c.ref.kind in ("Vip", "OvnEip", "IptablesEIP") and c.address.family == "ipv6":
        return "InitIPAM restores its IPv4 only"
    if c.ref.kind == "Subnet":
        return "multicast-querier IPs are never restored"
    return "not restored"


def _inconsistencies(fs: FamilySpace) -> dict[str, IntervalSet]:
    """How the status ranges fail to partition the universe; empty when they do."""
    if fs.using is None or fs.available is None:
        return {}
    gateways = IntervalSet.of_points([fs.gateway] if fs.gateway is not None else [])
    found = {
        "overlap": fs.using & fs.available,
        "outside": (fs.using | fs.available) - fs.universe,
        "missing": fs.universe - fs.using - fs.available - fs.excluded - gateways,
    }
    return {k: v for k, v in found.items() if v}


_INCONSISTENCY_TEXT = {
    "overlap": "using and available overlap",
    "outside": "range members outside the CIDR",
    "missing": "addresses in neither range nor excludeIps",
}


def status_ranges(model: Model) -> Iterator[Finding]:
    """status-range-invalid: parse errors and ranges that do not partition the universe."""
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        for p in s.problems:
            yield Finding("status-range-invalid", "error",
                          f"subnet {s.name}: {p.field}: {p.message}", s.name,
                          subjects=(s.ref,), evidence={"field": p.field, "error": p.message})
        for fam, fs in sorted(s.families.items()):
            for kind, ivs in _inconsistencies(fs).items():
                yield _range_finding(s, fam, f"{_INCONSISTENCY_TEXT[kind]} ({fs.cidr})", {
                    kind: format_ranges(fam, ivs, 16), "count": ivs.size(),
                    "fields": [STATUS_FIELDS[fam]["using"], STATUS_FIELDS[fam]["available"]],
                    "note": "leak checks were not run on this family: its status cannot be "
                            "trusted"})


def _range_finding(s: SubnetInfo, fam: Family, what: str, ev: dict[str, Any]) -> Finding:
    return Finding("status-range-invalid", "error", f"subnet {s.name} ({fam}): {what}",
                   s.name, fam, None, (s.ref,), ev)


def status_counts(model: Model) -> Iterator[Finding]:
    """status-count-mismatch: stale counts, and counts the using range cannot explain."""
    index = CountIndex(model.inventory)
    rules = [(rule, era) for era in count_eras(model.version)
             for rule in ip_cr_rules(model.version)]
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        if not s.families:
            continue
        tries = {f"{rule}/{era}": (era, index.counted(s, rule, era)) for rule, era in rules}
        yield from _stale_counts(model, s, {k: v for k, (_, v) in tries.items()})
        for _fam, fs in sorted(s.families.items()):
            # The rules that explain the status count (or, with none, the first) decide.
            era, counted = next((t for t in tries.values() if fs.using_count is not None
                                 and fs.using_count.matches(len(t[1]))),
                                next(iter(tries.values())))
            yield from _range_delta(model, s, fs, counted, index.not_counted(s, era), era)


def _stale_counts(model: Model, s: SubnetInfo, tries: dict[str, list[Any]]) -> Iterator[Finding]:
    for fam, fs in sorted(s.families.items()):
        names = STATUS_FIELDS[fam]
        for attr, field_key in (("using_count", "using_count"),
                                ("available_count", "available_count")):
            status = getattr(fs, attr)
            if status is None:
                continue
            expected = {}
            for rule, counted in tries.items():
                using = len(counted)
                expected[rule] = using if attr == "using_count" else max(
                    fs.cidr.address_count() - fs.excluded_addresses - using, 0)
            if any(status.matches(v) for v in expected.values()):
                continue
            value = next(iter(expected.values()))
            yield Finding(
                "status-count-mismatch", "warning",
                f"subnet {s.name}: status.{names[field_key]} is {status.text} but its objects "
                f"give {value}: the status is stale",
                s.name, fam, None, (s.ref,),
                {"field": f"status.{names[field_key]}", "status": status.text,
                 "recount": expected, "formula": "IP CRs (minus those in non-gateway "
                 "excludeIps) + Vips{ip_reserved=''} + IptablesEIPs + OvnEips labelled with "
                 "the subnet (up to v1.14: IptablesEIPs only on subnets that are not OVN's, "
                 "OvnEips only on vlan subnets)" + ("" if attr == "using_count" else
                                 "; available = 2^hostbits - 2 - excluded - using"),
                 "version": str(model.version) if model.version else None})


def _range_delta(model: Model, s: SubnetInfo, fs: FamilySpace, counted: list[Any],
                 not_counted: list[AddrCR], era: str) -> Iterator[Finding]:
    count = fs.using_count
    if fs.using is None or count is None:
        return
    size = fs.using.size()
    if count.matches(size):
        return
    fam = fs.family
    deltas: list[dict[str, Any]] = []
    seen: set[int] = set()
    anomalies = 0
    for item in counted:
        mine = [a for a in item.addresses if a.family == fam]
        if not mine:
            deltas.append({"delta": "+1", "object": str(item.ref), "ip": None,
                           "reason": f"counted for both families but has no {fam} address",
                           "legitimate": True})
            continue
        a = mine[0]
        if a.value in fs.using and a.value not in seen:
            seen.add(a.value)
            continue
        if a.value in fs.using:
            reason, legit = "counted twice: another counted object has the same address", False
        elif a.value in fs.excluded:
            reason, legit = "inside excludeIps: held, counted, invisible in the ranges", True
        elif not fs.cidr.contains(a.value):
            reason, legit = f"outside {fs.cidr}", False
        elif fs.available is not None and a.value in fs.available:
            reason, legit = "marked available", False
        else:
            reason, legit = "in neither range", False
        anomalies += not legit
        deltas.append({"delta": "+1", "object": str(item.ref), "ip": str(a), "reason": reason,
                       "legitimate": legit})
    uncounted = fs.using - IntervalSet.of_points(seen)
    # Held and listed in the using range, but left out of the count by the era's rules.
    skipped = {a.value: cr for cr in not_counted for a in cr.addresses if a.family == fam}
    for value in sorted(skipped):
        if value in uncounted:
            deltas.append({"delta": "-1", "ip": format_ip(fam, value),
                           "object": str(skipped[value].ref),
                           "reason": f"held but not counted by the {era} rules",
                           "legitimate": True})
    uncounted = uncounted - IntervalSet.of_points(skipped)
    # An allocation in flight: the count selects the CR by the labels its add handler writes
    # with its status, after the allocation (kubeovn/owners.py pending_allocation_claims).
    pending = {}
    for lo, hi in (uncounted & model.space(s.name, fam).claimed).intervals:
        for value in range(lo, hi + 1):  # claimed addresses: bounded by the objects
            mine = [c for c in model.claims_at(s.name, Address(fam, value))
                    if c.note == PENDING_ALLOCATION]
            if mine:
                pending[value] = mine[0]
    for value, claim in sorted(pending.items()):
        deltas.append({"delta": "-1", "ip": format_ip(fam, value), "object": str(claim.ref),
                       "reason": "allocated in flight: counted once its status is written",
                       "legitimate": True})
    uncounted = uncounted - IntervalSet.of_points(pending)
    for value in uncounted.lowest(64):
        claims = model.claims_at(s.name, Address(fam, value))
        who = ", ".join(str(c.ref) for c in claims if c.role == "owner")
        deltas.append({"delta": "-1", "ip": format_ip(fam, value), "object": who or None,
                       "reason": "held by an owner the count does not include" if who
                       else "no owner", "legitimate": False})
    # An address nothing claims is a leak, and leaked-ip (or a phantom check) reports it: a
    # count that differs from the range only by leaks is that one problem, not a second one.
    anomalies += (uncounted & model.space(s.name, fam).claimed).size()
    if not anomalies:
        return
    names = STATUS_FIELDS[fam]
    yield Finding(
        "status-count-mismatch", "warning",
        f"subnet {s.name}: status.{names['using_count']} is {count.text} but "
        f"status.{names['using']} holds {size} addresses",
        s.name, fam, None, (s.ref,),
        {"field": f"status.{names['using_count']}", "status": count.text,
         "using_range_size": size, "delta": deltas[:100],
         "delta_truncated": max(len(deltas) - 100, 0) + max(uncounted.size() - 64, 0)})
