"""Zones of every address, and which crossings between them the tier policy allows.

Pure: a plan and a policy state in, answers out; leakage (hermitnet.results), the probes and the
observers all judge traffic with these functions, so they agree on what is a leak.

Every emulated host is an endpoint with a zone:

    subscriber       a national handset or fixed line, in the subscriber pool 100.64.0.0/10;
                     its zone is "subscriber" and what it may reach is its tier's zones
    foreign-handset  a smuggled handset on a foreign operator's cell, 198.19.0.0/16: a source
                     in the global zone, owned by a subscriber of a tier
    site             a server in its site's zone (intranet, national or global)

and an address that is no host's belongs to the zone of the prefix it falls in ("unlisted").

The allowed relation, in both directions (`allowed(src, dst)`):

    subscriber of tier T -> site or unlisted address of zone Z    Z in T's zones
    subscriber            -> another subscriber                     never
    subscriber of tier T -> foreign handset (global zone)          global in T's zones
    site of zone Z        -> subscriber of tier T                  Z in T's zones (replies, push)
    site of zone Z        -> site of another zone                  never (zones reach only
                                                                   subscribers)
    global-zone source    -> foreign handset, global site           always (no crossing)
    foreign handset of T  -> global site or address                global in T's zones: its owner
                                                                   crossed onto a foreign cell
    foreign handset       -> national host (across the uplink)     as any global-zone source

Service hosts (hermitnet.plan.SERVICES) on the global side are global-zone hosts like its sites.
The national ones are reached only as the policy lets them be (both directions):

    subscriber of tier T <-> the national resolver T is handed (dns-national or dns-walled)
    dns-national         <-> dns-foreign (its upstream, across the uplink)
    control-national     <-> the national resolvers, and sites or addresses of the intranet
                             and national zones (it measures them unfiltered)

`path(src, dst)` names the crossing: "foreign-cell" between a foreign handset and the global
zone (over its foreign cell), "uplink" for anything between the global zone and the national
network, "internal" for crossings inside the national network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hermitnet.plan import SERVICE_KINDS, SUBSCRIBER_POOL, ZONE_PREFIXES

FOREIGN_HANDSETS = "198.19.0.0/16"
PATHS = ("uplink", "internal", "foreign-cell", "spoofed-source", "tunnel", "ipv6")
NATIONAL_ZONES = ("subscriber", "intranet", "national")


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str            # subscriber | foreign-handset | site | unlisted
    zone: str            # subscriber | intranet | national | global
    tier: str | None     # subscribers and foreign handsets (the owner's tier)
    ip: str

    @property
    def sender_class(self) -> str:
        """The class its traffic is booked under: a tier, "service:NAME" for a service host,
        or "zone:Z" for a site."""
        if self.kind == "service":
            return f"service:{self.name}"
        return self.tier if self.tier is not None else f"zone:{self.zone}"


def zone_of_address(ip: str) -> str | None:
    """The zone an address belongs to by prefix alone; None outside every emulated range."""
    address = ipaddress.ip_address(ip)
    if address in ipaddress.ip_network(SUBSCRIBER_POOL):
        return "subscriber"
    for zone, prefix in ZONE_PREFIXES.items():
        if address in ipaddress.ip_network(prefix):
            return zone
    return None


def endpoints(plan, state) -> dict[str, Endpoint]:
    """{host name: Endpoint} for every host of the plan."""
    found = {}
    for host in plan.hosts:
        if host.kind == "server":
            found[host.name] = Endpoint(host.name, "site", host.zone, None, host.ip)
        elif host.kind in SERVICE_KINDS:
            found[host.name] = Endpoint(host.name, "service", host.zone, None, host.ip)
        elif host.switch == "foreign":
            found[host.name] = Endpoint(host.name, "foreign-handset", "global",
                                        state.membership[host.name], host.ip)
        else:
            found[host.name] = Endpoint(host.name, "subscriber", "subscriber",
                                        state.membership[host.name], host.ip)
    return found


def unlisted(ip: str) -> Endpoint:
    """An address that is no host's: an endpoint of the zone its prefix belongs to."""
    zone = zone_of_address(ip) or "global"
    return Endpoint(f"unlisted:{ip}", "unlisted", zone, None, ip)


def allowed(src: Endpoint, dst: Endpoint, state) -> bool:
    """May traffic from `src` arrive at `dst` under the tier policy (see the module doc)?"""
    national = {e.name: e for e in (src, dst) if e.kind == "service" and e.zone != "global"}
    if national:
        return _service_allowed(src, dst, national, state)
    if src.kind == "foreign-handset" and dst.zone == "global":
        return dst.kind == "foreign-handset" or "global" in state.tier_zones[src.tier]
    if src.zone == dst.zone and src.zone != "subscriber":
        return True
    if src.kind == "subscriber":
        if dst.zone == "subscriber":
            return False
        return dst.zone in state.tier_zones[src.tier]
    # a zone's source: a site, an unlisted address, or a foreign handset as a global source
    if dst.zone == "subscriber":
        return dst.tier is not None and src.zone in state.tier_zones[dst.tier]
    return False


NATIONAL_RESOLVERS = ("dns-national", "dns-walled")


def _service_allowed(src: Endpoint, dst: Endpoint, national: dict, state) -> bool:
    """Crossings with a national service host, in both directions (the module doc)."""
    other = dst if src.name in national else src
    if other.kind == "service" and other.zone != "global":
        return set(national) in ({"control-national", r} for r in NATIONAL_RESOLVERS)
    service = next(iter(national))
    if service in NATIONAL_RESOLVERS:
        if other.kind == "subscriber":
            return state.resolver_for(other.tier) == service
        return service == "dns-national" and other.name == "dns-foreign"
    return other.kind in ("site", "unlisted") and other.zone in ("intranet", "national")


def path(src: Endpoint, dst: Endpoint) -> str:
    """The crossing traffic from `src` to `dst` takes: foreign-cell, uplink or internal."""
    ends = {src.kind: src, dst.kind: dst}
    if "foreign-handset" in ends and src.zone == dst.zone == "global":
        return "foreign-cell"
    if (src.zone == "global") != (dst.zone == "global"):
        return "uplink"
    return "internal"
