"""Property-based tests of the policy compiler over generated networks and policies.

Scenarios are generated as documents (tiers with random zone subsets and rates, subscribers of
random tiers on random cells or fixed lines, sites in random zones, a blocklist with random
tier), validated by `scenario.from_dict` and laid out by `plan.build`; policies are generated
over the names of such a plan. For every one:

- every compiled rule passes the pipeline verifier;
- on the fake switches (tests/unit/fakeswitch.py) a subscriber of tier T reaches exactly the sites
  in T's zones that are not blocked at that moment, every other packet is dropped, and a site
  answers a subscriber exactly when the site's zone is one of the subscriber's tier's zones: a
  compiler that drops everything fails as surely as one that leaks;
- the diff from one compiled policy to another, applied to the first (as rules and as the flow
  and meter mods the controller sends), gives exactly the second.

The blocklist applies to every tier (the scenario format has no per-tier blocklist).
Deterministic: derandomized, no example database.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet.policy.compile import compile_policy
from hermitnet.policy.diff import diff
from hermitnet.policy.pipeline import verify
from hermitnet.policy.state import PolicyState
from hermitnet.scenario import BlockEntry
from tests.unit.fakedatapath import FakeDatapath, decode, kind, tiered_routing
from tests.unit.fakeswitch import FakeNetwork, FakeSwitch

ZONES = ("intranet", "national", "global")
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=60,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

zone_sets = st.lists(st.sampled_from(ZONES), unique=True, max_size=3)
rates = st.one_of(st.none(), st.sampled_from([0.064, 0.5, 2.0, 10.0, 9999.0]))


@st.composite
def scenario_documents(draw) -> dict:
    tiers = {f"tier-{i}": draw(zone_sets) for i in range(draw(st.integers(1, 4)))}
    cells = [f"cell-{i}" for i in range(draw(st.integers(1, 3)))]
    subscribers = []
    for i in range(draw(st.integers(1, 6))):
        entry = {"name": f"sub-{i}", "tier": draw(st.sampled_from(sorted(tiers)))}
        if draw(st.booleans()):
            entry["access"] = "fixed"
        else:
            entry["cell"] = draw(st.sampled_from(cells))
        subscribers.append(entry)
    sites = [{"name": f"site-{i}", "zone": draw(st.sampled_from(ZONES))}
             for i in range(draw(st.integers(1, 5)))]
    blocklist = []
    for site in draw(st.lists(st.sampled_from([s["name"] for s in sites]), unique=True)):
        blocklist.append({"site": site})   # for every tier; per-tier blocks come from events
    tier_docs = {}
    for name, zones in tiers.items():
        tier_docs[name] = {"zones": zones}
        rate = draw(rates)
        if rate is not None:
            tier_docs[name]["rate_mbps"] = rate
    return {"schema": 1, "name": "generated", "tiers": tier_docs,
            "cells": [{"name": c} for c in cells], "subscribers": subscribers,
            "sites": sites, "blocklist": blocklist}


@st.composite
def networks(draw):
    """(plan, the scenario's sites, the scenario's policy state)."""
    loaded = scenario_module.from_dict(draw(scenario_documents()), source="generated.yaml")
    return plan_module.build(loaded), loaded.sites, PolicyState.from_scenario(loaded)


@st.composite
def policies(draw, plan, sites) -> PolicyState:
    """Any policy over the plan's tiers, subscribers and sites (what the REST API can reach)."""
    tiers = sorted(plan.tier_index)
    subscribers = [h.name for h in plan.subscribers()]
    blocklist = []
    for site in draw(st.lists(st.sampled_from([s.name for s in sites]), unique=True)):
        tier = draw(st.one_of(st.none(), st.sampled_from(tiers)))
        blocklist.append(BlockEntry(site, tier, draw(st.sampled_from(["", "list"]))))
    return PolicyState(
        tier_zones={t: tuple(draw(zone_sets)) for t in tiers},
        tier_rate_mbps={t: draw(rates) for t in tiers},
        membership={s: draw(st.sampled_from(tiers)) for s in subscribers},
        blocklist=tuple(blocklist))


def check_enforced(plan, state: PolicyState) -> None:
    compiled = compile_policy(plan, state)
    for rule in compiled.rules:
        verify(rule)
    net = FakeNetwork.from_compiled(plan, compiled)
    servers = [h for h in plan.hosts if h.kind == "server"]
    national_services = [h for h in plan.services() if h.zone != "global"]
    for subscriber in plan.subscribers():
        tier = state.membership[subscriber.name]
        zones, blocked = state.tier_zones[tier], state.blocked_for(tier)
        for site in servers:
            allowed = site.zone in zones and site.name not in blocked
            there = net.send(subscriber.name, site.ip)
            assert there.delivered_to == (site.name if allowed else None), (
                f"{subscriber.name} (zones {zones}) -> {site.name} ({site.zone}, "
                f"blocked={site.name in blocked}): {there.hops}")
            back = net.send(site.name, subscriber.ip)
            assert back.delivered_to == (subscriber.name if site.zone in zones else None), (
                f"{site.name} ({site.zone}) -> {subscriber.name} (zones {zones}): {back.hops}")
        for other in (h for h in plan.subscribers() if h is not subscriber):
            # subscribers are no zone's servers: they never reach each other
            assert net.send(subscriber.name, other.ip).dropped
        # a subscriber reaches the national resolver its tier is handed (and its answers come
        # back), no other national service host
        for service in national_services:
            handed = service.name == state.resolver_for(tier)
            there = net.send(subscriber.name, service.ip)
            assert there.delivered_to == (service.name if handed else None), there.hops
            back = net.send(service.name, subscriber.ip)
            assert back.delivered_to == (subscriber.name if handed else None), back.hops


@PROPERTY
@given(st.data(), networks())
def test_the_compiled_policy_lets_each_tier_reach_exactly_its_zones(data, network):
    plan, sites, scenario_state = network
    check_enforced(plan, scenario_state)
    check_enforced(plan, data.draw(policies(plan, sites)))


def _flow_table(rules) -> dict:
    return {r.key: r for r in rules}


@PROPERTY
@given(st.data(), networks())
def test_the_diff_applied_to_the_old_policy_gives_the_new_one(data, network):
    plan, sites, _ = network
    old = compile_policy(plan, data.draw(policies(plan, sites)))
    new = compile_policy(plan, data.draw(policies(plan, sites)))
    changes = diff(old, new)
    for switch in (s.name for s in plan.switches if s.controlled):
        part = changes.for_switch(switch)
        old_rules, old_meters = old.for_switch(switch)
        new_rules, new_meters = new.for_switch(switch)
        # as rules: add, replace, delete by key; meters by id
        table = _flow_table(old_rules)
        for rule in (*part.flow_adds, *part.flow_modifies):
            table[rule.key] = rule
        for rule in part.flow_deletes:
            del table[rule.key]
        assert table == _flow_table(new_rules)
        meters = {m.meter_id: m for m in old_meters}
        meters.update({m.meter_id: m for m in (*part.meter_adds, *part.meter_modifies)})
        for meter in part.meter_deletes:
            del meters[meter.meter_id]
        assert meters == {m.meter_id: m for m in new_meters}
        assert bool(part) == (table != _flow_table(old_rules)
                              or set(old_meters) != set(new_meters))

        # as the OpenFlow messages the controller sends, through a fake switch
        datapath = FakeDatapath(plan.switch(switch).dpid)
        held = _replayed(switch, datapath, tiered_routing.install_messages(datapath, old, switch))
        _replay_into(held, datapath, tiered_routing.diff_messages(datapath, part))
        fresh = _replayed(switch, datapath, tiered_routing.install_messages(datapath, new, switch))
        assert sorted(map(repr, held.entries)) == sorted(map(repr, fresh.entries))
        assert held.meters == fresh.meters == {m.meter_id for m in new_meters}


def _replayed(name: str, datapath, messages) -> FakeSwitch:
    switch = FakeSwitch(name, [], set())
    _replay_into(switch, datapath, messages)
    return switch


def _replay_into(switch: FakeSwitch, datapath, messages) -> None:
    for message in messages:
        datapath.send_msg(message)
    for message in (decode(datapath, buf) for buf in datapath.wire):
        assert kind(message) != "stats"
        switch.apply_message(message)
    datapath.wire = []
