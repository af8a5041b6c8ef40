"""The catalogue of checks: one id, one severity, one sentence, and what to do.

This table is the single source for ids, severities and documentation: `eipfsck
checks`, `eipfsck explain`, docs/checks.md and every report format read it.
Ids are stable: operators put them in skip lists and alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eipfsck.errors import UsageError

Severity = Literal["info", "warning", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}
Needs = Literal["k8s", "nb", "exec"]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    cls: str  # the check class (C01…C19), as listed in docs/checks.md
    severity: Severity
    title: str
    explanation: str
    evidence: str
    remedy: str
    repairable: bool
    needs: Needs = "k8s"
    implemented: bool = True
    # When a finding's severity differs from `severity`, and why: (severity, condition). The
    # finding then carries the condition as its severity_reason ("error: its IP is marked
    # available"); `checks`, `explain` and docs/checks.md list these.
    severity_when: tuple[tuple[Severity, str], ...] = ()

    def severity_text(self) -> str:
        """"warning (error when its IP is marked available)"."""
        if not self.severity_when:
            return self.severity
        return self.severity + " (" + "; ".join(f"{sev} when {cond}"
                                                for sev, cond in self.severity_when) + ")"


# The conditions that move a finding away from its check's default severity (severity_when);
# the checks that apply them (checks/northbound.py, checks/owners.py) use these same texts.
IP_AVAILABLE = "its IP is marked available"
NB_ROWS_AVAILABLE = "its NB rows translate an IP marked available"
LIVE_PORT = "it is named after the port of a live pod"
RESERVED = "it is labelled ip_reserved=true"
GATEWAY = "the IP is its subnet's gateway"

CATALOGUE: tuple[CheckSpec, ...] = (
    CheckSpec(
        "leaked-ip", "C01", "error",
        "The allocator holds an IP that no object owns.",
        "The subnet status lists the IP as in use, but no pod, IP CR, Vip, OvnEip, "
        "IptablesEIP, node, subnet U2O/multicast address or pending request claims it. The "
        "controller's in-memory allocator still holds the entry, usually because its owner was "
        "deleted without the controller's cleanup: a finalizer removed by hand (IptablesEIP in "
        "every version, Vip from v1.15, OvnEip up to v1.14), a delete while no controller leader "
        "ran, or a failed add. The IP can never be handed out again until the entry is released. "
        "A single scan can also catch an allocation in flight (the allocator files an IP before "
        "any record is written), so one observation is never enough to act.",
        "the status range that lists the IP; every owner kind that was searched; the NB rows "
        "that still carry the IP; the IPAM key from the controller log when one was given, and "
        "the former owner's kind when its delete handler logged it, and the release when the "
        "log shows the allocator let it go after that allocation (then the status may only lag: "
        "it catches up at the next event in the subnet); "
        '"confirmed": false until two scans a grace period apart agree.',
        "Confirm with a second scan a few minutes later. Clean the NB rows that carry the IP "
        "first (see the orphan-nb-* findings). Then release the entry the controller's own way: "
        "restart the kube-ovn-controller leader (InitIPAM rebuilds the allocator from the "
        "objects; review restore-hazard findings first), or re-create the former owner with the "
        "same name and IP and delete it normally. Never patch the subnet status, strip "
        "finalizers or edit excludeIps: none of these releases anything.",
        True,
    ),
    CheckSpec(
        "phantom-v6-restore", "C02", "warning",
        "An IPv6 address is held for a dual-stack Vip or EIP whose real IPv6 is free.",
        "At leader start InitIPAM restores Vips, OvnEips and IptablesEIPs from their IPv4 only; "
        "in a dual-stack subnet the allocator then files the lowest free IPv6 under the owner's "
        "key (a phantom) and marks the owner's real IPv6 available. This recurs at every "
        "restart, so a restart does not fix it.",
        "the phantom address, the owner it is paired with and that owner's real IPv6 in the "
        "available range.",
        "Do not restart the controller to fix this. Keep the owner's real IPv6 from being handed "
        "out again, for example by adding it to the subnet's excludeIps, and track the "
        "upstream fix.",
        False,
    ),
    CheckSpec(
        "phantom-ip", "C02", "warning",
        "An address is held under a live owner's key: the other-family address a leader start "
        "files for it.",
        "In a dual-stack subnet, InitIPAM (pkg/controller/init.go) re-files each owner with "
        "GetStaticAddress, and checkAndAppendIpsForDual (pkg/ipam/ipam.go) gives an owner that "
        "brings one family the lowest free address of the other family, under its key: a pod "
        "asking for one family (ovn.kubernetes.io/ip_family), a Vip, OvnEip or IptablesEIP "
        "(restored from their IPv4 only) or an IP CR recorded before the subnet became "
        "dual-stack. Nothing but the allocator records that address, so it looks leaked; but "
        "its key is live and every leader start files it again. With several such owners and "
        "more unowned addresses than owners, which address is whose is a guess unless the "
        "controller log names the key: the finding says so, and repair holds every unowned "
        "address of that subnet family.",
        "the owner, its IPAM key and what InitIPAM restores from it; how the address was "
        "paired (controller log or lowest free) and, when that is a guess, why.",
        "Nothing to release: a controller restart re-creates it. Give the owner both families "
        "(or accept the wasted address); to tell phantoms from leaks, scan again with "
        "--controller-log.",
        False,
    ),
    CheckSpec(
        "owner-ip-available", "C03", "error",
        "An IP that an object owns is marked available: the next allocation can duplicate it.",
        "The owner holds the IP, but the allocator lists it in the available range. Causes: the "
        "owner was not restored at the last leader start (see restore-hazard), a pod took over "
        "a Vip's IP (the controller releases the Vip's entry and files nothing for the pod), or "
        "the status is stale.",
        "the owner and the field its IP was read from, the available range, the cause when "
        "it is known.",
        "Find out why the owner was not restored (restore-hazard findings say it); a leader "
        "restart re-files pods, sts/VM IPs and IPv4 EIPs. Until then, avoid creating objects "
        "with static IPs in this subnet.",
        False,
    ),
    CheckSpec(
        "double-claim", "C04", "error",
        "Two independent owners claim the same IP.",
        "Two objects with different IPAM keys hold the same address in the same subnet, "
        "typically because one was not restored at a leader start and the other got its "
        "address afterwards. The network has a duplicate address or will have one.",
        "both owners, their IPAM keys and the fields the IP was read from.",
        "Decide which owner is legitimate and re-address or delete the other by hand; no "
        "automatic repair is safe here.",
        False,
    ),
    CheckSpec(
        "orphan-ip-cr", "C05", "warning",
        "An IP CR's owner is gone.",
        "The IP CR records an address for a pod, VM, StatefulSet, node or subnet that no longer "
        "exists. It is counted in the subnet status but not restored at leader start; gcIP "
        "deletes it only at the next leader start, so until then the record keeps the IP out "
        "of use and its port may still route it. The owner is looked for as the controller's "
        "checkIPOwnerExists (pkg/controller/gc.go) does: a node's IP CR is one with no "
        "namespace whose nodeName equals its podName (never a name starting with node-), then "
        "the VM, the StatefulSet, a Node or Subnet ownerReference, the pod. IP CRs named "
        "after a live pod's port and reservations labelled ip_reserved=true are reported as "
        "info and never deleted.",
        "the owner that was looked for and why it is considered gone.",
        "Delete the IP CR normally (kubectl delete ip NAME) so the controller's finalizer path "
        "releases the address and its port. Never strip its finalizer.",
        True,
        severity_when=(("info", LIVE_PORT), ("info", RESERVED)),
    ),
    CheckSpec(
        "orphan-nb-lsp", "C06", "warning",
        "A logical switch port has no owner.",
        "Kube-OVN created this port for a pod, VM, node, EIP or Vip that no longer exists. "
        "OVN keeps answering for its addresses; when the allocator hands one of them out "
        "again, two ports carry the same IP (upstream issue #4304). Raised to error when the "
        "IP is already marked available.",
        "the port's switch, addresses and external_ids, the owner looked for.",
        "Delete the port (ovn-nbctl lsp-del NAME) after checking that no live pod uses it; "
        "never delete the port of a live pod, Kube-OVN re-plumbs it.",
        True, needs="nb",
        severity_when=(("error", IP_AVAILABLE),),
    ),
    CheckSpec(
        "orphan-nb-lrp", "C07", "warning",
        "A logical router port (or its router-type switch port) has no owner.",
        "An lrp-type OvnEip was deleted but its router port <vpc>-<external subnet> stayed; or "
        "a router-type switch port points at a router port that no longer exists. GC never "
        "collects either, and a re-created EIP gets no router port while the stale one exists. "
        "Raised to error when the IP is already marked available.",
        "the router, networks and MAC of the port, or the missing router-port option.",
        "Delete the router port together with its router-type peer switch port, after "
        "checking that no OvnEip of that name exists.",
        True, needs="nb",
        severity_when=(("error", IP_AVAILABLE),),
    ),
    CheckSpec(
        "orphan-nb-nat", "C08", "warning",
        "A NAT row is produced by no OvnFip, OvnSnatRule or pod annotation.",
        "The NAT rule CR or EIP that made this row was deleted without cleanup; OVN still "
        "translates traffic for the external IP. Raised to error when that IP is already "
        "marked available: the next EIP that gets it inherits this translation.",
        "the router and the row's type, external_ip, logical_ip and logical_port; cross-family "
        "FIP mappings are matched before a row is called orphaned.",
        "Delete the NAT row (ovn-nbctl lr-nat-del ROUTER TYPE EXTERNAL_IP) after checking that "
        "no FIP/SNAT CR is being created for it.",
        True, needs="nb",
        severity_when=(("error", IP_AVAILABLE),),
    ),
    CheckSpec(
        "orphan-nb-lb", "C08", "warning",
        "A load-balancer VIP is produced by no OvnDnatRule, Service or LB rule.",
        "An OvnDnatRule was deleted without cleanup and its load-balancer VIP stayed. Raised to "
        "error when the VIP's IP is already marked available.",
        "the load balancer, the VIP entry and its backends.",
        "Remove the VIP entry from the load balancer (ovn-nbctl lb-del LB VIP); remove the "
        "load balancer only when it carries no other VIP.",
        True, needs="nb",
        severity_when=(("error", IP_AVAILABLE),),
    ),
    CheckSpec(
        "dangling-eip-ref", "C09", "warning",
        "A NAT rule CR points at an EIP that is gone or has another IP.",
        "The EIP was deleted (its finalizer stripped) while a FIP, SNAT, DNAT or router LB rule "
        "still used it. The rule keeps its NB rows alive, translating an IP that the allocator "
        "may hand out again. Raised to error when that IP is already marked available.",
        "the rule, the EIP it names, the EIP's current IP and the rule's status IP.",
        "Delete the NAT rule CR normally so Kube-OVN's finalizer removes its NB rows; then "
        "check for orphan-nb-* findings.",
        True,
        severity_when=(("error", NB_ROWS_AVAILABLE),),
    ),
    CheckSpec(
        "nb-address-drift", "C10", "error",
        "An NB row carries another IP than its owner holds.",
        "The owner was re-created with a new IP while its NB object kept the old one (an "
        "lrp-type EIP re-created while its router LSP stayed, or a delete done with no leader "
        "running). The old IP is still routed while the allocator may hand it out.",
        "the row's addresses and the owner's.",
        "Delete the stale NB object and let the controller re-create it from the owner (for "
        "an lrp EIP: delete the router port and its router-type peer port, then touch the EIP).",
        False, needs="nb",
    ),
    CheckSpec(
        "terminating-owner", "C11", "warning",
        "An owner has been stuck terminating.",
        "The object has a deletionTimestamp and a finalizer the controller cannot remove, "
        "usually because a NAT rule still uses the EIP, or its NAT gateway pod is gone. It "
        "keeps its IP across restarts. Stripping the finalizer is what causes leaks.",
        "how long it has been terminating, its finalizers and what blocks it.",
        "Remove what blocks it (delete the NAT rules that use the EIP, or restore the "
        "gateway), and let the controller finish. Do not strip the finalizer.",
        False,
    ),
    CheckSpec(
        "owner-ip-out-of-cidr", "C12", "error",
        "An owner's IP lies outside its subnet's CIDR or is of the wrong family.",
        "InitIPAM rejects such an address (AddressOutOfRange) at the next leader start, so "
        "the owner holds an IP the allocator does not know.",
        "the owner, the IP and the subnet's CIDR.",
        "Fix the owner's subnet reference or address by hand.",
        False,
    ),
    CheckSpec(
        "owner-ip-excluded", "C13", "info",
        "An owner's IP is inside excludeIps (an error when it is the gateway).",
        "Static IPs inside excludeIps are allowed and invisible in both status ranges; an owner "
        "holding the gateway address breaks the subnet.",
        "the owner, the IP and the excludeIps entry.",
        "Nothing for a deliberate static IP. For the gateway: re-address the owner.",
        False,
        severity_when=(("error", GATEWAY),),
    ),
    CheckSpec(
        "status-range-invalid", "C14", "error",
        "A subnet's spec or status cannot be parsed, or its ranges are inconsistent.",
        "The status ranges must partition the usable addresses: using and available disjoint, "
        "and using + available + excluded = the universe of the CIDR. A hand edit, a CIDR "
        "change or a stale status breaks this. The other subnets are still checked.",
        "the field and the parse error, or the overlapping or missing intervals.",
        "Fix the spec by hand if it is unparsable. A stale status is recomputed by the "
        "controller on the next event for the subnet; never patch it by hand.",
        False,
    ),
    CheckSpec(
        "status-count-mismatch", "C15", "warning",
        "A subnet's status counts disagree with its objects or its ranges.",
        "The counts are computed from Kubernetes objects, the ranges from the allocator. A "
        "count that differs from a recount of the objects means a stale status; a count that "
        "differs from the size of the using range for reasons other than legitimate ones "
        "(static owners inside excludeIps) points at leaks or unrestored owners. A heuristic: "
        "anomalies can cancel out.",
        "the status count, the recount or the range size, and the per-IP delta list.",
        "Read the other findings for this subnet: they name the causes in the delta list.",
        False,
    ),
    CheckSpec(
        "restore-hazard", "C16", "info",
        "An owner that the controller will not restore correctly at its next leader start.",
        "InitIPAM skips or half-restores some owners: IPv6 of dual-stack Vips/EIPs, IPv6-only "
        "Vips/EIPs, OvnEips with an empty spec.externalSubnet, multicast-querier IPs, "
        "ip_reserved IP CRs without a pod, owners whose MAC collides with another's, pods "
        "whose subnet no longer resolves. A restart turns each into a duplicate-address risk.",
        "the owner and which restore gap applies.",
        "Review before any controller restart (eipfsck repair shows these first). Where "
        "possible fix the cause first, e.g. set spec.externalSubnet on the EIP.",
        False,
    ),
    CheckSpec(
        "subnet-ref-invalid", "C17", "warning",
        "An object references a subnet that does not exist.",
        "The allocator cannot restore an owner whose subnet is missing (ErrNoSubnet).",
        "the object, the field and the subnet name.",
        "Fix the reference, or delete the object if it is stale.",
        False,
    ),
    CheckSpec(
        "lsp-eip-not-node", "C18", "warning",
        "An lsp-type OvnEip is not named after a node.",
        "Kube-OVN's periodic port GC keeps lsp-type EIP ports only when the EIP is named after "
        "a Node; it deletes this one's port while the EIP and its allocation remain.",
        "the EIP and the node names.",
        "Re-create the EIP with the name of the gateway node, or use type nat/lrp.",
        False,
    ),
    CheckSpec(
        "dataplane-residue", "C19", "warning",
        "An EIP address is left on a NAT gateway pod's interface.",
        "After an IptablesEIP is deleted the gateway pod may keep the address on net1.",
        "the gateway pod and the address on net1.",
        "Remove the address inside the gateway pod, or restart the gateway.",
        False, needs="exec", implemented=False,
    ),
    CheckSpec(
        "malformed-object", "-", "warning",
        "An object could not be read and was skipped: the result is inconclusive.",
        "The object lacks a name or has labels, annotations, spec or addresses of the wrong "
        "type. Skipping it could hide an owner, so the scan exits with the inconclusive bit "
        "and repair refuses to act.",
        "the file, the object and the field.",
        "Fix or re-capture the object; if it is really malformed in the cluster, fix it there.",
        False,
    ),
)

BY_ID: dict[str, CheckSpec] = {c.id: c for c in CATALOGUE}


def resolve_ids(ids: list[str]) -> list[str]:
    """Validate user-given ids (case-insensitive); an unknown id is a usage error."""
    out = []
    for raw in ids:
        for part in raw.split(","):
            cid = part.strip().lower()
            if not cid:
                continue
            if cid not in BY_ID:
                raise UsageError(f"unknown check id {part.strip()!r}",
                                 hint="eipfsck checks lists the ids")
            out.append(cid)
    return out
