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
    after = block_site(baseline_plan, state, {"site": "video", "reason": "2016 list"}, 3.0)
    assert after.blocklist == (BlockEntry("video", None, None, "2016 list"),)
    assert state.blocklist == ()                      # the old state is untouched
    net = FakeNetwork.from_compiled(baseline_plan, compile_policy(baseline_plan, after, 3.0))
    assert net.send("elite-1", baseline_plan.host("video").ip).drop[1] == "blocked"
    back = unblock_site(baseline_plan, after, "video")
    assert back.blocklist == ()


def test_block_with_a_window_and_for_s(baseline_plan, state):
    after = block_site(baseline_plan, state, {"site": "video", "from_s": 20, "until_s": 30}, 5)
    assert after.blocklist == (BlockEntry("video", 20.0, 30.0, ""),)
    after = block_site(baseline_plan, state, {"site": "video", "for_s": 10}, 5)
    assert after.blocklist == (BlockEntry("video", None, 15.0, ""),)
    after = block_site(baseline_plan, state, {"site": "video", "from_s": 20, "for_s": 10}, 5)
    assert after.blocklist == (BlockEntry("video", 20.0, 30.0, ""),)


def test_blocking_a_site_again_replaces_its_entry(baseline_plan, state):
    once = block_site(baseline_plan, state, {"site": "video"}, 0)
    twice = block_site(baseline_plan, once, {"site": "video", "until_s": 50}, 0)
    assert twice.blocklist == (BlockEntry("video", None, 50.0, ""),)


@pytest.mark.parametrize("body,field,status", [
    ({}, "site", 400),
    ({"site": 3}, "site", 400),
    ({"site": "nosuch"}, "site", 404),
    ({"site": "video", "from_s": "soon"}, "from_s", 400),
    ({"site": "video", "from_s": True}, "from_s", 400),
    ({"site": "video", "from_s": -1}, "from_s", 400),
    ({"site": "video", "from_s": 30, "until_s": 20}, "until_s", 400),
    ({"site": "video", "until_s": 4}, "until_s", 400),          # already past (now_s=5)
    ({"site": "video", "for_s": 0}, "for_s", 400),
    ({"site": "video", "for_s": 5, "until_s": 50}, "for_s", 400),
    ({"site": "video", "reason": 7}, "reason", 400),
    ({"site": "video", "sites": ["x"]}, "sites", 400),           # unknown field
])
def test_bad_block_requests_name_the_field(baseline_plan, state, body, field, status):
    rejected(lambda: block_site(baseline_plan, state, body, 5.0), field, status)


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
