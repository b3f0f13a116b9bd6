"""Policies to compile for the compiler's equality tests: scenarios and sequences of changes.

`sequences()` gives named sequences of steps; each step is (label, plan, state, uplinks_down,
holes) and the steps of one sequence share a plan, so consecutive steps are what the controller
compiles and diffs one after the other. `digest(...)` is a fingerprint of everything a compile
or a diff gives (every field of every rule and meter, notes included, in order).
"""

from __future__ import annotations

import hashlib
import json
import random

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet.policy import requests
from hermitnet.policy.compile import TEST_HOLES_ENV
from hermitnet.policy.state import PolicyState
from tests.conftest import BASELINE, SCENARIO_DIR

HOLES = {"allow": [["citizen", "video"]], "no_antispoofing": ["citizen-1"],
         "uplink_to": ["intranet"]}


def generated(cells: int, subscribers: int, sites: int) -> dict:
    """A generated scenario (four tiers, phones on `cells` cells and fixed lines)."""
    tiers = ["citizen", "elite", "visitor", "public"]
    zones = ["intranet"] * 6 + ["national"] + ["global"] * 3
    subs = []
    for i in range(subscribers):
        tier = tiers[i % 4]
        if tier == "public":
            subs.append({"name": f"terminal-{i}", "tier": tier, "access": "fixed"})
        else:
            subs.append({"name": f"phone-{i}", "tier": tier, "cell": f"cell-{i % cells}"})
    return {"schema": 1, "name": "generated", "seed": 1,
            "tiers": {"citizen": {"zones": ["intranet"]}, "public": {"zones": ["intranet"]},
                      "elite": {"zones": ["intranet", "national", "global"]},
                      "visitor": {"zones": ["national", "global"]}},
            "cells": [{"name": f"cell-{c}"} for c in range(cells)], "subscribers": subs,
            "sites": [{"name": f"site-{i}", "zone": zones[i % len(zones)]}
                      for i in range(sites)],
            "blocklist": [], "measure": {"throughput": {"flows": []}}}


def _scripted(plan, state):
    """Every kind of change, one after the other (each applied to the state before)."""
    sites = requests.site_names(plan)
    tiers = list(state.tier_zones)
    subscriber = next(iter(state.membership))
    other = next(t for t in tiers if t != state.membership[subscriber])
    changes = [
        ("block", lambda s: requests.block_site(plan, s, {"site": sites[-1]})),
        ("block one tier", lambda s: requests.block_site(plan, s, {"site": sites[0],
                                                                   "tier": tiers[0]})),
        ("rate", lambda s: requests.set_tier_rate(plan, s, tiers[1], {"rate_mbps": 2})),
        ("slower", lambda s: requests.set_tier_rate(plan, s, tiers[1], {"rate_mbps": 1})),
        ("move", lambda s: requests.move_subscriber(plan, s, subscriber, {"tier": other})),
        ("zones", lambda s: requests.set_tier_zones(plan, s, tiers[0],
                                                    {"zones": ["intranet", "national"]})),
        ("unblock", lambda s: requests.unblock_site(plan, s, sites[-1])),
        ("no rate", lambda s: requests.set_tier_rate(plan, s, tiers[1], {"rate_mbps": None})),
    ]
    steps = [("initial", state)]
    for label, change in changes:
        state = change(state)
        steps.append((label, state))
    return steps


def random_states(plan, state, count: int, seed: int):
    """`count` random changes (block, unblock, move, zones, rate), each on the one before."""
    rng = random.Random(seed)
    sites = requests.site_names(plan)
    tiers = list(state.tier_zones)
    zones = ["intranet", "national", "global"]
    subscribers = list(state.membership)
    for _ in range(count):
        kind = rng.choice(["block", "block", "unblock", "move", "zones", "rate"])
        blocked = sorted({b.site for b in state.blocklist})
        if kind == "unblock" and blocked:
            state = requests.unblock_site(plan, state, rng.choice(blocked))
        elif kind == "move":
            state = requests.move_subscriber(plan, state, rng.choice(subscribers),
                                             {"tier": rng.choice(tiers)})
        elif kind == "zones":
            chosen = [z for z in zones if rng.random() < 0.5]
            state = requests.set_tier_zones(plan, state, rng.choice(tiers), {"zones": chosen})
        elif kind == "rate":
            rate = rng.choice([None, 0.5, 2, 10])
            state = requests.set_tier_rate(plan, state, rng.choice(tiers), {"rate_mbps": rate})
        else:
            body = {"site": rng.choice(sites)}
            if rng.random() < 0.3:
                body["tier"] = rng.choice(tiers)
            state = requests.block_site(plan, state, body)
        yield kind, state


def sequences() -> dict[str, list[tuple]]:
    """{name: [(label, plan, state, uplinks_down, holes JSON or None), ...]}."""
    found = {}
    baseline = scenario_module.load(BASELINE)
    plan = plan_module.build(baseline, run_tag=0x2a, prefix="hnab")
    state = PolicyState.from_scenario(baseline)
    found["baseline"] = [(label, plan, s, frozenset(), None)
                         for label, s in _scripted(plan, state)]
    found["baseline uplink down"] = [("down", plan, state, frozenset({"uplink"}), None),
                                     ("up", plan, state, frozenset(), None)]
    found["baseline holes"] = [(label, plan, s, frozenset(), json.dumps(HOLES))
                               for label, s in _scripted(plan, state)[:4]]
    two = dict(generated(3, 12, 10), uplinks=[{"name": "cable", "bw_mbps": 10},
                                              {"name": "satellite", "bw_mbps": 2}])
    loaded = scenario_module.from_dict(two)
    plan = plan_module.build(loaded, run_tag=7, prefix="hnup")
    state = PolicyState.from_scenario(loaded)
    found["two uplinks"] = [(label, plan, state, down, None) for label, down in (
        ("both up", frozenset()), ("cable down", frozenset({"cable"})),
        ("both down", frozenset({"cable", "satellite"})), ("satellite down",
                                                           frozenset({"satellite"})))]
    loaded = scenario_module.from_dict(generated(50, 200, 20))
    plan = plan_module.build(loaded, run_tag=0x30, prefix="hn1")
    state = PolicyState.from_scenario(loaded)
    found["55 switches"] = [(label, plan, s, frozenset(), None)
                            for label, s in _scripted(plan, state)]
    loaded = scenario_module.from_dict(generated(6, 40, 12))
    plan = plan_module.build(loaded, run_tag=3, prefix="hnr")
    state = PolicyState.from_scenario(loaded)
    found["random"] = [("initial", plan, state, frozenset(), None)] + [
        (label, plan, s, frozenset(), None) for label, s in random_states(plan, state, 60, 13)]
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        loaded = scenario_module.load(path)
        plan = plan_module.build(loaded, run_tag=1, prefix="hns")
        found[f"shipped {path.stem}"] = [("initial", plan, PolicyState.from_scenario(loaded),
                                          frozenset(), None)]
    return found


def digest(*things) -> str:
    """A fingerprint of compiled policies or diffs: every field of every item, in order."""
    text = "\n".join(repr(thing) for thing in things)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def holes_env(monkeypatch, holes: str | None) -> None:
    if holes is None:
        monkeypatch.delenv(TEST_HOLES_ENV, raising=False)
    else:
        monkeypatch.setenv(TEST_HOLES_ENV, holes)
