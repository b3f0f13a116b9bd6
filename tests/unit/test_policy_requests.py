"""Live change requests (the REST API's logic): validated in pure functions, field by field."""

from __future__ import annotations

import pytest

from hermitnet.policy.compile import compile_policy
from hermitnet.policy.requests import (
    RequestError,
    block_site,
    move_subscriber,
    parse_body,
    set_tier_rate,
    set_tier_zones,
    unblock_site,
)
from hermitnet.policy.state import PolicyState
from hermitnet.scenario import BlockEntry
from tests.unit.fakeswitch import FakeNetwork


@pytest.fixture
def state(baseline):
    return PolicyState.from_scenario(baseline)


def rejected(call, field: str, status: int = 400) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call()
    assert caught.value.field == field, caught.value
    assert caught.value.status == status, caught.value
    assert caught.value.to_dict() == {"error": caught.value.message, "field": field,
                                      "status": status}
    return caught.value


def test_block_then_unblock(baseline_plan, state):
    after = block_site(baseline_plan, state, {"site": "video", "reason": "2016 list"})
    assert after.blocklist == (BlockEntry("video", None, "2016 list"),)
    assert state.blocklist == ()                      # the old state is untouched
    net = FakeNetwork.from_compiled(baseline_plan, compile_policy(baseline_plan, after))
    assert net.send("elite-1", baseline_plan.host("video").ip).drop[1] == "blocked"
    back = unblock_site(baseline_plan, after, "video")
    assert back.blocklist == ()


def test_block_and_unblock_for_one_tier(baseline_plan, state):
    both = block_site(baseline_plan, state, {"site": "video", "tier": "elite"})
    both = block_site(baseline_plan, both, {"site": "video"})
    assert both.blocklist == (BlockEntry("video", "elite"), BlockEntry("video"))
    assert both.blocked_for("visitor") == {"video"}
    elite_only = unblock_site(baseline_plan, both, "video", None)
    assert elite_only.blocklist == ()                 # without a tier: every entry of the site
    one = unblock_site(baseline_plan, both, "video", "elite")
    assert one.blocklist == (BlockEntry("video"),)
    rejected(lambda: unblock_site(baseline_plan, one, "video", "elite"), "site", 404)
    rejected(lambda: unblock_site(baseline_plan, one, "video", "nosuch"), "tier", 404)


def test_blocking_a_site_again_replaces_its_entry(baseline_plan, state):
    once = block_site(baseline_plan, state, {"site": "video"})
    twice = block_site(baseline_plan, once, {"site": "video", "reason": "again"})
    assert twice.blocklist == (BlockEntry("video", None, "again"),)


def test_set_tier_zones(baseline_plan, state):
    after = set_tier_zones(baseline_plan, state, "visitor", {"zones": ["national"]})
    assert after.tier_zones["visitor"] == ("national",)
    net = FakeNetwork.from_compiled(baseline_plan, compile_policy(baseline_plan, after))
    assert net.send("visitor-1", baseline_plan.host("video").ip).drop[1] == "denied"
    assert net.send("visitor-1", baseline_plan.host("portal").ip).delivered_to == "portal"


@pytest.mark.parametrize("tier,body,field,status", [
    ("nosuch", {"zones": []}, "tier", 404),
    ("elite", {}, "zones", 400),
    ("elite", {"zones": "global"}, "zones", 400),
    ("elite", {"zones": ["mars"]}, "zones", 400),
    ("elite", {"zones": ["global", "global"]}, "zones", 400),
    ("elite", {"zones": [], "rate": 1}, "rate", 400),
])
def test_bad_zone_requests_name_the_field(baseline_plan, state, tier, body, field, status):
    rejected(lambda: set_tier_zones(baseline_plan, state, tier, body), field, status)


@pytest.mark.parametrize("body,field,status", [
    ({}, "site", 400),
    ({"site": 3}, "site", 400),
    ({"site": "nosuch"}, "site", 404),
    ({"site": "video", "tier": "nosuch"}, "tier", 400),
    ({"site": "video", "tier": 3}, "tier", 400),
    ({"site": "video", "for_s": 5}, "for_s", 400),    # a while is two timeline events
    ({"site": "video", "reason": 7}, "reason", 400),
    ({"site": "video", "sites": ["x"]}, "sites", 400),           # unknown field
])
def test_bad_block_requests_name_the_field(baseline_plan, state, body, field, status):
    rejected(lambda: block_site(baseline_plan, state, body), field, status)


def test_unblock_errors(baseline_plan, state):
    rejected(lambda: unblock_site(baseline_plan, state, "nosuch"), "site", 404)
    error = rejected(lambda: unblock_site(baseline_plan, state, "video"), "site", 404)
    assert "not on the blocklist" in error.message


def test_move_subscriber(baseline_plan, state):
    after = move_subscriber(baseline_plan, state, "elite-1", {"tier": "citizen"})
    assert after.membership["elite-1"] == "citizen"
    net = FakeNetwork.from_compiled(baseline_plan, compile_policy(baseline_plan, after))
    assert net.send("elite-1", baseline_plan.host("video").ip).drop[1] == "denied"
    assert net.send("video", baseline_plan.host("elite-1").ip).drop[1] == "denied"
    assert net.send("elite-1", baseline_plan.host("news").ip).delivered_to == "news"


@pytest.mark.parametrize("subscriber,body,field,status", [
    ("nosuch", {"tier": "citizen"}, "subscriber", 404),
    ("video", {"tier": "citizen"}, "subscriber", 404),          # a site is not a subscriber
    ("elite-1", {}, "tier", 400),
    ("elite-1", {"tier": "royal"}, "tier", 400),
    ("elite-1", {"tier": "citizen", "when": 3}, "when", 400),
])
def test_bad_moves_name_the_field(baseline_plan, state, subscriber, body, field, status):
    rejected(lambda: move_subscriber(baseline_plan, state, subscriber, body), field, status)


def test_set_and_clear_a_tier_rate(baseline_plan, state):
    after = set_tier_rate(baseline_plan, state, "elite", {"rate_mbps": 1})
    assert after.tier_rate_mbps["elite"] == 1.0
    (meter,) = compile_policy(baseline_plan, after).meters
    assert meter.rate_kbps == 1000
    cleared = set_tier_rate(baseline_plan, after, "elite", {"rate_mbps": None})
    assert compile_policy(baseline_plan, cleared).meters == ()


@pytest.mark.parametrize("tier,body,field,status", [
    ("royal", {"rate_mbps": 1}, "tier", 404),
    ("elite", {}, "rate_mbps", 400),
    ("elite", {"rate_mbps": "fast"}, "rate_mbps", 400),
    ("elite", {"rate_mbps": 0}, "rate_mbps", 400),
    ("elite", {"rate_mbps": -2}, "rate_mbps", 400),
    ("elite", {"rate_mbps": 1e6}, "rate_mbps", 400),
    ("elite", {"rate_mbps": False}, "rate_mbps", 400),
    ("elite", {"rate": 1}, "rate", 400),
])
def test_bad_rates_name_the_field(baseline_plan, state, tier, body, field, status):
    rejected(lambda: set_tier_rate(baseline_plan, state, tier, body), field, status)


@pytest.mark.parametrize("raw,ok", [
    (b"", True), (None, True), (b'{"site": "video"}', True),
    (b"{site: video}", False), (b"[1, 2]", False), (b"\xff\xfe", False), (b'"x"', False),
])
def test_parse_body(raw, ok):
    if ok:
        assert isinstance(parse_body(raw), dict)
    else:
        rejected(lambda: parse_body(raw), "body", 400)
