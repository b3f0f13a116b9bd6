"""The tier policy compiler: plan + policy state -> OpenFlow rules and meters.

Pure: no Ryu import, no clock, no I/O. Every decision the national
network makes lives here; the controller app only translates the result into flow and meter mods.

Classes carried in metadata between tables: a tier (subscriber traffic) or a zone (traffic from
servers). Per tier and decision there is a cookie (see `cookie()`), so counters read per tier and
per decision.

Rate limits are per subscriber: each subscriber of a tier with `rate_mbps` gets its own meter on
its ingress switch (meter id = `subscriber_meter_id`), applied to what it sends (upstream).

Fail-secure: the rules that let a packet cross the international uplink (on the border switch:
forwarding out of the uplink and classifying what comes in from it) are *leased*
(`Rule.lease`): the controller installs them with a hard timeout and renews them while it runs.
When the controller is gone the switches keep the rest of the policy (fail_mode=secure), but the
uplink closes when the lease runs out: nothing crosses the border unsupervised.

Several uplinks (scenario.uplinks, parallel border-global links): the active one is the first in
the scenario's order that is not down (`uplinks_down`, which the controller learns from the
border's port status). Allowed traffic leaves over the active uplink, and traffic from beyond
is classified as it arrives on it; what arrives on a standby uplink is dropped ("standby"): the
global zone's learning switch floods frames for addresses it has not learnt over every uplink,
and only one copy may pass. When the active uplink goes down the next one up takes over.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field

from hermitnet.plan import SUBSCRIBER_KINDS, ZONE_PREFIXES, Plan
from hermitnet.policy.pipeline import CLASSIFY, FORWARD, METADATA_MASK, POLICY, verify
from hermitnet.policy.state import PolicyState

IPV4 = 0x0800
ZONE_ORDER = tuple(ZONE_PREFIXES)
ZONE_CLASS_BASE = 0x80
SERVICE_CLASS_BASE = 0x90

# Decisions, the top byte of every cookie.
DECISIONS = {
    "classify": 1,   # table 0: source bound to its class
    "spoofed": 2,    # table 0: source address does not belong to the port's host
    "trunk": 3,      # table 0: from another national switch, already classified at ingress
    "miss": 4,       # any table: nothing matched
    "allow": 5,      # table 1: class may reach the destination
    "blocked": 6,    # table 1: destination site is on the blocklist
    "denied": 7,     # table 1: destination outside what the class may reach
    "forward": 8,    # table 2: output towards the destination
    "standby": 9,    # table 0: arrived on an uplink that is not the active one
}
DECISION_NAMES = {code: name for name, code in DECISIONS.items()}


def cookie(decision: str, class_id: int = 0, detail: int = 0) -> int:
    return (DECISIONS[decision] << 56) | (class_id << 48) | (detail & 0xFFFFFFFF)


def decode_cookie(value: int) -> tuple[str, int, int]:
    """cookie -> (decision, class id, detail)."""
    return DECISION_NAMES.get(value >> 56, "unknown"), (value >> 48) & 0xFF, value & 0xFFFFFFFF


@dataclass(frozen=True)
class Rule:
    switch: str
    table: int
    priority: int
    match: tuple[tuple[str, object], ...]
    cookie: int
    goto: int | None = None
    metadata: int | None = None
    meter: int | None = None
    output: int | None = None
    lease: bool = False    # crosses the uplink: installed with a hard timeout, renewed while alive
    note: str = field(default="", compare=False)

    @property
    def key(self) -> tuple:
        """What identifies a flow entry in a switch: table, priority and match."""
        return (self.table, self.priority, self.match)


@dataclass(frozen=True)
class Meter:
    switch: str
    meter_id: int
    rate_kbps: int
    burst_kbit: int
    tier: str
    subscriber: str = ""


@dataclass(frozen=True)
class Compiled:
    rules: tuple[Rule, ...]
    meters: tuple[Meter, ...]

    def for_switch(self, switch: str) -> tuple[list[Rule], list[Meter]]:
        return ([r for r in self.rules if r.switch == switch],
                [m for m in self.meters if m.switch == switch])


def tier_class(plan: Plan, tier: str) -> int:
    return 1 + plan.tier_index[tier]


def zone_class(zone: str) -> int:
    return ZONE_CLASS_BASE + ZONE_ORDER.index(zone)


def service_class(plan: Plan, name: str) -> int:
    """A class per service host (resolvers, control vantages), in the plan's order."""
    return SERVICE_CLASS_BASE + [h.name for h in plan.services()].index(name)


def class_names(plan: Plan) -> dict[int, str]:
    names = {tier_class(plan, t): t for t in plan.tier_index}
    names.update({zone_class(z): f"zone:{z}" for z in ZONE_ORDER})
    names.update({service_class(plan, h.name): f"service:{h.name}" for h in plan.services()})
    return names


def subscriber_meter_id(plan: Plan, subscriber: str) -> int:
    """A meter id per subscriber, unique in the plan (1-based position among its hosts)."""
    return 1 + next(i for i, h in enumerate(plan.hosts) if h.name == subscriber)


BURST_S = 0.5


def meter_burst_kbit(rate_kbps: int) -> int:
    """BURST_S at the rate (at least 64 kbit): small bursts starve TCP under a policer."""
    return max(64, int(rate_kbps * BURST_S))


TEST_HOLES_ENV = "HERMITNET_TEST_HOLES"


@dataclass(frozen=True)
class PolicyHoles:
    """Deliberate policy holes, for the ground-truth tests of the leakage measurement only.

    Read from the environment variable HERMITNET_TEST_HOLES (JSON), never from a scenario, so a
    normal run cannot open one by accident; a run with holes records them in results.json
    (leakage.test_holes). {"allow": [[tier, host], ...]} adds an allow rule from a tier to one
    host; {"no_antispoofing": [subscriber, ...]} lets those ports keep any subscriber's source
    address (classified as that subscriber's tier); {"uplink_to": [zone, ...]} lets global-zone
    sources across the uplink reach those zones."""

    allow: tuple[tuple[str, str], ...] = ()
    no_antispoofing: tuple[str, ...] = ()
    uplink_to: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> PolicyHoles:
        text = os.environ.get(TEST_HOLES_ENV)
        if not text:
            return cls()
        data = json.loads(text)
        return cls(tuple((t, h) for t, h in data.get("allow", ())),
                   tuple(data.get("no_antispoofing", ())), tuple(data.get("uplink_to", ())))

    def check(self, plan: Plan) -> None:
        """ValueError naming the variable and the name it does not know."""
        hosts = {h.name for h in plan.hosts}
        subscribers = {h.name for h in plan.subscribers()}
        for tier, host in self.allow:
            if tier not in plan.tier_index or host not in hosts:
                raise ValueError(f"{TEST_HOLES_ENV}: allow [{tier!r}, {host!r}]: expected a "
                                 "tier and a host of the scenario")
        for name in self.no_antispoofing:
            if name not in subscribers:
                raise ValueError(f"{TEST_HOLES_ENV}: no_antispoofing: unknown subscriber "
                                 f"{name!r}")
        for zone in self.uplink_to:
            if zone not in ZONE_PREFIXES:
                raise ValueError(f"{TEST_HOLES_ENV}: uplink_to: unknown zone {zone!r}")

    def __bool__(self) -> bool:
        return bool(self.allow or self.no_antispoofing or self.uplink_to)

    def to_dict(self) -> dict:
        return {"allow": [list(pair) for pair in self.allow],
                "no_antispoofing": list(self.no_antispoofing), "uplink_to": list(self.uplink_to)}


def active_uplink(plan: Plan, uplinks_down: frozenset[str] = frozenset()) -> str | None:
    """The uplink allowed traffic leaves over: the first not down (the first if all are)."""
    names = list(plan.uplink_ports())
    return next((n for n in names if n not in uplinks_down), names[0] if names else None)


def compile_policy(plan: Plan, state: PolicyState,
                   uplinks_down: frozenset[str] = frozenset()) -> Compiled:
    holes = PolicyHoles.from_environment()
    holes.check(plan)
    rules: list[Rule] = []
    meters: list[Meter] = []
    hosts = {h.name: h for h in plan.hosts}
    ports = plan.uplink_ports()
    active = active_uplink(plan, uplinks_down)
    uplink = ports[active] if active else None
    standby = {ports[name]: name for name in ports if name != active}
    for switch in (s for s in plan.switches if s.controlled):
        switch_meters = _meters(plan, state, switch.name)
        meters.extend(switch_meters.values())
        rules.extend(_classify(plan, state, switch.name, switch_meters, uplink, standby, holes))
        rules.extend(_policy(plan, state, switch.name, hosts, holes))
        rules.extend(_forward(plan, switch.name, uplink, set(ports.values())))
    for rule in rules:
        verify(rule)
    return Compiled(tuple(rules), tuple(meters))


def _meters(plan: Plan, state: PolicyState, switch: str) -> dict[str, Meter]:
    """{subscriber: its meter} for the subscribers on `switch` whose tier has a rate."""
    meters = {}
    for host in plan.hosts_on(switch):
        if host.kind not in SUBSCRIBER_KINDS:
            continue
        tier = state.membership[host.name]
        rate = state.tier_rate_mbps.get(tier)
        if rate:
            rate_kbps = max(1, int(round(rate * 1000)))
            meters[host.name] = Meter(switch, subscriber_meter_id(plan, host.name), rate_kbps,
                                      meter_burst_kbit(rate_kbps), tier, host.name)
    return meters


def _classify(plan: Plan, state: PolicyState, switch: str, meters: dict[str, Meter],
              uplink: tuple[str, int] | None, standby: dict[tuple[str, int], str],
              holes: PolicyHoles):
    def rule(priority, match, decision, class_id=0, **kw):
        return Rule(switch, CLASSIFY, priority, tuple(match), cookie(decision, class_id), **kw)

    for host in plan.hosts_on(switch):
        if host.kind == "server":
            class_id = zone_class(host.zone)
            meter = None
            note = f"{host.name}: zone {host.zone}"
        elif host.kind not in SUBSCRIBER_KINDS:
            class_id = service_class(plan, host.name)
            meter = None
            note = f"{host.name}: service"
        else:
            tier = state.membership[host.name]
            class_id = tier_class(plan, tier)
            meter = meters[host.name].meter_id if host.name in meters else None
            note = f"{host.name}: tier {tier}"
        yield rule(100, [("in_port", host.port), ("eth_type", IPV4), ("ipv4_src", host.ip)],
                   "classify", class_id, goto=POLICY, metadata=class_id, meter=meter, note=note)
        if host.name in holes.no_antispoofing:
            for other in (h for h in plan.subscribers() if h is not host):
                other_class = tier_class(plan, state.membership[other.name])
                yield rule(95, [("in_port", host.port), ("eth_type", IPV4),
                                ("ipv4_src", other.ip)], "classify", other_class, goto=POLICY,
                           metadata=other_class, meter=meter,
                           note=f"{host.name}: TEST HOLE, source {other.name} kept")
        yield rule(90, [("in_port", host.port), ("eth_type", IPV4)], "spoofed", class_id,
                   note=f"{host.name}: any other IPv4 source is spoofed")
    for port, neighbour in plan.trunk_ports(switch).items():
        if (switch, port) in standby:
            yield rule(100, [("in_port", port)], "standby",
                       note=f"from {neighbour} over uplink {standby[switch, port]}: standby")
        elif (switch, port) != uplink:
            yield rule(80, [("in_port", port)], "trunk", goto=FORWARD,
                       note=f"from {neighbour}: classified at its ingress")
        else:
            # The uplink: traffic from beyond the border is classified by source zone here,
            # the foreign resolver (the national resolver's upstream) by its address.
            zone = "global"
            if _has(plan, "dns-foreign"):
                upstream = plan.host("dns-foreign")
                class_id = service_class(plan, upstream.name)
                yield rule(110, [("in_port", port), ("eth_type", IPV4),
                                 ("ipv4_src", upstream.ip)], "classify", class_id,
                           goto=POLICY, metadata=class_id, lease=True,
                           note=f"from {neighbour}: {upstream.name}")
            yield rule(100, [("in_port", port), ("eth_type", IPV4),
                             ("ipv4_src", _prefix(ZONE_PREFIXES[zone]))],
                       "classify", zone_class(zone), goto=POLICY, metadata=zone_class(zone),
                       lease=True, note=f"from {neighbour}: zone {zone}")
            yield rule(90, [("in_port", port), ("eth_type", IPV4)], "spoofed", zone_class(zone),
                       note=f"from {neighbour}: source outside the {zone} zone")
    yield rule(0, [], "miss", note="unknown port or not IPv4")


def _policy(plan: Plan, state: PolicyState, switch: str, hosts: dict, holes: PolicyHoles):
    def rule(priority, match, decision, class_id, **kw):
        the_cookie = cookie(decision, class_id, kw.pop("detail", 0))
        return Rule(switch, POLICY, priority, tuple(match), the_cookie, **kw)

    site_index = {h.name: i for i, h in enumerate(h for h in plan.hosts if h.kind == "server")}
    for tier in plan.tier_index:
        class_id = tier_class(plan, tier)
        meta = ("metadata", (class_id, METADATA_MASK))
        for site in sorted(state.blocked_for(tier)):
            yield rule(300, [meta, ("eth_type", IPV4), ("ipv4_dst", hosts[site].ip)], "blocked",
                       class_id, detail=site_index[site], note=f"{tier} -> {site}: blocklist")
        for hole_tier, target in holes.allow:
            if hole_tier == tier:
                yield rule(250, [meta, ("eth_type", IPV4), ("ipv4_dst", hosts[target].ip)],
                           "allow", class_id, goto=FORWARD, note=f"{tier} -> {target}: TEST HOLE")
        for zone in state.tier_zones[tier]:
            yield rule(200, [meta, ("eth_type", IPV4), ("ipv4_dst", _prefix(ZONE_PREFIXES[zone]))],
                       "allow", class_id, goto=FORWARD, note=f"{tier} -> zone {zone}")
        resolver = state.resolver_for(tier)
        for service in (h for h in plan.services() if h.zone != "global"):
            match = [meta, ("eth_type", IPV4), ("ipv4_dst", service.ip)]
            if service.name == resolver:
                yield rule(270, match, "allow", class_id, goto=FORWARD,
                           note=f"{tier} -> {resolver}: its resolver")
            else:
                yield rule(260, match, "denied", class_id,
                           note=f"{tier} -> {service.name}: not a service of this tier")
        yield rule(10, [meta], "denied", class_id, note=f"{tier}: anything else")
    for service in plan.services():
        class_id = service_class(plan, service.name)
        meta = ("metadata", (class_id, METADATA_MASK))
        for target, why in _service_reach(plan, state, service.name):
            dst = ("ipv4_dst", _prefix(target) if "/" in target else target)
            yield rule(200, [meta, ("eth_type", IPV4), dst], "allow", class_id, goto=FORWARD,
                       note=f"{service.name} -> {why}")
        yield rule(10, [meta], "denied", class_id, note=f"{service.name}: anything else")
    for zone in ZONE_ORDER:
        class_id = zone_class(zone)
        meta = ("metadata", (class_id, METADATA_MASK))
        for target in _services_reached_by_zone(plan, zone):
            yield rule(200, [meta, ("eth_type", IPV4), ("ipv4_dst", target.ip)], "allow",
                       class_id, goto=FORWARD, note=f"zone {zone} -> {target.name}")
        for host in plan.subscribers():
            if zone in state.tier_zones[state.membership[host.name]]:
                yield rule(200, [meta, ("eth_type", IPV4), ("ipv4_dst", host.ip)], "allow",
                           class_id, goto=FORWARD,
                           note=f"zone {zone} -> {host.name} ({state.membership[host.name]})")
        for target in (holes.uplink_to if zone == "global" else ()):
            dst = ("ipv4_dst", _prefix(ZONE_PREFIXES[target]))
            yield rule(200, [meta, ("eth_type", IPV4), dst], "allow", class_id, goto=FORWARD,
                       note=f"zone global -> {target}: TEST HOLE")
        yield rule(10, [meta], "denied", class_id, note=f"zone {zone}: anything else")
    yield rule(0, [], "miss", 0, note="unclassified")


def _has(plan: Plan, name: str) -> bool:
    return any(h.name == name for h in plan.hosts)


def _service_reach(plan: Plan, state: PolicyState, name: str) -> list[tuple[str, str]]:
    """(address or CIDR prefix, what it is) a service host may send to, in the national
    network's policy (hermitnet.zones.allowed says the same)."""
    if name in ("dns-national", "dns-walled"):
        reach = [(h.ip, h.name) for h in plan.subscribers()
                 if h.switch != "foreign" and state.resolver_for(state.membership[h.name]) == name]
        if _has(plan, "control-national"):
            reach.append((plan.host("control-national").ip, "control-national"))
        if name == "dns-national" and _has(plan, "dns-foreign"):
            reach.append((plan.host("dns-foreign").ip, "dns-foreign: its upstream"))
        return reach
    if name == "control-national":
        return [(ZONE_PREFIXES[z], f"zone {z}") for z in ("intranet", "national")]
    if name == "dns-foreign":
        # a global-zone host as any other (it is classified apart only for the line below)
        reach = [(h.ip, f"{h.name} ({state.membership[h.name]})") for h in plan.subscribers()
                 if "global" in state.tier_zones[state.membership[h.name]]]
        if _has(plan, "dns-national"):
            reach.append((plan.host("dns-national").ip, "dns-national: answers"))
        return reach
    return []


def _services_reached_by_zone(plan: Plan, zone: str) -> list:
    """Service hosts a zone's sources may reach: the national control vantage, from the sites
    of the national zones it measures."""
    if zone in ("intranet", "national") and _has(plan, "control-national"):
        return [plan.host("control-national")]
    return []


def _forward(plan: Plan, switch: str, uplink: tuple[str, int] | None,
             uplink_ports: set[tuple[str, int]]):
    """Towards each host; beyond the border, over the active uplink."""
    for host_name, port in sorted(plan.next_hop_ports(switch).items()):
        host = plan.host(host_name)
        if (switch, port) in uplink_ports:
            port = uplink[1]
        yield Rule(switch, FORWARD, 100, (("eth_type", IPV4), ("ipv4_dst", host.ip)),
                   cookie("forward"), output=port, lease=(switch, port) == uplink,
                   note=f"-> {host_name}")
    yield Rule(switch, FORWARD, 0, (), cookie("miss"), note="no route")


def _prefix(cidr: str) -> tuple[str, str]:
    network = ipaddress.ip_network(cidr)
    return str(network.network_address), str(network.netmask)
