"""The diff between two compiled policies: exactly the flow and meter changes to send."""

from __future__ import annotations

from hermitnet.policy.compile import compile_policy, cookie, subscriber_meter_id
from hermitnet.policy.diff import PolicyDiff, SwitchDiff, diff
from hermitnet.policy.pipeline import CLASSIFY, POLICY
from hermitnet.policy.requests import block_site, move_subscriber, set_tier_rate, unblock_site
from hermitnet.policy.state import PolicyState


def controlled(plan) -> list[str]:
    return [s.name for s in plan.switches if s.controlled]


def test_no_change_no_diff(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    assert diff(compile_policy(baseline_plan, state), compile_policy(baseline_plan, state)) == \
        PolicyDiff()
    assert not diff(compile_policy(baseline_plan, state),
                    compile_policy(baseline_plan, state)).for_switch("core")


def test_blocking_a_site_adds_one_rule_per_tier_on_every_switch(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    before = compile_policy(baseline_plan, state)
    blocked = block_site(baseline_plan, state, {"site": "video"})
    after = compile_policy(baseline_plan, blocked)
    changes = diff(before, after)
    assert sorted(changes.switches) == sorted(controlled(baseline_plan))
    video = baseline_plan.host("video").ip
    for switch in controlled(baseline_plan):
        change = changes.for_switch(switch)
        assert change.flow_modifies == change.flow_deletes == ()
        assert change.meter_adds == change.meter_modifies == change.meter_deletes == ()
        assert len(change.flow_adds) == len(baseline_plan.tier_index)
        assert {(r.switch, r.table, r.priority, dict(r.match)["ipv4_dst"])
                for r in change.flow_adds} == {(switch, POLICY, 300, video)}
        assert {r.cookie >> 56 for r in change.flow_adds} == {cookie("blocked") >> 56}
    # every rule not in the diff is in both policies unchanged
    added = {r for c in changes.switches.values() for r in c.flow_adds}
    assert set(after.rules) - added == set(before.rules)

    undone = diff(after, compile_policy(baseline_plan, unblock_site(baseline_plan, blocked,
                                                                    "video")))
    for switch in controlled(baseline_plan):
        change = undone.for_switch(switch)
        assert change.flow_deletes == changes.for_switch(switch).flow_adds
        assert change.flow_adds == change.flow_modifies == ()


def test_rate_changes_are_meter_adds_modifies_and_deletes(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    plain = compile_policy(baseline_plan, state)
    rated = set_tier_rate(baseline_plan, state, "elite", {"rate_mbps": 2})
    metered = compile_policy(baseline_plan, rated)
    elite_switch = baseline_plan.host("elite-1").switch
    elite_meter = subscriber_meter_id(baseline_plan, "elite-1")

    change = diff(plain, metered).for_switch(elite_switch)
    assert [m.meter_id for m in change.meter_adds] == [elite_meter]
    assert change.meter_adds[0].rate_kbps == 2000
    # the subscriber's classify rule now applies the meter: same match, other instructions
    assert [(r.table, r.priority, r.meter) for r in change.flow_modifies] == [
        (CLASSIFY, 100, elite_meter)]
    assert change.flow_adds == change.flow_deletes == ()

    slower = compile_policy(baseline_plan, set_tier_rate(baseline_plan, rated, "elite",
                                                         {"rate_mbps": 1}))
    assert diff(metered, slower) == PolicyDiff({elite_switch: SwitchDiff(
        meter_modifies=tuple(m for m in slower.meters if m.switch == elite_switch))})
    assert diff(metered, slower).for_switch(elite_switch).meter_modifies[0].rate_kbps == 1000

    removed = diff(metered, plain).for_switch(elite_switch)
    assert [m.meter_id for m in removed.meter_deletes] == [elite_meter]
    assert [r.meter for r in removed.flow_modifies] == [None]


def test_moving_a_subscriber_modifies_its_classify_rules_only(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    before = compile_policy(baseline_plan, state)
    moved = move_subscriber(baseline_plan, state, "elite-1", {"tier": "citizen"})
    changes = diff(before, compile_policy(baseline_plan, moved))
    switch = baseline_plan.host("elite-1").switch
    change = changes.for_switch(switch)
    port = baseline_plan.host("elite-1").port
    assert {(r.table, r.priority, dict(r.match)["in_port"]) for r in change.flow_modifies} == {
        (CLASSIFY, 100, port), (CLASSIFY, 90, port)}
    # elsewhere only the replies to elite-1 change: the zones that may reach it now
    assert all(not c.flow_modifies and not c.meter_adds for s, c in changes.switches.items()
               if s != switch)
