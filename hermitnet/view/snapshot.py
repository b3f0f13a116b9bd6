"""What the live view shows, as plain data: plan + counters + policy + link stats -> snapshot dict.

Pure: no I/O, no clock. `topology()` lays the plan out once (nodes with fixed positions, edges
with the root-namespace interface whose byte counters give the edge's load); `snapshot()` is
what the page receives every half second; `link_rates()` and `leak_events()` turn two readings
of cumulative counters into rates and new leakage events.

Layout, left to right: subscribers, NodeBs (and foreign cells), RNC (and the foreign RAN),
core, intranet / border gateway, sites and the global zone, global sites.
"""

from __future__ import annotations

from hermitnet.plan import SUBSCRIBER_KINDS

# Unshaped links (no bw_mbps) are coloured by their rate against this reference.
UNSHAPED_REFERENCE_MBPS = 100.0
COLUMN_SPACING = 230
ROW_SPACING = 90
TIER_DECISIONS = ("allow", "denied", "blocked", "spoofed")

_SWITCH_LABELS = {"rnc": "RNC", "core": "core", "intranet": "intranet", "fixed": "fixed line",
                  "border": "border gateway", "global": "global zone",
                  "foreign": "foreign RAN"}
_COLUMNS = {"ran": 1, "rnc": 2, "foreign-ran": 2, "core": 3, "fixed": 1, "servers": 4,
            "border": 4, "global": 5}


def _link_id(link) -> str:
    return f"{link.a}--{link.b}"


def _interface(link, nodes: dict[str, str], switches: set[str]) -> str:
    """The root-namespace end of a link: the switch end (a host's end is in its namespace)."""
    if link.a in switches:
        return f"{nodes[link.a]}-eth{link.a_port}"
    return f"{nodes[link.b]}-eth{link.b_port}"


def topology(plan, foreign_cells: tuple[str, ...] = ()) -> dict:
    """Nodes (with positions) and edges of the run's network, for the page's graph."""
    switches = {s.name for s in plan.switches}
    emulated = {s.name: s.node for s in plan.switches}
    emulated.update({h.name: h.node for h in plan.hosts})
    column: dict[str, int] = {s.name: _COLUMNS.get(s.role, 3) for s in plan.switches}
    subscribers = plan.subscribers()
    switch_order = {s.name: i for i, s in enumerate(plan.switches)}
    # Phones grouped by cell, in the plan's switch order; fixed-line terminals after them, and
    # smuggled foreign handsets (with the foreign cells and RAN) at the bottom.
    group = {"mobile": 0, "fixed": 1, "foreign-handset": 2}
    subscribers.sort(key=lambda h: (group.get(h.kind, 1), switch_order[h.switch]))
    sites = sorted((h for h in plan.hosts if h.kind not in SUBSCRIBER_KINDS),
                   key=lambda h: (h.zone == "global", plan.hosts.index(h)))
    y: dict[str, float] = {}
    for i, host in enumerate(subscribers):
        column[host.name] = 0
        y[host.name] = i * ROW_SPACING
    height = max(len(subscribers), len(sites), 1) * ROW_SPACING
    site_spacing = height / max(len(sites), 1)
    for i, host in enumerate(sites):
        column[host.name] = 6 if host.zone == "global" else 5
        y[host.name] = (i + 0.5) * site_spacing - ROW_SPACING / 2

    neighbours: dict[str, list[str]] = {}
    for link in plan.links:
        neighbours.setdefault(link.a, []).append(link.b)
        neighbours.setdefault(link.b, []).append(link.a)

    def place(name: str, fallback: float) -> None:
        """A switch sits at the mean height of its neighbours already placed."""
        placed = [y[n] for n in neighbours.get(name, []) if n in y]
        y[name] = sum(placed) / len(placed) if placed else fallback

    # Outside in: cells and fixed line from their subscribers (a cell with none below the
    # previous one), sites' switches from their sites; foreign cells below every other node of
    # their column, the foreign RAN amid its cells.
    previous = -ROW_SPACING
    for switch in (s for s in plan.switches if s.role in ("ran", "fixed")):
        place(switch.name, previous + ROW_SPACING)
        previous = y[switch.name]
    _spread(y, [n for n in column if column[n] == 1 and n in y])
    for role in ("servers", "global", "rnc", "core", "border"):
        for switch in (s for s in plan.switches if s.role == role):
            place(switch.name, height / 2)
    lowest = max((y[n] for n, c in column.items() if c == 1 and n in y), default=0.0)
    for i, cell in enumerate(foreign_cells):
        y[f"cell:{cell}"] = lowest + (i + 1) * ROW_SPACING
        if "foreign" in switches:
            neighbours.setdefault("foreign", []).append(f"cell:{cell}")
    for switch in (s for s in plan.switches if s.role == "foreign-ran"):
        place(switch.name, height / 2)
    for col in set(column.values()):
        _spread(y, [n for n in column if column[n] == col and n in y])

    nodes = []
    for switch in plan.switches:
        label = _SWITCH_LABELS.get(switch.name) or (
            f"NodeB {switch.name[3:]}" if switch.name.startswith("nb-") else switch.name)
        nodes.append({"id": switch.name, "label": label, "kind": "switch", "role": switch.role,
                      "cell": switch.name[3:] if switch.role == "ran" else None,
                      "x": column[switch.name] * COLUMN_SPACING, "y": round(y[switch.name], 1)})
    for host in (*subscribers, *sites):
        nodes.append({"id": host.name, "label": host.name, "kind": host.kind, "tier": host.tier,
                      "zone": host.zone, "ip": host.ip, "switch": host.switch,
                      "x": column[host.name] * COLUMN_SPACING, "y": round(y[host.name], 1)})
    edges = [{"id": _link_id(link), "source": link.a, "target": link.b, "kind": link.kind,
              "bw_mbps": link.spec.bw_mbps, "interface": _interface(link, emulated, switches)}
             for link in plan.links]
    if foreign_cells:
        for cell in foreign_cells:
            nodes.append({"id": f"cell:{cell}", "label": f"foreign cell {cell}",
                          "kind": "foreign-cell", "role": "foreign-cell", "cell": cell,
                          "x": COLUMN_SPACING, "y": round(y[f"cell:{cell}"], 1)})
            if "foreign" in switches:
                edges.append({"id": f"cell:{cell}--foreign", "source": f"cell:{cell}",
                              "target": "foreign", "kind": "foreign-radio", "bw_mbps": None,
                              "interface": None})
    return {"nodes": nodes, "edges": edges, "tiers": sorted(plan.tier_index,
                                                            key=plan.tier_index.get)}


def _spread(y: dict[str, float], names: list[str]) -> None:
    """Move the nodes of one column apart (keeping their order) to at least ROW_SPACING."""
    order = sorted(names, key=lambda n: y[n])  # stable: ties keep the plan's order
    for above, below in zip(order, order[1:], strict=False):
        y[below] = max(y[below], y[above] + ROW_SPACING)


def link_rates(topo: dict, before: dict, after: dict, seconds: float) -> dict[str, dict]:
    """{edge id: rates} from two readings {interface: (rx_bytes, tx_bytes)} `seconds` apart.

    `load` is the busier direction's rate over the link's rate (bw_mbps; unshaped links:
    UNSHAPED_REFERENCE_MBPS), capped at 1.
    """
    rates = {}
    for edge in topo["edges"]:
        intf = edge["interface"]
        if intf not in before or intf not in after or seconds <= 0:
            continue
        (rx0, tx0), (rx1, tx1) = before[intf], after[intf]
        rx_mbps = max(rx1 - rx0, 0) * 8 / seconds / 1e6
        tx_mbps = max(tx1 - tx0, 0) * 8 / seconds / 1e6
        capacity = edge["bw_mbps"] or UNSHAPED_REFERENCE_MBPS
        rates[edge["id"]] = {"rx_mbps": round(rx_mbps, 4), "tx_mbps": round(tx_mbps, 4),
                             "load": round(min(max(rx_mbps, tx_mbps) / capacity, 1.0), 4)}
    return rates


def leak_events(before: dict, after: dict, judge, t_s: float) -> list[dict]:
    """New leakage between two observer readings ({site: {key: {packets, bytes}}}).

    `judge(site, key)` returns the leak the bytes from `key` at `site` are (the rule of
    hermitnet.results.judge_counter: source, sender_class, path, probe_kind), else None.
    """
    events = []
    for site, counters in after.items():
        for key, counter in counters.items():
            grown = counter["bytes"] - before.get(site, {}).get(key, {}).get("bytes", 0)
            if grown <= 0:
                continue
            leak = judge(site, key)
            if leak is None:
                continue
            events.append({"t_s": round(t_s, 1), "site": site, "sender": leak["source"],
                           "tier": leak["sender_class"], "path": leak["path"],
                           "kind": leak["probe_kind"] or "traffic", "bytes": grown})
    return events


def tier_counters(counters_line: dict | None) -> dict[str, dict[str, int]]:
    """{tier: {decision: packets}} from one counters.jsonl line (tiers only, no zone classes)."""
    flows = (counters_line or {}).get("flows", {})
    return {cls: {d: by_decision.get(d, {}).get("packets", 0) for d in TIER_DECISIONS}
            for cls, by_decision in flows.items() if cls != "-" and not cls.startswith("zone:")}


def snapshot(topo: dict, *, t_s: float, phase: str, counters_line: dict | None,
             policy: dict | None, rates: dict, radio: dict, leakage: dict) -> dict:
    """The page's state at one instant.

    `policy` is the controller's GET /v1/policy answer (None if it did not answer); `radio` is
    {phone: {cell, cell_kind, rate_mbps, loss_pct}}; `leakage` is {"by_path": ..., "by_tier":
    ..., "events": [...], "source": what was read}.
    """
    tiers: dict[str, dict] = {}
    membership: dict[str, str] = {}
    blocklist: list[dict] = []
    if policy is not None:
        for name, tier in policy.get("tiers", {}).items():
            members = [m["name"] for m in tier.get("members", [])]
            tiers[name] = {"zones": list(tier.get("zones", [])),
                           "rate_mbps": tier.get("rate_mbps"), "members": members}
            membership.update(dict.fromkeys(members, name))
        # every entry is in force: a block for a while is two events on the run's timeline
        blocklist = [{"site": b["site"], "active": True, "tier": b.get("tier"),
                      "reason": b.get("reason", "")} for b in policy.get("blocklist", [])]
    uplink = (counters_line or {}).get("uplink") or {}
    return {
        "t_s": round(t_s, 1),
        "phase": phase,
        "controller": policy is not None,
        "tiers": tiers,
        "membership": membership,
        "blocklist": blocklist,
        "counters": tier_counters(counters_line),
        "counters_t_s": (counters_line or {}).get("t_s"),
        "uplink": {k: uplink.get(k, 0) for k in ("rx_bytes", "tx_bytes", "rx_dropped",
                                                 "tx_dropped")},
        "links": rates,
        "radio": radio,
        "leakage": leakage,
    }
