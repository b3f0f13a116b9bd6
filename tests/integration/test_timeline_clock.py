"""The one scenario clock on the real emulator: events and measurements placed on it happen then.

Two short runs. The baseline network with a block of `news` from 5 s to 15 s, the uplink down
from 5 s to 15 s and `recipes` down from 5 s to 15 s, reachability swept at 2, 10 and 20 s and
one elite flow over the uplink all along. The border network with a jammer switched on and a
site blocked at the same moment.
"""

from __future__ import annotations

import pytest
import yaml

from hermitnet import runner, scenario
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

DOWN_S, UP_S, DURATION_S = 5.0, 15.0, 30.0
SITE_UP_S = 12.0
STEP_S = 1.0


def _doc(name: str) -> dict:
    return yaml.safe_load((REPO / "scenarios" / f"{name}.yaml").read_text())


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    doc = _doc("baseline")
    doc["timeline"] = {"duration_s": DURATION_S, "step_s": STEP_S, "events": [
        {"at_s": DOWN_S, "kind": "block", "site": "news", "reason": "test"},
        {"at_s": UP_S, "kind": "unblock", "site": "news"},
        {"at_s": DOWN_S, "kind": "uplink_down"},
        {"at_s": UP_S, "kind": "uplink_up"},
        {"at_s": DOWN_S, "kind": "site_down", "site": "recipes"},
        {"at_s": SITE_UP_S, "kind": "site_up", "site": "recipes"},
    ]}
    doc["measure"] = {
        "reachability": {"connect_timeout_s": 1, "at_s": [2, 10, 20]},
        "throughput": {"flows": [{"from": "elite-1", "to": "search", "start_s": 0,
                                  "seconds": DURATION_S - 2}]},
    }
    loaded = scenario.from_dict(doc, source="baseline (timeline)")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("clock"), progress=print)
    return results


def _fetch(results, t_s, host, site) -> dict:
    (row,) = [r for r in results["reachability"]
              if r["t_s"] >= t_s and r["t_s"] < t_s + 1 and r["host"] == host
              and r["site"] == site]
    return row


def test_block_at_5_unblock_at_15_reads_ok_blocked_ok(baseline_run):
    sweeps = sorted({r["t_s"] for r in baseline_run["reachability"]})
    assert [round(t) for t in sweeps] == [2, 10, 20]
    outcomes = [_fetch(baseline_run, t, "citizen-1", "news")["ok"] for t in (2, 10, 20)]
    assert outcomes == [True, False, True]
    assert _fetch(baseline_run, 10, "citizen-1", "university")["ok"]   # only that site


def test_a_site_down_is_down_for_every_tier_and_comes_back(baseline_run):
    at_10 = [r for r in baseline_run["reachability"]
             if 10 <= r["t_s"] < 11 and r["site"] == "recipes"]
    assert at_10 and not any(r["ok"] for r in at_10)
    # told apart from a block: it fails for the control vantage too (nothing listens there)
    assert {r["verdict"] for r in at_10} == {"site-down"}
    assert {r["control"]["tcp_connect"][0]["failure"] for r in at_10} == {"connection_refused"}
    assert _fetch(baseline_run, 10, "citizen-1", "news")["blocking"] == "tcp_ip"
    assert _fetch(baseline_run, 20, "citizen-1", "recipes")["ok"]


def test_uplink_down_drops_the_elite_series_to_zero_and_it_recovers(baseline_run):
    (flow,) = [f for f in baseline_run["throughput"] if f["src"] == "elite-1"]
    assert flow["path"] == "uplink" and flow["start_s"] < 1
    series = {round(p["t_s"]): p["mbps"] for p in flow["series"]}
    before = [mbps for t, mbps in series.items() if 2 <= t <= DOWN_S]
    during = [mbps for t, mbps in series.items() if DOWN_S + 2 <= t <= UP_S]
    after = [mbps for t, mbps in series.items() if t > UP_S + 1]
    assert before and min(before) > 0.5, series
    assert during and max(during) < 0.05, series
    assert after and max(after) > 0.5, series


def test_every_event_is_recorded_planned_and_effective(baseline_run):
    timeline = baseline_run["timeline"]
    assert timeline["duration_s"] == DURATION_S and timeline["time_scale"] == 1
    events = timeline["events"]
    assert len(events) == 6
    for event in events:
        assert event["planned_s"] in (DOWN_S, UP_S, SITE_UP_S)
        assert event["effective_s"] >= event["planned_s"]
        assert event["late"] == (event["late_s"] > STEP_S)
        assert event["late"] == any(line.startswith(f"{event['kind']} {event['target']} ")
                                    for line in timeline["late"])
    # policy and link changes are quick; a server start is recorded late if it was
    assert not [e for e in events if e["late"] and not e["kind"].startswith("site_")]
    assert baseline_run["status"] == "ok"
    assert baseline_run["counters"]["t0_offset_s"] > 0


def test_nothing_is_left_behind(baseline_run):
    assert leftovers(baseline_run["run_id"]) == []


@pytest.fixture(scope="module")
def border_run(tmp_path_factory):
    doc = _doc("border")
    east = doc["radio"]["jammers"][1]
    east.pop("schedule", None)
    east["initially_on"] = False
    doc["measure"] = {"reachability": {"connect_timeout_s": 1}}
    doc["timeline"] = {"duration_s": 6, "events": [
        {"at_s": 3, "kind": "jammer_on", "jammer": "jam-hyesan-east"},
        {"at_s": 3, "kind": "block", "site": "world-news"},
    ]}
    loaded = scenario.from_dict(doc, source="border (timeline)")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("clock-border"), progress=print)
    return results


def test_a_jammer_and_a_block_at_the_same_time_take_effect_within_one_step(border_run):
    records = {e["kind"]: e for e in border_run["timeline"]["events"] if e["planned_s"] == 3}
    jammer, block = records["jammer_on"], records["block"]
    assert abs(jammer["effective_s"] - block["effective_s"]) <= STEP_S
    assert not jammer["late"] and not block["late"]
    assert "smuggler-1" in jammer["reshaped"]      # the jammer took the smuggler off its cell
    assert leftovers(border_run["run_id"]) == []
