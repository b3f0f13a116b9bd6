"""Reconciliation: the controller's flow counters, the observers and the uplink capture, side by
side per class (tier or zone) and decision. Pure: results.json in, a table out.

Three independent counts of the same packets:

    controller   results["counters"]["flows"][class][decision]: what the national switches
                 decided, at the packet's ingress switch (hermitnet.counters)
    observers    what arrived at the hosts (hermitnet.workload.observer), booked under the class
                 the controller sees: the class of the source address the packet carries (a
                 subscriber's tier, zone:Z for a site or a foreign handset, which enters over the
                 uplink as zone:global); only packets that went through the national network
    capture      the uplink capture's packets by source (leakage.edges.uplink)

Rows that must agree (within TOLERANCE):

    class, "allow"                     controller allow  vs  observers' arrivals of the class
    tier,  "allow across the uplink"   capture outbound  vs  observers' arrivals at global hosts
    zone:global, "classified at the uplink"
                                       controller classify + spoofed  vs  capture inbound

and, for information, "dropped" (denied + blocked + spoofed) next to the observers' forbidden
arrivals of the class (the leaks). What can make an agreeing pair differ: packets dropped after
the decision (a queue, an air link's loss), the last poll interval of the controller's counters.
"""

from __future__ import annotations

from hermitnet.plan import SERVICE_KINDS

TOLERANCE = {"packets": 10, "fraction": 0.02}
DROPPED = ("denied", "blocked", "spoofed")


def within(a: int, b: int) -> bool:
    return abs(a - b) <= max(TOLERANCE["packets"], TOLERANCE["fraction"] * max(a, b))


def controller_class(host, state) -> str:
    """The class the national switches give a host's packets."""
    if host.kind == "server":
        return f"zone:{host.zone}"
    if host.kind in SERVICE_KINDS:
        return f"service:{host.name}"
    if host.switch == "foreign":
        return "zone:global"
    return state.membership[host.name]


def reconcile(results: dict, plan, state) -> dict:
    leakage = results["leakage"]
    flows = (results.get("counters") or {}).get("flows")
    hosts = {h.name: h for h in plan.hosts}
    controlled = {s.name for s in plan.switches if s.controlled}
    by_ip = {h.ip: h for h in plan.hosts}
    probes = {str(p["id"]): p for p in leakage.get("probes", []) + leakage.get("controls", [])}
    arrived_all: dict[str, int] = {}
    arrived_global: dict[str, int] = {}
    for dst_name, counters in leakage.get("arrived", {}).items():
        dst = hosts[dst_name]
        for key, counter in counters.items():
            if key.startswith("probe:"):
                src = by_ip.get(probes[key.split(":", 1)[1]]["src_ip"])
            else:
                src = hosts.get(key)
            if src is None or not ({src.switch, dst.switch} & controlled):
                continue
            cls = controller_class(src, state)
            arrived_all[cls] = arrived_all.get(cls, 0) + counter["packets"]
            if dst.zone == "global" or dst.switch == "foreign":
                arrived_global[cls] = arrived_global.get(cls, 0) + counter["packets"]
    leaked: dict[str, int] = {}
    for leak in leakage.get("leaks", []):
        leaked[leak["sender_class"]] = leaked.get(leak["sender_class"], 0) + leak["packets"]
    uplink = (leakage.get("edges") or {}).get("uplink") or {}

    rows = []

    def row(cls, decision, controller, observer, capture, compare):
        agrees = None
        if compare:
            a, b = compare
            agrees = None if a is None or b is None else within(a, b)
        rows.append({"class": cls, "decision": decision, "controller_packets": controller,
                     "observer_packets": observer, "capture_packets": capture,
                     "agrees": agrees})

    classes = [*state.tier_zones, "zone:intranet", "zone:national", "zone:global"]
    for cls in classes:
        decisions = (flows or {}).get(cls, {})
        allow = decisions.get("allow", {}).get("packets") if flows is not None else None
        observed = arrived_all.get(cls, 0)
        if flows is not None and not allow and not observed:
            continue
        row(cls, "allow", allow, observed, None, (allow, observed))
        dropped = sum(decisions.get(d, {}).get("packets", 0) for d in DROPPED)
        row(cls, "dropped", dropped if flows is not None else None, leaked.get(cls, 0), None,
            None)
        if cls in state.tier_zones and "outbound" in uplink:
            out = uplink["outbound"].get(cls, 0)
            row(cls, "allow across the uplink", None, arrived_global.get(cls, 0), out,
                (out, arrived_global.get(cls, 0)))
    if "inbound" in uplink:
        # the uplink classifies the global zone, and the foreign resolver on its own
        classified = (sum((flows or {}).get(cls, {}).get(d, {}).get("packets", 0)
                          for cls in ("zone:global", "service:dns-foreign")
                          for d in ("classify", "spoofed"))
                      if flows is not None else None)
        inbound = sum(uplink["inbound"].values())
        row("zone:global", "classified at the uplink", classified, None, inbound,
            (classified, inbound))
    return {"tolerance": dict(TOLERANCE), "rows": rows,
            "disagreements": sum(1 for r in rows if r["agrees"] is False),
            "controller_counters": flows is not None}
