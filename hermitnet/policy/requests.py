"""Live change requests (the REST API's logic, without the web layer).

Pure functions: each takes the plan, the current state and a request, and returns the new state
or raises RequestError naming the offending field, the HTTP status and what was expected.
Nothing here sends anything: the caller compiles the new state and installs it.
"""

from __future__ import annotations

import json

from hermitnet.plan import Plan
from hermitnet.policy.compile import ZONE_ORDER
from hermitnet.policy.state import PolicyState
from hermitnet.policy.views import error_view
from hermitnet.scenario import BlockEntry

MAX_RATE_MBPS = 10000.0


class RequestError(ValueError):
    """An invalid change request: HTTP status, the offending field and what was expected."""

    def __init__(self, field_name: str, message: str, status: int = 400):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message
        self.status = status

    def to_dict(self) -> dict:
        return error_view(self.message, self.status, self.field)


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


def site_names(plan: Plan) -> list[str]:
    return [h.name for h in plan.hosts if h.kind == "server"]


def block_site(plan: Plan, state: PolicyState, body: dict) -> PolicyState:
    """Block a site now, for every tier or (tier given) for one. body: {site, tier?, reason?}.

    An entry for the same site and tier replaces the earlier one. A block for a while is two
    changes: a scenario writes them as timeline events (block, unblock) on the run's clock.
    """
    _only(body, ("site", "tier", "reason"))
    site = body.get("site")
    if not isinstance(site, str) or not site:
        raise RequestError("site", "required: the name of a site")
    if site not in site_names(plan):
        raise RequestError("site", f"unknown site {site!r}; expected one of: "
                                   f"{', '.join(site_names(plan))}", status=404)
    tier = body.get("tier")
    if tier is not None:
        _known_tier(state, tier)
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise RequestError("reason", f"expected a string, got {reason!r}")
    others = tuple(b for b in state.blocklist if (b.site, b.tier) != (site, tier))
    return state.with_changes(blocklist=(*others, BlockEntry(site, tier, reason)))


def unblock_site(plan: Plan, state: PolicyState, site: str, tier: str | None = None
                 ) -> PolicyState:
    """Take a site off the blocklist: every entry of it, or (tier given) its one-tier entry."""
    if site not in site_names(plan):
        raise RequestError("site", f"unknown site {site!r}", status=404)
    if tier is not None:
        _known_tier(state, tier, status=404)
    gone = [b for b in state.blocklist if b.site == site and (tier is None or b.tier == tier)]
    if not gone:
        whom = "" if tier is None else f" for tier {tier!r}"
        raise RequestError("site", f"{site!r} is not on the blocklist{whom}", status=404)
    return state.with_changes(blocklist=tuple(b for b in state.blocklist if b not in gone))


def _known_tier(state: PolicyState, tier, status: int = 400) -> None:
    if not isinstance(tier, str) or tier not in state.tier_zones:
        raise RequestError("tier", f"unknown tier {tier!r}; expected one of: "
                                   f"{', '.join(state.tier_zones)}", status=status)


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


def set_tier_zones(plan: Plan, state: PolicyState, tier: str, body: dict) -> PolicyState:
    """Change the zones a tier may reach. body: {zones: [intranet|national|global, ...]}."""
    _only(body, ("zones",))
    _known_tier(state, tier, status=404)
    zones = body.get("zones")
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        raise RequestError("zones", f"required: a list of zones out of {', '.join(ZONE_ORDER)}")
    for zone in zones:
        if zone not in ZONE_ORDER:
            raise RequestError("zones", f"unknown zone {zone!r}; expected any of: "
                                        f"{', '.join(ZONE_ORDER)}")
    if len(set(zones)) != len(zones):
        raise RequestError("zones", f"a zone is listed twice: {zones}")
    return state.with_changes(tier_zones={**state.tier_zones, tier: tuple(zones)})


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
