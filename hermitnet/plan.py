"""Scenario -> topology plan: every switch, host, port, address and link of the emulation.

Pure and deterministic: the same scenario and run tag always give the same plan, so the run,
the controller and the tests all agree on names, addresses and port numbers.

Addresses come from reserved ranges only: subscribers 100.64.0.0/10 (mobile 100.64.T.N, fixed-line
100.100.T.N, T = tier index), intranet sites 10.1.0.N, national sites 203.0.113.N, global sites
198.18.0.N, and smuggled foreign handsets 198.19.0.N: on a foreign cell they hold a foreign
operator's address in the global zone (ZONE_PREFIXES).

With a radio section, phones on the map start on the cell the radio model gives them at t = 0:
a national handset behind that NodeB, a foreign handset on the `foreign` switch (the foreign
operator's RAN, outside the national controller, linked to the global zone).

A censor of the scenario on the foreign-cell path sits in that link, a bump in the wire:
foreign <-> censor <-> global, a host that bridges its two ports (port 0 towards the phones,
port 1 towards the global zone) and filters what crosses. It holds one address of its own,
CENSOR_ADDRESSES, where it serves its block page.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import asdict, dataclass, field, replace

from hermitnet.scenario import LinkSpec, Scenario

ZONE_PREFIXES = {
    "intranet": "10.0.0.0/8",
    "national": "203.0.113.0/24",
    "global": "198.18.0.0/15",
}
SUBSCRIBER_POOL = "100.64.0.0/10"
_SITE_BASE = {"intranet": "10.1.0.0", "national": "203.0.113.0", "global": "198.18.0.0"}
_FIRST_HOST = 10
_MAX_PER_BLOCK = 240
# The censor's own address on each path (in the zone it sits in) and its prefix length.
CENSOR_ADDRESSES = {"foreign-cell": ("198.19.255.254", 15)}

SUBSCRIBER_KINDS = ("mobile", "fixed", "foreign-handset")
SERVICE_KINDS = ("resolver", "control")
# The service hosts: (name, kind, switch, address, zone). The national resolvers and the
# national control vantage sit on the intranet switch (10.53.0.0/16 and 10.99.0.0/16, inside
# the intranet prefix but outside its sites' 10.1.0.0/16); the foreign resolver and the global
# control vantage in the global zone; the foreign operator's resolver on its RAN (only when
# there are foreign handsets).
SERVICES = (
    ("dns-national", "resolver", "intranet", "10.53.0.10", "intranet"),  # forwards foreign names
    ("dns-walled", "resolver", "intranet", "10.53.0.11", "intranet"),    # national names only
    ("control-national", "control", "intranet", "10.99.0.10", "intranet"),
    ("dns-foreign", "resolver", "global", "198.18.53.10", "global"),
    ("control-global", "control", "global", "198.18.99.10", "global"),
    ("dns-operator", "resolver", "foreign", "198.19.53.10", "global"),
)


@dataclass(frozen=True)
class SwitchPlan:
    name: str          # logical: nb-<cell>, rnc, core, intranet, fixed, border, global
    node: str          # emulated bridge name (run-prefixed, short)
    dpid: int
    controlled: bool   # False: a standalone learning switch outside the national controller
    role: str          # ran | rnc | core | servers | fixed | border | global


@dataclass(frozen=True)
class HostPlan:
    name: str          # logical (scenario) name
    node: str          # emulated host name (run-prefixed, short)
    kind: str          # mobile | fixed | foreign-handset | server | resolver | control
    tier: str | None   # subscribers
    zone: str | None   # sites and service hosts
    ip: str
    prefix_len: int
    mac: str
    switch: str        # logical switch it attaches to
    port: int          # port number on that switch


@dataclass(frozen=True)
class LinkPlan:
    a: str
    a_port: int
    b: str
    b_port: int
    kind: str          # air | fixed | backhaul | core | uplink | server
    spec: LinkSpec
    name: str = ""     # an uplink's name (scenario.uplinks); empty for other links


@dataclass(frozen=True)
class CensorPlan:
    name: str          # logical (scenario) name
    node: str          # emulated host name (run-prefixed, short)
    path: str          # foreign-cell
    ip: str            # its own address (block page server)
    prefix_len: int
    mac: str
    inside: str        # the switch on its port 0 (towards the phones)
    outside: str       # the switch on its port 1 (towards the sites)


@dataclass(frozen=True)
class Plan:
    run_tag: int
    prefix: str
    switches: tuple[SwitchPlan, ...]
    hosts: tuple[HostPlan, ...]
    links: tuple[LinkPlan, ...]
    tier_index: dict[str, int] = field(default_factory=dict)
    censors: tuple[CensorPlan, ...] = ()
    # The radio state at t = 0 the air links were laid out from ({UE name: Attachment}); in
    # memory only, for the radio timeline's first step: not part of to_dict().
    radio_t0: dict = field(default_factory=dict, compare=False, repr=False)

    def switch(self, name: str) -> SwitchPlan:
        return next(s for s in self.switches if s.name == name)

    def host(self, name: str) -> HostPlan:
        return next(h for h in self.hosts if h.name == name)

    def censor(self, name: str) -> CensorPlan:
        return next(c for c in self.censors if c.name == name)

    def nodes(self) -> dict[str, str]:
        """Logical name -> emulated node name, for every switch, host and censor."""
        return {**{s.name: s.node for s in self.switches}, **{h.name: h.node for h in self.hosts},
                **{c.name: c.node for c in self.censors}}

    def subscribers(self) -> list[HostPlan]:
        """Hosts of subscribers: national handsets, fixed lines and foreign handsets."""
        return [h for h in self.hosts if h.kind in SUBSCRIBER_KINDS]

    def services(self) -> list[HostPlan]:
        """The resolvers and control vantages (SERVICES) this plan has."""
        return [h for h in self.hosts if h.kind in SERVICE_KINDS]

    def hosts_on(self, switch: str) -> list[HostPlan]:
        return [h for h in self.hosts if h.switch == switch]

    def trunk_ports(self, switch: str) -> dict[int, str]:
        """Ports of `switch` that lead to another switch: {port: neighbour switch}. A censor in
        a link is transparent: the port leads to the switch on its other side."""
        switch_names = {s.name for s in self.switches}
        across = {c.name: {c.inside: c.outside, c.outside: c.inside} for c in self.censors}
        ports = {}
        for link in self.links:
            for here, port, there in ((link.a, link.a_port, link.b),
                                      (link.b, link.b_port, link.a)):
                if here != switch:
                    continue
                if there in switch_names:
                    ports[port] = there
                elif there in across:
                    ports[port] = across[there][switch]
        return ports

    def uplink_port(self) -> tuple[str, int] | None:
        """(switch, port) where the national network meets the outside: the port of a controlled
        switch that leads to a switch outside the controller (border -> global), the first
        uplink's; None if none."""
        for switch in (s for s in self.switches if s.controlled):
            for port, neighbour in self.trunk_ports(switch.name).items():
                if not self.switch(neighbour).controlled:
                    return switch.name, port
        return None

    def uplink_ports(self) -> dict[str, tuple[str, int]]:
        """{uplink name: (border switch, its port)}, in the scenario's order of preference."""
        return {link.name: (link.a, link.a_port) for link in self.links if link.kind == "uplink"}

    def next_hop_ports(self, switch: str) -> dict[str, int]:
        """For every host: the port `switch` sends its packets out of (shortest path)."""
        graph: dict[str, list[tuple[str, int]]] = {}
        for link in self.links:
            graph.setdefault(link.a, []).append((link.b, link.a_port))
            graph.setdefault(link.b, []).append((link.a, link.b_port))
        first_port: dict[str, int] = {}
        queue = deque([switch])
        seen = {switch}
        while queue:
            here = queue.popleft()
            for neighbour, port in graph.get(here, []):
                if neighbour in seen:
                    continue
                seen.add(neighbour)
                first_port[neighbour] = port if here == switch else first_port[here]
                queue.append(neighbour)
        return {h.name: first_port[h.name] for h in self.hosts if h.name in first_port}

    def path_links(self, host_a: str, host_b: str) -> list[LinkPlan]:
        """The links on the shortest path between two hosts, in order."""
        graph: dict[str, list[tuple[str, LinkPlan]]] = {}
        for link in self.links:
            graph.setdefault(link.a, []).append((link.b, link))
            graph.setdefault(link.b, []).append((link.a, link))
        previous: dict[str, tuple[str, LinkPlan]] = {}
        queue = deque([host_a])
        seen = {host_a}
        while queue:
            here = queue.popleft()
            for neighbour, link in graph.get(here, []):
                if neighbour not in seen:
                    seen.add(neighbour)
                    previous[neighbour] = (here, link)
                    queue.append(neighbour)
        if host_b not in seen:
            return []
        path = []
        node = host_b
        while node != host_a:
            node, link = previous[node]
            path.append(link)
        return list(reversed(path))

    def to_dict(self) -> dict:
        data = asdict(replace(self, radio_t0={}))
        del data["radio_t0"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        return cls(
            run_tag=data["run_tag"],
            prefix=data["prefix"],
            switches=tuple(SwitchPlan(**s) for s in data["switches"]),
            hosts=tuple(HostPlan(**h) for h in data["hosts"]),
            links=tuple(
                LinkPlan(**{**lk, "spec": LinkSpec(**lk["spec"])}) for lk in data["links"]
            ),
            tier_index=dict(data["tier_index"]),
            censors=tuple(CensorPlan(**c) for c in data.get("censors", [])),
        )


def build(scenario: Scenario, run_tag: int = 0, prefix: str = "hn") -> Plan:
    """Lay out the national network for `scenario`. `prefix` starts every emulated name."""
    if not 0 <= run_tag <= 0xFFFF:
        raise ValueError("run_tag must fit in 16 bits")
    builder = _Builder(run_tag, prefix)
    tier_index = {name: i for i, name in enumerate(scenario.tiers)}

    for role, name in (("core", "core"), ("rnc", "rnc"), ("servers", "intranet"),
                       ("fixed", "fixed"), ("border", "border")):
        builder.switch(name, role, controlled=True)
    builder.switch("global", "global", controlled=False)
    unshaped = LinkSpec()
    for name in ("rnc", "intranet", "fixed", "border"):
        builder.link("core", name, "core", unshaped)
    for uplink in scenario.uplinks:   # parallel border-global links, one per upstream
        builder.link("border", "global", "uplink", uplink.spec, name=uplink.name)
    initial = _initial_attachments(scenario)
    cells = [(c.name, c.backhaul) for c in scenario.cells]
    if scenario.radio is not None:
        backhaul = LinkSpec()
        cells += [(c.name, backhaul) for c in scenario.radio.cells_of_kind("national")]
    for cell_name, backhaul in cells:
        builder.switch(f"nb-{cell_name}", "ran", controlled=True)
        builder.link(f"nb-{cell_name}", "rnc", "backhaul", backhaul)
    if any(s.handset == "foreign" for s in scenario.subscribers):
        builder.switch("foreign", "foreign-ran", controlled=False)
        censor = next((c for c in scenario.censors if c.path == "foreign-cell"), None)
        if censor is None:
            builder.link("foreign", "global", "foreign-backhaul", unshaped)
        else:
            builder.censor(censor.name, "foreign-cell", "foreign", "global")
            builder.link("foreign", censor.name, "foreign-backhaul", unshaped, b_port=0)
            builder.link(censor.name, "global", "censor", unshaped, a_port=1)

    counters: dict[tuple[str, int], int] = {}
    foreign_count = 0
    for sub in scenario.subscribers:
        spec = air_link_spec(sub.link, initial[sub.name]) if sub.radio else sub.link
        if sub.handset == "foreign":
            _check_block(foreign_count, "foreign handsets")
            ip = f"198.19.0.{_FIRST_HOST + foreign_count}"
            foreign_count += 1
            builder.host(sub.name, "foreign-handset", "foreign", ip, 15, tier=sub.tier,
                         link_kind="air", spec=spec)
            continue
        t = tier_index[sub.tier]
        n = counters.get((sub.access, t), 0)
        counters[(sub.access, t)] = n + 1
        _check_block(n, f"subscribers of tier {sub.tier!r} with {sub.access} access")
        second = 64 if sub.access == "mobile" else 100
        ip = f"100.{second}.{t}.{_FIRST_HOST + n}"
        cell = sub.cell
        if sub.radio:
            cell = initial[sub.name].cell or scenario.radio.cells_of_kind("national")[0].name
        switch = f"nb-{cell}" if sub.access == "mobile" else "fixed"
        builder.host(sub.name, sub.access, switch, ip, 32, tier=sub.tier,
                     link_kind="air" if sub.access == "mobile" else "fixed", spec=spec)

    zone_counts: dict[str, int] = {}
    for site in scenario.sites:
        n = zone_counts.get(site.zone, 0)
        zone_counts[site.zone] = n + 1
        _check_block(n, f"sites in zone {site.zone!r}")
        base = ipaddress.ip_address(_SITE_BASE[site.zone])
        ip = str(base + _FIRST_HOST + n)
        switch = "global" if site.zone == "global" else "intranet"
        prefix_len = 15 if site.zone == "global" else 32
        builder.host(site.name, "server", switch, ip, prefix_len, zone=site.zone,
                     link_kind="server", spec=unshaped)

    for name, kind, switch, ip, zone in SERVICES:
        if switch in {sw.name for sw in builder.switches}:
            prefix_len = 32 if zone == "intranet" else 15
            builder.host(name, kind, switch, ip, prefix_len, zone=zone, link_kind="server",
                         spec=unshaped)

    return Plan(run_tag, prefix, tuple(builder.switches), tuple(builder.hosts),
                tuple(builder.links), tier_index, tuple(builder.censors), initial)


# A phone without service keeps a (tiny) HTB rate so its class exists; its loss is 100 %.
MIN_AIR_RATE_MBPS = 0.01


def air_link_spec(base: LinkSpec, attachment) -> LinkSpec:
    """The air link a phone's radio state gives it: its serving cell's rate and loss.

    The one rule from radio state to link settings, for the plan (t = 0) and the timeline (every
    later step). No serving cell: everything is dropped.
    """
    if attachment.cell is None:
        return base.merged({"bw_mbps": MIN_AIR_RATE_MBPS, "loss_pct": 100.0})
    return base.merged({"bw_mbps": max(attachment.rate_mbps, MIN_AIR_RATE_MBPS),
                        "loss_pct": attachment.loss_pct})


def _initial_attachments(scenario: Scenario) -> dict:
    if scenario.radio is None:
        return {}
    from hermitnet import radio

    return radio.evaluate(scenario.radio, 0.0)


def _check_block(n: int, what: str) -> None:
    if n >= _MAX_PER_BLOCK:
        raise ValueError(f"too many {what}: at most {_MAX_PER_BLOCK}")


class _Builder:
    def __init__(self, run_tag: int, prefix: str):
        self.run_tag = run_tag
        self.prefix = prefix
        self.switches: list[SwitchPlan] = []
        self.hosts: list[HostPlan] = []
        self.links: list[LinkPlan] = []
        self.censors: list[CensorPlan] = []
        self.next_port: dict[str, int] = {}

    def switch(self, name: str, role: str, *, controlled: bool) -> None:
        index = len(self.switches) + 1
        dpid = (0x686E << 48) | (self.run_tag << 16) | index
        self.switches.append(SwitchPlan(name, f"{self.prefix}s{index}", dpid, controlled, role))

    def port(self, switch: str) -> int:
        self.next_port[switch] = self.next_port.get(switch, 0) + 1
        return self.next_port[switch]

    def link(self, a: str, b: str, kind: str, spec: LinkSpec, name: str = "", *,
             a_port: int | None = None, b_port: int | None = None) -> None:
        """A link (`name`: an uplink's); a censor end gives its own port number (0 inside,
        1 outside)."""
        a_port = self.port(a) if a_port is None else a_port
        b_port = self.port(b) if b_port is None else b_port
        self.links.append(LinkPlan(a, a_port, b, b_port, kind, spec, name))

    def censor(self, name: str, path: str, inside: str, outside: str) -> None:
        index = len(self.censors) + 1
        mac = f"02:68:6e:{self.run_tag & 0xFF:02x}:ff:{index:02x}"
        ip, prefix_len = CENSOR_ADDRESSES[path]
        self.censors.append(CensorPlan(name, f"{self.prefix}x{index}", path, ip, prefix_len,
                                       mac, inside, outside))

    def host(self, name, kind, switch, ip, prefix_len, *, link_kind, spec, tier=None, zone=None):
        index = len(self.hosts) + 1
        mac = f"02:68:6e:{self.run_tag & 0xFF:02x}:{index >> 8:02x}:{index & 0xFF:02x}"
        port = self.port(switch)
        self.hosts.append(HostPlan(name, f"{self.prefix}h{index}", kind, tier, zone, ip,
                                   prefix_len, mac, switch, port))
        self.links.append(LinkPlan(name, 0, switch, port, link_kind, spec))
