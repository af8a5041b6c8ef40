"""Checks of the owners themselves: C04, C05, C09, C11, C12, C13, C16, C17, C18."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from eipfsck.addresses import Address, format_ip, try_parse_ip
from eipfsck.checks.catalogue import GATEWAY, LIVE_PORT, NB_ROWS_AVAILABLE, RESERVED
from eipfsck.checks.finding import Finding, claim_json
from eipfsck.kubeovn import names as n
from eipfsck.kubeovn.owners import AddrCR, Claim, NatRule
from eipfsck.kubeovn.refs import Ref
from eipfsck.model import Model

_CLAIMING_ROLES = ("owner", "record")


def double_claims(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    # A Vip taken over by a pod is one claim with the pod's key (vip.go:366-480).
    pod_key_of_port = {port: pod.key for port, pod in inv.live_ports.items()}
    for (subnet, _fam), space in sorted(model.spaces.items()):
        for claims in space.by_address.values():
            relevant = [c for c in claims if c.role in _CLAIMING_ROLES and c.subnet == subnet]
            if len(relevant) < 2:
                continue
            keys: dict[str, list[Claim]] = defaultdict(list)
            for c in relevant:
                key = c.key or str(c.ref)
                if c.ref.kind == "Vip":
                    vip = inv.vips.get(c.ref.name)
                    if vip is not None and vip.reserved_by in pod_key_of_port:
                        key = pod_key_of_port[vip.reserved_by]
                keys[key].append(c)
            if len(keys) < 2:
                continue
            addr = relevant[0].address
            refs = tuple(dict.fromkeys(c.ref for c in relevant))
            yield Finding(
                "double-claim", "error",
                f"{addr} is claimed by {len(keys)} owners with different IPAM keys: "
                + ", ".join(f"{cs[0].ref} ({k})" for k, cs in sorted(keys.items())),
                subnet, addr.family, addr, refs,
                {"claims": [claim_json(c) for c in relevant], "ipam_keys": sorted(keys),
                 "nb_rows": model.nb_rows_json(addr)})


def orphan_ip_crs(model: Model) -> Iterator[Finding]:
    for ip in sorted(model.inventory.ip_crs.values(), key=lambda x: x.ref.name):
        if ip.owner != "missing":
            continue
        severity = "warning"
        protected = reason = ""
        if ip.live_port:
            severity, protected = "info", "named after the port of a live pod: never delete it"
            reason = LIVE_PORT
        elif ip.reserved:
            severity, protected = "info", ("labelled ip_reserved=true: a deliberate "
                                           "reservation, never delete it")
            reason = RESERVED
        available = {str(a): model.available_in(a) for a in ip.addresses}
        ev: dict[str, Any] = {
            "owner_looked_for": ip.owner_detail, "pod_type": ip.pod_type or "",
            "addresses": [str(a) for a in ip.addresses], "spec_subnet": ip.subnet,
            "addresses_marked_available": {k: v for k, v in available.items() if v},
            "nb_rows": [r for a in ip.addresses for r in model.nb_rows_json(a)],
        }
        if protected:
            ev["not_deletable"] = protected
        first = ip.addresses[0] if ip.addresses else None
        yield Finding(
            "orphan-ip-cr", severity,
            f"{ip.ref} ({', '.join(map(str, ip.addresses)) or 'no address'}): "
            f"{ip.owner_detail}" + (f"; {protected}" if protected else ""),
            ip.subnet if ip.subnet in model.subnets else None,
            first.family if first else None, first, (ip.ref,), ev, severity_reason=reason)


def _per_subnet_address(model: Model) -> Iterator[tuple[str, Address, list[Claim]]]:
    # Keyed by plain tuples: hashing and sorting stay in C (an Address compares in Python).
    grouped: dict[tuple[str, str, int], list[Claim]] = defaultdict(list)
    for c in model.inventory.claims:
        if c.role in _CLAIMING_ROLES and c.subnet:
            grouped[(c.subnet, c.address.family, c.address.value)].append(c)
    for key in sorted(grouped):
        claims = grouped[key]
        yield key[0], claims[0].address, claims


def out_of_cidr(model: Model) -> Iterator[Finding]:
    for subnet, addr, claims in _per_subnet_address(model):
        s = model.subnets.get(subnet)
        if s is None or not s.families:
            continue
        fs = s.families.get(addr.family)
        if fs is None:
            what = f"{addr} is {addr.family} but subnet {subnet} has no {addr.family} CIDR"
        elif not fs.cidr.contains(addr.value):
            what = f"{addr} is outside {subnet}'s CIDR {fs.cidr}"
        else:
            continue
        yield Finding("owner-ip-out-of-cidr", "error",
                      f"{what} (claimed by {', '.join(str(c.ref) for c in claims)})",
                      subnet, addr.family, addr, tuple(dict.fromkeys(c.ref for c in claims)),
                      {"claims": [claim_json(c) for c in claims], "cidr": s.cidr_text})


def excluded(model: Model) -> Iterator[Finding]:
    for subnet, addr, claims in _per_subnet_address(model):
        s = model.subnets.get(subnet)
        fs = s.families.get(addr.family) if s else None
        if s is None or fs is None or addr.value not in fs.excluded:
            continue
        entry = next((format_ip(f, lo) if lo == hi else
                      f"{format_ip(f, lo)}..{format_ip(f, hi)}"
                      for _, f, lo, hi in s.exclusions.entries
                      if f == addr.family and lo <= addr.value <= hi), "")
        gateway = fs.gateway == addr.value
        yield Finding(
            "owner-ip-excluded", "error" if gateway else "info",
            f"{addr} is {'the gateway' if gateway else 'inside excludeIps entry ' + repr(entry)}"
            f" of {subnet} and is claimed by {', '.join(str(c.ref) for c in claims)}",
            subnet, addr.family, addr, tuple(dict.fromkeys(c.ref for c in claims)),
            {"claims": [claim_json(c) for c in claims], "exclude_entry": entry,
             "gateway": gateway}, severity_reason=GATEWAY if gateway else "")


def subnet_refs(model: Model) -> Iterator[Finding]:
    seen: set[tuple[Ref, str]] = set()
    for r in model.inventory.subnet_refs:
        if r.subnet in model.subnets or (r.ref, r.field) in seen:
            continue
        seen.add((r.ref, r.field))
        defaulted = " (the controller's default)" if r.field == "(default)" else ""
        yield Finding("subnet-ref-invalid", "warning",
                      f"{r.ref} references subnet {r.subnet!r}{defaulted}, which does not exist",
                      None, None, None, (r.ref,), {"field": r.field, "subnet": r.subnet})


def lsp_eips(model: Model) -> Iterator[Finding]:
    nodes = model.inventory.node_names
    if nodes is None:
        return
    for eip in sorted(model.inventory.ovn_eips.values(), key=lambda e: e.ref.name):
        if eip.type == "lsp" and eip.ref.name not in nodes:
            first = eip.addresses[0] if eip.addresses else None
            yield Finding("lsp-eip-not-node", "warning",
                          f"{eip.ref} has type lsp but no Node is named {eip.ref.name}",
                          eip.subnet, first.family if first else None, first, (eip.ref,),
                          {"nodes": sorted(nodes)[:20]})


def _eip_ip(rule: NatRule) -> list[Address]:
    # Iptables*Rule status: v4ip and v6ip (pkg/apis/kubeovn/v1/iptables-*-rule.go).
    keys = ("v4ip", "v6ip") if rule.eip_kind == "IptablesEIP" else ("v4Eip", "v6Eip")
    out = []
    for k in keys:
        text = rule.status.get(k)
        a = try_parse_ip(text)
        if a is not None:
            out.append(a)
    return out


def dangling_refs(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    for rule in sorted(inv.nat_rules, key=lambda r: (r.ref.kind, r.ref.name)):
        if not rule.eip:
            continue
        resource = "ovn-eips.kubeovn.io" if rule.eip_kind == "OvnEip" \
            else "iptables-eips.kubeovn.io"
        if not model.snapshot.has(resource):
            continue
        eips = inv.ovn_eips if rule.eip_kind == "OvnEip" else inv.iptables_eips
        eip = eips.get(rule.eip)
        status_ips = _eip_ip(rule)
        if eip is None:
            problem = f"{rule.eip_kind} {rule.eip} does not exist"
        else:
            stale = [a for a in status_ips if a not in eip.addresses]
            if not stale:
                continue
            problem = (f"its status says {', '.join(map(str, stale))} but {eip.ref} now holds "
                       f"{', '.join(map(str, eip.addresses)) or 'nothing'}")
        available = {str(a): model.available_in(a) for a in status_ips}
        raised = any(available.values())
        first = status_ips[0] if status_ips else None
        subnet = next((v[0] for v in available.values() if v), None)
        if subnet is None and first is not None:
            subnet = next((s.name for s in model.containing(first)), None)
        yield Finding(
            "dangling-eip-ref", "error" if raised else "warning",
            f"{rule.ref} uses {rule.eip_kind} {rule.eip}: {problem}"
            + ("; its NB rows translate an IP marked available" if raised else ""),
            subnet, first.family if first else None, first,
            (rule.ref,) + ((eip.ref,) if eip else ()),
            {"eip": {"kind": rule.eip_kind, "name": rule.eip, "exists": eip is not None,
                     "addresses": [str(a) for a in eip.addresses] if eip else []},
             "rule_status_eip": [str(a) for a in status_ips],
             "addresses_marked_available": {k: v for k, v in available.items() if v},
             "nb_rows": [r for a in status_ips for r in model.nb_rows_json(a)
                         if r["kind"] in ("NAT", "Load_Balancer")]},
            severity_reason=NB_ROWS_AVAILABLE if raised else "")


def _blockers(model: Model, cr: AddrCR) -> list[str]:
    inv = model.inventory
    v4 = [str(a) for a in cr.addresses + cr.requested if a.family == "ipv4"]
    out = []
    for rule in inv.nat_rules:
        if rule.eip_kind != cr.ref.kind:
            continue
        if rule.eip == cr.ref.name or rule.labels.get(n.LABEL_EIP_V4) in v4:
            out.append(f"{rule.ref} still uses it")
    if cr.ref.kind == "IptablesEIP":
        gw = cr.spec.get("natGwDp")
        if model.snapshot.has("vpc-nat-gateways.kubeovn.io") and isinstance(gw, str) and gw \
                and not any(o["metadata"]["name"] == gw
                            for o in model.snapshot.items("vpc-nat-gateways.kubeovn.io")):
            out.append(f"its VpcNatGateway {gw} is gone, so the address cannot be removed "
                       "from the gateway pod")
    return out


def terminating(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    now = model.snapshot.captured_at
    subjects: list[tuple[Ref, Any, tuple[str, ...], AddrCR | None, tuple[Address, ...], str]]
    subjects = [(cr.ref, cr.deletion, cr.finalizers, cr, cr.addresses, cr.subnet)
                for cr in inv.addr_crs()]
    subjects += [(rule.ref, rule.deletion, rule.finalizers, None, (), "")
                 for rule in inv.nat_rules]
    subjects += [(ip.ref, ip.deletion, ip.finalizers, None, ip.addresses, ip.subnet)
                 for ip in inv.ip_crs.values()]
    for ref, deletion, finalizers, cr, addrs, subnet in sorted(subjects, key=lambda t: t[0]):
        if deletion is None or not finalizers or now - deletion < model.policy.stuck_after:
            continue
        blockers = _blockers(model, cr) if cr is not None else []
        age = now - deletion
        first = addrs[0] if addrs else None
        yield Finding(
            "terminating-owner", "warning",
            f"{ref} has been terminating for {_human(age.total_seconds())}"
            + (f": {blockers[0]}" if blockers else ""),
            subnet or None, first.family if first else None, first, (ref,),
            {"deletion_timestamp": deletion.isoformat(), "finalizers": list(finalizers),
             "blocked_by": blockers or ["unknown: check the kube-ovn-controller log"],
             "addresses": [str(a) for a in addrs]})


def _human(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{int(seconds // 60)} minutes"


def restore_hazards(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    for cr in sorted(inv.addr_crs(), key=lambda c: (c.ref.kind, c.ref.name)):
        if not cr.addresses:
            continue
        s = model.subnets.get(cr.subnet)
        gaps = []
        v4 = [a for a in cr.addresses if a.family == "ipv4"]
        v6 = [a for a in cr.addresses if a.family == "ipv6"]
        if cr.ref.kind == "OvnEip" and not cr.subnet_field:
            gaps.append("spec.externalSubnet is empty: InitIPAM does not restore it at all "
                        "(ErrNoSubnet)")
        elif not v4 and v6 and cr.ref.kind in ("Vip", "OvnEip"):
            gaps.append("IPv6-only: InitIPAM restores status.v4ip only, so it is not restored")
        elif s is not None and "ipv4" in s.families and "ipv6" in s.families:
            if v6:
                gaps.append("in a dual-stack subnet: InitIPAM restores the IPv4 only and files "
                            "the lowest free IPv6 under its key; its real IPv6 "
                            f"{', '.join(map(str, v6))} becomes available")
            else:
                gaps.append("in a dual-stack subnet without an IPv6: each restart files an "
                            "extra IPv6 under its key")
        for gap in gaps:
            first = cr.addresses[0]
            yield Finding("restore-hazard", "info", f"{cr.ref}: {gap}", cr.subnet, first.family,
                          first, (cr.ref,), {"gap": gap,
                                             "addresses": [str(a) for a in cr.addresses]})
    for s in sorted(model.subnets.values(), key=lambda x: x.name):
        if s.mcast_ip:
            yield Finding("restore-hazard", "info",
                          f"subnet {s.name}: multicast-querier IP {s.mcast_ip} is never "
                          "restored at leader start", s.name, None, None, (s.ref,),
                          {"gap": "mcast-querier IPs have no restore path",
                           "addresses": s.mcast_ip.split(",")})
    for ip in sorted(inv.ip_crs.values(), key=lambda x: x.ref.name):
        if ip.reserved and (ip.namespace, ip.pod_name) not in inv.pods:
            first = ip.addresses[0] if ip.addresses else None
            yield Finding("restore-hazard", "info",
                          f"{ip.ref} is a reservation (ip_reserved=true) without a pod: it is "
                          "not restored and gcIP deletes it at leader start",
                          ip.subnet, first.family if first else None, first, (ip.ref,),
                          {"gap": "reserved IP CR without pod"})
    yield from _pod_hazards(model)
    yield from _mac_collisions(model)


def _pod_hazards(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    for (_ns, _name), pod in sorted(inv.pods.items()):
        if not (pod.alive or pod.sts) or pod.host_network:
            continue
        gaps = []
        for nic in pod.nics:
            if nic.addresses and (nic.subnet is None or nic.subnet not in model.subnets):
                gaps.append(f"provider {nic.provider} does not map to an existing subnet")
        networks = pod.annotations.get(n.ANNOTATION_NETWORKS, "")
        if inv.nads is not None and networks and not networks.lstrip().startswith("["):
            for item in networks.split(","):
                ref = item.strip().split("@", 1)[0]
                ns, _, nad = ref.rpartition("/")
                if nad and (ns or pod.ref.namespace or "", nad) not in inv.nads:
                    gaps.append(f"NetworkAttachmentDefinition {ns or pod.ref.namespace}/{nad} "
                                "is gone")
        if gaps:
            addrs = [a for nic in pod.nics for a in nic.addresses]
            first = addrs[0] if addrs else None
            yield Finding("restore-hazard", "info",
                          f"{pod.ref}: {gaps[0]}; InitIPAM skips the whole pod, so all its IPs "
                          "become available at the next leader start",
                          next((x.subnet for x in pod.nics if x.subnet in model.subnets), None),
                          first.family if first else None, first, (pod.ref,),
                          {"gap": gaps, "addresses": [str(a) for a in addrs]})


def _mac_collisions(model: Model) -> Iterator[Finding]:
    inv = model.inventory
    by_mac: dict[tuple[str, str], dict[str, Ref]] = defaultdict(dict)
    for pod in inv.pods.values():
        if (pod.alive or pod.sts) and not pod.host_network:
            for nic in pod.nics:
                if nic.mac and nic.subnet:
                    by_mac[(nic.subnet, nic.mac.lower())].setdefault(pod.key, pod.ref)
    for ip in inv.ip_crs.values():
        if ip.mac and ip.pod_type in (n.POD_TYPE_STS, n.POD_TYPE_VM) and ip.owner != "missing":
            by_mac[(ip.subnet, ip.mac.lower())].setdefault(ip.key, ip.ref)
    for cr in inv.addr_crs():
        if cr.mac and cr.addresses:
            # A Vip taken over by a pod shares the pod's MAC by design; the restart skips
            # the Vip and keeps the pod, which is what heals it (pkg/controller/init.go
            # restores pods before Vips).
            if cr.ref.kind == "Vip" and cr.reserved_by in inv.live_ports:
                continue
            by_mac[(cr.subnet, cr.mac.lower())].setdefault(cr.ref.name, cr.ref)
    for (subnet, mac), owners in sorted(by_mac.items()):
        if len(owners) < 2:
            continue
        refs = tuple(sorted(owners.values()))
        yield Finding("restore-hazard", "info",
                      f"MAC {mac} is shared by {', '.join(map(str, refs))} in {subnet}: "
                      "InitIPAM restores only the first and skips the others (AddressConflict)",
                      subnet, None, None, refs, {"gap": "MAC collision", "mac": mac,
                                                 "ipam_keys": sorted(owners)})
