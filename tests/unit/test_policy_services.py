"""The service hosts (resolvers, control vantages) in the pure policy: the compiled rules on a
fake network and hermitnet.zones.allowed say the same thing."""

from __future__ import annotations

import pytest

from hermitnet import zones
from hermitnet.policy.compile import compile_policy
from hermitnet.policy.state import PolicyState
from tests.unit.fakeswitch import FakeNetwork


@pytest.fixture
def net_and_state(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    return FakeNetwork.from_compiled(baseline_plan, compile_policy(baseline_plan, state)), state


def _delivered(net, plan, src, dst):
    return net.send(src, plan.host(dst).ip).delivered_to == dst


def test_each_tier_is_handed_the_resolver_its_policy_says(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    assert {t: state.resolver_for(t) for t in state.tier_zones} == {
        "citizen": "dns-walled", "public": "dns-walled", "elite": "dns-national",
        "visitor": "dns-national"}
    changed = state.with_changes(tier_foreign_names={"citizen": True})
    assert changed.resolver_for("citizen") == "dns-national"
    assert PolicyState.from_dict(changed.to_dict()) == changed


def test_the_visitor_reaches_its_resolver_though_not_the_intranet(net_and_state, baseline_plan):
    net, _ = net_and_state
    assert _delivered(net, baseline_plan, "visitor-1", "dns-national")
    assert _delivered(net, baseline_plan, "dns-national", "visitor-1")
    assert not _delivered(net, baseline_plan, "visitor-1", "news")
    assert not _delivered(net, baseline_plan, "visitor-1", "dns-walled")
    assert not _delivered(net, baseline_plan, "elite-1", "control-national")


def test_the_national_resolver_forwards_across_the_uplink_and_only_it(net_and_state,
                                                                      baseline_plan):
    net, _ = net_and_state
    assert _delivered(net, baseline_plan, "dns-national", "dns-foreign")
    assert _delivered(net, baseline_plan, "dns-foreign", "dns-national")
    assert not _delivered(net, baseline_plan, "dns-walled", "dns-foreign")
    assert not _delivered(net, baseline_plan, "dns-foreign", "dns-walled")
    assert not _delivered(net, baseline_plan, "dns-national", "social")
    assert not _delivered(net, baseline_plan, "social", "dns-national")


def test_the_national_control_reaches_every_national_site_unfiltered(net_and_state,
                                                                     baseline_plan):
    net, _ = net_and_state
    for site in ("news", "portal"):
        assert _delivered(net, baseline_plan, "control-national", site)
        assert _delivered(net, baseline_plan, site, "control-national")
    assert _delivered(net, baseline_plan, "control-national", "dns-national")
    assert _delivered(net, baseline_plan, "dns-national", "control-national")
    assert not _delivered(net, baseline_plan, "control-national", "social")
    assert not _delivered(net, baseline_plan, "control-national", "citizen-1")


def test_zones_allowed_agrees_with_the_compiled_policy_for_every_service(net_and_state,
                                                                         baseline_plan):
    net, state = net_and_state
    ends = zones.endpoints(baseline_plan, state)
    controlled = {s.name for s in baseline_plan.switches if s.controlled}
    for service in baseline_plan.services():
        for other in baseline_plan.hosts:
            if other is service or not ({service.switch, other.switch} & controlled):
                continue   # within the global zone's own switch: no policy there
            for src, dst in ((service, other), (other, service)):
                expected = zones.allowed(ends[src.name], ends[dst.name], state)
                if dst.kind == "server" or dst.kind in ("mobile", "fixed"):
                    blocked = dst.name in state.blocked_for(state.membership.get(src.name))
                    expected = expected and not blocked
                assert _delivered(net, baseline_plan, src.name, dst.name) == expected, (
                    src.name, dst.name)
