"""A generated national network of any size, as a scenario document (for the benchmarks).

    national(phones=1000, cells=50, sites=20)

Phones spread round-robin over the cells and the mobile tiers; above 720 phones more
citizen-like tiers are added (citizen-2, citizen-3, ...), one per 240 phones (the plan once gave
each tier and access at most 240 addresses; it now continues in the next block, but the tiers
stay so that the figures compare with the earlier runs). Sites cycle over the three zones
(mostly intranet).
Links keep the scenario defaults (air links 2 Mbit/s, 40 ms).
"""

from __future__ import annotations

import math

PER_TIER = 240


def national(phones: int, cells: int, sites: int, fixed: int = 0,
             name: str = "bench-generated") -> dict:
    tiers = {"citizen": {"zones": ["intranet"]},
             "elite": {"zones": ["intranet", "national", "global"]},
             "visitor": {"zones": ["national", "global"]},
             "public": {"zones": ["intranet"]}}
    mobile = ["citizen", "elite", "visitor"]
    for k in range(2, max(3, math.ceil(phones / PER_TIER)) - 1):
        tiers[f"citizen-{k}"] = {"zones": ["intranet"]}
        mobile.append(f"citizen-{k}")
    subscribers = [{"name": f"phone-{i}", "tier": mobile[i % len(mobile)],
                    "cell": f"cell-{i % cells}"} for i in range(phones)]
    subscribers += [{"name": f"terminal-{i}", "tier": "public", "access": "fixed"}
                    for i in range(fixed)]
    zones = ["intranet"] * 6 + ["national"] + ["global"] * 3
    return {
        "schema": 1, "name": name, "seed": 1, "tiers": tiers,
        "cells": [{"name": f"cell-{c}"} for c in range(cells)],
        "subscribers": subscribers,
        "sites": [{"name": f"site-{i}", "zone": zones[i % len(zones)]} for i in range(sites)],
        "blocklist": [],
        "measure": {"throughput": {"flows": []}},
    }
