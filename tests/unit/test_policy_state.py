"""The policy state: its JSON form, and the live copy a restarted controller takes up again."""

from __future__ import annotations

import json

from hermitnet.policy.requests import block_site, set_tier_rate
from hermitnet.policy.state import LIVE_STATE_NAME, PolicyState, load_live, save_live
from hermitnet.scenario import BlockEntry


def test_from_scenario(baseline):
    state = PolicyState.from_scenario(baseline)
    assert state.membership["elite-1"] == "elite"
    assert state.tier_zones["elite"] == ("intranet", "national", "global")
    assert set(state.tier_rate_mbps) == set(baseline.tiers)


def test_round_trip_through_json(baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    changed = block_site(baseline_plan, state, {"site": "video", "tier": "elite"})
    changed = set_tier_rate(baseline_plan, changed, "elite", {"rate_mbps": 1.5})
    again = PolicyState.from_dict(json.loads(json.dumps(changed.to_dict())))
    assert again == changed
    assert again.blocklist == (BlockEntry("video", "elite", ""),)


def test_blocked_for_a_tier():
    state = PolicyState({}, {}, {}, (BlockEntry("video", "elite"), BlockEntry("news")))
    assert state.blocked_for("elite") == {"news", "video"}
    assert state.blocked_for("citizen") == {"news"}


def test_live_state_is_taken_up_only_by_the_same_run(baseline, tmp_path):
    path = tmp_path / LIVE_STATE_NAME
    assert load_live(path, 1000.0) is None                  # nothing saved yet
    state = PolicyState.from_scenario(baseline).with_changes(blocklist=(BlockEntry("video"),))
    save_live(path, state, 1000.0)
    assert load_live(path, 1000.0) == state
    assert load_live(path, 2000.0) is None                  # another run's file
    assert not path.with_suffix(".tmp").exists()
    path.write_text("{cut short")
    assert load_live(path, 1000.0) is None
