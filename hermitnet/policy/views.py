"""What the REST API returns: the policy, the tiers, errors, health, the answer to a change."""

from __future__ import annotations

from hermitnet.plan import Plan
from hermitnet.policy.state import PolicyState


def policy_view(plan: Plan, state: PolicyState, now_s: float) -> dict:
    """The policy as the API shows it: tiers with members, the blocklist (and what is active)."""
    return {
        "now_s": round(now_s, 3),
        "tiers": tiers_view(plan, state),
        "blocklist": [vars(b).copy() for b in state.blocklist],
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


def change_view(plan: Plan, state: PolicyState, now_s: float, enforced: dict) -> dict:
    """The answer to a change: the policy now, and how the switches confirmed it."""
    return {"policy": policy_view(plan, state, now_s), "enforced": enforced}


def error_view(message: str, status: int, field: str | None = None) -> dict:
    """Every error answer of the API: what was wrong, the offending field (or None), status."""
    return {"error": message, "field": field, "status": status}


def health_view(now_s: float, switches: list[str], connected: set[str], lease_s: float,
                openflow_errors: list[dict], exceptions: int,
                refused: dict[str, int] | None = None) -> dict:
    """Connected switches, the uplink lease, recent OpenFlow errors, how many exceptions the
    controller's handlers raised (each is in the run's controller-errors.jsonl), and the
    connections refused because their datapath id is not one of the run's switches."""
    refused = dict(refused or {})
    return {"now_s": round(now_s, 3), "switches": {s: s in connected for s in switches},
            "lease_s": lease_s, "openflow_errors": list(openflow_errors),
            "exceptions": exceptions, "refused_datapaths": sum(refused.values()),
            "refused_dpids": refused}
