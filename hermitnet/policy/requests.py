"""Live change requests (the REST API's logic, without the web layer).

Pure functions: each takes the plan, the current state and a request, and returns the new state
or raises RequestError naming the offending field, the HTTP status and what was expected.
Nothing here sends anything: the caller compiles the new state and installs it.
"""

from __future__ import annotations

import json

from hermitnet.plan import Plan
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
