"""OVN northbound tables as `ovn-nbctl --format=json list <Table>` prints them.

Headings and the empty value of every column were copied from ovn-nbctl 23.03.1 (NB schema
7.0.0) run against a real ovsdb-server: cells follow RFC 7047, a one-element set is printed as
its bare atom, maps are sorted by key. Generating 30,000 rows through ovn-nbctl would take
minutes, so the same shapes are produced here directly.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from typing import Any

from .ipspace import ip_str
from .plan import Cluster, Subnet

Cell = Any
Row = dict[str, Cell]
E_SET: Cell = ["set", []]
E_MAP: Cell = ["map", []]

# column -> empty value, in heading order (_uuid first, then alphabetical, as ovn-nbctl prints)
TABLES: dict[str, dict[str, Cell]] = {
    "Logical_Switch": {
        "acls": E_SET, "copp": E_SET, "dns_records": E_SET, "external_ids": E_MAP,
        "forwarding_groups": E_SET, "load_balancer": E_SET, "load_balancer_group": E_SET,
        "name": "", "other_config": E_MAP, "ports": E_SET, "qos_rules": E_SET},
    "Logical_Switch_Port": {
        "addresses": E_SET, "dhcpv4_options": E_SET, "dhcpv6_options": E_SET,
        "dynamic_addresses": E_SET, "enabled": E_SET, "external_ids": E_MAP,
        "ha_chassis_group": E_SET, "mirror_rules": E_SET, "name": "", "options": E_MAP,
        "parent_name": E_SET, "port_security": E_SET, "tag": E_SET, "tag_request": E_SET,
        "type": "", "up": E_SET},
    "Logical_Router": {
        "copp": E_SET, "enabled": E_SET, "external_ids": E_MAP, "load_balancer": E_SET,
        "load_balancer_group": E_SET, "name": "", "nat": E_SET, "options": E_MAP,
        "policies": E_SET, "ports": E_SET, "static_routes": E_SET},
    "Logical_Router_Port": {
        "enabled": E_SET, "external_ids": E_MAP, "gateway_chassis": E_SET,
        "ha_chassis_group": E_SET, "ipv6_prefix": E_SET, "ipv6_ra_configs": E_MAP, "mac": "",
        "name": "", "networks": E_SET, "options": E_MAP, "peer": E_SET},
    "NAT": {
        "allowed_ext_ips": E_SET, "exempted_ext_ips": E_SET, "external_ids": E_MAP,
        "external_ip": "", "external_mac": E_SET, "external_port_range": "",
        "gateway_port": E_SET, "logical_ip": "", "logical_port": E_SET, "options": E_MAP,
        "type": ""},
    "Load_Balancer": {
        "external_ids": E_MAP, "health_check": E_SET, "ip_port_mappings": E_MAP, "name": "",
        "options": E_MAP, "protocol": E_SET, "selection_fields": E_SET, "vips": E_MAP},
    "NB_Global": {
        "connections": E_SET, "external_ids": E_MAP, "hv_cfg": 0, "hv_cfg_timestamp": 0,
        "ipsec": False, "name": "", "nb_cfg": 0, "nb_cfg_timestamp": 0, "options": E_MAP,
        "sb_cfg": 0, "sb_cfg_timestamp": 0, "ssl": E_SET},
}
KO = {"vendor": "kube-ovn"}


def uuid_cell(u: str) -> Cell:
    return ["uuid", u]


def set_cell(atoms: list[Any]) -> Cell:
    """RFC 7047 set, sorted like ovsdb does; one element is printed as the bare atom."""
    key = (lambda a: a[1]) if atoms and isinstance(atoms[0], list) else (lambda a: a)
    ordered = sorted(atoms, key=key)
    return ordered[0] if len(ordered) == 1 else ["set", ordered]


def map_cell(d: dict[str, str]) -> Cell:
    return ["map", [[k, d[k]] for k in sorted(d)]]


class Tables:
    """Row builders for every table; rows keep their columns in heading order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: dict[str, list[list[Cell]]] = {t: [] for t in TABLES}

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, table: str, **cols: Cell) -> str:
        row_uuid = self.uuid()
        defaults = TABLES[table]
        unknown = set(cols) - set(defaults)
        if unknown:
            raise KeyError(f"{table}: no column {sorted(unknown)}")
        self.rows[table].append([uuid_cell(row_uuid)]
                                + [cols.get(col, empty) for col, empty in defaults.items()])
        return row_uuid

    def document(self, table: str) -> dict[str, Any]:
        # ovn-nbctl prints "data" before "headings"
        return {"data": self.rows[table], "headings": ["_uuid", *TABLES[table]]}


def lsp(t: Tables, name: str, ls: str, addresses: str, *, type_: str = "",
        options: dict[str, str] | None = None, pod: str = "", tag: int | None = None,
        up: bool = True) -> str:
    ext = {"ls": ls, **KO}
    if pod:
        ext["pod"] = pod
    cols: Row = {"name": name, "addresses": addresses, "external_ids": map_cell(ext),
                 "type": type_, "options": map_cell(options or {})}
    if tag is not None:
        cols["tag"] = tag
    if up:
        cols["up"] = True
    return t.add("Logical_Switch_Port", **cols)


def lrp(t: Tables, name: str, lr: str, mac: str, networks: list[str]) -> str:
    return t.add("Logical_Router_Port", name=name, mac=mac, networks=set_cell(networks),
                 external_ids=map_cell({"lr": lr, **KO}))


def gateway_networks(s: Subnet) -> list[str]:
    return [f"{ip_str(f.gateway, f.version)}/{f.prefix}" for f in s.families]


def build_nb(c: Cluster) -> Tables:
    t = Tables(random.Random(c.opts.seed * 7919 + 1))
    ls_ports: dict[str, list[str]] = defaultdict(list)
    lr_ports: dict[str, list[str]] = defaultdict(list)
    lr_nat: dict[str, list[str]] = defaultdict(list)
    ls_lbs: dict[str, list[str]] = {}

    for p in c.pods:
        ips = " ".join(ip_str(v, ver) for v, ver in ((p.v4, 4), (p.v6, 6)) if v is not None)
        ls_ports[p.subnet.name].append(lsp(t, p.port_name, p.subnet.name, f"{p.mac} {ips}",
                                           pod=f"{p.namespace}/{p.name}"))
    for n in c.nodes:
        # bare LSP: no pod key (CreateBareLogicalSwitchPort)
        ls_ports["join"].append(lsp(t, f"node-{n.name}", "join",
                                    f"{n.join_mac} {ip_str(n.join_ip, 4)}"))
    for s in c.subnets:
        if s.role == "external":
            # underlay external network: a localnet port and no gateway router port
            ls_ports[s.name].append(lsp(t, f"localnet.{s.name}", s.name, "unknown",
                                        type_="localnet", tag=s.vlan_tag, up=False,
                                        options={"network_name": "pn-external"}))
            continue
        peer = f"{s.vpc}-{s.name}"
        ls_ports[s.name].append(lsp(t, f"{s.name}-{s.vpc}", s.name, "router", type_="router",
                                    options={"router-port": peer}))
        lr_ports[s.vpc].append(lrp(t, peer, s.vpc, s.lrp_mac, gateway_networks(s)))
    for e in c.eips:
        if e.type != "lrp" or e.vpc is None:
            continue
        ext = e.subnet
        assert ext.v4 is not None
        ls_ports[ext.name].append(lsp(t, f"{ext.name}-{e.vpc.name}", ext.name, "router",
                                      type_="router", options={"router-port": e.name}))
        lr_ports[e.vpc.name].append(lrp(t, e.name, e.vpc.name, e.mac,
                                        [f"{ip_str(e.v4, 4)}/{ext.v4.prefix}"]))
    for f in c.fips:
        assert f.pod.v4 is not None
        lr_nat[f.vpc.name].append(t.add(
            "NAT", type="dnat_and_snat", external_ip=ip_str(f.eip.v4, 4),
            logical_ip=ip_str(f.pod.v4, 4), logical_port=f.pod.port_name,
            external_mac=f.pod.mac, options=map_cell({"stateless": "false"})))
    for r in c.snats:
        assert r.subnet.v4 is not None
        lr_nat[r.vpc.name].append(t.add(
            "NAT", type="snat", external_ip=ip_str(r.eip.v4, 4), logical_ip=r.subnet.v4.cidr,
            options=map_cell({"stateless": "false"})))
    for v in c.vpcs:
        lbs = []
        for name in v.lb_names:
            proto = next(p for p in ("tcp", "udp", "sctp") if f"-{p}-" in name)
            opts = {"affinity_timeout": "10800"} if "sess" in name else {}
            lbs.append(t.add("Load_Balancer", name=name, protocol=proto,
                             external_ids=map_cell(KO), options=map_cell(opts)))
        for s in v.subnets:
            ls_lbs[s.name] = lbs
        t.add("Logical_Router", name=v.name, ports=set_cell([uuid_cell(u) for u in
                                                            lr_ports[v.name]]),
              nat=set_cell([uuid_cell(u) for u in lr_nat[v.name]]),
              external_ids=map_cell(KO))
    for s in c.subnets:
        t.add("Logical_Switch", name=s.name, external_ids=map_cell(KO),
              ports=set_cell([uuid_cell(u) for u in ls_ports[s.name]]),
              load_balancer=set_cell([uuid_cell(u) for u in ls_lbs.get(s.name, [])]))
    t.add("NB_Global", external_ids=map_cell({"kube-ovn-version": "v1.16.2"}),
          options=map_cell({"mac_prefix": "4e:2b:91", "max_tunid": "16711680",
                            "northd_internal_version": "23.03.1-20.27.0-70.6",
                            "svc_monitor_mac": "7e:8f:5a:3c:11:02"}),
          nb_cfg=42, sb_cfg=42, hv_cfg=42)
    for rows in t.rows.values():
        # ovn-nbctl lists rows in hash order: never rely on rows of one switch being adjacent
        t.rng.shuffle(rows)
    return t
