"""What the REST API returns, built from the plan and the policy state."""

from __future__ import annotations

from hermitnet.policy.requests import RequestError, block_site
from hermitnet.policy.state import PolicyState
from hermitnet.policy.views import (
    change_view,
    error_view,
    health_view,
    policy_view,
    tiers_view,
)


def test_policy_and_tiers(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    changed = block_site(baseline_plan, state, {"site": "video", "tier": "elite"})
    view = policy_view(baseline_plan, changed, 5.0)
    assert view["now_s"] == 5.0
    assert view["blocklist"] == [{"site": "video", "tier": "elite", "reason": ""}]
    assert view["sites"]["video"] == {"zone": "global", "ip": baseline_plan.host("video").ip}
    tiers = tiers_view(baseline_plan, changed)
    assert [m["name"] for m in tiers["citizen"]["members"]] == ["citizen-1", "citizen-2"]
    assert tiers["citizen"]["members"][0]["ip"] == baseline_plan.host("citizen-1").ip
    assert tiers["elite"]["zones"] == ["intranet", "national", "global"]
    answer = change_view(baseline_plan, changed, 5.0, {"all_confirmed": True})
    assert answer == {"policy": view, "enforced": {"all_confirmed": True}}


def test_every_error_has_the_same_shape():
    assert error_view("no such path: /x", 404) == {"error": "no such path: /x", "field": None,
                                                  "status": 404}
    error = RequestError("tier", "unknown tier 'royal'", status=404)
    assert error.to_dict() == error_view("unknown tier 'royal'", 404, "tier")


def test_health():
    view = health_view(12.34567, ["core", "border"], {"core"}, 5.0,
                       [{"switch": "core", "type": 1, "code": 2, "t_s": 3.0}], 2)
    assert view == {"now_s": 12.346, "switches": {"core": True, "border": False}, "lease_s": 5.0,
                    "openflow_errors": [{"switch": "core", "type": 1, "code": 2, "t_s": 3.0}],
                    "exceptions": 2, "refused_datapaths": 0, "refused_dpids": {}}
    view = health_view(1, ["core"], set(), 5.0, [], 0, {"00000000000000ff": 3})
    assert view["refused_datapaths"] == 3 and view["refused_dpids"] == {"00000000000000ff": 3}
