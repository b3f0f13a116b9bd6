"""Two uplinks: allowed traffic leaves over the active one and moves to the other when it is down.

Through the fake OpenFlow network (tests.unit.fakeswitch): where packets go, for each set of
uplinks the controller has seen go down.
"""

from __future__ import annotations

import pytest

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet.policy.compile import active_uplink, compile_policy, decode_cookie
from hermitnet.policy.diff import diff
from hermitnet.policy.pipeline import CLASSIFY, FORWARD
from hermitnet.policy.state import PolicyState
from tests.unit.fakeswitch import FakeNetwork

UPLINKS = [{"name": "cable", "bw_mbps": 10}, {"name": "satellite", "bw_mbps": 2}]


@pytest.fixture
def two(scenario_dict):
    loaded = scenario_module.from_dict(scenario_dict(uplinks=UPLINKS))
    return loaded, plan_module.build(loaded, run_tag=7, prefix="hnup")


def _network(plan, loaded, down=frozenset()):
    compiled = compile_policy(plan, PolicyState.from_scenario(loaded), frozenset(down))
    return FakeNetwork.from_compiled(plan, compiled, uplinks_down=frozenset(down))


def test_the_plan_has_one_border_link_per_uplink(two):
    loaded, plan = two
    links = [link for link in plan.links if link.kind == "uplink"]
    assert [(lk.a, lk.b, lk.name, lk.spec.bw_mbps) for lk in links] == [
        ("border", "global", "cable", 10), ("border", "global", "satellite", 2)]
    ports = plan.uplink_ports()
    assert list(ports) == ["cable", "satellite"] and ports["cable"] != ports["satellite"]
    assert plan.uplink_port() == ports["cable"]
    assert plan_module.Plan.from_dict(plan.to_dict()) == plan


def test_the_single_uplink_form_is_one_uplink_named_uplink(baseline, baseline_plan):
    assert [u.name for u in baseline.uplinks] == ["uplink"]
    assert list(baseline_plan.uplink_ports()) == ["uplink"]
    assert active_uplink(baseline_plan, frozenset({"uplink"})) == "uplink"


def test_the_active_uplink_is_the_first_one_up(two):
    _, plan = two
    assert active_uplink(plan) == "cable"
    assert active_uplink(plan, frozenset({"cable"})) == "satellite"
    assert active_uplink(plan, frozenset({"satellite"})) == "cable"
    assert active_uplink(plan, frozenset({"cable", "satellite"})) == "cable"


@pytest.mark.parametrize("down,used", [((), "cable"), (("cable",), "satellite"),
                                       (("satellite",), "cable")])
def test_allowed_traffic_crosses_the_active_uplink_both_ways(two, down, used):
    loaded, plan = two
    net = _network(plan, loaded, down)
    switch, port = plan.uplink_ports()[used]
    out = net.send("phone-2", plan.host("video").ip)          # elite -> global site
    assert out.delivered_to == "video" and out.crossed(switch, port)
    back = net.send("video", plan.host("phone-2").ip)          # and the reply
    assert back.delivered_to == "phone-2"
    assert back.hops[0].switch == "border" and back.hops[0].in_port == port
    # what the policy forbids stays forbidden over either uplink
    assert net.send("phone-1", plan.host("video").ip).drop[1] == "denied"
    assert net.send("video", plan.host("phone-1").ip).drop[1] == "denied"


def test_with_every_uplink_down_nothing_crosses(two):
    loaded, plan = two
    net = _network(plan, loaded, ("cable", "satellite"))
    assert net.send("phone-2", plan.host("video").ip).dropped
    assert net.send("phone-2", plan.host("news").ip).delivered_to == "news"   # the intranet


def test_a_copy_arriving_on_the_standby_uplink_is_dropped_and_counted(two):
    loaded, plan = two
    compiled = compile_policy(plan, PolicyState.from_scenario(loaded))
    _, standby_port = plan.uplink_ports()["satellite"]
    (rule,) = [r for r in compiled.rules if r.switch == "border" and r.table == CLASSIFY
               and dict(r.match).get("in_port") == standby_port]
    assert decode_cookie(rule.cookie)[0] == "standby" and rule.goto is None
    assert not rule.lease


def test_failover_changes_only_the_border_and_keeps_the_leases_on_the_active_uplink(two):
    loaded, plan = two
    state = PolicyState.from_scenario(loaded)
    before = compile_policy(plan, state)
    after = compile_policy(plan, state, frozenset({"cable"}))
    changes = diff(before, after)
    assert set(changes.switches) == {"border"}
    _, satellite = plan.uplink_ports()["satellite"]
    leased = [r for r in after.rules if r.lease]
    assert {r.output for r in leased if r.table == FORWARD} == {satellite}
    assert {dict(r.match)["in_port"] for r in leased if r.table == CLASSIFY} == {satellite}
