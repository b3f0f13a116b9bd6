"""The tier policy compiler: plan + policy state + time -> OpenFlow rules and meters.

Pure: no Ryu import, no clock (the caller passes `now_s`), no I/O. Every decision the national
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

The second half of this module validates live change requests (the REST API): pure functions
that take the current state and a request body and return the new state or raise RequestError
naming the field. Nothing here sends anything.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field, replace

from hermitnet.pipeline import CLASSIFY, FORWARD, METADATA_MASK, POLICY, verify
from hermitnet.plan import ZONE_PREFIXES, Plan
from hermitnet.scenario import BlockEntry

IPV4 = 0x0800
ZONE_ORDER = tuple(ZONE_PREFIXES)
ZONE_CLASS_BASE = 0x80

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
}
DECISION_NAMES = {code: name for name, code in DECISIONS.items()}


def cookie(decision: str, class_id: int = 0, detail: int = 0) -> int:
    return (DECISIONS[decision] << 56) | (class_id << 48) | (detail & 0xFFFFFFFF)


def decode_cookie(value: int) -> tuple[str, int, int]:
    """cookie -> (decision, class id, detail)."""
    return DECISION_NAMES.get(value >> 56, "unknown"), (value >> 48) & 0xFF, value & 0xFFFFFFFF


@dataclass(frozen=True)
class PolicyState:
    """What the policy says now; the part an operator may change during a run."""

    tier_zones: dict[str, tuple[str, ...]]
    tier_rate_mbps: dict[str, float | None]
    membership: dict[str, str]             # subscriber -> tier
    blocklist: tuple[BlockEntry, ...] = ()

    @classmethod
    def from_scenario(cls, scenario) -> PolicyState:
        return cls(
            tier_zones={t.name: t.zones for t in scenario.tiers.values()},
            tier_rate_mbps={t.name: t.rate_mbps for t in scenario.tiers.values()},
            membership={s.name: s.tier for s in scenario.subscribers},
            blocklist=scenario.blocklist,
        )

    def edges_s(self) -> list[float]:
        """Times at which a blocklist window opens or closes."""
        times = {t for b in self.blocklist for t in (b.from_s, b.until_s) if t is not None}
        return sorted(times)

    def with_changes(self, **changes) -> PolicyState:
        return replace(self, **changes)


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


def class_names(plan: Plan) -> dict[int, str]:
    names = {tier_class(plan, t): t for t in plan.tier_index}
    names.update({zone_class(z): f"zone:{z}" for z in ZONE_ORDER})
    return names


def subscriber_meter_id(plan: Plan, subscriber: str) -> int:
    """A meter id per subscriber, unique in the plan (1-based position among its hosts)."""
    return 1 + next(i for i, h in enumerate(plan.hosts) if h.name == subscriber)


BURST_S = 0.5


def meter_burst_kbit(rate_kbps: int) -> int:
    """BURST_S at the rate (at least 64 kbit): small bursts starve TCP under a policer."""
    return max(64, int(rate_kbps * BURST_S))


def compile_policy(plan: Plan, state: PolicyState, now_s: float = 0.0) -> Compiled:
    rules: list[Rule] = []
    meters: list[Meter] = []
    blocked_sites = {b.site for b in state.blocklist if b.active(now_s)}
    hosts = {h.name: h for h in plan.hosts}
    for switch in (s for s in plan.switches if s.controlled):
        switch_meters = _meters(plan, state, switch.name)
        meters.extend(switch_meters.values())
        rules.extend(_classify(plan, state, switch.name, switch_meters))
        rules.extend(_policy(plan, state, switch.name, blocked_sites, hosts))
        rules.extend(_forward(plan, switch.name))
    for rule in rules:
        verify(rule)
    return Compiled(tuple(rules), tuple(meters))


def _meters(plan: Plan, state: PolicyState, switch: str) -> dict[str, Meter]:
    """{subscriber: its meter} for the subscribers on `switch` whose tier has a rate."""
    meters = {}
    for host in plan.hosts_on(switch):
        if host.kind == "server":
            continue
        tier = state.membership[host.name]
        rate = state.tier_rate_mbps.get(tier)
        if rate:
            rate_kbps = max(1, int(round(rate * 1000)))
            meters[host.name] = Meter(switch, subscriber_meter_id(plan, host.name), rate_kbps,
                                      meter_burst_kbit(rate_kbps), tier, host.name)
    return meters


def _classify(plan: Plan, state: PolicyState, switch: str, meters: dict[str, Meter]):
    def rule(priority, match, decision, class_id=0, **kw):
        return Rule(switch, CLASSIFY, priority, tuple(match), cookie(decision, class_id), **kw)

    for host in plan.hosts_on(switch):
        if host.kind == "server":
            class_id = zone_class(host.zone)
            meter = None
            note = f"{host.name}: zone {host.zone}"
        else:
            tier = state.membership[host.name]
            class_id = tier_class(plan, tier)
            meter = meters[host.name].meter_id if host.name in meters else None
            note = f"{host.name}: tier {tier}"
        yield rule(100, [("in_port", host.port), ("eth_type", IPV4), ("ipv4_src", host.ip)],
                   "classify", class_id, goto=POLICY, metadata=class_id, meter=meter, note=note)
        yield rule(90, [("in_port", host.port), ("eth_type", IPV4)], "spoofed", class_id,
                   note=f"{host.name}: any other IPv4 source is spoofed")
    for port, neighbour in plan.trunk_ports(switch).items():
        neighbour_plan = plan.switch(neighbour)
        if neighbour_plan.controlled:
            yield rule(80, [("in_port", port)], "trunk", goto=FORWARD,
                       note=f"from {neighbour}: classified at its ingress")
        else:
            # The uplink: traffic from beyond the border is classified by source zone here.
            zone = "global"
            yield rule(100, [("in_port", port), ("eth_type", IPV4),
                             ("ipv4_src", _prefix(ZONE_PREFIXES[zone]))],
                       "classify", zone_class(zone), goto=POLICY, metadata=zone_class(zone),
                       lease=True, note=f"from {neighbour}: zone {zone}")
            yield rule(90, [("in_port", port), ("eth_type", IPV4)], "spoofed", zone_class(zone),
                       note=f"from {neighbour}: source outside the {zone} zone")
    yield rule(0, [], "miss", note="unknown port or not IPv4")


def _policy(plan: Plan, state: PolicyState, switch: str, blocked_sites: set[str], hosts: dict):
    def rule(priority, match, decision, class_id, **kw):
        the_cookie = cookie(decision, class_id, kw.pop("detail", 0))
        return Rule(switch, POLICY, priority, tuple(match), the_cookie, **kw)

    site_index = {h.name: i for i, h in enumerate(h for h in plan.hosts if h.kind == "server")}
    for tier in plan.tier_index:
        class_id = tier_class(plan, tier)
        meta = ("metadata", (class_id, METADATA_MASK))
        for site in sorted(blocked_sites):
            yield rule(300, [meta, ("eth_type", IPV4), ("ipv4_dst", hosts[site].ip)], "blocked",
                       class_id, detail=site_index[site], note=f"{tier} -> {site}: blocklist")
        for zone in state.tier_zones[tier]:
            yield rule(200, [meta, ("eth_type", IPV4), ("ipv4_dst", _prefix(ZONE_PREFIXES[zone]))],
                       "allow", class_id, goto=FORWARD, note=f"{tier} -> zone {zone}")
        yield rule(10, [meta], "denied", class_id, note=f"{tier}: anything else")
    for zone in ZONE_ORDER:
        class_id = zone_class(zone)
        meta = ("metadata", (class_id, METADATA_MASK))
        for host in plan.hosts:
            if host.kind != "server" and zone in state.tier_zones[state.membership[host.name]]:
                yield rule(200, [meta, ("eth_type", IPV4), ("ipv4_dst", host.ip)], "allow",
                           class_id, goto=FORWARD,
                           note=f"zone {zone} -> {host.name} ({state.membership[host.name]})")
        yield rule(10, [meta], "denied", class_id, note=f"zone {zone}: anything else")
    yield rule(0, [], "miss", 0, note="unclassified")


def _forward(plan: Plan, switch: str):
    uplinks = {port for port, neighbour in plan.trunk_ports(switch).items()
               if not plan.switch(neighbour).controlled}
    for host_name, port in sorted(plan.next_hop_ports(switch).items()):
        host = plan.host(host_name)
        yield Rule(switch, FORWARD, 100, (("eth_type", IPV4), ("ipv4_dst", host.ip)),
                   cookie("forward"), output=port, lease=port in uplinks, note=f"-> {host_name}")
    yield Rule(switch, FORWARD, 0, (), cookie("miss"), note="no route")


def _prefix(cidr: str) -> tuple[str, str]:
    network = ipaddress.ip_network(cidr)
    return str(network.network_address), str(network.netmask)


def policy_state_to_dict(state: PolicyState) -> dict:
    return {
        "tier_zones": {t: list(z) for t, z in state.tier_zones.items()},
        "tier_rate_mbps": dict(state.tier_rate_mbps),
        "membership": dict(state.membership),
        "blocklist": [vars(b).copy() for b in state.blocklist],
    }


def policy_state_from_dict(data: dict) -> PolicyState:
    return PolicyState(
        tier_zones={t: tuple(z) for t, z in data["tier_zones"].items()},
        tier_rate_mbps=dict(data["tier_rate_mbps"]),
        membership=dict(data["membership"]),
        blocklist=tuple(BlockEntry(**b) for b in data["blocklist"]),
    )


# -- live changes: request validation (the REST API's logic, without the web layer) -------------

MAX_RATE_MBPS = 10000.0


class RequestError(ValueError):
    """An invalid change request: HTTP status, the offending field and what was expected."""

    def __init__(self, field_name: str, message: str, status: int = 400):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message
        self.status = status

    def to_dict(self) -> dict:
        return {"error": self.message, "field": self.field, "status": self.status}


def parse_body(raw: bytes | str | None) -> dict:
    """A request body -> a JSON object, or RequestError on field 'body'."""
    if raw is None or (isinstance(raw, (bytes, str)) and not raw.strip()):
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError("body", f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RequestError("body", f"expected a JSON object, got {type(data).__name__}")
    return data


def _only(body: dict, allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise RequestError(key, f"unknown field; expected one of: {', '.join(allowed)}")


def _number(body: dict, name: str, *, minimum: float | None = None) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise RequestError(name, f"expected a number of seconds, got {value!r}")
    if minimum is not None and value < minimum:
        raise RequestError(name, f"must be at least {minimum:g}, got {value!r}")
    return float(value)


def site_names(plan: Plan) -> list[str]:
    return [h.name for h in plan.hosts if h.kind == "server"]


def block_site(plan: Plan, state: PolicyState, body: dict, now_s: float) -> PolicyState:
    """Add (or replace) a blocklist entry. body: {site, from_s?, until_s?, for_s?, reason?}.

    Times are seconds since the run started (GET /v1/policy shows `now_s`); `for_s` blocks from
    `from_s` (or now) for that long. An entry for the same site replaces the earlier one.
    """
    _only(body, ("site", "from_s", "until_s", "for_s", "reason"))
    site = body.get("site")
    if not isinstance(site, str) or not site:
        raise RequestError("site", "required: the name of a site")
    if site not in site_names(plan):
        raise RequestError("site", f"unknown site {site!r}; expected one of: "
                                   f"{', '.join(site_names(plan))}", status=404)
    from_s = _number(body, "from_s", minimum=0)
    until_s = _number(body, "until_s", minimum=0)
    for_s = _number(body, "for_s")
    if for_s is not None:
        if until_s is not None:
            raise RequestError("for_s", "give either until_s or for_s, not both")
        if for_s <= 0:
            raise RequestError("for_s", f"must be more than 0, got {for_s:g}")
        until_s = max(from_s if from_s is not None else now_s, now_s) + for_s
    if from_s is not None and until_s is not None and until_s <= from_s:
        raise RequestError("until_s", f"must be later than from_s ({from_s:g}), got {until_s:g}")
    if until_s is not None and until_s <= now_s:
        raise RequestError("until_s", f"already past: the run is at now_s={now_s:.1f}")
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise RequestError("reason", f"expected a string, got {reason!r}")
    entry = BlockEntry(site, from_s, until_s, reason)
    others = tuple(b for b in state.blocklist if b.site != site)
    return state.with_changes(blocklist=(*others, entry))


def unblock_site(plan: Plan, state: PolicyState, site: str) -> PolicyState:
    if site not in site_names(plan):
        raise RequestError("site", f"unknown site {site!r}", status=404)
    if not any(b.site == site for b in state.blocklist):
        raise RequestError("site", f"{site!r} is not on the blocklist", status=404)
    return state.with_changes(blocklist=tuple(b for b in state.blocklist if b.site != site))


def move_subscriber(plan: Plan, state: PolicyState, subscriber: str, body: dict) -> PolicyState:
    """Put a subscriber in another tier. body: {tier}."""
    _only(body, ("tier",))
    if subscriber not in state.membership:
        raise RequestError("subscriber", f"unknown subscriber {subscriber!r}", status=404)
    tier = body.get("tier")
    if not isinstance(tier, str) or not tier:
        raise RequestError("tier", "required: the name of a tier")
    if tier not in state.tier_zones:
        raise RequestError("tier", f"unknown tier {tier!r}; expected one of: "
                                   f"{', '.join(state.tier_zones)}")
    return state.with_changes(membership={**state.membership, subscriber: tier})


def set_tier_rate(plan: Plan, state: PolicyState, tier: str, body: dict) -> PolicyState:
    """Change (or remove, with null) a tier's per-subscriber rate. body: {rate_mbps}."""
    _only(body, ("rate_mbps",))
    if tier not in state.tier_zones:
        raise RequestError("tier", f"unknown tier {tier!r}", status=404)
    if "rate_mbps" not in body:
        raise RequestError("rate_mbps", "required: a number of Mbit/s, or null for no limit")
    rate = body["rate_mbps"]
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate != rate:
            raise RequestError("rate_mbps", f"expected a number of Mbit/s or null, got {rate!r}")
        if not 0.001 <= rate <= MAX_RATE_MBPS:
            raise RequestError("rate_mbps", f"must be between 0.001 and {MAX_RATE_MBPS:g} "
                                            f"Mbit/s, got {rate!r}")
        rate = float(rate)
    return state.with_changes(tier_rate_mbps={**state.tier_rate_mbps, tier: rate})


def policy_view(plan: Plan, state: PolicyState, now_s: float) -> dict:
    """The policy as the API shows it: tiers with members, the blocklist (and what is active)."""
    return {
        "now_s": round(now_s, 3),
        "tiers": tiers_view(plan, state),
        "blocklist": [{**vars(b), "active": b.active(now_s)} for b in state.blocklist],
        "sites": {h.name: {"zone": h.zone, "ip": h.ip} for h in plan.hosts if h.kind == "server"},
    }


def tiers_view(plan: Plan, state: PolicyState) -> dict:
    members: dict[str, list[str]] = {t: [] for t in state.tier_zones}
    for subscriber, tier in state.membership.items():
        members.setdefault(tier, []).append(subscriber)
    addresses = {h.name: h.ip for h in plan.hosts}
    return {
        tier: {"zones": list(zones), "rate_mbps": state.tier_rate_mbps.get(tier),
               "members": [{"name": m, "ip": addresses.get(m)} for m in sorted(members[tier])]}
        for tier, zones in state.tier_zones.items()
    }
