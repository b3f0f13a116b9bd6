"""The tier policy compiler, tested by where packets go through a fake OpenFlow network.

Every subscriber sends to every site (and every site replies to every subscriber) for several
policy states; the expected outcome is computed from the scenario's words (tier zones, blocklist,
windows), independently of the rules.
"""

from __future__ import annotations

import dataclasses

import pytest

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet.policy.compile import (
    DECISIONS,
    Rule,
    class_names,
    compile_policy,
    cookie,
    decode_cookie,
    subscriber_meter_id,
)
from hermitnet.policy.pipeline import CLASSIFY, FORWARD, POLICY, PipelineError, verify
from hermitnet.policy.state import PolicyState
from hermitnet.scenario import BlockEntry
from tests.unit.fakeswitch import FakeNetwork

SUBSCRIBERS_OF = {"citizen": "citizen-1", "elite": "elite-1", "visitor": "visitor-1",
                  "public": "library-1"}


def network(plan, state) -> FakeNetwork:
    return FakeNetwork.from_compiled(plan, compile_policy(plan, state))


def blocked(state, site, tier) -> bool:
    return site in state.blocked_for(tier)


STATES = {
    "scenario": lambda s: s,
    "2016 blocklist": lambda s: s.with_changes(blocklist=(
        BlockEntry("video"), BlockEntry("social"), BlockEntry("world-news"), BlockEntry("news"))),
    "one-tier block": lambda s: s.with_changes(blocklist=(BlockEntry("search", "elite"),
                                                          BlockEntry("recipes", "citizen"))),
    "rates": lambda s: s.with_changes(tier_rate_mbps={**s.tier_rate_mbps, "elite": 1.5,
                                                      "citizen": 0.5}),
}


@pytest.mark.parametrize("state_name", sorted(STATES))
def test_every_subscriber_to_every_site(baseline, baseline_plan, state_name):
    """tier x zone x blocklist: delivered iff the tier may reach the zone and the site is not
    blocked for it; otherwise dropped at the subscriber's own switch with the right decision."""
    state = STATES[state_name](PolicyState.from_scenario(baseline))
    net = network(baseline_plan, state)
    checked = 0
    for sub in baseline.subscribers:
        tier = state.membership[sub.name]
        for site in baseline.sites:
            trace = net.send(sub.name, baseline_plan.host(site.name).ip)
            is_blocked = blocked(state, site.name, tier)
            allowed = site.zone in state.tier_zones[tier] and not is_blocked
            if allowed:
                assert trace.delivered_to == site.name, (sub.name, site.name, trace)
            else:
                expected = "blocked" if is_blocked else "denied"
                ingress = baseline_plan.host(sub.name).switch
                assert trace.drop == (ingress, expected), (sub.name, site.name, trace)
                assert trace.hops[-1].tables == [(CLASSIFY, "classify"), (POLICY, expected)]
            checked += 1
    assert checked == len(baseline.subscribers) * len(baseline.sites)


@pytest.mark.parametrize("state_name", sorted(STATES))
def test_servers_reply_only_to_tiers_that_may_reach_them(baseline, baseline_plan, state_name):
    state = STATES[state_name](PolicyState.from_scenario(baseline))
    net = network(baseline_plan, state)
    for site in baseline.sites:
        for sub in baseline.subscribers:
            trace = net.send(site.name, baseline_plan.host(sub.name).ip)
            if site.zone in state.tier_zones[state.membership[sub.name]]:
                assert trace.delivered_to == sub.name, (site.name, sub.name, trace)
            else:
                assert trace.dropped, (site.name, sub.name, trace)
                assert trace.drop[1] == "denied", trace


def test_citizen_to_global_is_denied_at_its_cell(baseline, baseline_plan):
    net = network(baseline_plan, PolicyState.from_scenario(baseline))
    trace = net.send("citizen-1", baseline_plan.host("video").ip)
    assert trace.drop == ("nb-pyongyang-1", "denied")
    assert len(trace.hops) == 1


def test_elite_to_global_leaves_through_the_uplink_on_border(baseline, baseline_plan):
    net = network(baseline_plan, PolicyState.from_scenario(baseline))
    uplink = next(p for p, n in baseline_plan.trunk_ports("border").items() if n == "global")
    trace = net.send("elite-1", baseline_plan.host("video").ip)
    assert trace.delivered_to == "video"
    assert [h.switch for h in trace.hops] == ["nb-pyongyang-1", "rnc", "core", "border"]
    assert trace.crossed("border", uplink)
    # classified once, at ingress; the other switches only forward (trunk)
    assert [h.decision for h in trace.hops] == ["forward"] * 4
    assert trace.hops[1].tables == [(CLASSIFY, "trunk"), (FORWARD, "forward")]


def test_citizen_traffic_never_crosses_the_uplink(baseline, baseline_plan):
    net = network(baseline_plan, PolicyState.from_scenario(baseline))
    uplink = next(p for p, n in baseline_plan.trunk_ports("border").items() if n == "global")
    for site in baseline.sites:
        for citizen in ("citizen-1", "citizen-2", "library-1", "cafe-1"):
            trace = net.send(citizen, baseline_plan.host(site.name).ip)
            assert not trace.crossed("border", uplink), (citizen, site.name)


@pytest.mark.parametrize("src,borrowed", [
    ("citizen-1", "elite-1"),          # a citizen borrowing an elite address
    ("visitor-1", "citizen-2"),
    ("library-1", "198.18.0.99"),      # a terminal claiming a global address
    ("cafe-1", "100.64.0.200"),        # an unassigned pool address
])
def test_spoofed_source_is_dropped_at_ingress(baseline, baseline_plan, src, borrowed):
    net = network(baseline_plan, PolicyState.from_scenario(baseline))
    src_ip = baseline_plan.host(borrowed).ip if "-" in borrowed else borrowed
    for site in ("video", "news", "portal"):
        trace = net.send(src, baseline_plan.host(site).ip, src_ip=src_ip)
        assert trace.drop == (baseline_plan.host(src).switch, "spoofed"), trace


def test_spoofed_source_from_beyond_the_uplink_is_dropped_at_border(baseline, baseline_plan):
    """A global server claiming a national address is dropped where it enters the country."""
    net = network(baseline_plan, PolicyState.from_scenario(baseline))
    elite_ip = baseline_plan.host("elite-1").ip
    honest = net.send("video", elite_ip)
    assert honest.delivered_to == "elite-1"
    forged = net.send("video", elite_ip, src_ip=baseline_plan.host("news").ip)
    assert forged.drop == ("border", "spoofed")


def test_phones_cannot_reach_each_other_visitors_are_separated(baseline, baseline_plan):
    net = network(baseline_plan, PolicyState.from_scenario(baseline))
    subscribers = [s.name for s in baseline.subscribers]
    for a in subscribers:
        for b in subscribers:
            if a != b:
                trace = net.send(a, baseline_plan.host(b).ip)
                assert trace.drop == (baseline_plan.host(a).switch, "denied"), (a, b)


def test_a_block_for_one_tier_leaves_the_others_through(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline).with_changes(
        blocklist=(BlockEntry("search", "elite"),))
    net = network(baseline_plan, state)
    ip = baseline_plan.host("search").ip
    assert net.send("elite-1", ip).drop == (baseline_plan.host("elite-1").switch, "blocked")
    assert net.send("visitor-1", ip).delivered_to == "search"


def test_blocklist_applies_to_every_tier_and_is_counted_per_site(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline).with_changes(blocklist=(BlockEntry("news"),))
    compiled = compile_policy(baseline_plan, state)
    net = FakeNetwork.from_compiled(baseline_plan, compiled)
    for tier, sub in SUBSCRIBERS_OF.items():
        # blocked for every tier, even those the zone policy would deny anyway
        trace = net.send(sub, baseline_plan.host("news").ip)
        assert trace.drop == (baseline_plan.host(sub).switch, "blocked"), (tier, trace)
        assert net.send(sub, baseline_plan.host("recipes").ip).delivered_to == (
            "recipes" if "intranet" in state.tier_zones[tier] else None)
    blocked_cookies = {r.cookie for r in compiled.rules if decode_cookie(r.cookie)[0] == "blocked"}
    site_index = [h.name for h in baseline_plan.hosts if h.kind == "server"].index("news")
    assert {decode_cookie(c)[2] for c in blocked_cookies} == {site_index}


def test_per_subscriber_meters_follow_the_tier_rate(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline).with_changes(
        tier_rate_mbps={**PolicyState.from_scenario(baseline).tier_rate_mbps, "elite": 1.5})
    compiled = compile_policy(baseline_plan, state)
    net = FakeNetwork.from_compiled(baseline_plan, compiled)
    elite_meter = subscriber_meter_id(baseline_plan, "elite-1")
    trace = net.send("elite-1", baseline_plan.host("video").ip)
    assert trace.hops[0].meters == [elite_meter]
    assert all(not h.meters for h in net.send("citizen-1", baseline_plan.host("news").ip).hops)
    (meter,) = compiled.meters
    assert (meter.switch, meter.meter_id, meter.rate_kbps, meter.tier, meter.subscriber) == (
        "nb-pyongyang-1", elite_meter, 1500, "elite", "elite-1")
    assert meter.burst_kbit >= 1500 // 10


def test_no_rates_no_meters(baseline, baseline_plan):
    assert compile_policy(baseline_plan, PolicyState.from_scenario(baseline)).meters == ()


def test_only_rules_that_cross_the_uplink_are_leased(baseline, baseline_plan):
    compiled = compile_policy(baseline_plan, PolicyState.from_scenario(baseline))
    uplink = next(p for p, n in baseline_plan.trunk_ports("border").items() if n == "global")
    assert baseline_plan.uplink_port() == ("border", uplink)
    leased = [r for r in compiled.rules if r.lease]
    global_sites = [h for h in baseline_plan.hosts if h.zone == "global"]
    assert {r.switch for r in leased} == {"border"}
    forwards = [r for r in leased if r.table == FORWARD]
    assert sorted(r.output for r in forwards) == [uplink] * len(global_sites)
    # the global zone, and the foreign resolver (the national resolver's upstream)
    classify = [r for r in leased if r.table == CLASSIFY]
    assert {dict(r.match)["ipv4_src"] for r in classify} == {
        ("198.18.0.0", "255.254.0.0"), baseline_plan.host("dns-foreign").ip}
    assert all(dict(r.match)["in_port"] == uplink for r in classify)
    # and no unleased rule outputs to the uplink
    assert not [r for r in compiled.rules
                if r.switch == "border" and r.output == uplink and not r.lease]


def test_every_compiled_rule_passes_the_pipeline(baseline, baseline_plan):
    for make in STATES.values():
        compiled = compile_policy(baseline_plan, make(PolicyState.from_scenario(baseline)))
        for rule in compiled.rules:
            verify(rule)
        keys = [(r.switch, r.key) for r in compiled.rules]
        assert len(keys) == len(set(keys)), "two rules with the same table, priority and match"


def test_cookies_name_tier_and_decision(baseline, baseline_plan):
    compiled = compile_policy(baseline_plan, PolicyState.from_scenario(baseline))
    names = class_names(baseline_plan)
    seen = set()
    for rule in compiled.rules:
        decision, class_id, _ = decode_cookie(rule.cookie)
        assert decision in DECISIONS
        assert class_id == 0 or class_id in names
        seen.add((names.get(class_id, "-"), decision))
    for tier in ("citizen", "elite", "visitor", "public"):
        assert {(tier, "classify"), (tier, "spoofed"), (tier, "denied")} <= seen
    assert decode_cookie(cookie("blocked", 3, 7)) == ("blocked", 3, 7)


def test_a_scenario_may_add_a_tier(scenario_dict, tmp_path):
    data = scenario_dict()
    data["tiers"]["press"] = {"zones": ["national"]}
    data["subscribers"].append({"name": "reporter", "tier": "press", "cell": "cell-1"})
    loaded = scenario_module.from_dict(data)
    layout = plan_module.build(loaded)
    net = network(layout, PolicyState.from_scenario(loaded))
    assert net.send("reporter", layout.host("portal").ip).delivered_to == "portal"
    assert net.send("reporter", layout.host("video").ip).drop[1] == "denied"
    assert net.send("reporter", layout.host("news").ip).drop[1] == "denied"


# -- the pipeline declaration rejects what it does not allow -----------------------------------

GOOD = Rule("core", POLICY, 200, (("metadata", (1, 0xFF)), ("eth_type", 0x0800),
                                  ("ipv4_dst", ("10.0.0.0", "255.0.0.0"))), cookie("allow", 1),
            goto=FORWARD)


@pytest.mark.parametrize("change,complaint", [
    ({"table": 7}, "not declared"),
    ({"match": (("in_port", 1),)}, "does not match on"),                      # policy: no in_port
    ({"match": (("ipv4_dst", "10.1.0.10"),)}, "without eth_type"),
    ({"goto": CLASSIFY}, "may not go to table"),                             # backwards
    ({"goto": None, "output": 3}, "may not output"),
    ({"meter": 2}, "may not meter"),
    ({"goto": None, "metadata": 1}, "no next table"),
    ({"priority": 0}, "must match everything"),
    ({"table": FORWARD, "match": (("eth_type", 0x0800),), "goto": None, "output": 1,
      "metadata": None}, None),
])
def test_pipeline_rejects_rules_that_break_the_declaration(change, complaint):
    verify(GOOD)
    rule = dataclasses.replace(GOOD, **change)
    if complaint is None:
        verify(rule)
        return
    with pytest.raises(PipelineError, match=complaint):
        verify(rule)


def test_compiler_refuses_to_emit_a_bad_rule(baseline, baseline_plan, monkeypatch):
    """compile_policy runs every rule through the verifier: a bad rule never leaves it."""
    from hermitnet.policy import compile as policy_compile

    original = policy_compile._forward

    def forward_with_a_goto(*args):
        for rule in original(*args):
            yield dataclasses.replace(rule, goto=POLICY) if rule.priority == 0 else rule

    monkeypatch.setattr(policy_compile, "_forward", forward_with_a_goto)
    with pytest.raises(PipelineError, match="forward may not go to table 1"):
        compile_policy(baseline_plan, PolicyState.from_scenario(baseline))
